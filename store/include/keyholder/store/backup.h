// backup_database: a consistent copy of a database that is in use, with SQLite's
// online backup (keyholderd may keep writing while it runs).
#pragma once

#include <cstdint>
#include <filesystem>

namespace keyholder::store {

struct BackupSummary {
    int64_t pages = 0;  ///< pages in the copy
    int restarts = 0;   ///< times a write to the source made the copy start over
    int64_t events = 0; ///< audit events in the copy (its chain verified)
};

/// backup_database: copies `source` into `target`, a new file (mode 0600; an existing
/// one is refused), in one read transaction of the source: the copy is the committed
/// state at its start, while other connections go on writing (WAL). The copy is checked (SQLite's
/// integrity check and the audit chain) before it is reported; a failed copy is
/// removed. Throws StoreError naming the cause.
BackupSummary backup_database(const std::filesystem::path& source, const std::filesystem::path& target);

} // namespace keyholder::store
