// Portal sessions (see sessions.h).
#include "keyholder/store/sessions.h"

namespace keyholder::store {

void insert_session(Transaction& tx, const SessionRow& s, int64_t now) {
    tx.connection().cached("DELETE FROM portal_sessions WHERE expires_at <= ?")->bind(1, now).run();
    auto statement = tx.connection().cached(
        "INSERT INTO portal_sessions(id_hash, user_id, user_name, display_name, method, csrf_token, created_at, "
        "last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    statement->bind(1, s.id_hash)
        .bind(2, s.user_id)
        .bind(3, s.user_name)
        .bind(4, s.display_name)
        .bind(5, s.method)
        .bind(6, s.csrf_token)
        .bind(7, s.created_at)
        .bind(8, s.last_seen_at)
        .bind(9, s.expires_at)
        .run();
}

std::optional<SessionRow> find_session(Connection& db, const std::string& id_hash) {
    auto statement = db.cached("SELECT id_hash, user_id, user_name, display_name, method, csrf_token, created_at, "
                               "last_seen_at, expires_at FROM portal_sessions WHERE id_hash = ?");
    Statement& s = *statement;
    s.bind(1, id_hash);
    if (!s.step()) return std::nullopt;
    return SessionRow{s.column_text(0), s.column_text(1),  s.column_text(2),  s.column_text(3), s.column_text(4),
                      s.column_text(5), s.column_int64(6), s.column_int64(7), s.column_int64(8)};
}

void touch_session(Transaction& tx, const std::string& id_hash, int64_t at) {
    tx.connection()
        .cached("UPDATE portal_sessions SET last_seen_at = ? WHERE id_hash = ? AND last_seen_at < ?")
        ->bind(1, at)
        .bind(2, id_hash)
        .bind(3, at)
        .run();
}

bool delete_session(Transaction& tx, const std::string& id_hash) {
    tx.connection().cached("DELETE FROM portal_sessions WHERE id_hash = ?")->bind(1, id_hash).run();
    return tx.connection().changes() == 1;
}

} // namespace keyholder::store
