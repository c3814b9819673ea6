// Who may see and do what in the API (see api_internal.h).
#include "api_internal.h"

namespace keyholder::api::detail {

Access::Roles Access::roles(const http::Identity& who, core::Freshness freshness) {
    if (freshness == core::Freshness::live) {
        Roles roles;
        auto standing = ctx_.authority.standing_live(who.id, ctx_.config.service.admin_groups);
        if (!standing) directory_down(ctx_, standing.error());
        roles.admin = standing->principal.enabled && standing->member;
        return roles; // only the admin role is ever asked live
    }
    auto principal = ctx_.authority.resolve(who.id);
    if (!principal) directory_down(ctx_, principal.error());
    return seeing_roles(*principal);
}

Access::Roles Access::seeing_roles(const core::Principal& principal) {
    Roles roles;
    if (!principal.enabled) return roles;
    auto admin = ctx_.authority.in_any(principal, ctx_.config.service.admin_groups);
    if (!admin) directory_down(ctx_, admin.error());
    roles.admin = *admin;
    if (!roles.admin && !ctx_.config.service.auditor_groups.empty()) {
        auto auditor = ctx_.authority.in_any(principal, ctx_.config.service.auditor_groups);
        if (!auditor) directory_down(ctx_, auditor.error());
        roles.auditor = *auditor;
    }
    roles.auditor = roles.auditor || roles.admin;
    return roles;
}

Access::Roles Access::all_roles(const http::Identity& who) {
    auto principal = ctx_.authority.resolve(who.id);
    if (!principal) directory_down(ctx_, principal.error());
    Roles roles = seeing_roles(*principal);
    // requester: may request at least one configured entry; approver: in an approver
    // group of a stage of one (a manager who approves only as the requester's manager
    // is not listed: that depends on who asks).
    std::vector<std::string> requester_groups, approver_groups;
    for (const auto& [name, entry] : ctx_.config.entries) {
        const auto& policy = ctx_.config.policies.at(entry.policy);
        requester_groups.insert(requester_groups.end(), policy.requester_groups.begin(), policy.requester_groups.end());
        for (const auto& stage : policy.stages)
            approver_groups.insert(approver_groups.end(), stage.approver_groups.begin(), stage.approver_groups.end());
    }
    auto in = [&](const std::vector<std::string>& groups) {
        if (!principal->enabled || groups.empty()) return false;
        auto member = ctx_.authority.in_any(*principal, groups);
        if (!member) directory_down(ctx_, member.error());
        return *member;
    };
    roles.requester = in(requester_groups);
    roles.approver = in(approver_groups);
    return roles;
}

bool Access::may_see(CorePool::Lease& core, const http::Identity& who, const store::RequestRow& r) {
    if (r.requester_sid == who.id) return true;
    for (const auto& a : store::approvals_of(core.store(), r.id))
        if (a.approver_sid == who.id) return true;
    if (r.state == store::RequestState::pending) {
        auto may = core->may_decide(r.id, who.id);
        if (!may) fail(ctx_, may.error());
        if (*may) return true;
    }
    return roles(who).auditor;
}

store::RequestRow Access::visible_request(CorePool::Lease& core, const http::Identity& who, int64_t id) {
    auto row = store::find_request(core.store(), id);
    // Not yours and not for you: indistinguishable from a request that does not exist.
    if (!row || !may_see(core, who, *row))
        throw http::HttpError(404, "no_such_request", "no request " + std::to_string(id) + " visible to you");
    return *row;
}

store::CheckoutRow Access::visible_checkout(CorePool::Lease& core, const http::Identity& who, int64_t id,
                                            bool holder_only) {
    auto row = store::find_checkout(core.store(), id);
    const bool mine = row && row->holder_sid == who.id;
    if (!row || (!mine && (holder_only || !roles(who).auditor)))
        throw http::HttpError(404, "no_such_checkout", "no check-out " + std::to_string(id) + " of yours");
    return *row;
}

void Access::require_auditor(const http::Identity& who, const std::string& what) {
    if (!roles(who).auditor) throw http::HttpError(403, "not_an_auditor", what);
}

} // namespace keyholder::api::detail
