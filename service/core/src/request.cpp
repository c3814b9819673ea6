// Requests: a new request under its entry's policy, an extension of an active
// check-out, and who could approve (see checkout_service.h).
#include <regex>
#include <set>

#include <Poco/String.h>

#include <algorithm>

#include "keyholder/config/duration.h"
#include "keyholder/store/checkouts.h"
#include "keyholder/store/records.h"
#include "service_internal.h"

namespace keyholder::core {

using namespace detail;

Outcome<std::vector<Principal>> detail::stage_approvers(Authority& authority, const config::Policy& policy, int stage,
                                                        const Principal& requester) {
    const auto& s = policy.stages.at(static_cast<size_t>(stage - 1));
    std::vector<Principal> out;
    std::set<std::string> seen{requester.id};
    auto members = authority.members_of_any(s.approver_groups);
    if (!members) return std::unexpected(from_directory(members.error(), "approver groups"));
    if (s.requester_manager) {
        auto manager = authority.manager_of(requester);
        if (!manager) return std::unexpected(from_directory(manager.error(), requester.name));
        if (*manager) members->push_back(**manager);
    }
    for (auto& p : *members)
        if (p.enabled && seen.insert(p.id).second) out.push_back(std::move(p));
    return out;
}

Outcome<Principal> CheckoutService::eligible_requester(std::string_view who, const config::Policy& policy,
                                                       const std::string& entry_name) {
    auto standing = authority_.standing_live(who, policy.requester_groups);
    if (!standing) return std::unexpected(from_directory(standing.error(), std::string(who)));
    Principal& requester = standing->principal;
    if (!requester.enabled)
        return std::unexpected(error(Kind::forbidden, "account_disabled", requester.name + " is disabled"));
    if (!standing->member)
        return std::unexpected(error(Kind::forbidden, "not_a_requester",
                                     requester.name + " is not in a group that may request " + entry_name));
    return std::move(requester);
}

Outcome<int64_t> CheckoutService::request(const NewCheckoutRequest& request) {
    auto row = request_row(request);
    if (!row) return std::unexpected(row.error());
    return row->id;
}

Outcome<store::RequestRow> CheckoutService::request_row(const NewCheckoutRequest& in) {
    const int64_t now = clock_.now();
    auto entry_it = config_.entries.find(in.entry);
    if (entry_it == config_.entries.end())
        return std::unexpected(error(Kind::not_found, "no_such_entry", "no entry named '" + in.entry + "'"));
    const config::Entry& entry = entry_it->second;
    const config::Policy& policy = config_.policies.at(entry.policy);

    auto requester = eligible_requester(in.requester, policy, entry.name);
    if (!requester) return std::unexpected(requester.error());

    auto reason = field_text("reason", in.reason, text::Lines::multi, text::kMaxTextCharacters);
    if (!reason) return std::unexpected(reason.error());
    if (policy.reason_required && reason->find_first_not_of(" \t\n") == std::string::npos)
        return std::unexpected(error(Kind::invalid, "reason_required", "a reason is required"));
    std::optional<std::string> ticket;
    if (in.ticket) {
        auto checked = field_text("ticket", *in.ticket, text::Lines::single, text::kMaxTicketCharacters);
        if (!checked) return std::unexpected(checked.error());
        ticket = std::move(*checked);
    }
    if (policy.ticket_pattern) {
        if (!ticket || ticket->empty())
            return std::unexpected(error(Kind::invalid, "ticket_required", "a ticket is required"));
        if (!std::regex_match(*ticket, std::regex(*policy.ticket_pattern)))
            return std::unexpected(error(Kind::invalid, "ticket_mismatch",
                                         "ticket '" + *ticket + "' does not match " + *policy.ticket_pattern));
    }
    const auto duration = in.duration.value_or(policy.default_duration);
    if (duration.count() <= 0 || duration > policy.max_duration)
        return std::unexpected(error(Kind::invalid, "bad_duration",
                                     "the duration must be more than 0 and at most " +
                                         config::format_duration(policy.max_duration) +
                                         " (the policy's max_duration)"));
    if (in.start) {
        if (*in.start < now - kStartSlackSeconds)
            return std::unexpected(error(Kind::invalid, "start_in_past", "the start lies in the past"));
        if (*in.start > now + policy.max_schedule_ahead.count())
            return std::unexpected(
                error(Kind::invalid, "start_too_far", "the start is further ahead than the policy allows"));
    }
    // Directory work and the notices' text before the write lock.
    auto approvers = stage_approvers(authority_, policy, 1, *requester);
    if (!approvers) return std::unexpected(approvers.error());
    if (in.send_to) {
        // The requester's pick: one of those who may decide stage 1 now.
        auto chosen = std::find_if(approvers->begin(), approvers->end(), [&](const Principal& p) {
            return p.id == *in.send_to || Poco::icompare(p.name, *in.send_to) == 0;
        });
        if (chosen == approvers->end())
            return std::unexpected(
                error(Kind::invalid, "not_an_approver",
                      text::printable(*in.send_to, 64) + " cannot approve stage 1 of " + entry.name));
        *approvers = {*chosen};
    }
    std::vector<std::optional<Notice>> notices;
    for (const auto& approver : *approvers)
        notices.push_back(prepare_notice("approval_needed", approver, {{"stage", 1}, {"approver", approver.name}}));
    const std::string details =
        json({{"entry", entry.name},
              {"requester", requester->name},
              {"reason", *reason},
              {"ticket", ticket.value_or("")},
              {"duration_s", duration.count()},
              {"start", in.start ? Poco::Dynamic::Var(*in.start) : Poco::Dynamic::Var()},
              {"sent_to", in.send_to ? Poco::Dynamic::Var(approvers->front().name) : Poco::Dynamic::Var()}});

    // The store checks run in the write transaction: what they check (a free entry, a
    // finished take-back, a stored secret) still holds when the row lands, and they
    // read through the writer's warm page cache.
    store::Transaction tx(store_);
    auto entry_id = store::entry_id_by_name(store_, entry.name);
    if (!entry_id)
        return std::unexpected(error(Kind::not_found, "no_such_entry", "entry '" + entry.name + "' is retired"));
    if (store::count_unfinished_takebacks(store_, *entry_id) > 0)
        return std::unexpected(error(Kind::conflict, "takeback_pending",
                                     entry.name + " cannot be checked out until its last take-back succeeds"));
    if (entry.releases(config::ReleaseKind::password)) {
        auto secret = store::find_secret(store_, *entry_id);
        if (!secret || secret->version == 0)
            return std::unexpected(error(Kind::conflict, "no_secret",
                                         "no secret is stored for " + entry.name + " (keyholder secret set)"));
    }
    const int64_t window_start = in.start.value_or(now);
    if (policy.exclusive &&
        store::count_overlapping_checkouts(store_, *entry_id, window_start, window_start + duration.count()) > 0)
        return std::unexpected(error(Kind::conflict, "entry_busy", entry.name + " is checked out in that window"));

    store::NewRequest row;
    row.entry_id = *entry_id;
    row.requester_sid = requester->id;
    row.requester_name = requester->name;
    row.requester_display = requester->display_name;
    row.reason = *reason;
    row.ticket = ticket;
    row.requested_at = now;
    row.start_at = in.start;
    row.duration_s = duration.count();
    row.deadline_at =
        in.start ? std::min(now + policy.request_ttl.count(), *in.start) : now + policy.request_ttl.count();
    const int64_t id = store::insert_request(tx, row);
    audit(tx, now, requester->id, "request.created", subject("request", id), details);
    for (const auto& notice : notices)
        enqueue(tx, now, notice, id);
    tx.commit();

    return store::inserted_request(id, entry.name, std::move(row));
}

Outcome<int64_t> CheckoutService::extend(int64_t checkout_id, std::string_view holder_name, std::chrono::seconds by,
                                         const std::string& reason_text) {
    const int64_t now = clock_.now();
    auto checkout = store::find_checkout(store_, checkout_id);
    if (!checkout) return std::unexpected(error(Kind::not_found, "no_such_checkout", "no such check-out"));
    if (checkout->state != store::CheckoutState::active)
        return std::unexpected(error(Kind::conflict, "not_active", "only an active check-out can be extended"));
    const config::Policy& policy = config_.policies.at(config_.entries.at(checkout->entry_name).policy);
    // More time is a grant: the holder must still be an eligible requester now.
    auto holder = eligible_requester(holder_name, policy, checkout->entry_name);
    if (!holder) return std::unexpected(holder.error());
    if (holder->id != checkout->holder_sid)
        return std::unexpected(error(Kind::forbidden, "not_yours", "only the holder may ask for more time"));
    if (const int64_t used = store::extension_total(store_, checkout_id);
        by.count() <= 0 || used + by.count() > policy.max_extension.count())
        return std::unexpected(
            error(Kind::invalid, "extension_too_long",
                  "the policy allows " + config::format_duration(policy.max_extension) + " of extensions in total (" +
                      config::format_duration(
                          std::chrono::seconds(std::max<int64_t>(0, policy.max_extension.count() - used))) +
                      " left)"));
    auto checked_reason = field_text("reason", reason_text, text::Lines::multi, text::kMaxTextCharacters);
    if (!checked_reason) return std::unexpected(checked_reason.error());
    const std::string& reason = *checked_reason;
    if (policy.reason_required && reason.find_first_not_of(" \t\n") == std::string::npos)
        return std::unexpected(error(Kind::invalid, "reason_required", "a reason is required"));
    auto approvers = stage_approvers(authority_, policy, 1, *holder);
    if (!approvers) return std::unexpected(approvers.error());
    std::vector<std::optional<Notice>> notices;
    for (const auto& approver : *approvers)
        notices.push_back(prepare_notice("approval_needed", approver, {{"stage", 1}, {"extension", true}}));
    const std::string details = json({{"checkout", checkout_id}, {"by_s", by.count()}, {"reason", reason}});
    store::Transaction tx(store_);
    store::NewRequest row;
    row.entry_id = checkout->entry_id;
    row.requester_sid = holder->id;
    row.requester_name = holder->name;
    row.requester_display = holder->display_name;
    row.reason = reason;
    row.requested_at = now;
    row.duration_s = by.count();
    row.deadline_at = std::min(now + policy.request_ttl.count(), checkout->ends_at);
    row.extends_checkout_id = checkout_id;
    const int64_t id = store::insert_request(tx, row);
    audit(tx, now, holder->id, "extension.requested", subject("request", id), details);
    for (const auto& notice : notices)
        enqueue(tx, now, notice, id);
    tx.commit();
    return id;
}

Outcome<std::vector<std::vector<Principal>>> CheckoutService::entry_approvers(const std::string& entry_name,
                                                                              std::string_view requester_name) {
    auto entry = config_.entries.find(entry_name);
    if (entry == config_.entries.end())
        return std::unexpected(error(Kind::not_found, "no_such_entry", "no entry named '" + entry_name + "'"));
    auto requester = authority_.resolve(requester_name);
    if (!requester) return std::unexpected(from_directory(requester.error(), std::string(requester_name)));
    const auto& policy = config_.policies.at(entry->second.policy);
    std::vector<std::vector<Principal>> stages;
    for (int stage = 1; stage <= static_cast<int>(policy.stages.size()); ++stage) {
        auto approvers = stage_approvers(authority_, policy, stage, *requester);
        if (!approvers) return std::unexpected(approvers.error());
        stages.push_back(std::move(*approvers));
    }
    return stages;
}

Outcome<std::vector<Principal>> CheckoutService::eligible_approvers(int64_t request_id) {
    auto request = store::find_request(store_, request_id);
    if (!request) return std::unexpected(error(Kind::not_found, "no_such_request", "no such request"));
    auto requester = authority_.resolve(request->requester_sid);
    if (!requester) return std::unexpected(from_directory(requester.error(), request->requester_name));
    const auto& policy = config_.policies.at(config_.entries.at(request->entry_name).policy);
    return stage_approvers(authority_, policy, request->stage, *requester);
}

} // namespace keyholder::core
