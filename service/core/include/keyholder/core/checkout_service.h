// CheckoutService: the rules of keyholder — requests under a policy, approvals in
// stages, the time-boxed window, release and take-back — over the store, the
// directory (through Authority) and an injected Clock.
//
// Every transition is one store transaction holding the state change, its audit
// event and its notifications (outbox rows). Directory writes (release, take-back)
// happen only after the transaction that justifies them has committed, so nothing
// is ever released without its approvals on disk, and no directory call is made
// while the store's writer lock is held. Every grant (a request, a decision, a
// credential read, a release) reads the directory live: an unreachable DC means no
// and nothing recorded. A take-back is claimed before it runs, so it runs once.
// Thread-compatible: callers serialise calls on one service (the store connection
// is single-threaded). Implemented by concern in request.cpp, decisions.cpp,
// lifecycle.cpp, takeback.cpp, run_due.cpp, secrets.cpp and notices.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "keyholder/config/config.h"
#include "keyholder/core/authority.h"
#include "keyholder/core/clock.h"
#include "keyholder/core/vault.h"
#include "keyholder/store/checkouts.h"
#include "keyholder/store/connection.h"

namespace keyholder::core {

/// CoreError: why the core said no. `kind` maps to an HTTP status at the edge.
struct CoreError {
    enum class Kind {
        invalid,     ///< 400: the request itself is wrong (duration, reason, ticket, ...)
        forbidden,   ///< 403: this person may not do this (not a requester, not an approver, self-approval)
        not_found,   ///< 404
        conflict,    ///< 409: not in a state that allows it (already decided, entry busy, take-back pending)
        unavailable, ///< 503: the directory did not answer; nothing was recorded
    };
    Kind kind;
    std::string code;    ///< stable machine-readable reason, e.g. "self_approval"
    std::string message; ///< for people
};

template <typename T> using Outcome = std::expected<T, CoreError>;

struct NewCheckoutRequest {
    std::string requester; ///< login or id, resolved again here
    std::string entry;
    std::string reason;
    std::optional<std::string> ticket;
    std::optional<std::chrono::seconds> duration; ///< default: the policy's default_duration
    std::optional<int64_t> start;                 ///< UTC seconds; default: when approved
    /// send_to: one eligible approver of stage 1 (name or id) who alone is asked by
    /// mail; default every one. Who may decide does not change.
    std::optional<std::string> send_to = std::nullopt;
};

enum class Decision { approve, deny };

struct SchedulerPass {
    int lapsed = 0;
    int started = 0;
    int ended = 0;
    int taken_back = 0;
    int takeback_failures = 0;
    int ending_notices = 0;
    int64_t pruned = 0;              ///< requests deleted by [store] retention
    std::optional<int64_t> next_due; ///< when to run again (UTC seconds)
    /// ended_checkouts / ended_committed_ms: check-outs ended by this pass and when (UTC ms)
    /// their end state was committed — what the enforcement-lag benchmark measures.
    std::vector<std::pair<int64_t, int64_t>> ended_checkouts; ///< (checkout id, ends_at) ...
    std::vector<int64_t> ended_committed_ms;                  ///< ... and the commit time of each
};

class CheckoutService {
public:
    /// The vault is needed for `password` entries (credential retrieval, rotation).
    CheckoutService(const config::Config& config, store::Connection& store, Authority& authority, const Clock& clock,
                    const SecretVault* vault = nullptr);

    /// request: a new request (pending), or a refusal. Returns the request id.
    Outcome<int64_t> request(const NewCheckoutRequest& request);
    /// request_row: the same, returning the request's row as committed (pending, no
    /// decisions yet), so that the caller can describe it without reading it back.
    Outcome<store::RequestRow> request_row(const NewCheckoutRequest& request);
    /// decide: an approval or a denial by `approver`; returns the request's new state.
    /// `link_nonce`: the decision comes from an approval link; the nonce is recorded in
    /// the decision's transaction and a used one is refused (conflict "link_used").
    /// `grant`: an approval for a shorter window than asked (at most the asked
    /// duration; invalid "bad_grant" otherwise, or with a denial). The window granted
    /// is the shortest of the asked duration and every approval's grant; it is
    /// recorded with the decision, audited and told to the requester.
    Outcome<std::string> decide(int64_t request_id, std::string_view approver, Decision decision,
                                std::optional<std::string> comment = std::nullopt, std::string_view via = "api",
                                std::optional<std::string> link_nonce = std::nullopt,
                                std::optional<std::chrono::seconds> grant = std::nullopt);
    /// may_decide: could `approver` decide the request's current stage now (pending,
    /// eligible, not the requester, not already decided)? Records nothing. For what a
    /// person is shown (lists, visibility), so the directory may answer from its cache
    /// unless `freshness` is live; decide() always checks live.
    Outcome<bool> may_decide(int64_t request_id, std::string_view approver, Freshness freshness = Freshness::cached);
    Outcome<void> cancel(int64_t request_id, std::string_view requester);
    /// check_in: the holder ends the window early.
    Outcome<void> check_in(int64_t checkout_id, std::string_view holder);
    /// revoke: an administrator ends a window (or a scheduled one) with a reason.
    Outcome<void> revoke(int64_t checkout_id, std::string_view admin, const std::string& reason);
    /// extend: a request to lengthen an active check-out, approved under the same policy.
    Outcome<int64_t> extend(int64_t checkout_id, std::string_view holder, std::chrono::seconds by,
                            const std::string& reason);
    /// credential: the stored secret of a `password` entry, for its holder during the
    /// window only; every retrieval is counted and audited (without the value).
    Outcome<std::string> credential(int64_t checkout_id, std::string_view holder);
    /// eligible_approvers: who could approve the current stage of a request (never the requester).
    Outcome<std::vector<Principal>> eligible_approvers(int64_t request_id);
    /// entry_approvers: for each approval stage of the entry's policy, who could approve
    /// a request by `requester` (shown to requesters before they ask).
    Outcome<std::vector<std::vector<Principal>>> entry_approvers(const std::string& entry, std::string_view requester);
    /// run_due: lapses, starts, ends and takes back everything due now; once an hour
    /// (with [store] retention) prunes the history older than the retention.
    SchedulerPass run_due();
    /// prune_history: deletes the requests over for longer than [store] retention (in
    /// batches, each its own transaction with a "history.pruned" audit event that
    /// names the cutoff and the counts); the audit chain keeps every event. Returns
    /// the requests deleted (0 without retention).
    int64_t prune_history();
    /// recover: at start-up of the only process that runs take-backs on this store:
    /// claims left by a process that died are dropped, so they run in the first pass.
    /// Returns how many there were.
    int64_t recover();

private:
    Outcome<void> activate(int64_t checkout_id);
    /// eligible_requester: `who` read from the directory now (a grant): enabled and in
    /// one of the policy's requester groups.
    Outcome<Principal> eligible_requester(std::string_view who, const config::Policy& policy,
                                          const std::string& entry_name);
    Outcome<Principal> check_decider(const store::RequestRow& request, std::string_view approver_name,
                                     const config::Policy& policy, Freshness freshness);
    Outcome<std::pair<store::CheckoutRow, Principal>> holder_of(int64_t checkout_id, std::string_view holder_name,
                                                                const std::string& what);
    /// take_back: claims the take-back of a check-out and runs it (nothing when another
    /// runner holds the claim or it is not due).
    void take_back(int64_t checkout_id, SchedulerPass& pass);
    void run_takeback(const store::TakebackClaim& claim, SchedulerPass& pass);
    std::optional<std::string> rotate_stored_password(const store::CheckoutRow& checkout, const config::Entry& entry);
    const config::Config& config_;
    store::Connection& store_;
    Authority& authority_;
    const Clock& clock_;
    const SecretVault* vault_;
    int64_t next_prune_at_ = 0; ///< when run_due prunes the history again (UTC seconds)
};

/// store_secret: seals and stores the secret of a `password` entry (version + 1) with
/// the audit event "secret.set" (never the value). The caller has authorised `actor`.
Outcome<int> store_secret(store::Connection& store, const SecretVault& vault, const config::Config& config,
                          const std::string& entry, const std::string& actor, std::string_view secret,
                          const Clock& clock);

/// generate_password: a random password that meets AD complexity rules (upper, lower,
/// digit and symbol; `length` >= 16).
std::string generate_password(size_t length = 24);

} // namespace keyholder::core
