// /api/v1/checkouts: read, check in, extend, revoke (admins; the core checks the role
// live) and the credential (the holder, audited).
#include "api_internal.h"
#include "keyholder/http/json.h"
#include "keyholder/text/text.h"

namespace keyholder::api::detail {
namespace {

class Checkouts : public Handlers {
public:
    using Handlers::Handlers;

    void get(Request& request, Response& response) {
        auto core = ctx.pool.borrow();
        auto row = access.visible_checkout(core, request.caller(), id_param(request), false);
        response.json(200, http::to_json(*views.checkout(row)));
    }

    void checkin(Request& request, Response& response) {
        const auto& who = request.caller();
        JsonBody body(request.body, {});
        auto core = ctx.pool.borrow();
        auto row = access.visible_checkout(core, who, id_param(request), true);
        check(core->check_in(row.id, who.id));
        changed();
        response.json(200, http::to_json(*views.checkout(*store::find_checkout(core.store(), row.id))));
    }

    void extend(Request& request, Response& response) {
        const auto& who = request.caller();
        JsonBody body(request.body, {"by", "reason"});
        const int64_t by = *body.duration("by", true);
        const std::string reason =
            body.text("reason", false, text::kMaxTextCharacters, text::Lines::multi).value_or("");
        auto core = ctx.pool.borrow();
        auto row = access.visible_checkout(core, who, id_param(request), true);
        const int64_t id = check(core->extend(row.id, who.id, std::chrono::seconds(by), reason));
        changed();
        response.headers.emplace_back("Location", "/api/v1/requests/" + std::to_string(id));
        views.answer_request(response, core, id, 201);
    }

    void revoke(Request& request, Response& response) {
        const auto& who = request.caller();
        JsonBody body(request.body, {"reason"});
        const std::string reason = *body.text("reason", true, text::kMaxTextCharacters, text::Lines::multi);
        auto core = ctx.pool.borrow();
        const int64_t id = id_param(request);
        check(core->revoke(id, who.id, reason)); // an administrator, read live, or 403
        log().information("check-out %s revoked by %s", std::to_string(id), who.name);
        changed();
        response.json(200, http::to_json(*views.checkout(*store::find_checkout(core.store(), id))));
    }

    void credential(Request& request, Response& response) {
        const auto& who = request.caller();
        auto core = ctx.pool.borrow();
        auto row = access.visible_checkout(core, who, id_param(request), true);
        auto secret = check(core->credential(row.id, who.id));
        auto entry = ctx.config.entries.find(row.entry_name);
        Object o;
        o.set("checkout", row.id);
        o.set("entry", row.entry_name);
        o.set("account", entry != ctx.config.entries.end() ? entry->second.account : "");
        o.set("password", secret);
        o.set("valid_until", http::iso8601(row.ends_at));
        response.json(200, http::to_json(o));
    }
};

} // namespace

void add_checkout_routes(http::Router& router, ApiContext& context) {
    auto handlers = std::make_shared<Checkouts>(context);
    router.get("/api/v1/checkouts/{id}", bind(handlers, &Checkouts::get));
    router.post("/api/v1/checkouts/{id}/checkin", bind(handlers, &Checkouts::checkin));
    router.post("/api/v1/checkouts/{id}/extend", bind(handlers, &Checkouts::extend));
    router.post("/api/v1/checkouts/{id}/revoke", bind(handlers, &Checkouts::revoke));
    router.get("/api/v1/checkouts/{id}/credential", bind(handlers, &Checkouts::credential));
}

} // namespace keyholder::api::detail
