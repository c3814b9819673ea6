// One HTTP exchange as keyholder's handlers see it: the request (already routed,
// signed on, size-checked and read) and the response they fill. Handlers throw
// HttpError for every refusal; the server turns it into the one JSON error shape.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace Poco::Net {
class HTTPServerRequest;
}

namespace keyholder::http {

/// Identity: the signed-on caller, as the directory knows them now.
struct Identity {
    std::string id;   ///< objectSid (or uuid:... on OpenLDAP) — what keyholder records
    std::string name; ///< sAMAccountName
    std::string display_name;
    bool enabled = false;
    std::string method;     ///< negotiate | basic | session (a portal session cookie)
    std::string csrf_token; ///< session only: what its state changes must carry (X-CSRF-Token)
};

struct Request {
    std::string method;
    std::string path;                                  ///< decoded path, no query
    std::map<std::string, std::string> query;          ///< decoded; a repeated key is refused (400)
    std::map<std::string, std::string> params;         ///< from the route pattern, e.g. {id}
    std::string body;                                  ///< read whole, within max_body_bytes
    std::optional<Identity> identity;                  ///< set on routes that need a signed-on caller
    std::string client;                                ///< peer address (no port)
    bool secure = false;                               ///< arrived over TLS
    const Poco::Net::HTTPServerRequest* raw = nullptr; ///< headers
    [[nodiscard]] std::string header(const std::string& name) const;
    /// cookie: the value of a cookie the request carries, or nullopt.
    [[nodiscard]] std::optional<std::string> cookie(const std::string& name) const;
    /// caller: the identity; throws 401 when the route forgot to require one.
    [[nodiscard]] const Identity& caller() const;
};

struct Response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    /// stream: when set, the body is written by this function with chunked transfer
    /// (constant memory for large exports); `body` is ignored.
    std::function<void(std::ostream&)> stream;
    void json(int status_code, std::string json_text) {
        status = status_code;
        content_type = "application/json";
        body = std::move(json_text);
    }
};

/// HttpError: a refusal with its status, a stable code and a message for people.
class HttpError : public std::runtime_error {
public:
    HttpError(int status, std::string code, const std::string& message)
        : std::runtime_error(message), status_(status), code_(std::move(code)) {}
    [[nodiscard]] int status() const { return status_; }
    [[nodiscard]] const std::string& code() const { return code_; }
    std::vector<std::pair<std::string, std::string>> headers; ///< e.g. WWW-Authenticate, Retry-After

private:
    int status_;
    std::string code_;
};

/// error_body: {"error": {"code": CODE, "message": MESSAGE}} — the one error shape.
std::string error_body(const std::string& code, const std::string& message);

} // namespace keyholder::http
