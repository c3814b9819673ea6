// The SQLite engine behind Connection (see connection.h): RAII over sqlite3* and
// sqlite3_stmt*, WAL mode, BEGIN IMMEDIATE, and the group commit (file_shared.h).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>

#include <gsl/pointers>

#include "backend.h"

struct sqlite3;
struct sqlite3_stmt;

namespace keyholder::store::detail {

class SqliteStatement final : public StatementImpl {
public:
    SqliteStatement(sqlite3_stmt* stmt, gsl::not_null<sqlite3*> db) : stmt_(stmt), db_(db) {}
    SqliteStatement(const SqliteStatement&) = delete;
    SqliteStatement& operator=(const SqliteStatement&) = delete;
    ~SqliteStatement() override;

    void bind_int64(int index, int64_t value) override;
    void bind_text(int index, std::string_view text) override;
    void bind_blob(int index, std::span<const std::byte> data) override;
    void bind_null(int index, ValueType type) override;
    [[nodiscard]] int parameter_index(const char* name) const override;
    bool step() override;
    void reset() override;
    [[nodiscard]] bool is_null(int column) const override;
    [[nodiscard]] int64_t column_int64(int column) const override;
    [[nodiscard]] std::optional<std::string_view> column_view(int column) const override;
    [[nodiscard]] std::vector<std::byte> column_blob(int column) const override;
    [[nodiscard]] int column_count() const override;

private:
    void check_bind(int rc, int index);
    sqlite3_stmt* stmt_;
    sqlite3* db_;
};

struct FileShared;
struct GroupCommitHooks;

class SqliteConnection final : public ConnectionImpl {
public:
    /// open_unshared: `serialized`: SQLite's own mutex guards the handle (the group's
    /// connection, which the members of a group use from their own threads).
    static std::unique_ptr<SqliteConnection> open_unshared(const std::filesystem::path& file,
                                                           const ConnectionOptions& options, bool serialized = false);
    SqliteConnection(sqlite3* db, const std::filesystem::path& file)
        : ConnectionImpl(Location::sqlite(file)), db_(db) {}
    SqliteConnection(const SqliteConnection&) = delete;
    SqliteConnection& operator=(const SqliteConnection&) = delete;
    ~SqliteConnection() override;

    std::unique_ptr<StatementImpl> prepare(std::string_view sql) override;
    StatementImpl* cached(const std::string& sql) override;
    void exec_script(const std::string& sql) override;
    [[nodiscard]] int64_t changes() const override;
    [[nodiscard]] bool in_transaction() const override;
    std::unique_ptr<TransactionImpl> begin(Locking locking) override;
    void begin_read() override;
    void end_read() noexcept override;
    [[nodiscard]] Connection::GroupCommitCounts group_commit_counts() const override;
    [[nodiscard]] int queued_writers() const override;

    [[nodiscard]] const std::filesystem::path& file() const { return location_.file; }
    /// handle: the connection statements run on now (the group's while this one is in a group).
    [[nodiscard]] sqlite3* handle() const { return active().db_; }
    /// end_open_reads: resets every statement left in the middle of its rows, so that
    /// none keeps a read of the last member open into the next (a stale snapshot
    /// makes BEGIN IMMEDIATE fail with SQLITE_BUSY_SNAPSHOT).
    void end_open_reads() noexcept;

private:
    friend class SqliteTransaction;
    friend struct FileShared;
    friend std::unique_ptr<ConnectionImpl> open_sqlite(const std::filesystem::path&, const ConnectionOptions&);
    friend void install_test_hooks(Connection&, const GroupCommitHooks&);
    /// active: where statements run: the group's connection while this connection's
    /// Transaction is a member of a group, else this one.
    [[nodiscard]] const SqliteConnection& active() const { return redirect_ != nullptr ? *redirect_ : *this; }
    sqlite3* db_;
    std::unordered_map<std::string, std::unique_ptr<SqliteStatement>> cache_;
    /// shared_: per database file and process. Writers queue on its mutex (woken at
    /// once) instead of in SQLite's busy handler, which sleeps in growing steps; and
    /// durable transactions are grouped (see Transaction).
    std::shared_ptr<FileShared> shared_;
    SqliteConnection* redirect_ = nullptr;
    bool group_sync_ = false;
    std::shared_ptr<const GroupCommitHooks> hooks_; ///< tests only (file_shared.h)
    std::chrono::milliseconds busy_timeout_{5000};
};

/// sqlite_handle: the sqlite3* of a SQLite store's connection (the online backup,
/// benchmarks that load rows in bulk). Throws StoreError on another engine.
sqlite3* sqlite_handle(Connection& connection);

} // namespace keyholder::store::detail
