// Requests, approvals and check-outs (see checkouts.h).
#include "keyholder/store/checkouts.h"

#include "sql_support.h"

#include "keyholder/store/error.h"

namespace keyholder::store {
namespace {

// state_of: a stored state name; a name this binary does not know (a newer writer)
// is an error of the store, not a guess.
template <typename E> E state_of(std::optional<E> parsed, std::string_view text, const char* what) {
    if (!parsed) throw StoreError(0, "unknown " + std::string(what) + " '" + std::string(text) + "' in the store");
    return *parsed;
}

constexpr const char* kRequestColumns =
    "r.id, r.entry_id, e.name, r.requester_sid, r.requester_name, r.requester_display, r.reason, r.ticket, "
    "r.requested_at, r.start_at, r.duration_s, r.state, r.stage, r.deadline_at, r.decided_at, r.extends_checkout_id";

RequestRow read_request(Statement& s) {
    RequestRow r;
    r.id = s.column_int64(0);
    r.entry_id = s.column_int64(1);
    r.entry_name = s.column_text(2);
    r.requester_sid = s.column_text(3);
    r.requester_name = s.column_text(4);
    r.requester_display = s.column_text(5);
    r.reason = s.column_text(6);
    r.ticket = s.column_optional_text(7);
    r.requested_at = s.column_int64(8);
    r.start_at = s.column_optional_int64(9);
    r.duration_s = s.column_int64(10);
    const std::string state = s.column_text(11);
    r.state = state_of(parse_request_state(state), state, "request state");
    r.stage = static_cast<int>(s.column_int64(12));
    r.deadline_at = s.column_int64(13);
    r.decided_at = s.column_optional_int64(14);
    r.extends_checkout_id = s.column_optional_int64(15);
    return r;
}

constexpr const char* kCheckoutColumns =
    "c.id, c.request_id, c.entry_id, e.name, c.holder_sid, c.holder_name, c.starts_at, c.ends_at, c.state, "
    "c.ended_at, c.end_reason, c.takeback_state, c.takeback_attempts, c.takeback_next_at, c.takeback_error, "
    "c.retrievals, c.release_state, c.release_attempts, c.takeback_lease_until";

CheckoutRow read_checkout(Statement& s) {
    CheckoutRow c;
    c.id = s.column_int64(0);
    c.request_id = s.column_int64(1);
    c.entry_id = s.column_int64(2);
    c.entry_name = s.column_text(3);
    c.holder_sid = s.column_text(4);
    c.holder_name = s.column_text(5);
    c.starts_at = s.column_int64(6);
    c.ends_at = s.column_int64(7);
    const std::string state = s.column_text(8);
    c.state = state_of(parse_checkout_state(state), state, "check-out state");
    c.ended_at = s.column_optional_int64(9);
    if (auto reason = s.column_optional_text(10))
        c.end_reason = state_of(parse_end_reason(*reason), *reason, "end reason");
    const std::string takeback = s.column_text(11);
    c.takeback_state = state_of(parse_progress(takeback), takeback, "take-back state");
    c.takeback_attempts = static_cast<int>(s.column_int64(12));
    c.takeback_next_at = s.column_optional_int64(13);
    c.takeback_error = s.column_optional_text(14);
    c.retrievals = static_cast<int>(s.column_int64(15));
    const std::string release = s.column_text(16);
    c.release_state = state_of(parse_progress(release), release, "release state");
    c.release_attempts = static_cast<int>(s.column_int64(17));
    c.takeback_lease_until = s.column_optional_int64(18);
    return c;
}

std::vector<int64_t> ids(Connection& db, const std::string& sql, int64_t now, int limit) {
    std::vector<int64_t> out;
    auto statement = db.cached(sql);
    Statement& s = *statement;
    s.bind(1, now).bind(2, limit);
    while (s.step())
        out.push_back(s.column_int64(0));
    return out;
}

} // namespace

std::optional<RequestRow> find_request(Connection& db, int64_t id) {
    auto statement = db.cached(std::string("SELECT ") + kRequestColumns +
                               " FROM requests r JOIN entries e ON e.id = r.entry_id WHERE r.id = ?");
    Statement& s = *statement;
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    return read_request(s);
}

std::vector<ApprovalRow> approvals_of(Connection& db, int64_t request_id) {
    std::vector<ApprovalRow> out;
    auto statement = db.cached("SELECT id, request_id, stage, approver_sid, approver_name, decision, comment, via, "
                               "decided_at, granted_s FROM approvals WHERE request_id = ? ORDER BY decided_at, id");
    Statement& s = *statement;
    s.bind(1, request_id);
    while (s.step()) {
        out.push_back(ApprovalRow{s.column_int64(0), s.column_int64(1), static_cast<int>(s.column_int64(2)),
                                  s.column_text(3), s.column_text(4), s.column_text(5), s.column_optional_text(6),
                                  s.column_text(7), s.column_int64(8), s.column_optional_int64(9)});
    }
    return out;
}

std::optional<CheckoutRow> find_checkout(Connection& db, int64_t id) {
    auto statement = db.cached(std::string("SELECT ") + kCheckoutColumns +
                               " FROM checkouts c JOIN entries e ON e.id = c.entry_id WHERE c.id = ?");
    Statement& s = *statement;
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    return read_checkout(s);
}

std::optional<CheckoutRow> checkout_of_request(Connection& db, int64_t request_id) {
    auto statement = db.cached(std::string("SELECT ") + kCheckoutColumns +
                               " FROM checkouts c JOIN entries e ON e.id = c.entry_id WHERE c.request_id = ?");
    Statement& s = *statement;
    s.bind(1, request_id);
    if (!s.step()) return std::nullopt;
    return read_checkout(s);
}

bool change_request_state(Transaction& tx, int64_t id, RequestState from, RequestState to, std::optional<int> stage,
                          std::optional<int64_t> decided_at) {
    auto statement = tx.connection().cached(
        "UPDATE requests SET state = ?, stage = coalesce(?, stage), decided_at = coalesce(?, decided_at) "
        "WHERE id = ? AND state = ?");
    Statement& s = *statement;
    s.bind(1, to_text(to)).bind(3, decided_at).bind(4, id).bind(5, to_text(from));
    if (stage)
        s.bind(2, *stage);
    else
        s.bind_null(2);
    s.run();
    return tx.connection().changes() == 1;
}

bool insert_approval(Transaction& tx, const ApprovalRow& a) {
    auto statement = tx.connection().cached(
        "INSERT INTO approvals(request_id, stage, approver_sid, approver_name, decision, comment, via, decided_at, "
        "granted_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(request_id, approver_sid) DO NOTHING");
    Statement& s = *statement;
    s.bind(1, a.request_id)
        .bind(2, a.stage)
        .bind(3, a.approver_sid)
        .bind(4, a.approver_name)
        .bind(5, a.decision)
        .bind(6, a.comment)
        .bind(7, a.via)
        .bind(8, a.decided_at)
        .bind(9, a.granted_s)
        .run();
    return tx.connection().changes() == 1;
}

int count_approvals(Connection& db, int64_t request_id, int stage) {
    auto statement =
        db.cached("SELECT count(*) FROM approvals WHERE request_id = ? AND stage = ? AND decision = 'approve'");
    Statement& s = *statement;
    s.bind(1, request_id).bind(2, stage);
    s.step();
    return static_cast<int>(s.column_int64(0));
}

int64_t insert_checkout(Transaction& tx, const CheckoutRow& c) {
    auto statement = tx.connection().cached("INSERT INTO checkouts(request_id, entry_id, holder_sid, holder_name, "
                                            "starts_at, ends_at, state) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id");
    Statement& s = *statement;
    s.bind(1, c.request_id)
        .bind(2, c.entry_id)
        .bind(3, c.holder_sid)
        .bind(4, c.holder_name)
        .bind(5, c.starts_at)
        .bind(6, c.ends_at)
        .bind(7, to_text(c.state));
    return inserted_id(s);
}

bool change_checkout_state(Transaction& tx, int64_t id, CheckoutState from, CheckoutState to) {
    auto statement = tx.connection().cached("UPDATE checkouts SET state = ? WHERE id = ? AND state = ?");
    Statement& s = *statement;
    s.bind(1, to_text(to)).bind(2, id).bind(3, to_text(from)).run();
    return tx.connection().changes() == 1;
}

bool end_checkout(Transaction& tx, int64_t id, EndReason reason, int64_t at) {
    auto statement = tx.connection().cached(
        "UPDATE checkouts SET state = 'ended', ended_at = ?, end_reason = ?, takeback_state = 'pending', "
        "takeback_next_at = ? WHERE id = ? AND state IN ('scheduled', 'active')");
    Statement& s = *statement;
    s.bind(1, at).bind(2, to_text(reason)).bind(3, at).bind(4, id).run();
    if (tx.connection().changes() != 1) return false;
    // Its extensions end with it: an approved one is over, one still waiting can no
    // longer be granted (it lapses, and leaves the approvers' lists).
    auto extensions = tx.connection().cached(
        "UPDATE requests SET state = CASE state WHEN 'approved' THEN 'ended' ELSE 'lapsed' END, "
        "decided_at = coalesce(decided_at, ?1) WHERE extends_checkout_id = ?2 AND state IN ('approved', 'pending')");
    extensions->bind(1, at).bind(2, id).run();
    return true;
}

void set_checkout_end(Transaction& tx, int64_t id, int64_t ends_at) {
    auto statement = tx.connection().cached("UPDATE checkouts SET ends_at = ? WHERE id = ?");
    Statement& s = *statement;
    s.bind(1, ends_at).bind(2, id).run();
}

std::optional<TakebackClaim> claim_takeback(Transaction& tx, int64_t id, int64_t now, int64_t lease_until) {
    // One statement: of two runners racing for the row, exactly one changes it.
    auto statement = tx.connection().cached(
        "UPDATE checkouts SET takeback_attempts = takeback_attempts + 1, takeback_lease_until = ?1 "
        "WHERE id = ?2 AND takeback_state IN ('pending', 'failed') AND takeback_next_at <= ?3 "
        "AND (takeback_lease_until IS NULL OR takeback_lease_until <= ?3) RETURNING takeback_attempts");
    Statement& s = *statement;
    s.bind(1, lease_until).bind(2, id).bind(3, now);
    if (!s.step()) return std::nullopt;
    TakebackClaim claim{id, static_cast<int>(s.column_int64(0)), lease_until};
    while (s.step()) {}
    return claim;
}

bool finish_takeback(Transaction& tx, const TakebackClaim& claim, Progress outcome, std::optional<int64_t> next_at,
                     std::optional<std::string> error) {
    auto statement = tx.connection().cached(
        "UPDATE checkouts SET takeback_state = ?, takeback_next_at = ?, takeback_error = ?, "
        "takeback_lease_until = NULL WHERE id = ? AND takeback_attempts = ? AND takeback_lease_until = ?");
    Statement& s = *statement;
    s.bind(1, to_text(outcome))
        .bind(2, next_at)
        .bind(3, error)
        .bind(4, claim.checkout_id)
        .bind(5, claim.attempt)
        .bind(6, claim.lease_until)
        .run();
    return tx.connection().changes() == 1;
}

int64_t drop_takeback_leases(Transaction& tx) {
    tx.connection()
        .cached("UPDATE checkouts SET takeback_lease_until = NULL WHERE takeback_lease_until IS NOT NULL")
        ->run();
    return tx.connection().changes();
}

void record_release(Transaction& tx, int64_t id, Progress state, int attempts, std::optional<int64_t> next_at,
                    std::optional<std::string> error) {
    auto statement = tx.connection().cached("UPDATE checkouts SET release_state = ?, release_attempts = ?, "
                                            "release_next_at = ?, release_error = ? WHERE id = ?");
    Statement& s = *statement;
    s.bind(1, to_text(state)).bind(2, attempts).bind(3, next_at).bind(4, error).bind(5, id).run();
}

bool mark_ending_notice(Transaction& tx, int64_t id, int64_t at) {
    auto statement = tx.connection().cached(
        "UPDATE checkouts SET ending_notice_at = ? WHERE id = ? AND ending_notice_at IS NULL AND state = 'active'");
    Statement& s = *statement;
    s.bind(1, at).bind(2, id).run();
    return tx.connection().changes() == 1;
}

void count_retrieval(Transaction& tx, int64_t id) {
    auto statement = tx.connection().cached("UPDATE checkouts SET retrievals = retrievals + 1 WHERE id = ?");
    Statement& s = *statement;
    s.bind(1, id).run();
}

int count_overlapping_checkouts(Connection& db, int64_t entry_id, int64_t from, int64_t to) {
    // One indexed count per state: `state IN (...)` would build a temporary b-tree of
    // the list on every run (OpenEphemeral), and these run for every request created.
    auto statement = db.cached("SELECT (SELECT count(*) FROM checkouts WHERE state = 'scheduled' AND ends_at > ?3 "
                               "AND entry_id = ?1 AND starts_at < ?2) + "
                               "(SELECT count(*) FROM checkouts WHERE state = 'active' AND ends_at > ?3 "
                               "AND entry_id = ?1 AND starts_at < ?2)");
    Statement& s = *statement;
    s.bind(1, entry_id).bind(2, to).bind(3, from);
    s.step();
    return static_cast<int>(s.column_int64(0));
}

int count_unfinished_takebacks(Connection& db, int64_t entry_id) {
    // Two indexed counts, not `IN (...)` (see count_overlapping_checkouts).
    auto statement = db.cached("SELECT (SELECT count(*) FROM checkouts WHERE takeback_state = 'pending' AND "
                               "entry_id = ?1) + (SELECT count(*) FROM checkouts WHERE takeback_state = 'failed' AND "
                               "entry_id = ?1)");
    Statement& s = *statement;
    s.bind(1, entry_id);
    s.step();
    return static_cast<int>(s.column_int64(0));
}

int64_t extension_total(Connection& db, int64_t checkout_id) {
    auto statement = db.cached("SELECT coalesce(sum(duration_s), 0) FROM requests WHERE extends_checkout_id = ? AND "
                               "state IN ('approved', 'active', 'ended')");
    Statement& s = *statement;
    s.bind(1, checkout_id);
    s.step();
    return s.column_int64(0);
}

DueWork due_work(Connection& db, int64_t now, int limit) {
    DueWork work;
    work.lapsing_requests =
        ids(db, "SELECT id FROM requests WHERE state = 'pending' AND deadline_at <= ? ORDER BY deadline_at LIMIT ?",
            now, limit);
    work.starting_checkouts =
        ids(db, "SELECT id FROM checkouts WHERE state = 'scheduled' AND starts_at <= ? ORDER BY starts_at LIMIT ?", now,
            limit);
    work.ending_checkouts = ids(
        db, "SELECT id FROM checkouts WHERE state = 'active' AND ends_at <= ? ORDER BY ends_at LIMIT ?", now, limit);
    work.takebacks = ids(db,
                         "SELECT id FROM checkouts WHERE takeback_state IN ('pending', 'failed') AND "
                         "takeback_next_at <= ?1 AND (takeback_lease_until IS NULL OR takeback_lease_until <= ?1) "
                         "ORDER BY takeback_next_at LIMIT ?2",
                         now, limit);
    work.releases = ids(db,
                        "SELECT id FROM checkouts WHERE state = 'active' AND release_state IN ('pending', 'failed') "
                        "AND release_next_at <= ? ORDER BY release_next_at LIMIT ?",
                        now, limit);
    work.ending_soon = ids(db,
                           "SELECT id FROM checkouts WHERE state = 'active' AND ending_notice_at IS NULL AND "
                           "ends_at - " +
                               std::to_string(kEndingNoticeSeconds) + " <= ? ORDER BY ends_at LIMIT ?",
                           now, limit);
    return work;
}

std::optional<int64_t> next_due(Connection& db) {
    static const std::string kNextDue =
        "SELECT min(t) FROM ("
        " SELECT min(deadline_at) AS t FROM requests WHERE state = 'pending'"
        " UNION ALL SELECT min(starts_at) FROM checkouts WHERE state = 'scheduled'"
        " UNION ALL SELECT min(ends_at) FROM checkouts WHERE state = 'active'"
        " UNION ALL SELECT min(CASE WHEN takeback_next_at IS NULL THEN NULL"
        "  WHEN coalesce(takeback_lease_until, 0) > takeback_next_at THEN takeback_lease_until"
        "  ELSE takeback_next_at END) FROM checkouts"
        "  WHERE takeback_state IN ('pending', 'failed')"
        " UNION ALL SELECT min(release_next_at) FROM checkouts WHERE state = 'active' AND"
        "  release_state IN ('pending', 'failed')"
        " UNION ALL SELECT min(ends_at - " +
        std::to_string(kEndingNoticeSeconds) +
        ") FROM checkouts WHERE state = 'active' AND ending_notice_at IS NULL) AS due";
    auto statement = db.cached(kNextDue);
    Statement& s = *statement;
    s.step();
    return s.column_optional_int64(0);
}

std::vector<RequestRow> list_requests(Connection& db, const RequestFilter& filter) {
    // Each condition is disabled by a NULL parameter, so one cached statement serves all filters.
    auto cached = db.cached(std::string("SELECT ") + kRequestColumns +
                            " FROM requests r JOIN entries e ON e.id = r.entry_id"
                            " WHERE (?1 IS NULL OR r.requester_sid = ?1) AND (?2 IS NULL OR r.state = ?2)"
                            " AND (?3 IS NULL OR e.name = ?3) AND (?4 IS NULL OR r.id < ?4)"
                            " ORDER BY r.id DESC LIMIT ?5");
    Statement& s = *cached;
    s.bind(1, filter.requester_sid).bind(3, filter.entry).bind(4, filter.before_id);
    if (filter.state)
        s.bind(2, to_text(*filter.state));
    else
        s.bind_null(2);
    s.bind(5, filter.limit);
    std::vector<RequestRow> out;
    while (s.step())
        out.push_back(read_request(s));
    return out;
}

StateCounts state_counts(Connection& db) {
    auto statement = db.cached("SELECT (SELECT count(*) FROM requests WHERE state = 'pending'),"
                               " (SELECT count(*) FROM checkouts WHERE state = 'active'),"
                               " (SELECT count(*) FROM checkouts WHERE takeback_state IN ('pending', 'failed')),"
                               " (SELECT count(*) FROM outbox WHERE state = 'pending')");
    Statement& s = *statement;
    s.step();
    return {s.column_int64(0), s.column_int64(1), s.column_int64(2), s.column_int64(3)};
}

std::optional<int64_t> entry_id_by_name(Connection& db, const std::string& name) {
    auto statement = db.cached("SELECT id FROM entries WHERE name = ? AND retired = 0");
    Statement& s = *statement;
    s.bind(1, name);
    if (!s.step()) return std::nullopt;
    return s.column_int64(0);
}

} // namespace keyholder::store
