// Session: one connected, bound LDAP connection, and the operations keyholder runs
// on it (private to the directory module). The same interface over the system's LDAP
// library: posix/session.cpp on OpenLDAP's libldap, windows/session.cpp on Wldap32.
#pragma once

#include <chrono>
#include <expected>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <memory>

#include "keyholder/directory/settings.h"
#include "uri_health.h"

namespace keyholder::directory::detail {

/// lowercase: ASCII lower case (attribute names are compared without case).
std::string lowercase(std::string text);

/// Entry: a search result with attribute names lower-cased (values are raw bytes).
struct Entry {
    std::string dn;
    std::map<std::string, std::vector<std::string>> attributes;
    [[nodiscard]] const std::vector<std::string>& values(const std::string& name) const;
    [[nodiscard]] std::string first(const std::string& name) const;
};

template <typename T> using Result = std::expected<T, DirectoryError>;

/// The LDAP result codes (RFC 4511) the module decides on; servers send the same
/// numbers to every library (unlike the libraries' own client-side codes).
namespace result_code {
inline constexpr int strong_auth_required = 8;
inline constexpr int confidentiality_required = 13;
inline constexpr int no_such_attribute = 16;
inline constexpr int type_or_value_exists = 20;
inline constexpr int no_such_object = 32;
inline constexpr int invalid_dn_syntax = 34;
inline constexpr int invalid_credentials = 49;
inline constexpr int insufficient_access = 50;
inline constexpr int busy = 51;
inline constexpr int unavailable = 52;
inline constexpr int unwilling_to_perform = 53;
inline constexpr int already_exists = 68;
} // namespace result_code

enum class Scope { base, one_level, subtree };
enum class ModOp { add, remove, replace };

struct Modification {
    ModOp op;
    std::string attribute;
    std::vector<std::string> values; ///< binary-safe
};

class Session {
public:
    /// Connection: the library's connection handle (defined by each implementation).
    struct Connection;
    Session(std::unique_ptr<Connection> connection, std::string uri);
    ~Session();
    Session(Session&&) noexcept;
    Session& operator=(Session&&) noexcept;

    [[nodiscard]] const std::string& uri() const { return uri_; }
    /// encrypted: TLS is in place, or SASL negotiated a security layer of 56 bits or more.
    [[nodiscard]] bool encrypted() const;

    /// search: every entry, following paged-results cookies (page_size > 0).
    Result<std::vector<Entry>> search(const std::string& base, Scope scope, const std::string& filter,
                                      const std::vector<std::string>& attributes, int page_size);
    /// read: one entry by DN (base scope); nullopt when it does not exist.
    Result<std::optional<Entry>> read(const std::string& dn, const std::vector<std::string>& attributes,
                                      const std::string& filter = "(objectClass=*)");
    Result<void> modify(const std::string& dn, const std::vector<Modification>& modifications);
    /// password_modify: RFC 3062 extended operation (OpenLDAP).
    Result<void> password_modify(const std::string& dn, const std::string& new_password);

private:
    std::unique_ptr<Connection> connection_;
    std::string uri_;
};

/// is_connection_error: the connection is gone (or never was): reconnect or fail over.
bool is_connection_error(const DirectoryError& error);

/// open_one: one URI, connected (TLS as configured) and, when `bound`, bound as
/// `settings` say. Each LDAP library's implementation.
Result<Session> open_one(const std::string& uri, const DirectorySettings& settings, bool bound);

/// open_session: connect and bind to the first URI that answers (failover). A bind
/// refused for bad credentials is returned at once rather than tried elsewhere.
Result<Session> open_session(const DirectorySettings& settings, UriHealth* health = nullptr);

/// open_user_session: connect and simple-bind as `dn` with `password` (Basic sign-on).
Result<Session> open_user_session(const DirectorySettings& settings, const std::string& dn,
                                  const std::string& password);

/// open_anonymous_session: connected (TLS as configured), not bound: the rootDSE read.
Result<Session> open_anonymous_session(const std::string& uri, const ConnectionSettings& settings);

/// make_error: a DirectoryError from a result code, classified; `connection_lost`:
/// the library's own code says the connection is gone or timed out.
DirectoryError make_error(int rc, const std::string& rc_text, std::string diagnostic, const std::string& doing,
                          const std::string& uri, bool connection_lost);

} // namespace keyholder::directory::detail
