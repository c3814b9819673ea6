// SignOn: who is calling. HTTP Negotiate (SPNEGO / Kerberos through MIT GSSAPI and
// the service keytab) for domain-joined clients, Basic checked by an LDAP bind as
// the user for the rest. Either way the caller becomes a directory identity (SID,
// sAMAccountName, enabled) resolved now.
//
//   no credentials             401, WWW-Authenticate: Negotiate and Basic
//   wrong password / ticket    401 (the same answer for an unknown user)
//   disabled or expired user   403
//   too many failures          429 with Retry-After (per client address)
//   directory down             503 (fail closed)
//   a portal session cookie    the session's user, until idle or too old (401 then)
//
// Basic is accepted only over TLS or on a loopback listener. Verified Basic
// credentials are remembered for basic_cache_ttl as a salted SHA-256 (never the
// password), so that not every request binds to a DC. Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "keyholder/config/config.h"
#include "keyholder/directory/directory.h"
#include "keyholder/http/metrics.h"
#include "keyholder/http/server.h"

namespace keyholder::auth {

class NegotiateAcceptor;

/// FailureLimiter: counts failed sign-ons per client address in a sliding window.
class FailureLimiter {
public:
    FailureLimiter(int limit, std::chrono::seconds window, std::function<int64_t()> now);
    /// blocked: seconds until the client may try again, 0 when it may now.
    int64_t blocked(const std::string& client);
    void failed(const std::string& client);

private:
    int limit_;
    int64_t window_;
    std::function<int64_t()> now_;
    std::mutex mutex_;
    std::map<std::string, std::vector<int64_t>> failures_;
};

/// PortalSession: a signed-on browser, as the session store keeps it.
struct PortalSession {
    std::string id_hash; ///< hex SHA-256 of the cookie's id (the id itself is kept nowhere)
    std::string user_id;
    std::string user_name;
    std::string display_name;
    std::string method; ///< password | negotiate
    std::string csrf_token;
    int64_t created_at = 0;
    int64_t last_seen_at = 0;
    int64_t expires_at = 0;
};

/// SessionStore: where portal sessions live (the store, shared by every node).
class SessionStore {
public:
    virtual ~SessionStore() = default;
    virtual void insert(const PortalSession& session, int64_t now) = 0;
    virtual std::optional<PortalSession> find(const std::string& id_hash) = 0;
    virtual void touch(const std::string& id_hash, int64_t at) = 0;
    virtual void remove(const std::string& id_hash) = 0;
};

/// StartedSession: what the browser is given at sign-on.
struct StartedSession {
    std::string cookie;     ///< the Set-Cookie value
    std::string csrf_token; ///< for the page: X-CSRF-Token on every change
    int64_t expires_at = 0;
};

/// kSessionCookie: the portal session's cookie name.
inline constexpr const char* kSessionCookie = "keyholder_session";

class SignOn final : public http::Authenticator {
public:
    /// SignOn: acquires the Negotiate acceptor credentials from the keytab at once
    /// (throws std::runtime_error naming the keytab when it cannot).
    SignOn(const config::AuthSection& settings, directory::Directory& directory, http::Metrics* metrics = nullptr,
           std::function<int64_t()> now = {});
    ~SignOn() override;

    http::Identity sign_on(const http::Request& request,
                           std::vector<std::pair<std::string, std::string>>& answer_headers) override;

    /// map_principal: "bob@EXAMPLE.COM" -> the directory user (UPN, else sAMAccountName
    /// in an accepted realm). Public for tests.
    directory::Result<directory::User> map_principal(const std::string& principal);

    // Portal sessions. A request with the session cookie and no Authorization is
    // signed on by the session (method "session") until it is idle for
    // session_idle_timeout or older than session_lifetime.
    void use_sessions(SessionStore& sessions) { sessions_ = &sessions; }
    /// password_sign_on: the login form: checked by an LDAP bind as Basic is (the
    /// same refusals, limiter and cache).
    http::Identity password_sign_on(const http::Request& request, const std::string& login,
                                    const std::string& password);
    /// negotiate_sign_on: the portal's silent sign-on: a Negotiate token, or 401 with
    /// only "WWW-Authenticate: Negotiate" (a browser never shows a dialog for it).
    http::Identity negotiate_sign_on(const http::Request& request,
                                     std::vector<std::pair<std::string, std::string>>& answer_headers);
    /// start_session: a new session for `who` (a new random 256-bit id every time).
    StartedSession start_session(const http::Request& request, const http::Identity& who, const std::string& method);
    /// end_session: signs the request's session out; the cookie value that clears it.
    std::string end_session(const http::Request& request);

private:
    http::Identity negotiate(const http::Request& request, const std::string& token,
                             std::vector<std::pair<std::string, std::string>>& answer_headers);
    http::Identity basic(const http::Request& request, const std::string& credentials);
    http::Identity admit(const http::Request& request, const directory::User& user, const std::string& method);
    http::Identity check_password(const http::Request& request, const std::string& login, const std::string& password,
                                  const std::string& method);
    http::Identity from_session(const http::Request& request, const std::string& cookie);
    /// refuse_if_blocked: 429 with Retry-After while the client has failed too often.
    void refuse_if_blocked(const http::Request& request);
    [[noreturn]] void challenge(const http::Request& request, const std::string& code, const std::string& message,
                                const std::string& method);
    [[noreturn]] void unavailable(const directory::DirectoryError& error);

    struct CachedCredential {
        std::string salt;
        std::string digest;
        std::shared_ptr<const directory::User> user; ///< shared: a hit copies no User under the lock
        int64_t expires_at = 0;
    };

    config::AuthSection settings_;
    directory::Directory& directory_;
    http::Metrics* metrics_;
    std::function<int64_t()> now_;
    FailureLimiter limiter_;
    std::unique_ptr<NegotiateAcceptor> acceptor_;
    SessionStore* sessions_ = nullptr;
    std::vector<std::string> realms_;
    std::mutex cache_mutex_;
    std::map<std::string, CachedCredential> cache_;
};

} // namespace keyholder::auth
