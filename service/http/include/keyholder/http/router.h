// Router: method + path pattern -> handler. Patterns are literal segments and
// {name} placeholders ("/api/v1/requests/{id}/approve"); a placeholder matches one
// non-empty segment. A path that matches with another method gets 405 and Allow.
#pragma once

#include <exception>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "keyholder/http/exchange.h"

namespace keyholder::http {

using Handler = std::function<void(Request&, Response&)>;
/// ErrorTranslator: the answer an exception from a handler stands for (nullopt: an
/// internal error, 500). The module that owns the exception types installs it, so
/// that each kind of failure maps to its status in one place.
using ErrorTranslator = std::function<std::optional<HttpError>(const std::exception&)>;

struct RouteOptions {
    bool sign_on = true; ///< the caller must be signed on (Negotiate or Basic)
    /// body: what the route reads. json: Content-Type application/json required (415);
    /// form: application/x-www-form-urlencoded (the approval page). State-changing
    /// routes (any method but GET/HEAD) are also checked against cross-site use.
    enum class Body { none, json, form } body = Body::none;
    /// session_csrf: a state change signed on by a portal session cookie must carry
    /// the session's token in X-CSRF-Token (403 csrf_token otherwise). Off only for a
    /// route that checks its own anti-forgery field (the approval page's form key).
    bool session_csrf = true;
};

struct Route {
    std::string method;
    std::string pattern;
    RouteOptions options;
    Handler handler;
    std::vector<std::string> segments;
};

struct Match {
    const Route* route = nullptr;
    std::map<std::string, std::string> params;
    std::string allow; ///< when no route has this method: the methods that would match
};

class Router {
public:
    void add(std::string method, std::string pattern, RouteOptions options, Handler handler);
    void get(std::string pattern, Handler handler, RouteOptions options = {}) {
        add("GET", std::move(pattern), options, std::move(handler));
    }
    void post(std::string pattern, Handler handler,
              RouteOptions options = {.sign_on = true, .body = RouteOptions::Body::json}) {
        add("POST", std::move(pattern), options, std::move(handler));
    }
    /// match: the route for method + path (HEAD matches GET), or the allowed methods.
    [[nodiscard]] Match match(const std::string& method, const std::string& path) const;

    void set_error_translator(ErrorTranslator translate) { translate_ = std::move(translate); }
    /// translate: what the installed translator makes of `e`.
    [[nodiscard]] std::optional<HttpError> translate(const std::exception& e) const {
        return translate_ ? translate_(e) : std::nullopt;
    }

private:
    std::vector<Route> routes_;
    ErrorTranslator translate_;
};

} // namespace keyholder::http
