// Session: one connected, bound LDAP connection, and the operations keyholder runs
// on it (private to the directory module).
#pragma once

#include <chrono>
#include <expected>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "keyholder/directory/settings.h"
#include "ldap_handles.h"
#include "uri_health.h"

namespace keyholder::directory::detail {

/// Entry: a search result with attribute names lower-cased (values are raw bytes).
struct Entry {
    std::string dn;
    std::map<std::string, std::vector<std::string>> attributes;
    [[nodiscard]] const std::vector<std::string>& values(const std::string& name) const;
    [[nodiscard]] std::string first(const std::string& name) const;
};

template <typename T> using Result = std::expected<T, DirectoryError>;

struct Modification {
    int op; ///< LDAP_MOD_ADD, LDAP_MOD_DELETE, LDAP_MOD_REPLACE
    std::string attribute;
    std::vector<std::string> values; ///< binary-safe
};

class Session {
public:
    // The operation timeout is an option of the handle (set in connect), not of the session.
    Session(LdapHandle ld, std::string uri) : ld_(std::move(ld)), uri_(std::move(uri)) {}

    [[nodiscard]] LDAP* ld() const { return ld_.get(); }
    [[nodiscard]] const std::string& uri() const { return uri_; }
    /// encrypted: TLS is in place, or SASL negotiated a security layer of 56 bits or more.
    [[nodiscard]] bool encrypted() const;

    /// search: every entry, following paged-results cookies (page_size > 0).
    Result<std::vector<Entry>> search(const std::string& base, int scope, const std::string& filter,
                                      const std::vector<std::string>& attributes, int page_size);
    /// read: one entry by DN (base scope); nullopt when it does not exist.
    Result<std::optional<Entry>> read(const std::string& dn, const std::vector<std::string>& attributes,
                                      const std::string& filter = "(objectClass=*)");
    Result<void> modify(const std::string& dn, const std::vector<Modification>& modifications);
    /// password_modify: RFC 3062 extended operation (OpenLDAP).
    Result<void> password_modify(const std::string& dn, const std::string& new_password);

private:
    LdapHandle ld_;
    std::string uri_;
};

/// is_connection_error: the connection is gone (or never was): reconnect or fail over.
bool is_connection_error(const DirectoryError& error);

/// open_session: connect and bind to the first URI that answers (failover). A bind
/// refused for bad credentials is returned at once rather than tried elsewhere.
Result<Session> open_session(const DirectorySettings& settings, UriHealth* health = nullptr);

/// open_user_session: connect and simple-bind as `dn` with `password` (Basic sign-on).
Result<Session> open_user_session(const DirectorySettings& settings, const std::string& dn,
                                  const std::string& password);

} // namespace keyholder::directory::detail
