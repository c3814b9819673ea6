// The SQLite engine (see sqlite/connection.h).
#include "sqlite/connection.h"

#include <cerrno>
#include <cstring>
#include <map>

#include <sqlite3.h>

#include "keyholder/platform/files.h"

#include <gsl/narrow>

#include "keyholder/store/error.h"
#include "sqlite/file_shared.h"

namespace keyholder::store::detail {
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
    std::string key = platform::utf8(std::filesystem::weakly_canonical(file, ec));
    if (ec) key = platform::utf8(std::filesystem::absolute(file).lexically_normal());
    std::lock_guard lock(registry_mutex);
    auto& slot = registry[key];
    auto existing = slot.lock();
    if (!existing) {
        existing = std::make_shared<FileShared>(key + "-wal");
        slot = existing;
    }
    return existing;
}

} // namespace

SqliteConnection& sqlite_of(Connection& connection) {
    auto* sqlite = dynamic_cast<SqliteConnection*>(&connection.impl());
    if (sqlite == nullptr) throw StoreError(0, connection.location().describe() + " is not a SQLite store");
    return *sqlite;
}

sqlite3* sqlite_handle(Connection& connection) { return sqlite_of(connection).handle(); }

void install_test_hooks(Connection& connection, const GroupCommitHooks& hooks) {
    SqliteConnection& sqlite = sqlite_of(connection);
    sqlite.hooks_ = std::make_shared<const GroupCommitHooks>(hooks);
    if (hooks.before_sync && sqlite.shared_) {
        std::lock_guard lock(sqlite.shared_->sync_mutex);
        sqlite.shared_->before_sync = hooks.before_sync;
    }
}

std::unique_ptr<ConnectionImpl> open_sqlite(const std::filesystem::path& file, const ConnectionOptions& options) {
    auto connection = SqliteConnection::open_unshared(file, options);
    connection->shared_ = shared_for(file);
    return connection;
}

std::unique_ptr<SqliteConnection> SqliteConnection::open_unshared(const std::filesystem::path& file,
                                                                  const ConnectionOptions& options, bool serialized) {
    int flags = options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    if (options.create && !options.read_only) flags |= SQLITE_OPEN_CREATE;
    // One thread per connection (see connection.h); the group's connection is used by
    // each member's thread in turn, and a statement a member left behind may be reset
    // or finalized by its thread later: SQLite's mutex makes that safe.
    flags |= serialized ? SQLITE_OPEN_FULLMUTEX : SQLITE_OPEN_NOMUTEX;
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(platform::utf8(file).c_str(), &raw, flags, nullptr);
    auto connection = std::make_unique<SqliteConnection>(raw, file); // owns raw even when the open failed
    if (rc != SQLITE_OK) fail(raw, rc, "cannot open database " + file.string());
    sqlite3_extended_result_codes(raw, 1);
    sqlite3_busy_timeout(raw, gsl::narrow<int>(options.busy_timeout.count()));
    connection->exec_script("PRAGMA foreign_keys=ON");
    if (!options.read_only) {
        // journal_mode answers with the mode in force: make sure WAL really took.
        auto wal = connection->prepare("PRAGMA journal_mode=WAL");
        if (!wal->step() || wal->column_view(0) != "wal")
            throw StoreError(SQLITE_ERROR, "cannot switch " + file.string() + " to WAL mode");
    }
    // full: NORMAL in SQLite plus the group fsync of commit() (see the header).
    connection->group_sync_ = options.synchronous == Synchronous::full && !options.read_only;
    connection->exec_script(synchronous_pragma(connection->group_sync_ ? Synchronous::normal : options.synchronous));
    connection->busy_timeout_ = options.busy_timeout;
    return connection;
}

SqliteConnection::~SqliteConnection() {
    cache_.clear(); // finalized before the close
    if (db_ != nullptr) sqlite3_close_v2(db_);
}

StatementImpl* SqliteConnection::cached(const std::string& sql) {
    if (redirect_ != nullptr) return redirect_->cached(sql);
    auto found = cache_.find(sql);
    if (found == cache_.end()) {
        sqlite3_stmt* stmt = nullptr;
        int rc = sqlite3_prepare_v3(db_, sql.data(), gsl::narrow<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt,
                                    nullptr);
        if (rc != SQLITE_OK) {
            sqlite3_finalize(stmt);
            fail(db_, rc, "cannot prepare [" + sql + "] on " + file().string());
        }
        found = cache_.emplace(sql, std::make_unique<SqliteStatement>(stmt, db_)).first;
    }
    return found->second.get();
}

std::unique_ptr<StatementImpl> SqliteConnection::prepare(std::string_view sql) {
    if (redirect_ != nullptr) return redirect_->prepare(sql);
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.data(), gsl::narrow<int>(sql.size()), &stmt, nullptr);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(stmt);
        fail(db_, rc, "cannot prepare [" + std::string(sql) + "] on " + file().string());
    }
    return std::make_unique<SqliteStatement>(stmt, db_);
}

void SqliteConnection::exec_script(const std::string& sql) {
    if (redirect_ != nullptr) return redirect_->exec_script(sql);
    char* message = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
    if (rc != SQLITE_OK) {
        std::string detail = message != nullptr ? message : sqlite3_errstr(rc);
        sqlite3_free(message);
        throw StoreError(sqlite3_extended_errcode(db_), "SQL failed on " + file().string() + ": " + detail);
    }
}

void SqliteConnection::end_open_reads() noexcept {
    for (sqlite3_stmt* stmt = sqlite3_next_stmt(db_, nullptr); stmt != nullptr; stmt = sqlite3_next_stmt(db_, stmt))
        if (sqlite3_stmt_busy(stmt) != 0) sqlite3_reset(stmt);
}

int64_t SqliteConnection::changes() const { return sqlite3_changes64(active().db_); }
bool SqliteConnection::in_transaction() const { return sqlite3_get_autocommit(active().db_) == 0; }

SqliteStatement::~SqliteStatement() { sqlite3_finalize(stmt_); }

void SqliteStatement::check_bind(int rc, int index) {
    if (rc != SQLITE_OK)
        fail(db_, rc, "cannot bind parameter " + std::to_string(index) + " of [" + sqlite3_sql(stmt_) + "]");
}

void SqliteStatement::bind_int64(int index, int64_t value) {
    check_bind(sqlite3_bind_int64(stmt_, index, value), index);
}

void SqliteStatement::bind_text(int index, std::string_view text) {
    check_bind(sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8), index);
}

void SqliteStatement::bind_blob(int index, std::span<const std::byte> data) {
    check_bind(sqlite3_bind_blob64(stmt_, index, data.data(), data.size(), SQLITE_TRANSIENT), index);
}

int SqliteStatement::parameter_index(const char* name) const { return sqlite3_bind_parameter_index(stmt_, name); }

void SqliteStatement::bind_null(int index, ValueType /*type*/) { check_bind(sqlite3_bind_null(stmt_, index), index); }

bool SqliteStatement::step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(db_, rc, std::string("statement failed [") + sqlite3_sql(stmt_) + "]");
}

void SqliteStatement::reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

bool SqliteStatement::is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
int64_t SqliteStatement::column_int64(int column) const { return sqlite3_column_int64(stmt_, column); }

std::optional<std::string_view> SqliteStatement::column_view(int column) const {
    if (is_null(column)) return std::nullopt;
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    if (text == nullptr) return std::string_view();
    return std::string_view(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::vector<std::byte> SqliteStatement::column_blob(int column) const {
    const auto* data = static_cast<const std::byte*>(sqlite3_column_blob(stmt_, column));
    auto size = gsl::narrow<size_t>(sqlite3_column_bytes(stmt_, column));
    if (data == nullptr) return {};
    return {data, data + size};
}

int SqliteStatement::column_count() const { return sqlite3_column_count(stmt_); }

// run_cached: runs constant SQL through the connection's statement cache (compiled once).
void run_cached(SqliteConnection& connection, const std::string& sql) {
    StatementImpl* statement = connection.cached(sql);
    try {
        while (statement->step()) {}
    } catch (...) {
        statement->reset();
        throw;
    }
    statement->reset();
}

/// SqliteTransaction: BEGIN IMMEDIATE, or a member of a group (see connection.h).
class SqliteTransaction final : public TransactionImpl {
public:
    explicit SqliteTransaction(SqliteConnection& connection);
    SqliteTransaction(const SqliteTransaction&) = delete;
    SqliteTransaction& operator=(const SqliteTransaction&) = delete;
    ~SqliteTransaction() override;
    void commit() override;

private:
    void join_group();
    uint64_t leave_writer() noexcept;
    SqliteConnection& connection_;
    bool open_ = true;
    bool holds_lock_ = false; ///< counted in holds_writer_lock()
    uint64_t group_ = 0;      ///< the group this transaction is a member of, 0 when alone
    /// outcome_: the result of that group, owned by its members: set when the group's
    /// commit or fsync fails, read once it is decided (never looked up by number).
    std::shared_ptr<GroupOutcome> outcome_;
    std::unique_lock<WriterLock> writer_;
};

std::unique_ptr<TransactionImpl> SqliteConnection::begin(Locking /*locking*/) {
    return std::make_unique<SqliteTransaction>(*this); // one write lock: Locking::rows is the same
}

SqliteTransaction::SqliteTransaction(SqliteConnection& connection) : connection_(connection) {
    if (!connection_.shared_) {
        connection_.exec_script("BEGIN IMMEDIATE");
        holds_lock_ = true;
        writer_lock_taken();
        return;
    }
    FileShared& s = *connection_.shared_;
    writer_ = std::unique_lock(s.writer, std::defer_lock);
    ++s.queued;
    const bool locked = writer_.try_lock_for(connection_.busy_timeout_);
    --s.queued;
    if (!locked)
        throw StoreError(SQLITE_BUSY, "database is locked: another writer of this process held " +
                                          connection_.file().string() + " for over " +
                                          std::to_string(connection_.busy_timeout_.count()) + " ms");
    holds_lock_ = true;
    writer_lock_taken();
    try {
        if (connection_.group_sync_) {
            join_group();
        } else {
            // The open group holds SQLite's write lock, which this BEGIN needs.
            if (const uint64_t closed = s.close_group()) s.sync_through(closed);
            connection_.exec_script("BEGIN IMMEDIATE"); // other processes wait in SQLite's busy handler
        }
    } catch (...) {
        if (const uint64_t closed = leave_writer()) s.sync_through(closed);
        throw;
    }
}

// join_group: opens a group unless one is open, and a savepoint in it for this member.
void SqliteTransaction::join_group() {
    FileShared& s = *connection_.shared_;
    if (!s.group_connection) {
        ConnectionOptions options;
        options.busy_timeout = connection_.busy_timeout_;
        options.synchronous = Synchronous::normal; // the fsync is sync_through's
        s.group_connection = SqliteConnection::open_unshared(connection_.file(), options, true);
    }
    SqliteConnection& group = *s.group_connection;
    if (s.open_group != 0 && !group.in_transaction()) {
        // SQLite rolled the group back after an error: its members fail.
        if (const uint64_t closed = s.close_group()) s.sync_through(closed);
    }
    if (s.open_group == 0) {
        run_cached(group, "BEGIN IMMEDIATE"); // other processes (the CLI) wait in SQLite's busy handler
        s.open_group = ++s.groups_opened;
        s.open_outcome = std::make_shared<GroupOutcome>();
        s.open_members = 0;
        s.opened_at = std::chrono::steady_clock::now();
    }
    run_cached(group, "SAVEPOINT member"); // compiled once: every member runs it
    group_ = s.open_group;
    outcome_ = s.open_outcome;
    connection_.redirect_ = &group;
}

// leave_writer: hands the write lock on, and decides whether the open group is
// committed now. While an fsync runs and writers queue, the group stays open for
// them (they would wait for the disk anyway, and pages they share are written
// once); otherwise it is committed at once. If the fsync ends first, a waiting
// member commits it (see commit()). Returns the number of a group committed here:
// the caller must then see it synced (sync_through) once the lock is released.
uint64_t SqliteTransaction::leave_writer() noexcept {
    if (holds_lock_) {
        holds_lock_ = false;
        writer_lock_released();
    }
    if (!writer_.owns_lock()) return 0;
    FileShared& s = *connection_.shared_;
    uint64_t closed = 0;
    if (s.open_group != 0) {
        // Commit when the disk is free to take the group now. While an fsync runs the
        // group stays open for more members (fewer, fuller commits: shared pages are
        // written once), and the fsync's caller commits it when the fsync ends.
        // (Closing it earlier would not make it durable sooner.) With group_while_idle
        // the group waits for the queue instead, at most kMaxGroupAge.
        const bool group_while_idle = connection_.hooks_ && connection_.hooks_->group_while_idle;
        const bool idle = group_while_idle
                              ? s.queued == 0 || std::chrono::steady_clock::now() - s.opened_at >= kMaxGroupAge
                              : !s.disk_busy();
        if (idle || s.open_members == 0 || s.open_members >= kMaxGroupMembers) closed = s.close_group();
    }
    writer_.unlock();
    return closed;
}

uint64_t FileShared::close_group() noexcept {
    if (open_group == 0) return 0;
    std::string error;
    SqliteConnection& group = *group_connection;
    if (!group.in_transaction()) {
        error = "SQLite rolled the transaction back after an error";
    } else {
        try {
            run_cached(group, "COMMIT");
        } catch (const StoreError& e) {
            error = e.what();
            sqlite3_exec(group.db_, "ROLLBACK", nullptr, nullptr, nullptr);
        }
    }
    const uint64_t closed = open_group;
    {
        std::lock_guard lock(sync_mutex);
        if (error.empty()) {
            ++committed;
            transactions += static_cast<uint64_t>(open_members);
        } else {
            open_outcome->error = error;
        }
        unsynced.emplace_back(closed, std::move(open_outcome));
        groups_closed = closed;
    }
    open_outcome.reset();
    open_group = 0;
    open_members = 0;
    return closed;
}

// sync_through: returns once the groups up to `group` are on disk (or failed).
// One fdatasync of the WAL covers every group closed before it started; a caller
// that finds one running waits for it and then syncs what closed meanwhile.
void FileShared::sync_through(uint64_t group) noexcept {
    bool led = false;
    std::unique_lock lock(sync_mutex);
    while (durable_through < group) {
        if (syncing) {
            sync_done.wait(lock);
            continue;
        }
        syncing = true;
        const uint64_t target = groups_closed;
        const auto hook = before_sync;
        lock.unlock();
        if (hook) hook();
        const int error = wal.sync();
        lock.lock();
        syncing = false;
        ++syncs;
        while (!unsynced.empty() && unsynced.front().first <= target) {
            GroupOutcome& outcome = *unsynced.front().second;
            if (error != 0 && outcome.error.empty())
                outcome.error = std::string("committed, but the fsync of the WAL failed: ") + std::strerror(error);
            unsynced.pop_front();
        }
        for (uint64_t g = durable_through + 1; g <= target; ++g)
            if (g + kWaitSlots > target) durable[g % kWaitSlots].notify_all();
        durable_through = std::max(durable_through, target);
        bool leading = false;
        if (durable_through >= group && !led) {
            // Lead on once: commit the group that formed during this fsync and sync it
            // at once, rather than leave the disk idle while one of its members wakes.
            // (Once: this caller's own answer waits meanwhile.)
            led = true;
            lock.unlock();
            uint64_t next = 0;
            if (std::unique_lock writing(writer, std::try_to_lock); writing && open_members > 0) next = close_group();
            lock.lock();
            leading = next != 0;
            if (leading) group = next;
        }
        // The disk is idle now: the members of the open group (always the next one
        // to close) wake to commit it, unless this caller just did (woken now, they
        // would only find the fsync running and wait again).
        if (!leading) durable[(groups_closed + 1) % kWaitSlots].notify_all();
        sync_done.notify_all();
    }
}

bool FileShared::disk_busy() {
    std::lock_guard lock(sync_mutex);
    return syncing;
}

SqliteTransaction::~SqliteTransaction() {
    if (open_) {
        // Rollback cannot usefully fail here; if it does, SQLite has already rolled back.
        if (group_ != 0) {
            SqliteConnection& group = *connection_.shared_->group_connection;
            connection_.redirect_ = nullptr;
            group.end_open_reads();
            if (group.in_transaction())
                sqlite3_exec(group.db_, "ROLLBACK TO member; RELEASE member", nullptr, nullptr, nullptr);
        } else {
            sqlite3_exec(connection_.db_, "ROLLBACK", nullptr, nullptr, nullptr);
        }
    }
    if (const uint64_t closed = leave_writer()) connection_.shared_->sync_through(closed);
}

void SqliteTransaction::commit() {
    if (group_ == 0) {
        connection_.exec_script("COMMIT");
        open_ = false;
        leave_writer();
        return;
    }
    const bool group_while_idle = connection_.hooks_ && connection_.hooks_->group_while_idle;
    FileShared& s = *connection_.shared_;
    s.group_connection->end_open_reads(); // a statement of this member still in its rows
    run_cached(*s.group_connection, "RELEASE member");
    connection_.redirect_ = nullptr;
    open_ = false;
    ++s.open_members;
    // The next in the queue proceeds while this one waits for the commit and the disk.
    if (const uint64_t closed = leave_writer()) s.sync_through(closed);
    std::unique_lock lock(s.sync_mutex);
    while (s.durable_through < group_) {
        // group_while_idle: the last writer in the queue commits the group.
        const bool may_close = !group_while_idle || s.queued == 0;
        if (!s.syncing && may_close) {
            // The disk is idle: commit the group if it is still open, then sync it.
            const bool open = s.groups_closed < group_;
            lock.unlock();
            uint64_t closed = group_;
            if (open) {
                std::unique_lock writer(s.writer, std::defer_lock);
                closed = writer.try_lock_for(connection_.busy_timeout_) && s.open_group == group_ ? s.close_group() : 0;
            }
            if (closed != 0) s.sync_through(closed);
            lock.lock();
            continue;
        }
        s.durable[group_ % FileShared::kWaitSlots].wait_for(lock, kMaxGroupAge);
    }
    if (connection_.hooks_ && connection_.hooks_->after_durable) {
        lock.unlock();
        connection_.hooks_->after_durable();
        lock.lock();
    }
    if (!outcome_->error.empty())
        throw StoreError(SQLITE_IOERR, "commit to " + connection_.file().string() + " failed: " + outcome_->error);
}

void SqliteConnection::begin_read() { run_cached(*this, "BEGIN"); } // compiled once: hot read paths take a snapshot

void SqliteConnection::end_read() noexcept {
    // A read transaction has nothing to lose: COMMIT only ends it.
    try {
        run_cached(*this, "COMMIT");
    } catch (const StoreError&) {
        sqlite3_exec(handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
}

int SqliteConnection::queued_writers() const { return shared_ ? shared_->queued.load() : 0; }

Connection::GroupCommitCounts SqliteConnection::group_commit_counts() const {
    if (!shared_ || !group_sync_) return {};
    std::lock_guard lock(shared_->sync_mutex);
    return {shared_->transactions, shared_->committed, shared_->syncs};
}

} // namespace keyholder::store::detail
