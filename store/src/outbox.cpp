// The outbox and link nonces (see outbox.h).
#include "keyholder/store/outbox.h"

#include <algorithm>

namespace keyholder::store {
namespace {

constexpr const char* kColumns =
    "id, created_at, kind, recipient, request_id, payload, message_id, state, attempts, next_attempt_at, last_error";

OutboxRow read_row(Statement& s) {
    OutboxRow r;
    r.id = s.column_int64(0);
    r.created_at = s.column_int64(1);
    r.kind = s.column_text(2);
    r.recipient = s.column_text(3);
    r.request_id = s.column_optional_int64(4);
    r.payload = s.column_text(5);
    r.message_id = s.column_text(6);
    r.state = s.column_text(7);
    r.attempts = static_cast<int>(s.column_int64(8));
    r.next_attempt_at = s.column_int64(9);
    r.last_error = s.column_optional_text(10);
    return r;
}

} // namespace

std::vector<OutboxRow> due_notifications(Connection& db, int64_t now, int limit) {
    auto statement = db.cached(std::string("SELECT ") + kColumns +
                               " FROM outbox WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY "
                               "next_attempt_at, id LIMIT ?");
    Statement& s = *statement;
    s.bind(1, now).bind(2, limit);
    std::vector<OutboxRow> out;
    while (s.step())
        out.push_back(read_row(s));
    return out;
}

std::vector<OutboxRow> claim_due_notifications(Transaction& tx, int64_t now, int64_t claim_until, int limit) {
    // PostgreSQL: rows another node is claiming right now are skipped, not waited for.
    static const std::string kPick =
        "SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= ?2 AND"
        " (claimed_until IS NULL OR claimed_until <= ?2) ORDER BY next_attempt_at, id LIMIT ?3";
    Connection& db = tx.connection();
    auto statement = db.cached(std::string("UPDATE outbox SET claimed_until = ?1 WHERE id IN (") +
                               dialect(db, kPick, kPick + " FOR UPDATE SKIP LOCKED") + ") RETURNING " + kColumns);
    Statement& s = *statement;
    s.bind(1, claim_until).bind(2, now).bind(3, limit);
    std::vector<OutboxRow> out;
    while (s.step())
        out.push_back(read_row(s));
    std::sort(out.begin(), out.end(), [](const OutboxRow& a, const OutboxRow& b) {
        return std::pair(a.next_attempt_at, a.id) < std::pair(b.next_attempt_at, b.id);
    });
    return out;
}

int64_t release_notification_claims(Transaction& tx) {
    tx.connection().cached("UPDATE outbox SET claimed_until = NULL WHERE claimed_until IS NOT NULL")->run();
    return tx.connection().changes();
}

std::optional<int64_t> next_notification_due(Connection& db) {
    // A row claimed by a sender that may have died is due again when its claim ends.
    auto statement = db.cached("SELECT min(CASE WHEN claimed_until > next_attempt_at THEN claimed_until"
                               " ELSE next_attempt_at END) FROM outbox WHERE state = 'pending'");
    Statement& s = *statement;
    s.step();
    return s.column_optional_int64(0);
}

std::optional<OutboxRow> find_notification(Connection& db, int64_t id) {
    auto statement = db.cached(std::string("SELECT ") + kColumns + " FROM outbox WHERE id = ?");
    Statement& s = *statement;
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    return read_row(s);
}

void mark_notification_sent(Transaction& tx, int64_t id, int64_t at) {
    auto statement = tx.connection().cached(
        "UPDATE outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL, "
        "claimed_until = NULL WHERE id = ?");
    statement->bind(1, at).bind(2, id).run();
}

void mark_notification_retry(Transaction& tx, int64_t id, int attempts, int64_t next_at, const std::string& error) {
    auto statement = tx.connection().cached(
        "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ?, claimed_until = NULL "
        "WHERE id = ? AND state = 'pending'");
    statement->bind(1, attempts).bind(2, next_at).bind(3, error).bind(4, id).run();
}

void mark_notification_failed(Transaction& tx, int64_t id, int attempts, const std::string& error) {
    auto statement =
        tx.connection().cached("UPDATE outbox SET state = 'failed', attempts = ?, last_error = ?, claimed_until = NULL "
                               "WHERE id = ? AND state = 'pending'");
    statement->bind(1, attempts).bind(2, error).bind(3, id).run();
}

bool use_link_nonce(Transaction& tx, const std::string& nonce, int64_t request_id, const std::string& approver_sid,
                    int64_t at) {
    auto statement =
        tx.connection().cached("INSERT INTO link_tokens(nonce, request_id, approver_sid, used_at) VALUES (?, ?, ?, ?) "
                               "ON CONFLICT(nonce) DO NOTHING");
    statement->bind(1, nonce).bind(2, request_id).bind(3, approver_sid).bind(4, at).run();
    return tx.connection().changes() == 1;
}

bool link_nonce_used(Connection& db, const std::string& nonce) {
    auto statement = db.cached("SELECT 1 FROM link_tokens WHERE nonce = ?");
    statement->bind(1, nonce);
    return statement->step();
}

} // namespace keyholder::store
