// Take-backs: at the end of a window the release is undone (group membership
// removed, account disabled, password rotated), once per claim (see
// checkout_service.h and store::claim_takeback).
#include "keyholder/schedule/backoff.h"
#include "keyholder/store/checkouts.h"
#include "keyholder/store/secrets.h"
#include "service_internal.h"

namespace keyholder::core {

using namespace detail;

void CheckoutService::take_back(int64_t checkout_id, SchedulerPass& pass) {
    std::optional<store::TakebackClaim> claim;
    {
        const int64_t now = clock_.now();
        store::Transaction tx(store_);
        claim = store::claim_takeback(tx, checkout_id, now, now + std::chrono::seconds(kTakebackLease).count());
        if (!claim) return; // done, not due, or another runner holds it
        tx.commit();
    }
    run_takeback(*claim, pass);
}

int64_t CheckoutService::recover() {
    store::Transaction tx(store_);
    const int64_t dropped = store::drop_takeback_leases(tx);
    tx.commit();
    if (dropped > 0)
        log().warning("%s take-back claim(s) left by a stopped process will run again now", std::to_string(dropped));
    return dropped;
}

// run_takeback: the claimed attempt. Every directory write is idempotent, so a retry
// after a partial failure (or after a runner died) converges.
void CheckoutService::run_takeback(const store::TakebackClaim& claim, SchedulerPass& pass) {
    auto checkout = store::find_checkout(store_, claim.checkout_id);
    if (!checkout) return;
    const config::Entry& entry = config_.entries.at(checkout->entry_name);
    std::vector<std::string> failures;
    if (entry.releases(config::ReleaseKind::group)) {
        auto holder = authority_.resolve(checkout->holder_sid);
        if (!holder)
            failures.push_back("group: " + holder.error().to_string());
        else if (auto r = authority_.remove_member(entry.group, *holder); !r)
            failures.push_back("group: " + r.error().to_string());
    }
    if (entry.releases(config::ReleaseKind::enable)) {
        if (auto r = authority_.set_enabled(entry.account, false); !r)
            failures.push_back("disable: " + r.error().to_string());
    }
    if (entry.rotate_password && entry.releases(config::ReleaseKind::password)) {
        if (auto failure = rotate_stored_password(*checkout, entry)) failures.push_back(*failure);
    } else if (entry.rotate_password && entry.releases(config::ReleaseKind::enable)) {
        // Nobody is ever shown this password: rotating it just closes the window.
        if (auto r = authority_.reset_password(entry.account, generate_password()); !r)
            failures.push_back("rotate: " + r.error().to_string());
    }
    const int64_t now = clock_.now();
    const std::string subject_text = subject("checkout", claim.checkout_id);
    const std::string all = joined(failures);
    const int64_t backoff = schedule::backoff(claim.attempt, kTakebackRetryFirst, kTakebackRetryMax);
    store::Transaction tx(store_);
    const bool recorded = failures.empty()
                              ? store::finish_takeback(tx, claim, Progress::done, std::nullopt, std::nullopt)
                              : store::finish_takeback(tx, claim, Progress::failed, now + backoff, all);
    if (!recorded) {
        // The lease ran out and another runner took the take-back over: its outcome is
        // the one on record (the writes above are idempotent, so both converge).
        log().warning("take-back of check-out %s: the claim expired before it finished; not recorded",
                      std::to_string(claim.checkout_id));
        return;
    }
    if (failures.empty()) {
        audit(tx, now, "system", "checkout.taken_back", subject_text,
              json({{"entry", entry.name}, {"attempt", claim.attempt}}));
        log().information("check-out %s: %s taken back from %s", std::to_string(claim.checkout_id), entry.name,
                          checkout->holder_name);
        ++pass.taken_back;
    } else {
        audit(tx, now, "system", "checkout.takeback_failed", subject_text,
              json({{"entry", entry.name}, {"attempt", claim.attempt}, {"retry_at", now + backoff}, {"error", all}}));
        log().error("take-back of check-out %s (%s) failed (attempt %d, retry in %ss): %s",
                    std::to_string(claim.checkout_id), entry.name, claim.attempt, std::to_string(backoff), all);
        ++pass.takeback_failures;
    }
    tx.commit();
}

// Rotation that converges: the new password is sealed and stored as pending first,
// then set in the directory, then promoted. A retry reuses the pending password, so a
// failure between the two steps never leaves AD with a password nobody knows.
std::optional<std::string> CheckoutService::rotate_stored_password(const store::CheckoutRow& checkout,
                                                                   const config::Entry& entry) {
    if (vault_ == nullptr) return "no vault to store the rotated password in";
    auto pending = store::find_pending_secret(store_, checkout.entry_id);
    if (!pending) {
        const std::string fresh = generate_password();
        auto sealed = vault_->seal(fresh, entry.name);
        if (!sealed) return "rotate: cannot seal a new password (nothing was changed): " + sealed.error();
        store::Transaction tx(store_);
        const bool put = store::put_pending_secret(tx, checkout.entry_id, to_stored(*sealed, clock_.now(), "rotation"));
        tx.commit();
        // Not put: another rotation recorded its password first; that one is set.
        pending = store::find_pending_secret(store_, checkout.entry_id);
        if (!pending) return "rotate: the pending password vanished" + std::string(put ? "" : " (lost a race)");
    }
    auto password = vault_->unseal(to_sealed(*pending), entry.name);
    if (!password) return "pending secret unreadable: " + password.error();
    if (auto r = authority_.reset_password(entry.account, *password); !r) return "rotate: " + r.error().to_string();
    const int64_t now = clock_.now();
    store::Transaction tx(store_);
    store::promote_pending_secret(tx, checkout.entry_id, "rotation", now);
    audit(tx, now, "system", "secret.rotated", "entry:" + entry.name,
          json({{"checkout", checkout.id}, {"version", store::find_secret(store_, checkout.entry_id)->version}}));
    tx.commit();
    return std::nullopt;
}

} // namespace keyholder::core
