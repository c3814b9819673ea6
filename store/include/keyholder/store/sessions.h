// Portal sessions: who a session cookie signs on, until when. Keyed by a hash of the
// cookie's id, so a copy of the database signs nobody on.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "keyholder/store/connection.h"

namespace keyholder::store {

struct SessionRow {
    std::string id_hash; ///< hex SHA-256 of the session id
    std::string user_id;
    std::string user_name;
    std::string display_name;
    std::string method; ///< password | negotiate
    std::string csrf_token;
    int64_t created_at = 0;
    int64_t last_seen_at = 0;
    int64_t expires_at = 0;
};

/// insert_session: a new session (and the expired ones are removed).
void insert_session(Transaction& tx, const SessionRow& session, int64_t now);
std::optional<SessionRow> find_session(Connection& db, const std::string& id_hash);
/// touch_session: the session was used at `at` (its idle clock starts again).
void touch_session(Transaction& tx, const std::string& id_hash, int64_t at);
/// delete_session: signed out (or found expired); false when there was none.
bool delete_session(Transaction& tx, const std::string& id_hash);

} // namespace keyholder::store
