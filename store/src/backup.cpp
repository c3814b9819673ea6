#include "keyholder/store/backup.h"

#include <sqlite3.h>

#include <chrono>
#include <memory>
#include <system_error>
#include <thread>

#include "keyholder/platform/files.h"
#include "keyholder/store/audit.h"
#include "keyholder/store/connection.h"
#include "keyholder/store/error.h"
#include "sqlite/connection.h"

namespace keyholder::store {
namespace {

struct BackupHandle {
    sqlite3_backup* handle;
    ~BackupHandle() {
        if (handle != nullptr) sqlite3_backup_finish(handle);
    }
};

[[noreturn]] void fail(sqlite3* db, int rc, const std::string& what) {
    throw StoreError(rc, what + ": " + (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
}

BackupSummary copy(Connection& from, const std::filesystem::path& target) {
    // Private before the first page is written (the copy holds encrypted secrets):
    // made empty and private, then opened by SQLite.
    try {
        platform::create_private_file(target);
    } catch (const std::runtime_error& e) {
        throw StoreError(SQLITE_CANTOPEN, e.what());
    }
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(platform::utf8(target).c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    std::unique_ptr<sqlite3, decltype(&sqlite3_close)> to(raw, &sqlite3_close);
    if (rc != SQLITE_OK) fail(raw, rc, "cannot create " + platform::utf8(target));

    BackupSummary summary;
    BackupHandle backup{sqlite3_backup_init(to.get(), "main", detail::sqlite_handle(from), "main")};
    if (backup.handle == nullptr) fail(to.get(), sqlite3_errcode(to.get()), "cannot start the backup");
    // All pages in one step, so in one read transaction of the source: in WAL mode
    // keyholderd's writers go on meanwhile and the copy is the state at its start.
    // (Step by step, every write by another connection starts the copy over, and a
    // busy service could keep it from ever finishing.)
    for (;;) {
        rc = sqlite3_backup_step(backup.handle, -1);
        if (rc == SQLITE_DONE) break;
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            continue;
        }
        fail(to.get(), rc, "backup step failed");
    }
    summary.pages = sqlite3_backup_pagecount(backup.handle);
    rc = sqlite3_backup_finish(backup.handle);
    backup.handle = nullptr;
    if (rc != SQLITE_OK) fail(to.get(), rc, "backup failed");
    return summary;
}

} // namespace

BackupSummary backup_database(const std::filesystem::path& source, const std::filesystem::path& target) {
    std::error_code ec;
    if (std::filesystem::exists(target, ec) || ec)
        throw StoreError(SQLITE_CANTOPEN, target.string() + " exists: a backup never overwrites a file");
    ConnectionOptions read_only;
    read_only.read_only = true;
    read_only.create = false;
    auto from = Connection::open(source, read_only);
    BackupSummary summary;
    try {
        summary = copy(from, target);
        ConnectionOptions check_options;
        check_options.read_only = true;
        check_options.create = false;
        auto copied = Connection::open(target, check_options);
        auto integrity = copied.prepare("PRAGMA integrity_check");
        if (!integrity.step() || integrity.column_text(0) != "ok")
            throw StoreError(SQLITE_CORRUPT, "the copy fails SQLite's integrity check");
        auto chain = verify_audit_chain(copied);
        if (!chain.ok()) throw StoreError(SQLITE_CORRUPT, "the copy's audit chain does not verify: " + chain.message);
        summary.events = chain.events;
    } catch (...) {
        std::filesystem::remove(target, ec);
        std::filesystem::remove(target.string() + "-wal", ec);
        std::filesystem::remove(target.string() + "-shm", ec);
        throw;
    }
    return summary;
}

} // namespace keyholder::store
