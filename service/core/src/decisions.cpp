// Decisions: approvals and denials in stages, each checked against the directory as
// it is now (see checkout_service.h).
#include <algorithm>
#include <set>

#include "keyholder/config/duration.h"
#include "keyholder/store/checkouts.h"
#include "keyholder/store/outbox.h"
#include "keyholder/store/records.h"
#include "service_internal.h"

namespace keyholder::core {

using namespace detail;

// check_decider: may this person decide the current stage of the request now? Live
// for a decision: a disabled approver, or one removed from the approver group a
// moment ago, is refused at once; a DC that does not answer means no.
Outcome<Principal> CheckoutService::check_decider(const store::RequestRow& request, std::string_view approver_name,
                                                  const config::Policy& policy, Freshness freshness) {
    const bool live = freshness == Freshness::live;
    const int stage = request.stage;
    const auto& stage_rule = policy.stages.at(static_cast<size_t>(stage - 1));
    // Who the approver is and whether they are in the stage's groups: one live read.
    Authority::Standing standing;
    if (live) {
        auto found = authority_.standing_live(approver_name, stage_rule.approver_groups);
        if (!found) return std::unexpected(from_directory(found.error(), std::string(approver_name)));
        standing = std::move(*found);
    } else {
        auto found = authority_.resolve(approver_name);
        if (!found) return std::unexpected(from_directory(found.error(), std::string(approver_name)));
        auto member = authority_.in_any(*found, stage_rule.approver_groups);
        if (!member) return std::unexpected(from_directory(member.error(), found->name));
        standing = {std::move(*found), *member};
    }
    Principal* approver = &standing.principal;
    if (approver->id == request.requester_sid)
        return std::unexpected(error(Kind::forbidden, "self_approval", "nobody decides on their own request"));
    if (!approver->enabled)
        return std::unexpected(error(Kind::forbidden, "account_disabled", approver->name + " is disabled"));
    bool may = standing.member;
    if (!may && stage_rule.requester_manager) {
        auto requester =
            live ? authority_.resolve_live(request.requester_sid) : authority_.resolve(request.requester_sid);
        if (!requester) return std::unexpected(from_directory(requester.error(), request.requester_name));
        auto manager = live ? authority_.manager_of_live(*requester) : authority_.manager_of(*requester);
        if (!manager) return std::unexpected(from_directory(manager.error(), requester->name));
        may = *manager && (*manager)->id == approver->id;
    }
    if (!may)
        return std::unexpected(error(Kind::forbidden, "not_an_approver",
                                     approver->name + " may not decide stage " + std::to_string(stage)));
    return std::move(*approver);
}

Outcome<bool> CheckoutService::may_decide(int64_t request_id, std::string_view approver_name, Freshness freshness) {
    auto request = store::find_request(store_, request_id);
    if (!request) return std::unexpected(error(Kind::not_found, "no_such_request", "no such request"));
    if (request->state != RequestState::pending) return false;
    auto entry_it = config_.entries.find(request->entry_name);
    if (entry_it == config_.entries.end()) return false;
    auto approver = check_decider(*request, approver_name, config_.policies.at(entry_it->second.policy), freshness);
    if (!approver) {
        if (approver.error().kind == Kind::forbidden) return false;
        return std::unexpected(approver.error());
    }
    for (const auto& decided : store::approvals_of(store_, request_id))
        if (decided.approver_sid == approver->id) return false; // one person counts once
    return true;
}

Outcome<std::string> CheckoutService::decide(int64_t request_id, std::string_view approver_name, Decision decision,
                                             std::optional<std::string> comment, std::string_view via,
                                             std::optional<std::string> link_nonce,
                                             std::optional<std::chrono::seconds> grant) {
    const int64_t now = clock_.now();
    if (grant && decision != Decision::approve)
        return std::unexpected(error(Kind::invalid, "bad_grant", "only an approval grants a window"));
    if (comment) {
        // The same rules for every way a decision arrives (API, approval page, CLI).
        auto checked = field_text("comment", *comment, text::Lines::multi, text::kMaxTextCharacters);
        if (!checked) return std::unexpected(checked.error());
        comment = std::move(*checked);
    }
    auto request = store::find_request(store_, request_id);
    if (!request) return std::unexpected(error(Kind::not_found, "no_such_request", "no such request"));
    if (request->state != RequestState::pending)
        return std::unexpected(
            error(Kind::conflict, "not_pending", "the request is " + std::string(store::to_text(request->state))));
    if (grant && (grant->count() < 1 || grant->count() > request->duration_s))
        return std::unexpected(error(Kind::invalid, "bad_grant",
                                     "a shorter window is more than 0 and at most the " +
                                         config::format_duration(std::chrono::seconds(request->duration_s)) +
                                         " asked"));
    auto entry_it = config_.entries.find(request->entry_name);
    if (entry_it == config_.entries.end())
        return std::unexpected(error(Kind::conflict, "entry_retired", "the entry is no longer configured"));
    const config::Policy& policy = config_.policies.at(entry_it->second.policy);

    // Directory work before the write lock: the decider (live), the requester (whom to
    // tell) and the next stage's approvers (whom to ask next).
    auto approver = check_decider(*request, approver_name, policy, Freshness::live);
    if (!approver) return std::unexpected(approver.error());
    auto requester = authority_.resolve(request->requester_sid);
    if (!requester) return std::unexpected(from_directory(requester.error(), request->requester_name));
    const int stage = request->stage;
    const auto& stage_rule = policy.stages.at(static_cast<size_t>(stage - 1));
    const bool last_stage = stage == static_cast<int>(policy.stages.size());
    const int needed = stage_rule.approvals;
    std::vector<std::optional<Notice>> next_notices;
    if (decision == Decision::approve && !last_stage) {
        auto next = stage_approvers(authority_, policy, stage + 1, *requester);
        if (!next) return std::unexpected(next.error());
        // Mailed are only those who may still decide: one person counts once across
        // stages, so whoever decided an earlier stage (this approver included) is not
        // asked again (their link could only answer 409).
        std::set<std::string> decided{approver->id};
        for (const auto& earlier : store::approvals_of(store_, request_id))
            decided.insert(earlier.approver_sid);
        for (const auto& p : *next)
            if (decided.count(p.id) == 0)
                next_notices.push_back(
                    prepare_notice("approval_needed", p, {{"stage", stage + 1}, {"approver", p.name}}));
    }
    const auto denied_notice = decision == Decision::deny
                                   ? prepare_notice("request_denied", *requester, {{"by", approver->display_name}})
                                   : std::nullopt;
    std::string decision_details = json(
        {{"approver", approver->name}, {"stage", stage}, {"comment", comment.value_or("")}, {"via", std::string(via)}});
    if (grant)
        decision_details = json({{"approver", approver->name},
                                 {"stage", stage},
                                 {"comment", comment.value_or("")},
                                 {"via", std::string(via)},
                                 {"granted_s", static_cast<int64_t>(grant->count())},
                                 {"asked_s", request->duration_s}});
    const std::string subject_text = subject("request", request_id);

    store::Transaction tx(store_);
    auto current = store::find_request(store_, request_id); // under the write lock
    if (!current || current->state != RequestState::pending || current->stage != stage)
        return std::unexpected(error(Kind::conflict, "not_pending", "the request changed meanwhile"));
    store::ApprovalRow row{0,
                           request_id,
                           stage,
                           approver->id,
                           approver->name,
                           decision == Decision::approve ? "approve" : "deny",
                           comment,
                           std::string(via),
                           now,
                           grant ? std::optional<int64_t>(grant->count()) : std::nullopt};
    // A link is single-use: its nonce is recorded with the decision, in one transaction.
    if (link_nonce && !store::use_link_nonce(tx, *link_nonce, request_id, approver->id, now))
        return std::unexpected(error(Kind::conflict, "link_used", "this link was already used"));
    if (!store::insert_approval(tx, row))
        return std::unexpected(error(Kind::conflict, "already_decided", approver->name + " already decided on it"));
    if (decision == Decision::deny) {
        store::change_request_state(tx, request_id, RequestState::pending, RequestState::denied, std::nullopt, now);
        audit(tx, now, approver->id, "request.denied", subject_text, decision_details);
        enqueue(tx, now, denied_notice, request_id);
        tx.commit();
        return std::string("denied");
    }
    audit(tx, now, approver->id, "request.approval", subject_text, decision_details);
    const int count = store::count_approvals(store_, request_id, stage);
    if (count < needed) {
        tx.commit();
        return std::string("pending");
    }
    if (!last_stage) {
        store::change_request_state(tx, request_id, RequestState::pending, RequestState::pending, stage + 1);
        audit(tx, now, "system", "request.stage_complete", subject_text, json({{"stage", stage}}));
        for (const auto& notice : next_notices)
            enqueue(tx, now, notice, request_id);
        tx.commit();
        return std::string("pending");
    }

    // The last approval landed: the window is the shortest any approval granted.
    int64_t granted = current->duration_s;
    for (const auto& a : store::approvals_of(store_, request_id))
        if (a.decision == "approve" && a.granted_s) granted = std::min(granted, *a.granted_s);
    const bool shortened = granted < current->duration_s;
    if (current->extends_checkout_id) {
        auto checkout = store::find_checkout(store_, *current->extends_checkout_id);
        if (!checkout || checkout->state != CheckoutState::active)
            return std::unexpected(error(Kind::conflict, "checkout_not_active", "the check-out to extend has ended"));
        const int64_t new_end = checkout->ends_at + granted;
        if (policy.exclusive &&
            store::count_overlapping_checkouts(store_, checkout->entry_id, checkout->ends_at, new_end) > 0)
            return std::unexpected(
                error(Kind::conflict, "entry_busy", "another check-out is scheduled in the extension"));
        store::set_checkout_end(tx, checkout->id, new_end);
        store::change_request_state(tx, request_id, RequestState::pending, RequestState::approved, std::nullopt, now);
        audit(tx, now, "system", "checkout.extended", subject("checkout", checkout->id),
              shortened ? json({{"request", request_id},
                                {"by_s", granted},
                                {"asked_s", current->duration_s},
                                {"ends_at", new_end}})
                        : json({{"request", request_id}, {"by_s", granted}, {"ends_at", new_end}}));
        enqueue(tx, now,
                prepare_notice("extension_approved", *requester, {{"ends_at", new_end}, {"granted_s", granted}}),
                request_id);
        tx.commit();
        return std::string("approved");
    }
    const int64_t starts_at = current->start_at.value_or(now);
    const int64_t ends_at = starts_at + granted;
    if (policy.exclusive && store::count_overlapping_checkouts(store_, current->entry_id, starts_at, ends_at) > 0)
        return std::unexpected(error(Kind::conflict, "entry_busy", "the entry was checked out meanwhile"));
    // As at request time: an earlier holder may still hold what a new window would
    // release (the group, the password not yet rotated). The request stays pending.
    if (store::count_unfinished_takebacks(store_, current->entry_id) > 0)
        return std::unexpected(error(Kind::conflict, "takeback_pending",
                                     current->entry_name + " cannot be checked out until its last take-back succeeds"));
    const bool immediate = starts_at <= now;
    store::CheckoutRow checkout;
    checkout.request_id = request_id;
    checkout.entry_id = current->entry_id;
    checkout.holder_sid = current->requester_sid;
    checkout.holder_name = current->requester_name;
    checkout.starts_at = immediate ? now : starts_at;
    checkout.ends_at = immediate ? now + granted : ends_at;
    checkout.state = immediate ? CheckoutState::active : CheckoutState::scheduled;
    const int64_t checkout_id = store::insert_checkout(tx, checkout);
    if (immediate) store::record_release(tx, checkout_id, store::Progress::pending, 0, now, std::nullopt);
    store::change_request_state(tx, request_id, RequestState::pending,
                                immediate ? RequestState::active : RequestState::approved, std::nullopt, now);
    audit(tx, now, "system", "request.approved", subject_text,
          shortened ? json({{"checkout", checkout_id}, {"window_s", granted}, {"asked_s", current->duration_s}})
                    : json({{"checkout", checkout_id}}));
    if (immediate)
        audit(tx, now, "system", "checkout.started", subject("checkout", checkout_id),
              json({{"entry", current->entry_name},
                    {"holder", current->requester_name},
                    {"starts_at", checkout.starts_at},
                    {"ends_at", checkout.ends_at}}));
    // (Built under the lock: the window is known only now. The payload is small.)
    enqueue(tx, now,
            prepare_notice(immediate ? "window_started" : "request_approved", *requester,
                           {{"starts_at", checkout.starts_at}, {"ends_at", checkout.ends_at}, {"granted_s", granted}}),
            request_id);
    tx.commit();
    if (immediate) (void)activate(checkout_id); // release only after the approvals are on disk
    return std::string(immediate ? "active" : "approved");
}

} // namespace keyholder::core
