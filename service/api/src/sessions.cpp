// Portal sessions (see keyholder/api/sessions.h).
#include "keyholder/api/sessions.h"

#include "api_internal.h"
#include "keyholder/store/sessions.h"
#include "keyholder/text/text.h"

namespace keyholder::api {

void StoreSessions::insert(const auth::PortalSession& s, int64_t now) {
    auto core = pool_.borrow();
    store::Transaction tx(core.store());
    store::insert_session(tx,
                          {s.id_hash, s.user_id, s.user_name, s.display_name, s.method, s.csrf_token, s.created_at,
                           s.last_seen_at, s.expires_at},
                          now);
    tx.commit();
}

std::optional<auth::PortalSession> StoreSessions::find(const std::string& id_hash) {
    auto core = pool_.borrow();
    auto row = store::find_session(core.store(), id_hash);
    if (!row) return std::nullopt;
    return auth::PortalSession{row->id_hash,    row->user_id,    row->user_name,    row->display_name, row->method,
                               row->csrf_token, row->created_at, row->last_seen_at, row->expires_at};
}

void StoreSessions::touch(const std::string& id_hash, int64_t at) {
    auto core = pool_.borrow();
    store::Transaction tx(core.store());
    store::touch_session(tx, id_hash, at);
    tx.commit();
}

void StoreSessions::remove(const std::string& id_hash) {
    auto core = pool_.borrow();
    store::Transaction tx(core.store());
    store::delete_session(tx, id_hash);
    tx.commit();
}

namespace {

using namespace detail;

class SessionRoutes {
public:
    SessionRoutes(ApiContext& context, auth::SignOn& sign_on) : ctx_(context), sign_on_(sign_on) {}

    void login(Request& request, Response& response) {
        JsonBody body(request.body, {"username", "password"});
        const std::string username = *body.text("username", true, 256);
        const std::string password = *body.text("password", true, 1024);
        start(request, response, sign_on_.password_sign_on(request, username, password), "password");
    }

    void negotiate(Request& request, Response& response) {
        start(request, response, sign_on_.negotiate_sign_on(request, response.headers), "negotiate");
    }

    // show: the caller, or (200, not 401: a page asking is not a failure) that nobody
    // is signed on and how one may sign on.
    void show(Request& request, Response& response) {
        Object o;
        try {
            request.identity = sign_on_.sign_on(request, response.headers);
        } catch (const HttpError& e) {
            if (e.status() != 401) throw;
            response.headers.clear();
            o.set("signed_on", false);
            o.set("negotiate", ctx_.config.auth.negotiate);
            o.set("password", ctx_.config.auth.basic);
            response.json(200, http::to_json(o));
            return;
        }
        const auto& who = *request.identity;
        o.set("signed_on", true);
        o.set("user", Views::person(who.id, who.name, who.display_name));
        o.set("signed_on_with", who.method);
        o.set("csrf_token", who.method == "session" ? Poco::Dynamic::Var(who.csrf_token) : Poco::Dynamic::Var());
        response.json(200, http::to_json(o));
    }

    void logout(Request& request, Response& response) {
        const auto& who = request.caller();
        response.headers.emplace_back("Set-Cookie", sign_on_.end_session(request));
        log().information("session of %s ended by sign-out", who.name);
        Object o;
        o.set("signed_out", true);
        response.json(200, http::to_json(o));
    }

private:
    void start(const Request& request, Response& response, const http::Identity& who, const std::string& method) {
        const auto started = sign_on_.start_session(request, who, method);
        response.headers.emplace_back("Set-Cookie", started.cookie);
        response.headers.emplace_back("Cache-Control", "no-store");
        Object o;
        o.set("signed_on", true);
        o.set("user", Views::person(who.id, who.name, who.display_name));
        o.set("signed_on_with", method);
        o.set("csrf_token", started.csrf_token);
        o.set("expires_at", http::iso8601(started.expires_at));
        o.set("idle_timeout_seconds", ctx_.config.auth.session_idle_timeout.count());
        response.json(201, http::to_json(o));
    }

    ApiContext& ctx_;
    auth::SignOn& sign_on_;
};

} // namespace

void add_session_routes(http::Router& router, ApiContext& context, auth::SignOn& sign_on) {
    auto routes = std::make_shared<SessionRoutes>(context, sign_on);
    const http::RouteOptions open{.sign_on = false, .body = http::RouteOptions::Body::json};
    router.post("/api/v1/session", bind(routes, &SessionRoutes::login), open);
    router.post("/api/v1/session/negotiate", bind(routes, &SessionRoutes::negotiate), open);
    router.get("/api/v1/session", bind(routes, &SessionRoutes::show), {.sign_on = false}); // signs on itself
    router.add("DELETE", "/api/v1/session", {}, bind(routes, &SessionRoutes::logout));
}

} // namespace keyholder::api
