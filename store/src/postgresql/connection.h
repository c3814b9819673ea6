// The PostgreSQL engine behind Connection (see connection.h): libpq, every handle in
// RAII, bound parameters only (hot statements named and prepared once per session).
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "backend.h"

struct pg_conn;
struct pg_result;

namespace keyholder::store::detail {

struct PgConnDeleter {
    void operator()(pg_conn* conn) const noexcept;
};
struct PgResultDeleter {
    void operator()(pg_result* result) const noexcept;
};
using PgConn = std::unique_ptr<pg_conn, PgConnDeleter>;
using PgResult = std::unique_ptr<pg_result, PgResultDeleter>;

/// Advisory locks (pg_advisory_*lock(bigint)), per database: keyholder's in the
/// upper half "khld", so they do not meet another application's in the same database.
enum class AdvisoryLock : int {
    writer = 1,           ///< every write transaction, for its duration
    scheduler_leader = 2, ///< held on its own session by the node that runs the scheduler
};
inline constexpr int64_t advisory_key(AdvisoryLock lock) {
    return (int64_t{0x6b686c64} << 32) | static_cast<int64_t>(lock);
}

/// ConnectSettings: the DSN as libpq parsed it, with keyholder's rules applied:
/// TLS verified unless every host is a Unix socket or loopback, read-write sessions
/// only, a connect timeout. Throws StoreError naming the rule a DSN breaks.
struct ConnectSettings {
    std::vector<std::string> keywords;
    std::vector<std::string> values;
    bool loopback_only = true; ///< every host is a socket folder or a loopback address
};
ConnectSettings connect_settings(const std::string& dsn, const std::string& described,
                                 const std::string& password = {});

class PgConnection;

class PgStatement final : public StatementImpl {
public:
    PgStatement(PgConnection& connection, std::string_view sql, bool named);
    PgStatement(const PgStatement&) = delete;
    PgStatement& operator=(const PgStatement&) = delete;
    ~PgStatement() override;

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

    /// buffer_rest: reads the rest of a streamed result into this statement, so that
    /// the connection can run another command (PgConnection::session()).
    void buffer_rest() noexcept;
    /// lose_stream: the session was dropped mid-stream: the rows not read are gone.
    void lose_stream() noexcept;

private:
    void check_index(int index) const;
    void execute();
    bool stream_step();
    PgResult next_result();
    void note_changes(const pg_result* result);
    void discard_stream() noexcept;
    void end_stream() noexcept;
    std::string sql_; ///< as written (for messages)
    std::string text_;
    std::map<std::string, int> names_;
    bool named_;
    PgConnection& connection_;
    std::vector<std::string> values_;
    std::vector<bool> null_;
    std::vector<unsigned int> types_; ///< type OIDs, 0: the server infers
    std::vector<int> formats_;        ///< 1: binary (bytea)
    /// prepared_: signature of parameter types -> statement name, for one session.
    std::unordered_map<std::string, std::string> prepared_;
    uint64_t prepared_generation_ = 0;
    PgResult result_;
    int row_ = -1;
    int rows_ = 0;
    /// streaming_: statements of prepare() send their query and read its rows one by
    /// one (libpq's single-row mode); drained_: the rest was read into pending_.
    bool streaming_ = false;
    bool drained_ = false;
    std::deque<PgResult> pending_;
};

class PgConnection final : public ConnectionImpl {
public:
    PgConnection(const Location& location, const ConnectionOptions& options);
    PgConnection(const PgConnection&) = delete;
    PgConnection& operator=(const PgConnection&) = delete;
    ~PgConnection() override;

    std::unique_ptr<StatementImpl> prepare(std::string_view sql) override;
    StatementImpl* cached(const std::string& sql) override;
    void exec_script(const std::string& sql) override;
    [[nodiscard]] int64_t changes() const override { return changes_; }
    [[nodiscard]] bool in_transaction() const override;
    std::unique_ptr<TransactionImpl> begin(Locking locking) override;
    void begin_read() override;
    void end_read() noexcept override;

    /// session: the live session, reconnected first when the server went away and
    /// no transaction was open on it. Throws StoreError when it cannot connect.
    pg_conn* session();
    /// live_session: the session if it is up, else null (never reconnects).
    pg_conn* live_session() noexcept;
    /// generation: how many sessions this connection has had (prepared statements
    /// belong to one).
    [[nodiscard]] uint64_t generation() const { return generation_; }
    /// check: throws StoreError (naming `what`) unless the result is one of the good ones.
    PgResult check(PgResult result, const std::string& what);
    /// checked: check() with the message built only on failure (the hot path).
    template <typename What> PgResult checked(PgResult result, const What& what) {
        if (succeeded(result)) return result;
        return check(std::move(result), what());
    }
    [[nodiscard]] static bool succeeded(const PgResult& result) noexcept;
    /// described: the location for messages, without its password (computed once).
    [[nodiscard]] const std::string& described() const { return described_; }
    /// command: runs constant SQL without parameters; throws StoreError.
    void command(const std::string& sql);
    /// await: the next result of the command sent on `conn` (null once it has no
    /// more), waited for at most options().answer_timeout; past that the session is
    /// abandoned (see abandon()) and StoreError names `what`.
    template <typename What> PgResult await(pg_conn* conn, const What& what) {
        if (!wait_readable(conn)) abandon(conn, what());
        return take_result(conn);
    }
    /// exchange: sends one command with `send` (a PQsend* call on the session) and
    /// reads all its results, each within the answer timeout: answers the first
    /// error, else the last result (as PQexec does); null if it could not be sent.
    template <typename Send, typename What> PgResult exchange(const Send& send, const What& what) {
        pg_conn* conn = session();
        if (send(conn) != 1) return {};
        PgResult kept;
        while (PgResult next = await(conn, what)) {
            if (!kept || succeeded(kept)) kept = std::move(next);
        }
        return kept;
    }
    /// abandon: the server did not answer in time: its backend is ended from a new
    /// session to the same server (best effort, bounded) and the session dropped.
    [[noreturn]] void abandon(pg_conn* conn, const std::string& what);
    void set_changes(int64_t changes) { changes_ = changes; }
    /// streaming: the statement whose rows are being read from the session now, if any.
    [[nodiscard]] PgStatement* streaming() const { return streaming_; }
    void set_streaming(PgStatement* statement) { streaming_ = statement; }
    /// raw: the session as it is (for the streaming statement; never reconnects).
    [[nodiscard]] pg_conn* raw() const { return conn_.get(); }
    /// try_advisory_lock / advisory_unlock: session-scoped (the scheduler's leadership).
    bool try_advisory_lock(AdvisoryLock lock);
    [[nodiscard]] const ConnectionOptions& options() const { return options_; }
    [[nodiscard]] std::string next_statement_name() { return "k" + std::to_string(++statements_); }

private:
    void connect();
    /// wait_readable: until a result can be read without blocking (true), or the
    /// answer timeout passes (false).
    bool wait_readable(pg_conn* conn);
    /// answer_bound: how long a wait for an answer may take (answer_timeout, at least
    /// busy_timeout + 2 s).
    [[nodiscard]] std::chrono::milliseconds answer_bound() const;
    static PgResult take_result(pg_conn* conn);
    void end_backend(pg_conn* conn) noexcept;
    std::string described_;
    ConnectSettings settings_;
    ConnectionOptions options_;
    PgConn conn_;
    uint64_t generation_ = 0;
    uint64_t statements_ = 0;
    int64_t changes_ = 0;
    bool in_transaction_ = false; ///< a Transaction or ReadSnapshot is open on the session
    bool broken_ = false;         ///< the session failed at the connection level: made anew at next use
    PgStatement* streaming_ = nullptr;
    std::unordered_map<std::string, std::unique_ptr<PgStatement>> cache_;
};

} // namespace keyholder::store::detail
