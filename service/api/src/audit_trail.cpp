// /api/v1/audit: the audit trail for auditors — the latest events, newest first, in
// pages; and /api/v1/audit/verification: the whole hash chain checked now, with the
// head hash to compare with an earlier export.
#include <charconv>

#include "api_internal.h"
#include "keyholder/store/audit.h"
#include "keyholder/text/text.h"

namespace keyholder::api::detail {
namespace {

const char* problem_text(store::AuditProblem problem) {
    switch (problem) {
    case store::AuditProblem::none: return "none";
    case store::AuditProblem::missing: return "missing";
    case store::AuditProblem::broken_link: return "broken_link";
    case store::AuditProblem::changed: return "changed";
    }
    return "unknown";
}

class AuditTrail : public Handlers {
public:
    using Handlers::Handlers;

    void events(Request& request, Response& response) {
        access.require_auditor(request.caller(), "the audit trail is for auditors and admins");
        std::optional<int64_t> before;
        int limit = 50;
        for (const auto& [key, value] : request.query) {
            int64_t number = 0;
            auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
            const bool ok = ec == std::errc() && end == value.data() + value.size() && !value.empty();
            if (key == "before" && ok && number > 0)
                before = number;
            else if (key == "limit" && ok && number >= 1 && number <= 200)
                limit = static_cast<int>(number);
            else
                throw HttpError(400, "bad_parameter",
                                "'" + text::printable(key, 64) + "' is not before=SEQ or limit=1..200");
        }
        auto core = ctx.pool.borrow();
        auto events = store::latest_audit_events(core.store(), before, limit + 1);
        const bool more = static_cast<int>(events.size()) > limit;
        if (more) events.pop_back();
        Array::Ptr list = new Array;
        for (const auto& e : events) {
            Object::Ptr o = new Object;
            o->set("seq", e.seq);
            o->set("at", http::iso8601(e.at));
            o->set("actor", e.actor);
            o->set("action", e.action);
            o->set("subject", e.subject);
            o->set("details", e.details);
            o->set("hash", e.hash);
            list->add(o);
        }
        Object o;
        o.set("events", list);
        o.set("next", more ? Poco::Dynamic::Var(std::to_string(events.back().seq)) : Poco::Dynamic::Var());
        response.json(200, http::to_json(o));
    }

    void verification(Request& request, Response& response) {
        const auto& who = request.caller();
        access.require_auditor(who, "the audit trail is for auditors and admins");
        auto core = ctx.pool.borrow();
        const auto result = store::verify_audit_chain(core.store());
        log().information("audit chain verified by %s: %s (%s events)", who.name,
                          std::string(result.ok() ? "intact" : "BROKEN: " + result.message),
                          std::to_string(result.events));
        Object o;
        o.set("intact", result.ok());
        o.set("events", result.events);
        o.set("problem", std::string(problem_text(result.problem)));
        o.set("first_bad", result.first_bad ? Poco::Dynamic::Var(*result.first_bad) : Poco::Dynamic::Var());
        o.set("message", result.message);
        o.set("head_hash", result.head_hash);
        response.json(200, http::to_json(o));
    }
};

} // namespace

void add_audit_routes(http::Router& router, ApiContext& context) {
    auto handlers = std::make_shared<AuditTrail>(context);
    router.get("/api/v1/audit", bind(handlers, &AuditTrail::events));
    router.get("/api/v1/audit/verification", bind(handlers, &AuditTrail::verification));
}

} // namespace keyholder::api::detail
