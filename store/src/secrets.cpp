// Sealed secrets (see secrets.h).
#include "keyholder/store/secrets.h"

namespace keyholder::store {

std::optional<StoredSecret> find_secret(Connection& db, int64_t entry_id) {
    auto statement =
        db.cached("SELECT key_id, nonce, ciphertext, version, updated_at, updated_by FROM secrets WHERE entry_id = ?");
    Statement& s = *statement;
    s.bind(1, entry_id);
    if (!s.step()) return std::nullopt;
    return StoredSecret{s.column_text(0),  s.column_blob(1), s.column_blob(2), static_cast<int>(s.column_int64(3)),
                        s.column_int64(4), s.column_text(5)};
}

std::optional<StoredSecret> find_pending_secret(Connection& db, int64_t entry_id) {
    auto statement =
        db.cached("SELECT pending_key_id, pending_nonce, pending_ciphertext FROM secrets WHERE entry_id = ? "
                  "AND pending_ciphertext IS NOT NULL");
    Statement& s = *statement;
    s.bind(1, entry_id);
    if (!s.step()) return std::nullopt;
    return StoredSecret{s.column_text(0), s.column_blob(1), s.column_blob(2), 0, 0, ""};
}

void put_secret(Transaction& tx, int64_t entry_id, const StoredSecret& secret) {
    auto statement = tx.connection().cached(
        "INSERT INTO secrets(entry_id, key_id, nonce, ciphertext, version, updated_at, updated_by) "
        "VALUES (?, ?, ?, ?, 1, ?, ?) ON CONFLICT(entry_id) DO UPDATE SET key_id = excluded.key_id, "
        "nonce = excluded.nonce, ciphertext = excluded.ciphertext, version = secrets.version + 1, "
        "updated_at = excluded.updated_at, updated_by = excluded.updated_by, pending_key_id = NULL, "
        "pending_nonce = NULL, pending_ciphertext = NULL");
    Statement& s = *statement;
    s.bind(1, entry_id)
        .bind(2, secret.key_id)
        .bind_blob(3, secret.nonce)
        .bind_blob(4, secret.ciphertext)
        .bind(5, secret.updated_at)
        .bind(6, secret.updated_by)
        .run();
}

bool put_pending_secret(Transaction& tx, int64_t entry_id, const StoredSecret& secret) {
    // An entry without a current secret gets the pending one as its (not yet valid) row.
    // A pending one already there is kept: it may be the password AD has now.
    auto statement = tx.connection().cached(
        "INSERT INTO secrets(entry_id, key_id, nonce, ciphertext, version, updated_at, updated_by, pending_key_id, "
        "pending_nonce, pending_ciphertext) VALUES (?, ?, ?, ?, 0, ?, 'rotation', ?, ?, ?) "
        "ON CONFLICT(entry_id) DO UPDATE SET pending_key_id = excluded.pending_key_id, "
        "pending_nonce = excluded.pending_nonce, pending_ciphertext = excluded.pending_ciphertext "
        "WHERE secrets.pending_ciphertext IS NULL");
    Statement& s = *statement;
    s.bind(1, entry_id)
        .bind(2, secret.key_id)
        .bind_blob(3, secret.nonce)
        .bind_blob(4, secret.ciphertext)
        .bind(5, secret.updated_at)
        .bind(6, secret.key_id)
        .bind_blob(7, secret.nonce)
        .bind_blob(8, secret.ciphertext)
        .run();
    return tx.connection().changes() == 1;
}

bool promote_pending_secret(Transaction& tx, int64_t entry_id, const std::string& by, int64_t at) {
    auto statement = tx.connection().cached(
        "UPDATE secrets SET key_id = pending_key_id, nonce = pending_nonce, ciphertext = pending_ciphertext, "
        "version = version + 1, updated_at = ?, updated_by = ?, pending_key_id = NULL, pending_nonce = NULL, "
        "pending_ciphertext = NULL WHERE entry_id = ? AND pending_ciphertext IS NOT NULL");
    Statement& s = *statement;
    s.bind(1, at).bind(2, by).bind(3, entry_id).run();
    return tx.connection().changes() == 1;
}

} // namespace keyholder::store
