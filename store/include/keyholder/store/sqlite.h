// RAII wrappers over the SQLite C API: Connection owns a sqlite3*, Statement owns a
// sqlite3_stmt*, Transaction owns an open BEGIN IMMEDIATE and rolls it back unless
// committed. Values only ever reach SQL through bind(): there is no API to splice a
// value into statement text.
//
// Thread safety: a Connection and its Statements belong to one thread at a time.
// Use one Connection per thread; SQLite's WAL mode lets readers run beside a writer.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <gsl/pointers>

struct sqlite3;
struct sqlite3_stmt;

namespace keyholder::store {

/// Synchronous: how hard a commit waits for the disk. Full is the default: a commit
/// that returned is on disk, so a 2xx answer survives power loss.
/// Synchronous: off and normal as SQLite's; full = durable when commit() returns,
/// done as a group commit (see Transaction): the transactions of one process that
/// queue for the write lock meanwhile become savepoints of one SQLite transaction,
/// committed once (at synchronous=NORMAL), and commit() returns after an fdatasync
/// of the WAL that covers it: as durable as synchronous=FULL, one commit and one
/// fsync for many transactions.
enum class Synchronous { off, normal, full };

struct ConnectionOptions {
    std::chrono::milliseconds busy_timeout{5000};
    Synchronous synchronous = Synchronous::full;
    bool read_only = false;
    bool create = true; ///< create the file when missing
};

class Statement;
class CachedStatement;

/// Connection: an open database file in WAL mode with foreign keys enforced.
class Connection {
public:
    /// open: opens (or creates) the file and applies the pragmas. Throws StoreError.
    static Connection open(const std::filesystem::path& file, const ConnectionOptions& options = {});

    Connection(Connection&& other) noexcept;
    Connection& operator=(Connection&& other) noexcept;
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    ~Connection();

    /// prepare: compiles one statement. Throws StoreError naming the SQL on failure.
    [[nodiscard]] Statement prepare(std::string_view sql);

    /// cached: a statement compiled once per connection and reused (hot paths).
    /// The returned handle resets it when it goes out of scope; do not hold two
    /// handles on the same SQL text at once.
    [[nodiscard]] CachedStatement cached(const std::string& sql);

    /// exec_script: runs constant SQL text (schema migrations, pragmas). Never pass
    /// text that contains values; use prepare() and bind() for those.
    void exec_script(const std::string& sql);

    /// changes: rows changed by the last INSERT/UPDATE/DELETE on this connection.
    [[nodiscard]] int64_t changes() const;
    [[nodiscard]] int64_t last_insert_rowid() const;
    [[nodiscard]] bool in_transaction() const;
    [[nodiscard]] const std::filesystem::path& file() const { return file_; }
    [[nodiscard]] sqlite3* handle() const { return active().db_; }

    /// GroupCommitCounts: in this process, for this file (zeros unless opened with
    /// Synchronous::full): durable transactions, the SQLite commits they took (one
    /// per group) and the WAL fsyncs those took.
    struct GroupCommitCounts {
        uint64_t transactions = 0;
        uint64_t commits = 0;
        uint64_t syncs = 0;
    };
    [[nodiscard]] GroupCommitCounts group_commit_counts() const;
    /// queued_writers: threads of this process waiting for the write lock of this file.
    [[nodiscard]] int queued_writers() const;

private:
    friend class Transaction;
    friend struct FileShared;
    friend void install_test_hooks(Connection&, const struct GroupCommitHooks&);
    Connection(sqlite3* db, std::filesystem::path file);
    static Connection open_unshared(const std::filesystem::path& file, const ConnectionOptions& options);
    /// active: where statements run: the group's connection while this connection's
    /// Transaction is a member of a group, else this one.
    [[nodiscard]] const Connection& active() const { return redirect_ != nullptr ? *redirect_ : *this; }
    [[nodiscard]] Connection& active() { return redirect_ != nullptr ? *redirect_ : *this; }
    void finalize_cache() noexcept;
    sqlite3* db_;
    std::filesystem::path file_;
    std::unordered_map<std::string, sqlite3_stmt*> cache_;
    /// shared_: per database file and process. Writers queue on its mutex (woken at
    /// once) instead of in SQLite's busy handler, which sleeps in growing steps; and
    /// durable transactions are grouped (see Transaction).
    std::shared_ptr<struct FileShared> shared_;
    Connection* redirect_ = nullptr;
    bool group_sync_ = false;
    std::shared_ptr<const struct GroupCommitHooks> hooks_; ///< tests only (file_shared.h)
    std::chrono::milliseconds busy_timeout_{5000};
};

/// Statement: one prepared statement. Parameters are 1-based like SQLite's.
class Statement {
public:
    Statement(Statement&& other) noexcept;
    Statement& operator=(Statement&& other) noexcept;
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    ~Statement();

    Statement& bind(int index, int64_t value);
    Statement& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
    Statement& bind(int index, std::string_view text);
    Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
    Statement& bind(int index, const std::string& text) { return bind(index, std::string_view(text)); }
    Statement& bind_blob(int index, std::span<const std::byte> data);
    Statement& bind_null(int index);
    /// parameter_index: the index of a named parameter (":from"), 0 when the statement has none of that name.
    [[nodiscard]] int parameter_index(const char* name) const;
    template <typename T> Statement& bind(int index, const std::optional<T>& value) {
        return value ? bind(index, *value) : bind_null(index);
    }

    /// step: runs to the next row; true while a row is available. Throws StoreError.
    bool step();
    /// run: steps a statement that returns no rows (INSERT/UPDATE/DELETE/DDL).
    void run();
    /// reset: makes the statement runnable again and clears the bindings.
    void reset();

    [[nodiscard]] bool is_null(int column) const;
    [[nodiscard]] int64_t column_int64(int column) const;
    [[nodiscard]] std::string column_text(int column) const;
    [[nodiscard]] std::optional<std::string> column_optional_text(int column) const;
    /// column_view: the text of a column without a copy; valid until the next step.
    [[nodiscard]] std::optional<std::string_view> column_view(int column) const;
    [[nodiscard]] std::optional<int64_t> column_optional_int64(int column) const;
    [[nodiscard]] std::vector<std::byte> column_blob(int column) const;
    [[nodiscard]] int column_count() const;

    /// release: gives up ownership without finalizing (the cache keeps it).
    sqlite3_stmt* release() noexcept;

private:
    friend class Connection;
    Statement(sqlite3_stmt* stmt, gsl::not_null<sqlite3*> db);
    void check_bind(int rc, int index);
    sqlite3_stmt* stmt_;
    sqlite3* db_;
};

/// CachedStatement: borrows a statement from Connection's cache; resets it (and
/// clears its bindings) on destruction so the next user starts clean.
class CachedStatement {
public:
    explicit CachedStatement(Statement statement) : statement_(std::move(statement)) {}
    CachedStatement(CachedStatement&&) = default;
    CachedStatement(const CachedStatement&) = delete;
    CachedStatement& operator=(const CachedStatement&) = delete;
    CachedStatement& operator=(CachedStatement&&) = delete;
    ~CachedStatement();
    Statement* operator->() { return &statement_; }
    Statement& operator*() { return statement_; }

private:
    Statement statement_;
};

/// Transaction: takes the write lock up front (so a writer never fails half-way on
/// a lock upgrade); rolled back in the destructor unless commit() succeeded.
///
/// With Synchronous::full it is a member of a group: it runs as a savepoint in the
/// one SQLite transaction (BEGIN IMMEDIATE) that the process keeps open on a shared
/// connection while writers queue for the in-process write lock, and every use of
/// its Connection goes to that connection until it ends, so it reads what earlier
/// members wrote. The last member in the queue commits the group; commit() returns
/// when the group is committed and the WAL fsync covering it is done, and throws if
/// the group's commit failed (then none of the group was written). Otherwise it is
/// BEGIN IMMEDIATE / COMMIT on its own connection.
class Transaction {
public:
    explicit Transaction(Connection& connection);
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    ~Transaction();

    /// commit: throws StoreError when the commit fails (then nothing was written).
    void commit();
    [[nodiscard]] Connection& connection() { return connection_; }

private:
    void join_group();
    uint64_t leave_writer() noexcept;
    Connection& connection_;
    bool open_ = true;
    bool holds_lock_ = false; ///< counted in holds_writer_lock()
    uint64_t group_ = 0;      ///< the group this transaction is a member of, 0 when alone
    /// outcome_: the result of that group, owned by its members: set when the group's
    /// commit or fsync fails, read once it is decided (never looked up by number).
    std::shared_ptr<struct GroupOutcome> outcome_;
    std::unique_lock<struct WriterLock> writer_;
};

/// ReadSnapshot: one read transaction over several statements, so that they see
/// one state of the database and SQLite takes its WAL read lock once, not once per
/// statement. Nothing when the connection is in a transaction already. Do not open
/// a Transaction on the connection while a snapshot is held.
class ReadSnapshot {
public:
    explicit ReadSnapshot(Connection& connection);
    ReadSnapshot(const ReadSnapshot&) = delete;
    ReadSnapshot& operator=(const ReadSnapshot&) = delete;
    ~ReadSnapshot();

private:
    Connection& connection_;
    bool began_ = false;
};

/// holds_writer_lock: this thread holds the write lock of a store file now (an open
/// Transaction). Directory calls assert it is false: a slow DC must not stall writers.
[[nodiscard]] bool holds_writer_lock() noexcept;

} // namespace keyholder::store
