// Requests, approvals and check-outs: the rows of the check-out state machine.
// Every write takes the caller's Transaction; state changes are conditional on the
// state the caller saw ("compare and set"), so two racing writers cannot both win.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "keyholder/store/connection.h"
#include "keyholder/store/states.h"

namespace keyholder::store {

struct RequestRow {
    int64_t id = 0;
    int64_t entry_id = 0;
    std::string entry_name;
    std::string requester_sid;
    std::string requester_name;
    std::string requester_display;
    std::string reason;
    std::optional<std::string> ticket;
    int64_t requested_at = 0;
    std::optional<int64_t> start_at;
    int64_t duration_s = 0;
    RequestState state = RequestState::pending;
    int stage = 1;
    int64_t deadline_at = 0;
    std::optional<int64_t> decided_at;
    std::optional<int64_t> extends_checkout_id;
};

struct ApprovalRow {
    int64_t id = 0;
    int64_t request_id = 0;
    int stage = 1;
    std::string approver_sid;
    std::string approver_name;
    std::string decision; ///< approve | deny
    std::optional<std::string> comment;
    std::string via;
    int64_t decided_at = 0;
    std::optional<int64_t> granted_s; ///< an approval's shorter window; nullopt: as asked
};

struct CheckoutRow {
    int64_t id = 0;
    int64_t request_id = 0;
    int64_t entry_id = 0;
    std::string entry_name;
    std::string holder_sid;
    std::string holder_name;
    int64_t starts_at = 0;
    int64_t ends_at = 0;
    CheckoutState state = CheckoutState::scheduled;
    std::optional<int64_t> ended_at;
    std::optional<EndReason> end_reason;
    Progress takeback_state = Progress::none;
    int takeback_attempts = 0;
    std::optional<int64_t> takeback_next_at;
    std::optional<std::string> takeback_error;
    std::optional<int64_t> takeback_lease_until; ///< claimed: a take-back runs until then at most
    int retrievals = 0;
    Progress release_state = Progress::none;
    int release_attempts = 0;
};

std::optional<RequestRow> find_request(Connection& db, int64_t id);
std::vector<ApprovalRow> approvals_of(Connection& db, int64_t request_id);
std::optional<CheckoutRow> find_checkout(Connection& db, int64_t id);
std::optional<CheckoutRow> checkout_of_request(Connection& db, int64_t request_id);

/// change_request_state: from -> to (and the stage / decided_at given); false when
/// the request was no longer in `from` (someone else got there first).
bool change_request_state(Transaction& tx, int64_t id, RequestState from, RequestState to,
                          std::optional<int> stage = std::nullopt, std::optional<int64_t> decided_at = std::nullopt);

/// insert_approval: false when this person already decided on this request.
bool insert_approval(Transaction& tx, const ApprovalRow& approval);
int count_approvals(Connection& db, int64_t request_id, int stage);

int64_t insert_checkout(Transaction& tx, const CheckoutRow& checkout);
bool change_checkout_state(Transaction& tx, int64_t id, CheckoutState from, CheckoutState to);
/// end_checkout: active|scheduled -> ended with the reason; take-back becomes pending.
bool end_checkout(Transaction& tx, int64_t id, EndReason reason, int64_t at);
void set_checkout_end(Transaction& tx, int64_t id, int64_t ends_at);

/// TakebackClaim: the right to run one take-back attempt, until `lease_until`.
struct TakebackClaim {
    int64_t checkout_id = 0;
    int attempt = 0; ///< takeback_attempts after the claim: identifies it
    int64_t lease_until = 0;
};
/// claim_takeback: atomically takes a take-back that is due (pending or failed, its
/// time come, no live lease); nullopt when someone else holds it or it is not due.
/// Whoever gets the claim is the only one to run this attempt.
std::optional<TakebackClaim> claim_takeback(Transaction& tx, int64_t id, int64_t now, int64_t lease_until);
/// finish_takeback: records the claimed attempt's outcome (done, or failed with a
/// retry time and the error) and ends the lease; false when the claim was lost (its
/// lease expired and another runner claimed the take-back again).
bool finish_takeback(Transaction& tx, const TakebackClaim& claim, Progress outcome, std::optional<int64_t> next_at,
                     std::optional<std::string> error);
/// drop_takeback_leases: forgets every lease (a process starting on a store that
/// only it runs take-backs for: the holders of older leases are gone). Returns how many.
int64_t drop_takeback_leases(Transaction& tx);
void count_retrieval(Transaction& tx, int64_t id);
/// mark_ending_notice: the "ends soon" notice was queued; false when it already was.
bool mark_ending_notice(Transaction& tx, int64_t id, int64_t at);
/// record_release: the state of the release of an active check-out (retried while failed).
void record_release(Transaction& tx, int64_t id, Progress state, int attempts, std::optional<int64_t> next_at,
                    std::optional<std::string> error);

/// overlapping_checkouts: check-outs of the entry, not ended, whose window meets [from, to).
int count_overlapping_checkouts(Connection& db, int64_t entry_id, int64_t from, int64_t to);
/// open_requests_of_entry: pending or approved requests of the entry whose window meets [from, to).
int count_unfinished_takebacks(Connection& db, int64_t entry_id);
/// extension_total: seconds already added to a check-out by approved extensions.
int64_t extension_total(Connection& db, int64_t checkout_id);

struct DueWork {
    std::vector<int64_t> lapsing_requests;   ///< pending past their deadline
    std::vector<int64_t> starting_checkouts; ///< scheduled whose start has come
    std::vector<int64_t> ending_checkouts;   ///< active whose end has come
    std::vector<int64_t> takebacks;          ///< ended with a take-back due
    std::vector<int64_t> releases;           ///< active with a release (re)try due
    std::vector<int64_t> ending_soon;        ///< active, ending within the notice period, not yet told
};

/// kEndingNoticeSeconds: how long before its end the holder is told the window closes.
inline constexpr int64_t kEndingNoticeSeconds = 600;

/// due_work: everything whose time is <= now (bounded per kind by `limit`).
DueWork due_work(Connection& db, int64_t now, int limit = 1000);
/// next_due: the earliest future time anything becomes due, if any.
std::optional<int64_t> next_due(Connection& db);

/// RequestFilter: which requests list_requests returns (every given field must match),
/// newest first, at most `limit`, ids below `before_id` (paging).
struct RequestFilter {
    std::optional<std::string> requester_sid;
    std::optional<RequestState> state;
    std::optional<std::string> entry;
    std::optional<int64_t> before_id;
    int limit = 100;
};
std::vector<RequestRow> list_requests(Connection& db, const RequestFilter& filter);

/// Gauges for /metrics: current counts.
struct StateCounts {
    int64_t pending_requests = 0;
    int64_t active_checkouts = 0;
    int64_t takebacks_unfinished = 0; ///< ended check-outs whose take-back is pending, running or failing
    int64_t outbox_backlog = 0;       ///< notifications not yet sent
};
StateCounts state_counts(Connection& db);

std::optional<int64_t> entry_id_by_name(Connection& db, const std::string& name);

} // namespace keyholder::store
