// The scheduler pass: lapses, starts, "ends soon" notices, release retries, ends and
// take-backs that are due now (see checkout_service.h). Directory lookups (whom to
// tell) run before each transaction; an end never waits for the directory.
#include <algorithm>
#include <map>
#include <set>

#include "keyholder/store/checkouts.h"
#include "keyholder/store/retention.h"
#include "service_internal.h"

namespace keyholder::core {

using namespace detail;

namespace {

// recipient: the directory's view of a recorded person (for the mail address), or
// what the store knows when the directory does not answer (then no mail is queued).
Principal recipient(Authority& authority, const std::string& id, const std::string& name, const std::string& display) {
    if (auto p = authority.resolve(id)) return *p;
    return Principal{id, name, display, "", "", true};
}

// History is pruned at most this often (the query walks the requests that are over).
constexpr int64_t kPruneEverySeconds = 3600;
// Requests deleted per transaction: the writer lock is held briefly.
constexpr int kPrunePerTransaction = 500;

} // namespace

int64_t CheckoutService::prune_history() {
    if (!config_.store.retention) return 0;
    int64_t total = 0;
    for (;;) {
        const int64_t now = clock_.now();
        const int64_t cutoff = now - config_.store.retention->count();
        store::Transaction tx(store_);
        const auto counts = store::prune_history(tx, cutoff, kPrunePerTransaction);
        if (!counts.any()) break;
        audit(tx, now, "system", "history.pruned", "store:history",
              json({{"before", cutoff},
                    {"requests", counts.requests},
                    {"checkouts", counts.checkouts},
                    {"approvals", counts.approvals},
                    {"notifications", counts.notifications}}));
        tx.commit();
        total += counts.requests;
        log().information("retention: %s requests over before %s deleted (%s check-outs)",
                          std::to_string(counts.requests), std::to_string(cutoff), std::to_string(counts.checkouts));
        if (counts.requests < kPrunePerTransaction) break;
    }
    return total;
}

SchedulerPass CheckoutService::run_due() {
    SchedulerPass pass;
    const int64_t now = clock_.now();
    auto work = store::due_work(store_, now, kEndsPerTransaction);
    for (int64_t id : work.lapsing_requests) {
        auto request = store::find_request(store_, id);
        if (!request) continue;
        const auto notice = prepare_notice(
            "request_lapsed",
            recipient(authority_, request->requester_sid, request->requester_name, request->requester_display), {});
        store::Transaction tx(store_);
        if (!store::change_request_state(tx, id, RequestState::pending, RequestState::lapsed, std::nullopt, now))
            continue;
        audit(tx, now, "system", "request.lapsed", subject("request", id), "{}");
        enqueue(tx, now, notice, id);
        tx.commit();
        ++pass.lapsed;
    }
    for (int64_t id : work.starting_checkouts) {
        auto checkout = store::find_checkout(store_, id);
        if (!checkout) continue;
        store::Transaction tx(store_);
        if (!store::change_checkout_state(tx, id, CheckoutState::scheduled, CheckoutState::active)) continue;
        store::record_release(tx, id, Progress::pending, 0, now, std::nullopt);
        store::change_request_state(tx, checkout->request_id, RequestState::approved, RequestState::active);
        audit(
            tx, now, "system", "checkout.started", subject("checkout", id),
            json({{"entry", checkout->entry_name}, {"holder", checkout->holder_name}, {"ends_at", checkout->ends_at}}));
        tx.commit();
        (void)activate(id);
        ++pass.started;
    }
    if (!work.ending_soon.empty()) {
        // One transaction for the batch (holders looked up before the write lock).
        std::map<int64_t, std::pair<store::CheckoutRow, std::optional<Notice>>> due;
        for (int64_t id : work.ending_soon)
            if (auto checkout = store::find_checkout(store_, id)) {
                std::optional<Notice> notice;
                if (auto holder = authority_.resolve(checkout->holder_sid))
                    notice = prepare_notice("window_ending_soon", *holder, {{"ends_at", checkout->ends_at}});
                due.emplace(id, std::make_pair(*checkout, std::move(notice)));
            }
        store::Transaction tx(store_);
        for (const auto& [id, item] : due) {
            if (!store::mark_ending_notice(tx, id, now)) continue;
            enqueue(tx, now, item.second, item.first.request_id);
            ++pass.ending_notices;
        }
        tx.commit();
    }
    for (int64_t id : work.releases)
        (void)activate(id); // retries of failed releases
    // Ends first, in batches of one transaction each (one fsync per batch): the end
    // state is what bounds the enforcement lag; take-backs follow.
    for (int batch = 0; batch < kEndBatchesPerPass && !work.ending_checkouts.empty(); ++batch) {
        std::vector<std::pair<int64_t, int64_t>> ended;
        // Holders are looked up before the write lock is taken; an end never waits
        // for the directory (without an answer the "ended" mail is skipped, not the end).
        std::map<int64_t, std::optional<Notice>> notices;
        for (int64_t id : work.ending_checkouts)
            if (auto checkout = store::find_checkout(store_, id))
                if (auto holder = authority_.resolve(checkout->holder_sid))
                    notices[id] = prepare_notice("window_ended", *holder, {{"reason", "expired"}});
        {
            store::Transaction tx(store_);
            for (int64_t id : work.ending_checkouts) {
                auto checkout = store::find_checkout(store_, id);
                if (!checkout || !store::end_checkout(tx, id, EndReason::expired, now)) continue;
                store::change_request_state(tx, checkout->request_id, RequestState::active, RequestState::ended);
                audit(tx, now, "system", "checkout.ended", subject("checkout", id),
                      json({{"reason", "expired"}, {"late_by_s", now - checkout->ends_at}}));
                if (auto n = notices.find(id); n != notices.end()) enqueue(tx, now, n->second, checkout->request_id);
                ended.emplace_back(id, checkout->ends_at);
            }
            tx.commit();
        }
        const int64_t committed = clock_.now_ms();
        for (const auto& e : ended) {
            pass.ended_checkouts.push_back(e);
            pass.ended_committed_ms.push_back(committed);
            work.takebacks.push_back(e.first);
        }
        pass.ended += static_cast<int>(ended.size());
        work.ending_checkouts = store::due_work(store_, now, kEndsPerTransaction).ending_checkouts;
    }
    // A bounded number of take-backs per pass, so that the next ends are not held up;
    // the rest are due at once and the scheduler comes straight back for them. Each
    // chunk is claimed in one transaction before it runs: a check-in or revoke racing
    // this pass (or another runner) gets none of these, and this pass none of theirs.
    // Chunks are small so that their leases outlast the work even with a slow DC.
    std::set<int64_t> seen;
    int runs = 0;
    for (size_t next = 0; next < work.takebacks.size() && runs < kTakebacksPerPass;) {
        std::vector<store::TakebackClaim> claims;
        {
            const int64_t claimed_at = clock_.now();
            const int64_t lease_until = claimed_at + std::chrono::seconds(kTakebackLease).count();
            store::Transaction tx(store_);
            for (; next < work.takebacks.size() && static_cast<int>(claims.size()) < kClaimsPerTransaction &&
                   runs + static_cast<int>(claims.size()) < kTakebacksPerPass;
                 ++next) {
                const int64_t id = work.takebacks[next];
                if (!seen.insert(id).second) continue;
                if (auto claim = store::claim_takeback(tx, id, claimed_at, lease_until)) claims.push_back(*claim);
            }
            tx.commit();
        }
        for (const auto& claim : claims)
            run_takeback(claim, pass);
        runs += static_cast<int>(claims.size());
    }
    pass.next_due = store::next_due(store_);
    if (config_.store.retention) {
        if (now >= next_prune_at_) {
            pass.pruned = prune_history();
            next_prune_at_ = now + kPruneEverySeconds;
        }
        pass.next_due = pass.next_due ? std::min(*pass.next_due, next_prune_at_) : next_prune_at_;
    }
    return pass;
}

} // namespace keyholder::core
