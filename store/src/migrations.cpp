// Applying the schema history (see migrations.h); the histories themselves are in
// migrations_sqlite.cpp and migrations_postgresql.cpp.
#include "keyholder/store/migrations.h"

#include <ctime>
#include <string>

#include "keyholder/store/error.h"
#include "migration_lists.h"

namespace keyholder::store {
namespace {

bool table_exists(Connection& connection, std::string_view name) {
    static const std::string sqlite = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?";
    static const std::string postgresql =
        "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?";
    Statement query = connection.prepare(dialect(connection, sqlite, postgresql));
    query.bind(1, name);
    return query.step();
}

} // namespace

std::span<const Migration> builtin_migrations(Backend backend) {
    return backend == Backend::postgresql ? detail::postgresql_migrations() : detail::sqlite_migrations();
}

int latest_schema_version(Backend backend) { return builtin_migrations(backend).back().version; }

int current_schema_version(Connection& connection) {
    if (!table_exists(connection, "schema_version")) return 0;
    Statement query = connection.prepare("SELECT coalesce(max(version), 0) FROM schema_version");
    query.step();
    return static_cast<int>(query.column_int64(0));
}

MigrationResult migrate(Connection& connection) {
    return migrate(connection, builtin_migrations(connection.backend()));
}

MigrationResult migrate(Connection& connection, std::span<const Migration> migrations) {
    const int supported = migrations.empty() ? 0 : migrations.back().version;
    const int found = current_schema_version(connection);
    if (found > supported) {
        throw NewerSchemaError(found, supported,
                               connection.location().describe() + " has schema version " + std::to_string(found) +
                                   ", written by a newer keyholder; this binary supports up to version " +
                                   std::to_string(supported) + ". Upgrade keyholder or restore a backup.");
    }
    int version = found;
    for (const Migration& migration : migrations) {
        if (migration.version <= version) continue;
        if (migration.version != version + 1)
            throw StoreError(0, "migration list has a gap before version " + std::to_string(migration.version));
        Transaction transaction(connection);
        // Re-check under the write lock: another process (or node) may have migrated meanwhile.
        const int now_found = current_schema_version(connection);
        if (now_found > supported)
            throw NewerSchemaError(now_found, supported,
                                   connection.location().describe() + " was migrated to schema version " +
                                       std::to_string(now_found) + " by a newer keyholder meanwhile");
        if (now_found >= migration.version) {
            version = now_found;
            continue;
        }
        try {
            connection.exec_script(std::string(migration.sql));
        } catch (const StoreError& error) {
            throw StoreError(error.sqlite_code(),
                             "migration to schema version " + std::to_string(migration.version) +
                                 " failed; the database is left at version " + std::to_string(version) + ": " +
                                 error.what(),
                             error.sqlstate());
        }
        Statement record =
            connection.prepare("INSERT INTO schema_version(version, description, applied_at) VALUES (?, ?, ?)");
        record.bind(1, migration.version)
            .bind(2, migration.description)
            .bind(3, static_cast<int64_t>(std::time(nullptr)))
            .run();
        transaction.commit();
        version = migration.version;
    }
    return {found, version};
}

} // namespace keyholder::store
