// Errors raised by the store.
//
// The store reports engine failures (I/O error, disk full, corrupt file, a database
// written by a newer keyholder) as exceptions of type StoreError: they mean "nothing
// could be committed", and the edges (HTTP handlers, thread entry points) turn them
// into a 503 or a log line. Outcomes a caller must decide on (not found, conflict)
// are returned as values by the repository functions instead.
#pragma once

#include <stdexcept>
#include <string>

namespace keyholder::store {

/// StoreError carries the engine's code (SQLite's result code, extended where
/// known; PostgreSQL's SQLSTATE) and a message naming the database (never a
/// password) and the statement that failed.
class StoreError : public std::runtime_error {
public:
    StoreError(int sqlite_code, const std::string& message, std::string sqlstate = {})
        : std::runtime_error(message), sqlite_code_(sqlite_code), sqlstate_(std::move(sqlstate)) {}
    /// sqlite_code: SQLite's result code; 0 on PostgreSQL.
    [[nodiscard]] int sqlite_code() const noexcept { return sqlite_code_; }
    /// sqlstate: PostgreSQL's five-character SQLSTATE; empty on SQLite.
    [[nodiscard]] const std::string& sqlstate() const noexcept { return sqlstate_; }

private:
    int sqlite_code_;
    std::string sqlstate_;
};

/// NewerSchemaError: the file was written by a newer keyholder; opening it with this
/// binary could corrupt it, so the store refuses and names both versions.
class NewerSchemaError : public StoreError {
public:
    NewerSchemaError(int found, int supported, const std::string& message)
        : StoreError(0, message), found_(found), supported_(supported) {}
    [[nodiscard]] int found_version() const noexcept { return found_; }
    [[nodiscard]] int supported_version() const noexcept { return supported_; }

private:
    int found_;
    int supported_;
};

} // namespace keyholder::store
