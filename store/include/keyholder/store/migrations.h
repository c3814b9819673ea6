// Versioned schema migrations.
//
// Each engine has its own numbered history (PostgreSQL's starts with the schema
// SQLite's had reached at version 11). Each migration runs in its own write transaction together with the row
// that records it in schema_version, so a failed migration leaves the database
// exactly as it was before that migration. A database whose version is newer than
// the newest migration this binary knows is refused (NewerSchemaError).
#pragma once

#include <span>
#include <string_view>

#include "keyholder/store/connection.h"

namespace keyholder::store {

struct Migration {
    int version;                  ///< 1, 2, 3, ... without gaps
    std::string_view description; ///< recorded in schema_version
    std::string_view sql;         ///< constant DDL/DML; never contains values from outside
};

/// builtin_migrations: the schema history of keyholder on an engine, oldest first.
std::span<const Migration> builtin_migrations(Backend backend = Backend::sqlite);

/// latest_schema_version: the version builtin_migrations(backend) ends at.
int latest_schema_version(Backend backend = Backend::sqlite);

/// current_schema_version: 0 for an empty database.
int current_schema_version(Connection& connection);

struct MigrationResult {
    int from_version;
    int to_version;
};

/// migrate: applies every migration newer than the database's version, each in its
/// own transaction. Throws NewerSchemaError when the file is newer than
/// migrations.back(), StoreError when a migration fails (earlier ones stay applied;
/// the failing one leaves no trace).
MigrationResult migrate(Connection& connection, std::span<const Migration> migrations);
/// migrate: to the newest schema of the connection's engine.
MigrationResult migrate(Connection& connection);

} // namespace keyholder::store
