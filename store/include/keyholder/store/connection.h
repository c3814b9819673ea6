// The store's connection to its database, the same for both engines: SQLite (the
// embedded default, one file) and PostgreSQL (several nodes on one replicated
// database). Connection owns a session, Statement one statement, Transaction an open
// write transaction rolled back unless committed. Values only ever reach SQL through
// bind(): there is no API to splice a value into statement text.
//
// SQL is written once where both engines agree, with SQLite's parameter forms
// (?, ?N, :name); on PostgreSQL they become $N. Where the engines differ, the caller
// picks by backend() (see dialect()).
//
// Thread safety: a Connection and its Statements belong to one thread at a time.
// Use one Connection per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace keyholder::store {

enum class Backend { sqlite, postgresql };

/// backend_name: "sqlite" / "postgresql" (the [store] backend values).
[[nodiscard]] const char* backend_name(Backend backend) noexcept;

/// Location: where a store lives: a SQLite file, or a PostgreSQL connection string
/// (libpq's keyword=value or URI form) and the password (the configuration's
/// password_file / password_env) kept apart from it.
struct Location {
    Backend backend = Backend::sqlite;
    std::filesystem::path file; ///< sqlite
    std::string dsn;            ///< postgresql
    std::string password;       ///< postgresql; empty: the DSN's own, or none (a socket, a .pgpass)

    static Location sqlite(std::filesystem::path file) { return {Backend::sqlite, std::move(file), {}, {}}; }
    static Location postgresql(std::string dsn, std::string password = {}) {
        return {Backend::postgresql, {}, std::move(dsn), std::move(password)};
    }
    /// describe: the file, or the DSN without its password: safe for messages and logs.
    [[nodiscard]] std::string describe() const;
};

/// parse_location: "sqlite:FILE", "postgresql:DSN", or a bare FILE (SQLite). The
/// DSN's password, if it needs one, comes from libpq's own PGPASSWORD or passfile.
/// Throws StoreError on an empty location.
[[nodiscard]] Location parse_location(const std::string& text);

/// Synchronous: how hard a commit waits for the disk. Full is the default: a commit
/// that returned is on disk, so a 2xx answer survives power loss.
/// SQLite: off and normal as SQLite's; full = durable when commit() returns, done as
/// a group commit (see Transaction): the transactions of one process that queue for
/// the write lock meanwhile become savepoints of one SQLite transaction, committed
/// once (at synchronous=NORMAL), and commit() returns after an fdatasync of the WAL
/// that covers it. PostgreSQL: full = synchronous_commit on (and remote_apply is the
/// server's choice for a synchronous standby), normal/off = synchronous_commit off.
enum class Synchronous { off, normal, full };

struct ConnectionOptions {
    /// busy_timeout: how long a writer waits for the write lock (SQLite's busy
    /// timeout; PostgreSQL's lock_timeout) before the store answers "busy".
    std::chrono::milliseconds busy_timeout{5000};
    /// answer_timeout (PostgreSQL): how long a session waits for the server's next
    /// answer (a statement's result or next row; a commit and the flush that makes it
    /// durable, which waits for a synchronous standby) before it gives up: the store
    /// answers StoreError, ends the session's backend (from a session of its own to
    /// the same server, best effort) and drops the session, made anew at next use.
    /// Never shorter than busy_timeout plus 2 s (a writer may wait that long for the
    /// lock); exec_script (schema migrations) is not bounded by it. SQLite: unused.
    std::chrono::milliseconds answer_timeout{30000};
    /// writer_stall_limit (PostgreSQL): a write transaction whose client sends nothing
    /// for this long (a hung or frozen process on some node) is ended by the server
    /// (idle_in_transaction_session_timeout), so that the writers' lock it holds does
    /// not stop the writers of every node. Writers never wait on anything but the
    /// store inside a transaction (no directory calls), so a healthy one is idle for
    /// milliseconds. SQLite: unused.
    std::chrono::milliseconds writer_stall_limit{10000};
    Synchronous synchronous = Synchronous::full;
    bool read_only = false;
    bool create = true; ///< SQLite: create the file when missing
};

class Statement;
class CachedStatement;
namespace detail {
class ConnectionImpl;
class StatementImpl;
class TransactionImpl;
} // namespace detail

/// ValueType: the type of a bound value, for engines that type parameters
/// (PostgreSQL): a NULL bound through std::optional<T> keeps T's type.
enum class ValueType { unknown, integer, text, blob };

/// Connection: an open session: a SQLite file in WAL mode with foreign keys
/// enforced, or a PostgreSQL session (reconnected when the server went away).
class Connection {
public:
    /// open: opens (or creates) the SQLite file and applies the pragmas. Throws StoreError.
    static Connection open(const std::filesystem::path& file, const ConnectionOptions& options = {});
    /// open: either engine. Throws StoreError naming the location (never its password).
    static Connection open(const Location& location, const ConnectionOptions& options = {});

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
    [[nodiscard]] bool in_transaction() const;
    [[nodiscard]] Backend backend() const;
    [[nodiscard]] const Location& location() const;
    /// file: the SQLite file (empty on PostgreSQL).
    [[nodiscard]] const std::filesystem::path& file() const { return location().file; }

    /// GroupCommitCounts: in this process, for this SQLite file (zeros unless opened
    /// with Synchronous::full, and on PostgreSQL): durable transactions, the commits
    /// they took (one per group) and the WAL fsyncs those took.
    struct GroupCommitCounts {
        uint64_t transactions = 0;
        uint64_t commits = 0;
        uint64_t syncs = 0;
    };
    [[nodiscard]] GroupCommitCounts group_commit_counts() const;
    /// queued_writers: threads of this process waiting for the write lock.
    [[nodiscard]] int queued_writers() const;

    /// impl: the engine's session (store-internal and tests; opaque elsewhere).
    [[nodiscard]] detail::ConnectionImpl& impl() { return *impl_; }

private:
    explicit Connection(std::unique_ptr<detail::ConnectionImpl> impl);
    std::unique_ptr<detail::ConnectionImpl> impl_;
};

/// dialect: the SQL text for this connection's engine, where the two differ.
[[nodiscard]] inline std::string dialect(const Connection& connection, std::string_view sqlite,
                                         std::string_view postgresql) {
    return std::string(connection.backend() == Backend::postgresql ? postgresql : sqlite);
}

/// Statement: one prepared statement. Parameters are 1-based like SQLite's.
class Statement {
public:
    explicit Statement(std::unique_ptr<detail::StatementImpl> owned);
    /// Statement: borrows one owned elsewhere (a connection's cache).
    explicit Statement(detail::StatementImpl* borrowed) : impl_(borrowed), owned_(false) {}
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
    Statement& bind_null(int index, ValueType type = ValueType::unknown);
    /// parameter_index: the index of a named parameter (":from"), 0 when the statement has none of that name.
    [[nodiscard]] int parameter_index(const char* name) const;
    template <typename T> Statement& bind(int index, const std::optional<T>& value) {
        if (value) return bind(index, *value);
        return bind_null(index, std::is_integral_v<T> ? ValueType::integer : ValueType::text);
    }

    /// step: runs to the next row; true while a row is available. Throws StoreError.
    bool step();
    /// run: steps a statement that returns no rows (INSERT/UPDATE/DELETE/DDL).
    void run();
    /// reset: makes the statement runnable again and clears the bindings.
    void reset();

    [[nodiscard]] bool is_null(int column) const;
    /// column_int64: an integer column (a PostgreSQL boolean reads as 0 or 1).
    [[nodiscard]] int64_t column_int64(int column) const;
    [[nodiscard]] std::string column_text(int column) const;
    [[nodiscard]] std::optional<std::string> column_optional_text(int column) const;
    /// column_view: the text of a column without a copy; valid until the next step.
    [[nodiscard]] std::optional<std::string_view> column_view(int column) const;
    [[nodiscard]] std::optional<int64_t> column_optional_int64(int column) const;
    [[nodiscard]] std::vector<std::byte> column_blob(int column) const;
    [[nodiscard]] int column_count() const;

private:
    detail::StatementImpl* impl_;
    bool owned_;
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
/// a lock upgrade, and writers run one at a time: what a transaction read is what
/// it writes over); rolled back in the destructor unless commit() succeeded.
///
/// SQLite: BEGIN IMMEDIATE; with Synchronous::full it is a member of a group: it
/// runs as a savepoint in the one SQLite transaction that the process keeps open on
/// a shared connection while writers queue for the in-process write lock, and every
/// use of its Connection goes to that connection until it ends, so it reads what
/// earlier members wrote. The last member in the queue commits the group; commit()
/// returns when the group is committed and the WAL fsync covering it is done, and
/// throws if the group's commit failed (then none of the group was written).
///
/// PostgreSQL: BEGIN and a transaction-scoped advisory lock that every node's
/// writers take first, so writers of all nodes run one at a time as on SQLite
/// (the audit chain cannot fork, a claim cannot be made twice); commit() returns
/// once the server reports the commit durable.
/// Locking: what a write transaction takes first. writer: the store's write lock
/// (the default: writers run one at a time). rows: on PostgreSQL only the rows it
/// writes (claims of queued work with FOR UPDATE SKIP LOCKED, which must not wait for
/// other writers and touch nothing another writer reads to decide); SQLite has only
/// the write lock.
enum class Locking { writer, rows };

class Transaction {
public:
    explicit Transaction(Connection& connection, Locking locking = Locking::writer);
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    ~Transaction();

    /// commit: throws StoreError when the commit fails (then nothing was written).
    void commit();
    [[nodiscard]] Connection& connection() { return connection_; }

private:
    Connection& connection_;
    std::unique_ptr<detail::TransactionImpl> impl_;
};

/// ReadSnapshot: one read transaction over several statements, so that they see
/// one state of the database (and SQLite takes its WAL read lock once, not once per
/// statement). Nothing when the connection is in a transaction already. Do not open
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

/// holds_writer_lock: this thread holds the write lock of a store now (an open
/// Transaction). Directory calls assert it is false: a slow DC must not stall writers.
[[nodiscard]] bool holds_writer_lock() noexcept;

} // namespace keyholder::store
