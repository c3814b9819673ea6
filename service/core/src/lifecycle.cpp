// The window of a check-out: its release, the credential read in it, and its early
// ends (cancel, check-in, revoke). See checkout_service.h.
#include "keyholder/schedule/backoff.h"
#include "keyholder/store/checkouts.h"
#include "keyholder/store/secrets.h"
#include "service_internal.h"

namespace keyholder::core {

using namespace detail;

// holder_of: the check-out and its holder, when `holder_name` is that holder (as the
// directory has it, possibly cached: who someone is decides nothing here).
Outcome<std::pair<store::CheckoutRow, Principal>>
CheckoutService::holder_of(int64_t checkout_id, std::string_view holder_name, const std::string& what) {
    auto checkout = store::find_checkout(store_, checkout_id);
    if (!checkout) return std::unexpected(error(Kind::not_found, "no_such_checkout", "no such check-out"));
    auto holder = authority_.resolve(holder_name);
    if (!holder) return std::unexpected(from_directory(holder.error(), std::string(holder_name)));
    if (holder->id != checkout->holder_sid)
        return std::unexpected(error(Kind::forbidden, "not_yours", "only the holder may " + what));
    return std::make_pair(std::move(*checkout), std::move(*holder));
}

Outcome<std::string> CheckoutService::credential(int64_t checkout_id, std::string_view holder_name) {
    const int64_t now = clock_.now();
    auto checkout = store::find_checkout(store_, checkout_id);
    if (!checkout) return std::unexpected(error(Kind::not_found, "no_such_checkout", "no such check-out"));
    const config::Entry& entry = config_.entries.at(checkout->entry_name);
    // Reading the credential is a grant: the holder is read from the directory now and
    // must still be enabled and an eligible requester.
    auto holder = eligible_requester(holder_name, config_.policies.at(entry.policy), entry.name);
    if (!holder) return std::unexpected(holder.error());
    if (holder->id != checkout->holder_sid)
        return std::unexpected(error(Kind::forbidden, "not_yours", "only the holder may read the credential"));
    if (checkout->state != CheckoutState::active || now >= checkout->ends_at)
        return std::unexpected(
            error(Kind::conflict, "not_active", "the credential is only readable during the window"));
    if (!entry.releases(config::ReleaseKind::password))
        return std::unexpected(
            error(Kind::invalid, "not_a_password_entry", entry.name + " does not release a password"));
    // The password an earlier holder knew is not handed on before it is rotated.
    if (store::count_unfinished_takebacks(store_, checkout->entry_id) > 0)
        return std::unexpected(error(Kind::conflict, "takeback_pending",
                                     "the take-back of an earlier check-out of " + entry.name +
                                         " has not succeeded yet (its password is not rotated)"));
    auto stored = store::find_secret(store_, checkout->entry_id);
    if (!stored || stored->version == 0 || vault_ == nullptr)
        return std::unexpected(error(Kind::conflict, "no_secret", "no secret is stored for " + entry.name));
    auto plain = vault_->unseal(to_sealed(*stored), entry.name);
    if (!plain) return std::unexpected(error(Kind::conflict, "secret_unavailable", plain.error()));
    const std::string details = json({{"entry", entry.name}, {"version", stored->version}});
    store::Transaction tx(store_);
    store::count_retrieval(tx, checkout_id);
    audit(tx, now, holder->id, "secret.retrieved", subject("checkout", checkout_id), details);
    tx.commit(); // the retrieval is on record before the value leaves
    log().information("check-out %s: %s read the credential of %s (never logged)", std::to_string(checkout_id),
                      holder->name, entry.name);
    return std::move(*plain);
}

Outcome<void> CheckoutService::activate(int64_t checkout_id) {
    auto checkout = store::find_checkout(store_, checkout_id);
    if (!checkout) return {};
    const config::Entry& entry = config_.entries.at(checkout->entry_name);
    std::vector<std::string> failures;
    // The release is a grant: the holder is read from the directory now, and must
    // still be enabled and an eligible requester (else it is retried, and refused
    // again, until the window ends). Nor is anything released while an earlier
    // holder's take-back is unfinished (a window approved before that one ended).
    auto holder = eligible_requester(checkout->holder_sid, config_.policies.at(entry.policy), entry.name);
    if (store::count_unfinished_takebacks(store_, checkout->entry_id) > 0) {
        failures.push_back("the take-back of an earlier check-out of " + entry.name + " has not succeeded yet");
    } else if (!holder) {
        failures.push_back("holder: " + holder.error().message);
    } else {
        if (entry.releases(config::ReleaseKind::enable)) {
            if (auto r = authority_.set_enabled(entry.account, true); !r)
                failures.push_back("enable: " + r.error().to_string());
        }
        if (entry.releases(config::ReleaseKind::group)) {
            if (auto r = authority_.add_member(entry.group, *holder); !r)
                failures.push_back("group: " + r.error().to_string());
        }
    }
    const int64_t now = clock_.now();
    const int attempts = checkout->release_attempts + 1;
    const std::string subject_text = subject("checkout", checkout_id);
    store::Transaction tx(store_);
    if (failures.empty()) {
        store::record_release(tx, checkout_id, Progress::done, attempts, std::nullopt, std::nullopt);
        log().information("check-out %s: %s released to %s", std::to_string(checkout_id), entry.name,
                          checkout->holder_name);
        audit(tx, now, "system", "checkout.released", subject_text,
              json({{"entry", entry.name}, {"holder", checkout->holder_name}, {"attempt", attempts}}));
    } else {
        // Retried with backoff while the window lasts; the take-back at its end undoes
        // whatever part did happen.
        const std::string all = joined(failures);
        const int64_t backoff = schedule::backoff(attempts, kReleaseRetryFirst, kReleaseRetryMax);
        store::record_release(tx, checkout_id, Progress::failed, attempts, now + backoff, all);
        audit(tx, now, "system", "checkout.release_failed", subject_text,
              json({{"entry", entry.name}, {"attempt", attempts}, {"retry_at", now + backoff}, {"error", all}}));
        log().error("release of check-out %s (%s) failed (attempt %d): %s", std::to_string(checkout_id), entry.name,
                    attempts, all);
    }
    tx.commit();
    return {};
}

Outcome<void> CheckoutService::cancel(int64_t request_id, std::string_view requester_name) {
    const int64_t now = clock_.now();
    auto request = store::find_request(store_, request_id);
    if (!request) return std::unexpected(error(Kind::not_found, "no_such_request", "no such request"));
    auto requester = authority_.resolve(requester_name);
    if (!requester) return std::unexpected(from_directory(requester.error(), std::string(requester_name)));
    if (requester->id != request->requester_sid)
        return std::unexpected(error(Kind::forbidden, "not_yours", "only the requester may cancel a request"));
    store::Transaction tx(store_);
    bool done =
        store::change_request_state(tx, request_id, RequestState::pending, RequestState::cancelled, std::nullopt, now);
    if (!done && store::change_request_state(tx, request_id, RequestState::approved, RequestState::cancelled,
                                             std::nullopt, now)) {
        done = true;
        if (auto checkout = store::checkout_of_request(store_, request_id))
            store::end_checkout(tx, checkout->id, EndReason::revoked, now); // scheduled, never started
    }
    if (!done)
        return std::unexpected(
            error(Kind::conflict, "not_cancellable", "the request is " + std::string(store::to_text(request->state))));
    audit(tx, now, requester->id, "request.cancelled", subject("request", request_id), "{}");
    tx.commit();
    return {};
}

Outcome<void> CheckoutService::check_in(int64_t checkout_id, std::string_view holder_name) {
    const int64_t now = clock_.now();
    auto owned = holder_of(checkout_id, holder_name, "check in");
    if (!owned) return std::unexpected(owned.error());
    const store::CheckoutRow& checkout = owned->first;
    const Principal& holder = owned->second;
    const auto notice = prepare_notice("window_ended", holder, {{"reason", "checked_in"}});
    store::Transaction tx(store_);
    if (!store::end_checkout(tx, checkout_id, EndReason::checked_in, now))
        return std::unexpected(
            error(Kind::conflict, "not_active", "the check-out is " + std::string(store::to_text(checkout.state))));
    store::change_request_state(tx, checkout.request_id, RequestState::active, RequestState::ended);
    audit(tx, now, holder.id, "checkout.ended", subject("checkout", checkout_id), json({{"reason", "checked_in"}}));
    enqueue(tx, now, notice, checkout.request_id);
    // Claimed with the end: no scheduler pass can take this take-back meanwhile.
    auto claim = store::claim_takeback(tx, checkout_id, now, now + std::chrono::seconds(kTakebackLease).count());
    tx.commit();
    log().information("check-out %s of %s checked in by %s", std::to_string(checkout_id), checkout.entry_name,
                      holder.name);
    SchedulerPass pass;
    if (claim) run_takeback(*claim, pass);
    return {};
}

Outcome<void> CheckoutService::revoke(int64_t checkout_id, std::string_view admin_name,
                                      const std::string& reason_text) {
    const int64_t now = clock_.now();
    auto checked_reason = field_text("reason", reason_text, text::Lines::multi, text::kMaxTextCharacters);
    if (!checked_reason) return std::unexpected(checked_reason.error());
    const std::string& reason = *checked_reason;
    if (reason.find_first_not_of(" \t\n") == std::string::npos)
        return std::unexpected(error(Kind::invalid, "reason_required", "a revocation needs a reason"));
    // The administrator first (live): whoever is not one learns nothing, not even
    // whether the check-out exists.
    auto standing = authority_.standing_live(admin_name, config_.service.admin_groups);
    if (!standing) return std::unexpected(from_directory(standing.error(), std::string(admin_name)));
    const Principal* admin = &standing->principal;
    if (!admin->enabled)
        return std::unexpected(error(Kind::forbidden, "account_disabled", admin->name + " is disabled"));
    if (!standing->member)
        return std::unexpected(error(Kind::forbidden, "not_an_admin", admin->name + " is not an administrator"));
    auto checkout = store::find_checkout(store_, checkout_id);
    if (!checkout) return std::unexpected(error(Kind::not_found, "no_such_checkout", "no such check-out"));
    // The holder is told; looked up before the write lock (without an answer the
    // mail is skipped, not the revocation).
    std::optional<Notice> notice;
    if (auto holder = authority_.resolve(checkout->holder_sid))
        notice = prepare_notice("window_ended", *holder, {{"reason", "revoked"}});
    const std::string details = json({{"reason", reason}, {"admin", admin->name}});
    store::Transaction tx(store_);
    if (!store::end_checkout(tx, checkout_id, EndReason::revoked, now))
        return std::unexpected(
            error(Kind::conflict, "not_active", "the check-out is " + std::string(store::to_text(checkout->state))));
    if (!store::change_request_state(tx, checkout->request_id, RequestState::active, RequestState::ended))
        store::change_request_state(tx, checkout->request_id, RequestState::approved, RequestState::cancelled);
    audit(tx, now, admin->id, "checkout.revoked", subject("checkout", checkout_id), details);
    enqueue(tx, now, notice, checkout->request_id);
    auto claim = store::claim_takeback(tx, checkout_id, now, now + std::chrono::seconds(kTakebackLease).count());
    tx.commit();
    log().notice("check-out %s of %s (held by %s) revoked by %s: %s", std::to_string(checkout_id), checkout->entry_name,
                 checkout->holder_name, admin->name, text::printable(reason, 200));
    SchedulerPass pass;
    if (claim) run_takeback(*claim, pass);
    return {};
}

} // namespace keyholder::core
