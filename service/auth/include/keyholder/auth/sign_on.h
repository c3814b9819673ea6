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

private:
    http::Identity negotiate(const http::Request& request, const std::string& token,
                             std::vector<std::pair<std::string, std::string>>& answer_headers);
    http::Identity basic(const http::Request& request, const std::string& credentials);
    http::Identity admit(const http::Request& request, const directory::User& user, const std::string& method);
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
    std::vector<std::string> realms_;
    std::mutex cache_mutex_;
    std::map<std::string, CachedCredential> cache_;
};

} // namespace keyholder::auth
