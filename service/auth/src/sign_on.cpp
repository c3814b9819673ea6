#include "keyholder/auth/sign_on.h"

#include <Poco/DigestEngine.h>
#include <Poco/Logger.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/SHA2Engine.h>
#include <Poco/String.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <sstream>

#include "keyholder/text/text.h"
#include "keyholder/util/encoding.h"
#include "negotiate.h"

namespace keyholder::auth {
namespace {

using http::HttpError;

Poco::Logger& log() { return Poco::Logger::get("keyholder.auth"); }

// salted_hash: SHA-256(salt || password) — what the Basic cache keeps instead of
// the password (Poco's SHA-2: no per-call algorithm fetch as with OpenSSL 3's HMAC()).
std::string salted_hash(const std::string& salt, const std::string& password) {
    Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
    engine.update(salt);
    engine.update(password);
    const auto& digest = engine.digest();
    return std::string(digest.begin(), digest.end());
}

std::string random_bytes(size_t n) {
    std::string out(n, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
        throw std::runtime_error("no randomness available");
    return out;
}

int64_t system_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

} // namespace

FailureLimiter::FailureLimiter(int limit, std::chrono::seconds window, std::function<int64_t()> now)
    : limit_(limit), window_(window.count()), now_(std::move(now)) {}

int64_t FailureLimiter::blocked(const std::string& client) {
    std::lock_guard lock(mutex_);
    auto it = failures_.find(client);
    if (it == failures_.end()) return 0;
    const int64_t now = now_();
    auto& times = it->second;
    std::erase_if(times, [&](int64_t t) { return t <= now - window_; });
    if (times.empty()) {
        failures_.erase(it);
        return 0;
    }
    if (static_cast<int>(times.size()) < limit_) return 0;
    return std::max<int64_t>(1, times.front() + window_ - now);
}

void FailureLimiter::failed(const std::string& client) {
    std::lock_guard lock(mutex_);
    if (failures_.size() > 100000) failures_.clear(); // bounded memory under a spray of addresses
    auto& times = failures_[client];
    times.push_back(now_());
    if (times.size() > static_cast<size_t>(limit_) * 2) times.erase(times.begin());
}

SignOn::SignOn(const config::AuthSection& settings, directory::Directory& directory, http::Metrics* metrics,
               std::function<int64_t()> now)
    : settings_(settings), directory_(directory), metrics_(metrics), now_(now ? std::move(now) : system_now),
      limiter_(settings.failed_signon_limit, settings.failed_signon_window, now_) {
    if (settings_.negotiate) {
        acceptor_ =
            std::make_unique<NegotiateAcceptor>(settings_.keytab.value_or(config::Path()), settings_.service_principal);
        realms_ = settings_.realms;
        if (realms_.empty()) {
            const std::string realm = NegotiateAcceptor::default_realm();
            if (!realm.empty()) realms_.push_back(realm);
        }
    }
}

SignOn::~SignOn() = default;

http::Identity SignOn::sign_on(const http::Request& request,
                               std::vector<std::pair<std::string, std::string>>& answer_headers) {
    refuse_if_blocked(request);
    const std::string authorization = request.header("Authorization");
    if (authorization.empty() && sessions_)
        if (auto cookie = request.cookie(kSessionCookie)) return from_session(request, *cookie);
    const size_t space = authorization.find(' ');
    const std::string scheme = Poco::toLower(authorization.substr(0, space));
    const std::string value = space == std::string::npos ? "" : Poco::trim(authorization.substr(space + 1));
    if (authorization.empty()) challenge(request, "sign_on_required", "sign on with Negotiate or Basic", "");
    if (scheme == "negotiate" && acceptor_) return negotiate(request, value, answer_headers);
    if (scheme == "basic" && settings_.basic) return basic(request, value);
    challenge(request, "unsupported_scheme", "sign on with " + std::string(acceptor_ ? "Negotiate or " : "") + "Basic",
              "");
}

void SignOn::refuse_if_blocked(const http::Request& request) {
    if (int64_t wait = limiter_.blocked(request.client); wait > 0) {
        HttpError e(429, "too_many_failures",
                    "too many failed sign-ons from " + request.client + "; try again in " + std::to_string(wait) +
                        " s");
        e.headers.emplace_back("Retry-After", std::to_string(wait));
        throw e;
    }
}

void SignOn::challenge(const http::Request& request, const std::string& code, const std::string& message,
                       const std::string& method) {
    if (!method.empty()) {
        limiter_.failed(request.client);
        if (metrics_)
            metrics_->add("keyholder_signon_failures_total", "Failed sign-ons, by method", "method=\"" + method + "\"");
    }
    HttpError e(401, code, message);
    // The login form and the portal's own calls get no challenge: a browser would
    // show its Basic dialog.
    if (method == "password" || request.header("X-Keyholder-Client") == "portal") throw e;
    if (acceptor_) e.headers.emplace_back("WWW-Authenticate", "Negotiate");
    if (settings_.basic) e.headers.emplace_back("WWW-Authenticate", "Basic realm=\"keyholder\", charset=\"UTF-8\"");
    throw e;
}

void SignOn::unavailable(const directory::DirectoryError& error) {
    if (metrics_)
        metrics_->add("keyholder_directory_errors_total", "Directory calls that failed, by where", "where=\"sign_on\"");
    log().warning("sign-on refused, directory unavailable: %s", error.to_string());
    throw HttpError(503, "directory_unavailable", "the directory did not answer; try again later");
}

static directory::DirectoryError not_a_user(const std::string& why) {
    directory::DirectoryError error;
    error.kind = directory::DirectoryError::Kind::not_found;
    error.message = why;
    return error;
}

directory::Result<directory::User> SignOn::map_principal(const std::string& principal) {
    const size_t at = principal.rfind('@');
    if (at == std::string::npos || at == 0)
        return std::unexpected(not_a_user("principal '" + principal + "' has no realm"));
    const std::string name = principal.substr(0, at);
    const std::string realm = principal.substr(at + 1);
    const bool accepted = std::any_of(realms_.begin(), realms_.end(),
                                      [&](const std::string& r) { return Poco::icompare(r, realm) == 0; });
    if (!accepted) return std::unexpected(not_a_user("realm '" + realm + "' is not accepted"));
    // Service principals (HTTP/host) and names with '/' are not people.
    if (name.find('/') != std::string::npos)
        return std::unexpected(not_a_user("principal '" + principal + "' is not a user"));
    auto by_upn = directory_.find_user(principal);
    if (by_upn || by_upn.error().kind != directory::DirectoryError::Kind::not_found) return by_upn;
    return directory_.find_user(name);
}

http::Identity SignOn::admit(const http::Request& request, const directory::User& user, const std::string& method) {
    if (!user.enabled) {
        limiter_.failed(request.client);
        if (metrics_)
            metrics_->add("keyholder_signon_failures_total", "Failed sign-ons, by method", "method=\"" + method + "\"");
        throw HttpError(403, "account_disabled",
                        user.sam_account_name + " cannot sign on: " +
                            (user.disabled_reason.empty() ? "account disabled" : user.disabled_reason));
    }
    http::Identity identity;
    identity.id = user.id();
    identity.name = user.sam_account_name;
    identity.display_name = user.display_name.empty() ? user.sam_account_name : user.display_name;
    identity.enabled = user.enabled;
    identity.method = method;
    return identity;
}

http::Identity SignOn::negotiate(const http::Request& request, const std::string& token,
                                 std::vector<std::pair<std::string, std::string>>& answer_headers) {
    auto bytes = util::unbase64(token);
    if (!bytes) challenge(request, "bad_token", "the Negotiate token is not base64", "negotiate");
    auto accepted = acceptor_->accept(*bytes);
    if (!accepted) {
        log().notice("Negotiate from %s refused: %s", request.client, text::printable(accepted.error()));
        challenge(request, "bad_ticket", "the Kerberos ticket was not accepted", "negotiate");
    }
    auto user = map_principal(accepted->principal);
    if (!user) {
        if (user.error().kind != directory::DirectoryError::Kind::not_found) unavailable(user.error());
        log().notice("Negotiate from %s: %s does not map to a directory user (%s)", request.client, accepted->principal,
                     user.error().to_string());
        challenge(request, "unknown_principal", "the Kerberos principal is not a directory user", "negotiate");
    }
    if (!accepted->reply_token.empty())
        answer_headers.emplace_back("WWW-Authenticate", "Negotiate " + util::base64(accepted->reply_token));
    return admit(request, *user, "negotiate");
}

http::Identity SignOn::basic(const http::Request& request, const std::string& credentials) {
    const bool private_channel = request.secure || (request.raw && request.raw->serverAddress().host().isLoopback());
    if (!private_channel) throw HttpError(403, "basic_needs_tls", "Basic sign-on is accepted over TLS only");
    auto decoded = util::unbase64(credentials);
    const size_t colon = decoded ? decoded->find(':') : std::string::npos;
    if (colon == std::string::npos || colon == 0)
        challenge(request, "bad_credentials", "Basic credentials must be base64 of user:password", "basic");
    return check_password(request, decoded->substr(0, colon), decoded->substr(colon + 1), "basic");
}

http::Identity SignOn::password_sign_on(const http::Request& request, const std::string& login,
                                        const std::string& password) {
    refuse_if_blocked(request);
    if (!settings_.basic) throw HttpError(403, "password_sign_on_off", "sign-on with a password is turned off");
    const bool private_channel = request.secure || (request.raw && request.raw->serverAddress().host().isLoopback());
    if (!private_channel) throw HttpError(403, "password_needs_tls", "passwords are accepted over TLS only");
    return check_password(request, login, password, "password");
}

http::Identity SignOn::check_password(const http::Request& request, const std::string& login,
                                      const std::string& password, const std::string& method) {
    // One rule: a user name is one line of text with no space at either end (" bob" is
    // not bob), a password has no control characters (a NUL would cut it short in the
    // bind while the whole string was cached). Either refused like a wrong password.
    const bool name_ok = !text::check(login, text::Lines::single, 256).problem && login.find_first_of(" \t") != 0 &&
                         login.back() != ' ' && login.back() != '\t';
    const bool password_ok = !password.empty() && !text::check(password, text::Lines::single, 1024).problem;
    if (!name_ok || !password_ok) {
        log().notice("%s sign-on from %s refused: %s is not acceptable", method, request.client,
                     std::string(name_ok ? "the password" : "the user name '" + text::printable(login, 64) + "'"));
        challenge(request, "bad_credentials", "wrong user name or password", method);
    }
    const std::string key = Poco::toLower(login);
    std::optional<CachedCredential> hit;
    {
        std::lock_guard lock(cache_mutex_);
        auto it = cache_.find(key);
        if (it != cache_.end() && it->second.expires_at > now_()) hit = it->second;
    }
    if (hit) {
        // The hash is computed outside the lock, which every Basic sign-on takes.
        const std::string digest = salted_hash(hit->salt, password);
        // A verified credential stands for basic_cache_ttl (the directory's own
        // user cache would not answer fresher within that time anyway).
        if (digest.size() == hit->digest.size() && CRYPTO_memcmp(digest.data(), hit->digest.data(), digest.size()) == 0)
            return admit(request, *hit->user, method);
        std::lock_guard lock(cache_mutex_);
        if (auto it = cache_.find(key); it != cache_.end() && it->second.digest == hit->digest) cache_.erase(it);
    }
    auto user = directory_.find_user(login);
    if (!user) {
        if (user.error().kind != directory::DirectoryError::Kind::not_found) unavailable(user.error());
        log().notice("%s sign-on from %s as '%s' refused: no such user", method, request.client,
                     text::printable(login, 64));
        challenge(request, "bad_credentials", "wrong user name or password", method);
    }
    if (!user->enabled) return admit(request, *user, method); // 403, without trying the password
    auto verified = directory_.verify_password(*user, password);
    if (!verified) {
        if (verified.error().kind == directory::DirectoryError::Kind::unavailable) unavailable(verified.error());
        log().notice("%s sign-on from %s as %s refused: wrong password", method, request.client,
                     user->sam_account_name);
        challenge(request, "bad_credentials", "wrong user name or password", method);
    }
    CachedCredential cached;
    cached.salt = random_bytes(16);
    cached.digest = salted_hash(cached.salt, password);
    cached.user = std::make_shared<const directory::User>(*user);
    cached.expires_at = now_() + settings_.basic_cache_ttl.count();
    {
        std::lock_guard lock(cache_mutex_);
        if (cache_.size() >= 10000) cache_.clear(); // bounded: a full cache just costs binds
        if (settings_.basic_cache_ttl.count() > 0) cache_[key] = std::move(cached);
    }
    return admit(request, *user, method);
}

// --- portal sessions ---

namespace {

std::string sha256_hex(const std::string& text) {
    Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
    engine.update(text);
    return Poco::DigestEngine::digestToHex(engine.digest());
}

// cookie_text: the Set-Cookie value; Secure wherever the request came over TLS.
std::string cookie_text(const http::Request& request, const std::string& value, int64_t max_age) {
    return std::string(kSessionCookie) + "=" + value +
           "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(max_age) +
           (request.secure ? "; Secure" : "");
}

} // namespace

http::Identity SignOn::from_session(const http::Request& request, const std::string& cookie) {
    auto expired = [&](const std::string& why) -> http::Identity {
        log().information("session from %s refused: %s", request.client, why);
        HttpError e(401, "session_ended", "the session has ended (" + why + "); sign on again");
        throw e; // no challenge: the portal shows its sign-on page
    };
    if (cookie.empty() || cookie.size() > 64) return expired("malformed cookie");
    const std::string id_hash = sha256_hex(cookie);
    auto session = sessions_->find(id_hash);
    if (!session) return expired("unknown or signed out");
    const int64_t now = now_();
    if (now >= session->expires_at || now - session->last_seen_at >= settings_.session_idle_timeout.count()) {
        sessions_->remove(id_hash);
        return expired(now >= session->expires_at ? "past its lifetime" : "idle too long");
    }
    // The idle clock restarts at most once a minute: no write on every request.
    if (now - session->last_seen_at >= 60) sessions_->touch(id_hash, now);
    http::Identity identity;
    identity.id = session->user_id;
    identity.name = session->user_name;
    identity.display_name = session->display_name;
    identity.enabled = true; // at sign-on; every grant reads the directory live again
    identity.method = "session";
    identity.csrf_token = session->csrf_token;
    return identity;
}

http::Identity SignOn::negotiate_sign_on(const http::Request& request,
                                         std::vector<std::pair<std::string, std::string>>& answer_headers) {
    if (!acceptor_) throw HttpError(403, "negotiate_off", "Negotiate sign-on is not configured: use the form");
    const std::string authorization = request.header("Authorization");
    const size_t space = authorization.find(' ');
    if (Poco::toLower(authorization.substr(0, space)) != "negotiate" || space == std::string::npos) {
        HttpError e(401, "sign_on_required", "sign on with Negotiate (or the form)");
        e.headers.emplace_back("WWW-Authenticate", "Negotiate"); // never Basic: no browser dialog
        throw e;
    }
    return negotiate(request, Poco::trim(authorization.substr(space + 1)), answer_headers);
}

StartedSession SignOn::start_session(const http::Request& request, const http::Identity& who,
                                     const std::string& method) {
    if (!sessions_) throw HttpError(503, "no_sessions", "portal sessions are not configured");
    const std::string id = util::base64url(random_bytes(32)); // 256 bits, new at every sign-on
    const int64_t now = now_();
    PortalSession session;
    session.id_hash = sha256_hex(id);
    session.user_id = who.id;
    session.user_name = who.name;
    session.display_name = who.display_name;
    session.method = method;
    session.csrf_token = util::base64url(random_bytes(32));
    session.created_at = now;
    session.last_seen_at = now;
    session.expires_at = now + settings_.session_lifetime.count();
    sessions_->insert(session, now);
    log().information("session started for %s from %s (%s)", who.name, request.client, method);
    return {cookie_text(request, id, settings_.session_lifetime.count()), session.csrf_token, session.expires_at};
}

std::string SignOn::end_session(const http::Request& request) {
    if (sessions_)
        if (auto cookie = request.cookie(kSessionCookie); cookie && !cookie->empty() && cookie->size() <= 64)
            sessions_->remove(sha256_hex(*cookie));
    return cookie_text(request, "", 0);
}

} // namespace keyholder::auth
