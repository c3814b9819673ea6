// RAII wrappers over the SQLite C API (see sqlite.h).
#include "keyholder/store/sqlite.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include <sqlite3.h>

#include <gsl/narrow>

#include "keyholder/store/error.h"

namespace keyholder::store {
namespace {

std::string describe(sqlite3* db, int rc) {
    std::string text = sqlite3_errstr(rc);
    if (db != nullptr) {
        const char* detail = sqlite3_errmsg(db);
        if (detail != nullptr && text != detail) {
            text += ": ";
            text += detail;
        }
    }
    return text;
}

[[noreturn]] void fail(sqlite3* db, int rc, const std::string& context) {
    int code = db != nullptr ? sqlite3_extended_errcode(db) : rc;
    throw StoreError(code, context + ": " + describe(db, rc));
}

const char* synchronous_pragma(Synchronous s) {
    switch (s) {
    case Synchronous::off: return "PRAGMA synchronous=OFF";
    case Synchronous::normal: return "PRAGMA synchronous=NORMAL";
    case Synchronous::full: return "PRAGMA synchronous=FULL";
    }
    return "PRAGMA synchronous=FULL";
}

// shared_for: the in-process state of a database file (writer lock, group commit).
std::shared_ptr<FileShared> shared_for(const std::filesystem::path& file) {
    static std::mutex registry_mutex;
    static std::map<std::string, std::weak_ptr<FileShared>> registry;
    std::error_code ec;
    std::string key = std::filesystem::weakly_canonical(file, ec).string();
    if (ec) key = std::filesystem::absolute(file).lexically_normal().string();
    std::lock_guard lock(registry_mutex);
    auto& slot = registry[key];
    auto existing = slot.lock();
    if (!existing) {
        existing = std::make_shared<FileShared>();
        slot = existing;
    }
    return existing;
}

// sync_wal: fdatasync of the WAL file (fsync acts on the file, whichever descriptor).
// No WAL file means nothing is pending in it (a checkpoint synced the database).
bool sync_wal(const std::filesystem::path& database) {
    const std::string wal = database.string() + "-wal";
    const int fd = ::open(wal.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT;
    const bool ok = ::fdatasync(fd) == 0;
    ::close(fd);
    return ok;
}

} // namespace

Connection::Connection(sqlite3* db, std::filesystem::path file) : db_(db), file_(std::move(file)) {}

Connection Connection::open(const std::filesystem::path& file, const ConnectionOptions& options) {
    int flags = options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    if (options.create && !options.read_only) flags |= SQLITE_OPEN_CREATE;
    flags |= SQLITE_OPEN_NOMUTEX; // one thread per connection (see header)
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(file.c_str(), &raw, flags, nullptr);
    Connection connection(raw, file); // owns raw even when the open failed
    if (rc != SQLITE_OK) fail(raw, rc, "cannot open database " + file.string());
    sqlite3_extended_result_codes(raw, 1);
    sqlite3_busy_timeout(raw, gsl::narrow<int>(options.busy_timeout.count()));
    connection.exec_script("PRAGMA foreign_keys=ON");
    if (!options.read_only) {
        // journal_mode answers with the mode in force: make sure WAL really took.
        Statement wal = connection.prepare("PRAGMA journal_mode=WAL");
        if (!wal.step() || wal.column_text(0) != "wal")
            throw StoreError(SQLITE_ERROR, "cannot switch " + file.string() + " to WAL mode");
    }
    // full: NORMAL in SQLite plus the group fsync of commit() (see the header).
    connection.group_sync_ = options.synchronous == Synchronous::full && !options.read_only;
    connection.exec_script(synchronous_pragma(connection.group_sync_ ? Synchronous::normal : options.synchronous));
    connection.shared_ = shared_for(file);
    connection.busy_timeout_ = options.busy_timeout;
    return connection;
}

Connection::Connection(Connection&& other) noexcept
    : db_(other.db_), file_(std::move(other.file_)), cache_(std::move(other.cache_)), shared_(std::move(other.shared_)),
      group_sync_(other.group_sync_), busy_timeout_(other.busy_timeout_) {
    other.db_ = nullptr;
    other.cache_.clear();
}

Connection& Connection::operator=(Connection&& other) noexcept {
    if (this != &other) {
        finalize_cache();
        if (db_ != nullptr) sqlite3_close_v2(db_);
        db_ = other.db_;
        file_ = std::move(other.file_);
        cache_ = std::move(other.cache_);
        shared_ = std::move(other.shared_);
        group_sync_ = other.group_sync_;
        busy_timeout_ = other.busy_timeout_;
        other.db_ = nullptr;
        other.cache_.clear();
    }
    return *this;
}

Connection::~Connection() {
    finalize_cache();
    if (db_ != nullptr) sqlite3_close_v2(db_);
}

void Connection::finalize_cache() noexcept {
    for (auto& [sql, stmt] : cache_)
        sqlite3_finalize(stmt);
    cache_.clear();
}

CachedStatement Connection::cached(const std::string& sql) {
    auto found = cache_.find(sql);
    if (found == cache_.end()) {
        Statement fresh = prepare(sql);
        found = cache_.emplace(sql, fresh.release()).first;
    }
    return CachedStatement(Statement(found->second, db_));
}

CachedStatement::~CachedStatement() {
    statement_.reset();
    statement_.release(); // owned by the connection's cache
}

Statement Connection::prepare(std::string_view sql) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.data(), gsl::narrow<int>(sql.size()), &stmt, nullptr);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(stmt);
        fail(db_, rc, "cannot prepare [" + std::string(sql) + "] on " + file_.string());
    }
    return Statement(stmt, db_);
}

void Connection::exec_script(const std::string& sql) {
    char* message = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
    if (rc != SQLITE_OK) {
        std::string detail = message != nullptr ? message : sqlite3_errstr(rc);
        sqlite3_free(message);
        throw StoreError(sqlite3_extended_errcode(db_), "SQL failed on " + file_.string() + ": " + detail);
    }
}

int64_t Connection::changes() const { return sqlite3_changes64(db_); }
int64_t Connection::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
bool Connection::in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }

Statement::Statement(sqlite3_stmt* stmt, gsl::not_null<sqlite3*> db) : stmt_(stmt), db_(db) {}

Statement::Statement(Statement&& other) noexcept : stmt_(other.stmt_), db_(other.db_) { other.stmt_ = nullptr; }

Statement& Statement::operator=(Statement&& other) noexcept {
    if (this != &other) {
        sqlite3_finalize(stmt_);
        stmt_ = other.stmt_;
        db_ = other.db_;
        other.stmt_ = nullptr;
    }
    return *this;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

sqlite3_stmt* Statement::release() noexcept {
    sqlite3_stmt* stmt = stmt_;
    stmt_ = nullptr;
    return stmt;
}

void Statement::check_bind(int rc, int index) {
    if (rc != SQLITE_OK)
        fail(db_, rc, "cannot bind parameter " + std::to_string(index) + " of [" + sqlite3_sql(stmt_) + "]");
}

Statement& Statement::bind(int index, int64_t value) {
    check_bind(sqlite3_bind_int64(stmt_, index, value), index);
    return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
    check_bind(sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8), index);
    return *this;
}

Statement& Statement::bind_blob(int index, std::span<const std::byte> data) {
    check_bind(sqlite3_bind_blob64(stmt_, index, data.data(), data.size(), SQLITE_TRANSIENT), index);
    return *this;
}

Statement& Statement::bind_null(int index) {
    check_bind(sqlite3_bind_null(stmt_, index), index);
    return *this;
}

bool Statement::step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(db_, rc, std::string("statement failed [") + sqlite3_sql(stmt_) + "]");
}

void Statement::run() {
    while (step()) {}
}

void Statement::reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

bool Statement::is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
int64_t Statement::column_int64(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string Statement::column_text(int column) const {
    const auto* text = sqlite3_column_text(stmt_, column);
    if (text == nullptr) return {};
    return {reinterpret_cast<const char*>(text), gsl::narrow<size_t>(sqlite3_column_bytes(stmt_, column))};
}

std::optional<std::string> Statement::column_optional_text(int column) const {
    if (is_null(column)) return std::nullopt;
    return column_text(column);
}

std::optional<std::string_view> Statement::column_view(int column) const {
    if (is_null(column)) return std::nullopt;
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return std::string_view(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::optional<int64_t> Statement::column_optional_int64(int column) const {
    if (is_null(column)) return std::nullopt;
    return column_int64(column);
}

std::vector<std::byte> Statement::column_blob(int column) const {
    const auto* data = static_cast<const std::byte*>(sqlite3_column_blob(stmt_, column));
    auto size = gsl::narrow<size_t>(sqlite3_column_bytes(stmt_, column));
    if (data == nullptr) return {};
    return {data, data + size};
}

int Statement::column_count() const { return sqlite3_column_count(stmt_); }

Transaction::Transaction(Connection& connection) : connection_(connection) {
    if (connection_.shared_) {
        writer_ = std::unique_lock(connection_.shared_->writer, std::defer_lock);
        if (!writer_.try_lock_for(connection_.busy_timeout_))
            throw StoreError(SQLITE_BUSY, "database is locked: another writer of this process held " +
                                              connection_.file().string() + " for over " +
                                              std::to_string(connection_.busy_timeout_.count()) + " ms");
    }
    connection_.exec_script("BEGIN IMMEDIATE"); // other processes (the CLI) wait in SQLite's busy handler
}

Transaction::~Transaction() {
    if (open_) {
        // Rollback cannot usefully fail here; if it does, SQLite has already rolled back.
        sqlite3_exec(connection_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
}

void Transaction::commit() {
    connection_.exec_script("COMMIT");
    open_ = false;
    uint64_t sequence = 0;
    if (connection_.group_sync_) {
        // Numbered while the writer lock still orders commits as the WAL does.
        std::lock_guard lock(connection_.shared_->sync_mutex);
        sequence = ++connection_.shared_->committed;
    }
    if (writer_.owns_lock()) writer_.unlock(); // the next writer proceeds while we wait for the disk
    if (connection_.group_sync_) connection_.wait_durable(sequence);
}

std::pair<uint64_t, uint64_t> Connection::group_commit_counts() const {
    if (!shared_ || !group_sync_) return {0, 0};
    std::lock_guard lock(shared_->sync_mutex);
    return {shared_->committed, shared_->syncs};
}

// wait_durable: returns once an fdatasync of the WAL that started after commit
// `sequence` has finished. The first waiter becomes the leader and syncs for all
// commits so far; the others wait for it (one fsync per group).
void Connection::wait_durable(uint64_t sequence) {
    FileShared& s = *shared_;
    std::unique_lock lock(s.sync_mutex);
    while (s.synced < sequence) {
        if (s.syncing) {
            s.synced_changed.wait(lock);
            continue;
        }
        s.syncing = true;
        const uint64_t target = s.committed;
        lock.unlock();
        const bool ok = sync_wal(file_);
        lock.lock();
        ++s.syncs;
        s.syncing = false;
        if (ok) s.synced = std::max(s.synced, target);
        s.synced_changed.notify_all();
        if (!ok)
            throw StoreError(SQLITE_IOERR_FSYNC,
                             "committed, but cannot fsync " + file_.string() + "-wal: " + std::strerror(errno));
    }
}

} // namespace keyholder::store
