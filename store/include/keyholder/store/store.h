// Opening the keyholder database: WAL, foreign keys, busy timeout, and migration to
// the schema this binary knows, refusing a file written by a newer version.
#pragma once

#include <filesystem>

#include "keyholder/store/migrations.h"
#include "keyholder/store/sqlite.h"

namespace keyholder::store {

struct OpenedStore {
    Connection connection;
    MigrationResult migration;
};

/// open_store: creates the parent folder when missing, opens the file and migrates
/// it. Throws StoreError / NewerSchemaError with the file name in the message.
OpenedStore open_store(const std::filesystem::path& file, const ConnectionOptions& options = {});

/// store_answers: a cheap read that shows the file is open and readable (readiness).
bool store_answers(Connection& connection) noexcept;

} // namespace keyholder::store
