// /api/v1/me and /api/v1/entries: who the caller is, what they may request, and
// (admins) setting an entry's secret.
#include "api_internal.h"
#include "keyholder/http/json.h"
#include "keyholder/store/checkouts.h"
#include "keyholder/text/text.h"

namespace keyholder::api::detail {
namespace {

class MeAndEntries : public Handlers {
public:
    using Handlers::Handlers;

    void me(Request& request, Response& response) {
        const auto& who = request.caller();
        const auto roles = access.all_roles(who);
        Object o;
        o.set("id", who.id);
        o.set("name", who.name);
        o.set("display_name", who.display_name);
        o.set("signed_on_with", who.method);
        Array::Ptr list = new Array;
        if (roles.requester) list->add("requester");
        if (roles.approver) list->add("approver");
        if (roles.auditor) list->add("auditor");
        if (roles.admin) list->add("admin");
        o.set("roles", list);
        response.json(200, http::to_json(o));
    }

    void entries(Request& request, Response& response) {
        const auto& who = request.caller();
        auto principal = ctx.authority.resolve(who.id);
        if (!principal) directory_down(ctx, principal.error());
        const bool all = flag(request, "all").value_or(false);
        if (all) access.require_auditor(who, "only auditors and admins list every entry");
        auto core = ctx.pool.borrow();
        Array list;
        for (const auto& [name, entry] : ctx.config.entries) {
            const auto& policy = ctx.config.policies.at(entry.policy);
            auto may = ctx.authority.in_any(*principal, policy.requester_groups);
            if (!may) directory_down(ctx, may.error());
            if (!*may && !all) continue;
            Object::Ptr e = new Object;
            e->set("name", name);
            e->set("display_name", entry.display_name);
            e->set("description", entry.description);
            e->set("may_request", *may);
            // Free now: no check-out in its window and no take-back still running (an
            // exclusive entry refuses a request for a window that overlaps either).
            const auto entry_id = store::entry_id_by_name(core.store(), name);
            const int64_t now = ctx.clock.now();
            const bool busy =
                entry_id &&
                (store::count_unfinished_takebacks(core.store(), *entry_id) > 0 ||
                 (policy.exclusive && store::count_overlapping_checkouts(core.store(), *entry_id, now, now + 1) > 0));
            e->set("available_now", !busy);
            Array::Ptr kinds = new Array;
            for (auto kind : entry.release)
                kinds->add(kind == config::ReleaseKind::password ? "password"
                           : kind == config::ReleaseKind::enable ? "enable"
                                                                 : "group");
            e->set("release", kinds);
            Object::Ptr p = new Object;
            p->set("name", policy.name);
            p->set("default_duration_seconds", policy.default_duration.count());
            p->set("max_duration_seconds", policy.max_duration.count());
            p->set("max_extension_seconds", policy.max_extension.count());
            p->set("reason_required", policy.reason_required);
            p->set("ticket_pattern",
                   policy.ticket_pattern ? Poco::Dynamic::Var(*policy.ticket_pattern) : Poco::Dynamic::Var());
            p->set("exclusive", policy.exclusive);
            p->set("max_schedule_ahead_seconds", policy.max_schedule_ahead.count());
            e->set("policy", p);
            if (*may) {
                auto stages = core->entry_approvers(name, who.id);
                if (!stages) fail(stages.error());
                Array::Ptr stage_list = new Array;
                for (size_t i = 0; i < stages->size(); ++i) {
                    Object::Ptr s = new Object;
                    s->set("stage", static_cast<int>(i + 1));
                    s->set("approvals", policy.stages[i].approvals);
                    Array::Ptr people = new Array;
                    for (const auto& a : (*stages)[i])
                        people->add(Views::person(a.id, a.name, a.display_name));
                    s->set("approvers", people);
                    stage_list->add(s);
                }
                e->set("stages", stage_list);
            }
            list.add(e);
        }
        Object o;
        o.set("entries", list);
        response.json(200, http::to_json(o));
    }

    void set_secret(Request& request, Response& response) {
        const auto& who = request.caller();
        JsonBody body(request.body, {"secret"});
        const std::string secret = *body.text("secret", true, text::kMaxSecretCharacters);
        if (!access.roles(who, core::Freshness::live).admin)
            throw HttpError(403, "not_an_admin", "only keyholder admins set secrets");
        if (!ctx.vault) throw HttpError(503, "no_vault", "the secret vault is not open");
        auto core = ctx.pool.borrow();
        const std::string& entry = request.params.at("name");
        const int version =
            check(core::store_secret(core.store(), *ctx.vault, ctx.config, entry, who.id, secret, ctx.clock));
        log().information("secret of %s set by %s (version %d)", entry, who.name, version);
        Object o;
        o.set("entry", entry);
        o.set("version", version);
        response.json(200, http::to_json(o));
    }
};

} // namespace

void add_me_and_entry_routes(http::Router& router, ApiContext& context) {
    auto handlers = std::make_shared<MeAndEntries>(context);
    router.get("/api/v1/me", bind(handlers, &MeAndEntries::me));
    router.get("/api/v1/entries", bind(handlers, &MeAndEntries::entries));
    router.post("/api/v1/entries/{name}/secret", bind(handlers, &MeAndEntries::set_secret));
}

} // namespace keyholder::api::detail
