// Opening and migrating the keyholder database (see store.h).
#include "keyholder/store/store.h"

#include <system_error>

#include "keyholder/store/error.h"

namespace keyholder::store {

OpenedStore open_store(const std::filesystem::path& file, const ConnectionOptions& options) {
    if (file.has_parent_path()) {
        std::error_code ec;
        std::filesystem::create_directories(file.parent_path(), ec);
        if (ec) throw StoreError(0, "cannot create folder " + file.parent_path().string() + ": " + ec.message());
    }
    Connection connection = Connection::open(file, options);
    MigrationResult migration = migrate(connection);
    return {std::move(connection), migration};
}

OpenedStore open_store(const Location& location, const ConnectionOptions& options) {
    if (location.backend == Backend::sqlite) return open_store(location.file, options);
    Connection connection = Connection::open(location, options);
    MigrationResult migration = migrate(connection);
    return {std::move(connection), migration};
}

bool store_answers(Connection& connection, std::string* why) noexcept {
    // Twice: a session the server dropped (a restart, a failover) fails once and is
    // made anew at the next statement; only a store that is away fails both.
    for (int attempt = 1;; ++attempt) {
        try {
            Statement probe = connection.prepare("SELECT count(*) FROM schema_version");
            return probe.step();
        } catch (const std::exception& e) {
            if (attempt < 2 && !connection.in_transaction()) continue;
            if (why != nullptr) *why = e.what();
            return false;
        }
    }
}

} // namespace keyholder::store
