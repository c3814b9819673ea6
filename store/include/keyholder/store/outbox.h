// The outbox: notifications written in the same transaction as the state change
// that caused them, sent later by the outbox worker. A row is marked sent only after
// the mail server accepted it (or the pickup file is on disk), so nothing is lost
// while the server is down; its Message-ID is fixed at insert, so a send repeated
// after a crash is recognisable as the same message. Link nonces live here too:
// an approval link is single-use because its nonce is recorded with the decision.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "keyholder/store/connection.h"

namespace keyholder::store {

struct OutboxRow {
    int64_t id = 0;
    int64_t created_at = 0;
    std::string kind;
    std::string recipient;
    std::optional<int64_t> request_id;
    std::string payload;
    std::string message_id;
    std::string state; ///< pending | sent | failed
    int attempts = 0;
    int64_t next_attempt_at = 0;
    std::optional<std::string> last_error;
};

/// due_notifications: pending rows whose next attempt is due, oldest first.
std::vector<OutboxRow> due_notifications(Connection& db, int64_t now, int limit = 100);
/// claim_due_notifications: claims, until `claim_until`, at most `limit` pending rows
/// that are due and that no live claim holds, and answers them (oldest first). A
/// sender claims before it sends, so that two senders (two nodes) never send the same
/// row; a claim whose sender died expires. On PostgreSQL rows another node is
/// claiming at that moment are skipped (FOR UPDATE SKIP LOCKED); run it in a
/// Transaction with Locking::rows, so that claims wait for no other writer.
std::vector<OutboxRow> claim_due_notifications(Transaction& tx, int64_t now, int64_t claim_until, int limit = 100);
/// release_notification_claims: drops every claim (start-up of the only process of a store).
int64_t release_notification_claims(Transaction& tx);
/// next_notification_due: when the earliest pending row is due (or its claim ends), if any.
std::optional<int64_t> next_notification_due(Connection& db);
void mark_notification_sent(Transaction& tx, int64_t id, int64_t at);
void mark_notification_retry(Transaction& tx, int64_t id, int attempts, int64_t next_at, const std::string& error);
void mark_notification_failed(Transaction& tx, int64_t id, int attempts, const std::string& error);
std::optional<OutboxRow> find_notification(Connection& db, int64_t id);

/// use_link_nonce: records that a link was used; false when it already was.
bool use_link_nonce(Transaction& tx, const std::string& nonce, int64_t request_id, const std::string& approver_sid,
                    int64_t at);
bool link_nonce_used(Connection& db, const std::string& nonce);

} // namespace keyholder::store
