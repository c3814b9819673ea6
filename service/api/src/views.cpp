// The JSON views of the API's resources (see api_internal.h and openapi.json).
#include <Poco/JSON/Array.h>

#include <algorithm>

#include "api_internal.h"
#include "keyholder/http/json.h"

namespace keyholder::api::detail {

using Poco::JSON::Array;
using Poco::JSON::Object;

Object::Ptr Views::person(const std::string& id, const std::string& name, const std::string& display) {
    Object::Ptr p = new Object;
    p->set("id", id);
    p->set("name", name);
    p->set("display_name", display.empty() ? name : display);
    return p;
}

Object::Ptr Views::known_person(const std::string& id, const std::string& name) {
    auto found = ctx_.authority.resolve(id);
    return person(id, name, found ? found->display_name : std::string());
}

Poco::Dynamic::Var Views::when(std::optional<int64_t> t) {
    return t ? Poco::Dynamic::Var(http::iso8601(*t)) : Poco::Dynamic::Var();
}

Object::Ptr Views::checkout(const store::CheckoutRow& c) {
    Object::Ptr o = new Object;
    o->set("id", c.id);
    o->set("request_id", c.request_id);
    o->set("entry", c.entry_name);
    o->set("holder", known_person(c.holder_sid, c.holder_name));
    o->set("state", std::string(store::to_text(c.state)));
    o->set("starts_at", http::iso8601(c.starts_at));
    o->set("ends_at", http::iso8601(c.ends_at));
    o->set("ended_at", when(c.ended_at));
    o->set("end_reason",
           c.end_reason ? Poco::Dynamic::Var(std::string(store::to_text(*c.end_reason))) : Poco::Dynamic::Var());
    o->set("release_state", std::string(store::to_text(c.release_state)));
    o->set("takeback_state", std::string(store::to_text(c.takeback_state)));
    o->set("takeback_attempts", c.takeback_attempts);
    o->set("takeback_error", c.takeback_error ? Poco::Dynamic::Var(*c.takeback_error) : Poco::Dynamic::Var());
    o->set("credential_retrievals", c.retrievals);
    return o;
}

Object::Ptr Views::request(CorePool::Lease& core, const store::RequestRow& r) {
    auto o = request(r, store::approvals_of(core.store(), r.id), store::checkout_of_request(core.store(), r.id));
    // An extension is more time on another request's check-out: which, and its end now.
    if (r.extends_checkout_id)
        if (auto extended = store::find_checkout(core.store(), *r.extends_checkout_id)) {
            Object::Ptr e = new Object;
            e->set("checkout", extended->id);
            e->set("request", extended->request_id);
            e->set("ends_at", http::iso8601(extended->ends_at));
            e->set("state", std::string(store::to_text(extended->state)));
            o->set("extends", e);
        }
    return o;
}

Object::Ptr Views::request(const store::RequestRow& r, const std::vector<store::ApprovalRow>& approvals,
                           const std::optional<store::CheckoutRow>& checkout) {
    Object::Ptr o = new Object;
    o->set("id", r.id);
    o->set("entry", r.entry_name);
    auto entry = ctx_.config.entries.find(r.entry_name);
    o->set("entry_display_name", entry != ctx_.config.entries.end() ? entry->second.display_name : r.entry_name);
    o->set("requester", person(r.requester_sid, r.requester_name, r.requester_display));
    o->set("reason", r.reason);
    o->set("ticket", r.ticket ? Poco::Dynamic::Var(*r.ticket) : Poco::Dynamic::Var());
    o->set("requested_at", http::iso8601(r.requested_at));
    o->set("start", when(r.start_at));
    o->set("duration_seconds", r.duration_s);
    o->set("state", std::string(store::to_text(r.state)));
    o->set("stage", r.stage);
    if (entry != ctx_.config.entries.end()) {
        const auto& policy = ctx_.config.policies.at(entry->second.policy);
        o->set("stages", static_cast<int>(policy.stages.size()));
        if (r.state == store::RequestState::pending) {
            const int needed = policy.stages.at(static_cast<size_t>(r.stage - 1)).approvals;
            const auto have = std::count_if(approvals.begin(), approvals.end(), [&](const auto& a) {
                return a.stage == r.stage && a.decision == "approve";
            });
            o->set("approvals_needed", std::max(0, needed - static_cast<int>(have)));
        }
    }
    o->set("deadline", http::iso8601(r.deadline_at));
    o->set("decided_at", when(r.decided_at));
    o->set("extends_checkout",
           r.extends_checkout_id ? Poco::Dynamic::Var(*r.extends_checkout_id) : Poco::Dynamic::Var());
    Array::Ptr decisions = new Array;
    for (const auto& a : approvals) {
        Object::Ptr d = new Object;
        d->set("stage", a.stage);
        d->set("approver", known_person(a.approver_sid, a.approver_name));
        d->set("decision", a.decision);
        d->set("granted_duration_seconds", a.granted_s ? Poco::Dynamic::Var(*a.granted_s) : Poco::Dynamic::Var());
        d->set("comment", a.comment ? Poco::Dynamic::Var(*a.comment) : Poco::Dynamic::Var());
        d->set("via", a.via);
        d->set("at", http::iso8601(a.decided_at));
        decisions->add(d);
    }
    o->set("decisions", decisions);
    o->set("checkout", checkout ? Poco::Dynamic::Var(this->checkout(*checkout)) : Poco::Dynamic::Var());
    return o;
}

void Views::answer_request(http::Response& response, CorePool::Lease& core, int64_t id, int status) {
    store::ReadSnapshot snapshot(core.store());
    auto row = store::find_request(core.store(), id);
    if (!row) throw http::HttpError(404, "no_such_request", "no such request");
    response.json(status, http::to_json(*request(core, *row)));
}

} // namespace keyholder::api::detail
