// /api/v1/requests: create, list, read, decide, cancel.
#include <charconv>
#include <set>

#include "api_internal.h"
#include "keyholder/config/duration.h"
#include "keyholder/http/json.h"
#include "keyholder/text/text.h"

namespace keyholder::api::detail {
namespace {

class Requests : public Handlers {
public:
    using Handlers::Handlers;

    void create(Request& request, Response& response) {
        const auto& who = request.caller();
        JsonBody body(request.body, {"entry", "reason", "ticket", "duration", "start", "approver"});
        core::NewCheckoutRequest in;
        in.requester = who.id;
        in.entry = *body.text("entry", true, text::kMaxNameCharacters);
        in.reason = body.text("reason", false, text::kMaxTextCharacters, text::Lines::multi).value_or("");
        in.ticket = body.text("ticket", false, text::kMaxTicketCharacters);
        if (auto duration = body.duration("duration")) in.duration = std::chrono::seconds(*duration);
        in.start = body.timestamp("start");
        in.send_to = body.text("approver", false, 256); // one stage-1 approver to ask (default: all)
        auto core = ctx.pool.borrow();
        const store::RequestRow row = check(core->request_row(in));
        log().information("request %s: %s asks for %s", std::to_string(row.id), who.name, text::printable(in.entry));
        changed();
        response.headers.emplace_back("Location", "/api/v1/requests/" + std::to_string(row.id));
        // Described from the row as committed: a new request has no decisions and no check-out.
        response.json(201, http::to_json(*views.request(row, {}, std::nullopt)));
    }

    void list(Request& request, Response& response) {
        const auto& who = request.caller();
        store::RequestFilter filter;
        if (auto it = request.query.find("state"); it != request.query.end()) {
            filter.state = store::parse_request_state(it->second);
            if (!filter.state)
                throw HttpError(400, "bad_parameter", "unknown state '" + text::printable(it->second, 64) + "'");
        }
        if (auto it = request.query.find("entry"); it != request.query.end()) filter.entry = it->second;
        if (auto it = request.query.find("limit"); it != request.query.end()) {
            int limit = 0;
            auto [end, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), limit);
            if (ec != std::errc() || end != it->second.data() + it->second.size() || limit < 1 || limit > 500)
                throw HttpError(400, "bad_parameter", "limit must be 1..500");
            filter.limit = limit;
        }
        if (auto it = request.query.find("before"); it != request.query.end()) {
            Request probe;
            probe.params["id"] = it->second;
            filter.before_id = id_param(probe);
        }
        for (const auto& [key, value] : request.query) {
            static const std::set<std::string> known{"state", "entry", "limit", "before", "mine", "approvable"};
            if (known.count(key) == 0)
                throw HttpError(400, "bad_parameter", "unknown parameter '" + text::printable(key, 64) + "'");
        }
        const bool approvable = flag(request, "approvable").value_or(false);
        const bool mine = flag(request, "mine").value_or(!approvable);
        auto core = ctx.pool.borrow();
        Array list;
        if (approvable) {
            // Pending requests this caller may decide now (eligibility checked per request).
            store::RequestFilter pending = filter;
            pending.state = store::RequestState::pending;
            pending.limit = 500;
            for (const auto& row : store::list_requests(core.store(), pending)) {
                auto may = core->may_decide(row.id, who.id);
                if (!may) fail(may.error());
                if (!*may || static_cast<int>(list.size()) >= filter.limit) continue;
                auto view = views.request(core, row);
                view->set("requester_eligible_through", eligible_through(row));
                list.add(view);
            }
        } else {
            if (mine)
                filter.requester_sid = who.id;
            else
                access.require_auditor(who, "only auditors and admins list everyone's requests");
            for (const auto& row : store::list_requests(core.store(), filter))
                list.add(views.request(core, row));
        }
        Object o;
        o.set("requests", list);
        response.json(200, http::to_json(o));
    }

    // eligible_through: the group path that makes the requester eligible for the entry
    // (read from the cache, for the approver to see; empty when the directory cannot say).
    Array::Ptr eligible_through(const store::RequestRow& row) {
        Array::Ptr names = new Array;
        auto entry = ctx.config.entries.find(row.entry_name);
        if (entry == ctx.config.entries.end()) return names;
        auto requester = ctx.authority.resolve(row.requester_sid);
        if (!requester) return names;
        auto path =
            ctx.authority.membership_path(*requester, ctx.config.policies.at(entry->second.policy).requester_groups);
        if (path)
            for (const auto& name : *path)
                names->add(name);
        return names;
    }

    void get(Request& request, Response& response) {
        auto core = ctx.pool.borrow();
        store::ReadSnapshot snapshot(core.store());
        auto row = access.visible_request(core, request.caller(), id_param(request));
        response.json(200, http::to_json(*views.request(core, row)));
    }

    void decide(Request& request, Response& response, core::Decision decision) {
        const auto& who = request.caller();
        const int64_t id = id_param(request);
        const JsonBody body = decision == core::Decision::approve ? JsonBody(request.body, {"comment", "duration"})
                                                                  : JsonBody(request.body, {"comment"});
        auto comment = body.text("comment", false, text::kMaxTextCharacters, text::Lines::multi);
        // An approval may grant a shorter window than asked ("duration": "30m").
        std::optional<std::chrono::seconds> grant;
        if (auto seconds = body.duration("duration")) grant = std::chrono::seconds(*seconds);
        auto core = ctx.pool.borrow();
        if (!store::find_request(core.store(), id))
            throw HttpError(404, "no_such_request", "no request " + std::to_string(id));
        auto state = check(core->decide(id, who.id, decision, comment, "api", std::nullopt, grant));
        log().information("request %s: %s %s it%s (now %s)", std::to_string(id), who.name,
                          std::string(decision == core::Decision::approve ? "approved" : "denied"),
                          grant ? " for at most " + config::format_duration(*grant) : std::string(), state);
        changed();
        views.answer_request(response, core, id);
    }

    void cancel(Request& request, Response& response) {
        const auto& who = request.caller();
        const int64_t id = id_param(request);
        JsonBody body(request.body, {});
        auto core = ctx.pool.borrow();
        auto row = access.visible_request(core, who, id);
        check(core->cancel(row.id, who.id));
        changed();
        views.answer_request(response, core, id);
    }
};

} // namespace

void add_request_routes(http::Router& router, ApiContext& context) {
    auto handlers = std::make_shared<Requests>(context);
    router.post("/api/v1/requests", bind(handlers, &Requests::create));
    router.get("/api/v1/requests", bind(handlers, &Requests::list));
    router.get("/api/v1/requests/{id}", bind(handlers, &Requests::get));
    router.post("/api/v1/requests/{id}/approve",
                [handlers](Request& q, Response& r) { handlers->decide(q, r, core::Decision::approve); });
    router.post("/api/v1/requests/{id}/deny",
                [handlers](Request& q, Response& r) { handlers->decide(q, r, core::Decision::deny); });
    router.post("/api/v1/requests/{id}/cancel", bind(handlers, &Requests::cancel));
}

} // namespace keyholder::api::detail
