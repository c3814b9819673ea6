// What an engine implements behind Connection, Statement and Transaction
// (connection.h): src/sqlite/ and src/postgresql/. Private to the store module.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "keyholder/store/connection.h"

namespace keyholder::store::detail {

class StatementImpl {
public:
    virtual ~StatementImpl() = default;
    virtual void bind_int64(int index, int64_t value) = 0;
    virtual void bind_text(int index, std::string_view text) = 0;
    virtual void bind_blob(int index, std::span<const std::byte> data) = 0;
    virtual void bind_null(int index, ValueType type) = 0;
    [[nodiscard]] virtual int parameter_index(const char* name) const = 0;
    virtual bool step() = 0;
    virtual void reset() = 0;
    [[nodiscard]] virtual bool is_null(int column) const = 0;
    [[nodiscard]] virtual int64_t column_int64(int column) const = 0;
    /// column_view: nullopt for NULL; valid until the next step.
    [[nodiscard]] virtual std::optional<std::string_view> column_view(int column) const = 0;
    [[nodiscard]] virtual std::vector<std::byte> column_blob(int column) const = 0;
    [[nodiscard]] virtual int column_count() const = 0;
};

class TransactionImpl {
public:
    virtual ~TransactionImpl() = default; ///< rolls back unless committed
    virtual void commit() = 0;
};

class ConnectionImpl {
public:
    virtual ~ConnectionImpl() = default;
    [[nodiscard]] virtual std::unique_ptr<StatementImpl> prepare(std::string_view sql) = 0;
    /// cached: owned by the connection; valid while it is open.
    [[nodiscard]] virtual StatementImpl* cached(const std::string& sql) = 0;
    virtual void exec_script(const std::string& sql) = 0;
    [[nodiscard]] virtual int64_t changes() const = 0;
    [[nodiscard]] virtual bool in_transaction() const = 0;
    [[nodiscard]] virtual std::unique_ptr<TransactionImpl> begin(Locking locking) = 0;
    /// begin_read / end_read: a read snapshot (see ReadSnapshot).
    virtual void begin_read() = 0;
    virtual void end_read() noexcept = 0;
    [[nodiscard]] virtual Connection::GroupCommitCounts group_commit_counts() const { return {}; }
    [[nodiscard]] virtual int queued_writers() const { return 0; }
    [[nodiscard]] const Location& location() const { return location_; }

protected:
    explicit ConnectionImpl(Location location) : location_(std::move(location)) {}
    Location location_;
};

/// The engines' entry points.
std::unique_ptr<ConnectionImpl> open_sqlite(const std::filesystem::path& file, const ConnectionOptions& options);
std::unique_ptr<ConnectionImpl> open_postgresql(const Location& location, const ConnectionOptions& options);

/// writer_lock_taken / writer_lock_released: count this thread's open Transactions
/// (holds_writer_lock()).
void writer_lock_taken() noexcept;
void writer_lock_released() noexcept;

} // namespace keyholder::store::detail
