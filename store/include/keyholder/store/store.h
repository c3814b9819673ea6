// Opening the keyholder database (a SQLite file, or PostgreSQL) and migrating it to
// the schema this binary knows, refusing a database written by a newer version.
#pragma once

#include <filesystem>
#include <string>

#include "keyholder/store/connection.h"
#include "keyholder/store/migrations.h"

namespace keyholder::store {

struct OpenedStore {
    Connection connection;
    MigrationResult migration;
};

/// open_store: creates the parent folder when missing, opens the file and migrates
/// it. Throws StoreError / NewerSchemaError with the file name in the message.
OpenedStore open_store(const std::filesystem::path& file, const ConnectionOptions& options = {});
/// open_store: either engine (SQLite: as above). Throws StoreError / NewerSchemaError
/// naming the location (never a password).
OpenedStore open_store(const Location& location, const ConnectionOptions& options = {});

/// store_answers: a cheap read that shows the database is open and answers (readiness).
/// `why` (optional) gets the engine's error when it does not.
bool store_answers(Connection& connection, std::string* why = nullptr) noexcept;

} // namespace keyholder::store
