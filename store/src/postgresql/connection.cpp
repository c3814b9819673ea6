// The PostgreSQL engine (see postgresql/connection.h).
#include "postgresql/connection.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <vector>

#include <libpq-fe.h>

#include <gsl/narrow>
#include <gsl/util>

#include "keyholder/store/error.h"
#include "postgresql/placeholders.h"

namespace keyholder::store::detail {
namespace {

// Type OIDs of pg_type (stable since PostgreSQL 7).
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kTextOid = 25;

Oid oid_of(ValueType type) {
    switch (type) {
    case ValueType::integer: return kInt8Oid;
    case ValueType::text: return kTextOid;
    case ValueType::blob: return kByteaOid;
    case ValueType::unknown: return 0;
    }
    return 0;
}

std::vector<std::string> split_list(const std::string& list) {
    std::vector<std::string> items;
    size_t start = 0;
    for (;;) {
        const size_t comma = list.find(',', start);
        items.push_back(list.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return items;
}

// on_this_machine: a Unix socket folder, or a loopback name or address.
bool on_this_machine(const std::string& host) {
    if (host.empty() || host.front() == '/' || host.front() == '@') return true;
    return host == "localhost" || host.starts_with("127.") || host == "::1" || host == "[::1]";
}

[[noreturn]] void fail(const std::string& what, pg_conn* conn, const pg_result* result) {
    std::string message = result != nullptr ? PQresultErrorMessage(result) : "";
    if (message.empty() && conn != nullptr) message = PQerrorMessage(conn);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
        message.pop_back();
    const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
    throw StoreError(0, what + ": " + (message.empty() ? "no answer from the server" : message),
                     state != nullptr ? state : "");
}

/// PgTransaction: BEGIN and the writers' advisory lock (see connection.h).
class PgTransaction final : public TransactionImpl {
public:
    PgTransaction(PgConnection& connection, bool& open_flag, Locking locking)
        : connection_(connection), open_(open_flag),
          durable_(connection.options().synchronous == Synchronous::full && !connection.options().read_only) {
        // One round trip: BEGIN, the stall limit, the commit mode and the writers' lock
        // (constant text and numbers of keyholder's own).
        std::string begin = "BEGIN; SET LOCAL idle_in_transaction_session_timeout = " +
                            std::to_string(connection.options().writer_stall_limit.count());
        if (durable_) begin += "; SET LOCAL synchronous_commit = off";
        if (locking == Locking::writer)
            begin += "; SELECT pg_advisory_xact_lock(" + std::to_string(advisory_key(AdvisoryLock::writer)) + ")";
        // The session first: a dropped one is made anew only outside a transaction.
        (void)connection_.session();
        open_ = true;
        try {
            connection_.checked(
                connection_.exchange([&](pg_conn* conn) { return PQsendQuery(conn, begin.c_str()); },
                                     [&] { return "no answer to BEGIN from " + connection_.described(); }),
                [&] { return "cannot begin a transaction on " + connection_.described(); });
        } catch (const StoreError& error) {
            rollback();
            if (error.sqlstate() == "55P03")
                throw StoreError(0,
                                 "database is locked: another writer held " + connection_.described() + " for over " +
                                     std::to_string(connection_.options().busy_timeout.count()) + " ms",
                                 error.sqlstate());
            throw;
        }
        writer_lock_taken(); // Locking::rows too: no directory call inside it either
        holds_lock_ = true;
    }
    PgTransaction(const PgTransaction&) = delete;
    PgTransaction& operator=(const PgTransaction&) = delete;
    ~PgTransaction() override {
        if (open_) rollback();
        if (holds_lock_) writer_lock_released();
    }

    // commit: a durable writer commits without waiting for the disk, so that the
    // writers' lock (held until the commit ends) is free at once, and then waits for a
    // flush that covers its commit: a transaction of its own that writes a WAL record
    // (a transactional logical message: a transaction that writes none commits
    // without a flush) and commits with synchronous_commit = on (waiting for a
    // synchronous standby too), its commit record after this one's. Writers that
    // queue for the lock thus share fsyncs (the server's group commit) instead of
    // taking one each under the lock. commit() returns when the transaction is as
    // durable as a synchronous commit makes it; until then other sessions may read it
    // (as members of a SQLite group read earlier members), and whatever they commit
    // after it lies later in the WAL: lost with it or kept with it, never kept without.
    void commit() override {
        // One round trip: COMMIT and, for a durable writer, the flush (a simple query of
        // two statements; the second runs in a transaction of its own, with the
        // session's synchronous_commit = on, and only if COMMIT did not fail).
        pg_conn* conn = connection_.session();
        const char* sql = durable_ ? "COMMIT; SELECT pg_logical_emit_message(true, 'keyholder', 'flush')" : "COMMIT";
        std::vector<PgResult> results;
        const bool sent = PQsendQuery(conn, sql) == 1;
        open_ = false;
        if (holds_lock_) {
            holds_lock_ = false;
            writer_lock_released();
        }
        if (sent)
            while (PgResult next = connection_.await(conn, [&] {
                return "the commit on " + connection_.described() +
                       " is not confirmed (it may have been made; a synchronous standby that does not "
                       "answer makes every commit wait)";
            }))
                results.push_back(std::move(next));
        PgResult result = connection_.checked(results.empty() ? PgResult() : std::move(results.front()),
                                              [&] { return "commit on " + connection_.described(); });
        // A transaction that failed earlier answers COMMIT with ROLLBACK.
        if (std::strcmp(PQcmdStatus(result.get()), "COMMIT") != 0)
            throw StoreError(0, "commit on " + connection_.described() + " was rolled back", "40000");
        if (durable_)
            connection_.checked(results.size() > 1 ? std::move(results[1]) : PgResult(), [&] {
                return "the flush after a commit on " + connection_.described() +
                       " failed (the commit may or may not be durable)";
            });
    }

private:
    void rollback() noexcept {
        open_ = false;
        // A lost session took its transaction with it: nothing to roll back, and no
        // new session is opened for it.
        if (connection_.live_session() != nullptr) {
            try {
                connection_.exchange([](pg_conn* live) { return PQsendQuery(live, "ROLLBACK"); },
                                     [&] { return "no answer to ROLLBACK from " + connection_.described(); });
            } catch (const StoreError&) { // NOLINT(bugprone-empty-catch): abandoned; its transaction ends with it
            }
        }
    }
    PgConnection& connection_;
    bool& open_;
    bool durable_; ///< Synchronous::full: committed, then a flush that covers it (see commit())
    bool holds_lock_ = false;
};

} // namespace

void PgConnDeleter::operator()(pg_conn* conn) const noexcept { PQfinish(conn); }
void PgResultDeleter::operator()(pg_result* result) const noexcept { PQclear(result); }

ConnectSettings connect_settings(const std::string& dsn, const std::string& described, const std::string& password) {
    char* error = nullptr;
    std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(PQconninfoParse(dsn.c_str(), &error),
                                                                         &PQconninfoFree);
    if (!options) {
        // libpq's message may quote the string, password and all: not repeated here.
        PQfreemem(error);
        throw StoreError(0, "cannot read the [store] dsn (" + described +
                                "): it is neither keyword=value pairs nor a postgresql:// URI");
    }
    ConnectSettings settings;
    std::string sslmode;
    std::string session_attrs;
    bool has_timeout = false;
    bool has_name = false;
    for (PQconninfoOption* option = options.get(); option->keyword != nullptr; ++option) {
        if (option->val == nullptr) continue;
        const std::string keyword = option->keyword;
        const std::string value = option->val;
        if (keyword == "host" || keyword == "hostaddr") {
            for (const std::string& host : split_list(value))
                if (!on_this_machine(host)) settings.loopback_only = false;
        }
        if (keyword == "sslmode") {
            sslmode = value;
            continue;
        }
        if (keyword == "target_session_attrs") session_attrs = value;
        if (keyword == "client_encoding") continue; // always UTF8 below
        if (keyword == "connect_timeout") has_timeout = true;
        if (keyword == "application_name") has_name = true;
        settings.keywords.push_back(keyword);
        settings.values.push_back(value);
    }
    if (!settings.loopback_only) {
        // Credentials travel: TLS, with the server's certificate checked.
        if (sslmode.empty()) sslmode = "verify-full";
        if (sslmode != "verify-full" && sslmode != "verify-ca")
            throw StoreError(0, "the [store] dsn (" + described +
                                    ") names a host that is not on this machine with sslmode=" + sslmode +
                                    "; keyholder needs sslmode=verify-full (or verify-ca): TLS with the "
                                    "server's certificate checked against sslrootcert");
    }
    if (!sslmode.empty()) {
        settings.keywords.emplace_back("sslmode");
        settings.values.push_back(sslmode);
    }
    if (session_attrs.empty()) {
        // With several hosts, the one that takes writes (a promoted standby too).
        settings.keywords.emplace_back("target_session_attrs");
        settings.values.emplace_back("read-write");
    } else if (session_attrs != "read-write" && session_attrs != "primary") {
        throw StoreError(0, "the [store] dsn (" + described + ") has target_session_attrs=" + session_attrs +
                                "; keyholder writes, so it needs read-write (the default) or primary");
    }
    if (!has_timeout) {
        settings.keywords.emplace_back("connect_timeout");
        settings.values.emplace_back("5");
    }
    if (!has_name) {
        settings.keywords.emplace_back("application_name");
        settings.values.emplace_back("keyholder");
    }
    settings.keywords.emplace_back("client_encoding");
    settings.values.emplace_back("UTF8");
    if (!password.empty()) {
        settings.keywords.emplace_back("password");
        settings.values.push_back(password);
    }
    return settings;
}

std::unique_ptr<ConnectionImpl> open_postgresql(const Location& location, const ConnectionOptions& options) {
    return std::make_unique<PgConnection>(location, options);
}

PgConnection::PgConnection(const Location& location, const ConnectionOptions& options)
    : ConnectionImpl(location), described_(location.describe()),
      settings_(connect_settings(location.dsn, described_, location.password)), options_(options) {
    connect();
}

PgConnection::~PgConnection() {
    if (streaming_ != nullptr) streaming_->buffer_rest();
    cache_.clear();
    conn_.reset();
}

void PgConnection::connect() {
    std::vector<const char*> keywords;
    std::vector<const char*> values;
    for (size_t i = 0; i < settings_.keywords.size(); ++i) {
        keywords.push_back(settings_.keywords[i].c_str());
        values.push_back(settings_.values[i].c_str());
    }
    keywords.push_back(nullptr);
    values.push_back(nullptr);
    PgConn conn(PQconnectdbParams(keywords.data(), values.data(), 0));
    if (!conn) throw StoreError(0, "cannot connect to " + described_ + ": out of memory");
    if (PQstatus(conn.get()) != CONNECTION_OK) fail("cannot connect to " + described_, conn.get(), nullptr);
    // The server's notices (a WARNING, a NOTICE) are not errors; libpq would print them on stderr.
    PQsetNoticeProcessor(
        conn.get(), [](void* /*arg*/, const char* /*message*/) {}, nullptr);
    // Session settings, as bound values (never spliced into SQL text).
    const std::string lock_timeout = std::to_string(options_.busy_timeout.count()) + "ms";
    const char* sync = options_.synchronous == Synchronous::full ? "on" : "off";
    const char* read_only = options_.read_only ? "on" : "off";
    const char* params[] = {lock_timeout.c_str(), sync, read_only};
    conn_ = std::move(conn);
    broken_ = false;
    ++generation_;
    PgResult set = exchange(
        [&](pg_conn* session) {
            return PQsendQueryParams(
                session,
                "SELECT set_config('lock_timeout', $1, false), set_config('synchronous_commit', $2, false),"
                " set_config('default_transaction_read_only', $3, false)",
                3, nullptr, params, nullptr, nullptr, 0);
        },
        [&] { return "no answer while setting up a session on " + described_; });
    if (PQresultStatus(set.get()) != PGRES_TUPLES_OK) {
        const std::string message = "cannot set up the session on " + described_;
        PgConn failed = std::move(conn_);
        fail(message, failed.get(), set.get());
    }
}

pg_conn* PgConnection::session() {
    // A statement still streaming its rows gives up the connection: the rest of its
    // rows are read into it first.
    if (streaming_ != nullptr) streaming_->buffer_rest();
    if (conn_ && !broken_ && PQstatus(conn_.get()) == CONNECTION_OK) return conn_.get();
    if (in_transaction_)
        throw StoreError(0, "the session with " + described_ + " was lost inside a transaction", "08006");
    conn_.reset();
    connect();
    return conn_.get();
}

pg_conn* PgConnection::live_session() noexcept {
    if (streaming_ != nullptr) streaming_->buffer_rest();
    return conn_ && !broken_ && PQstatus(conn_.get()) == CONNECTION_OK ? conn_.get() : nullptr;
}

bool PgConnection::in_transaction() const { return in_transaction_; }

bool PgConnection::succeeded(const PgResult& result) noexcept {
    const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
    return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

PgResult PgConnection::check(PgResult result, const std::string& what) {
    if (succeeded(result)) return result;
    // An error the server did not send (no SQLSTATE: the connection broke, e.g. "SSL
    // SYSCALL error: EOF detected", where libpq may still call the session OK) or a
    // connection exception (class 08): the session is not used again.
    const char* state = result ? PQresultErrorField(result.get(), PG_DIAG_SQLSTATE) : nullptr;
    if (state == nullptr || std::string_view(state).starts_with("08")) broken_ = true;
    fail(what, conn_.get(), result.get());
}

void PgConnection::command(const std::string& sql) {
    check(exchange([&](pg_conn* conn) { return PQsendQuery(conn, sql.c_str()); },
                   [&] { return "no answer to [" + sql.substr(0, 80) + "] from " + described_; }),
          "SQL failed on " + described_);
}

namespace {
// input_before: waits until a result can be read from `conn` without blocking (true;
// also when the connection failed: PQgetResult then answers the error), or until
// `deadline` (false).
bool input_before(pg_conn* conn, std::chrono::steady_clock::time_point deadline) {
    while (PQisBusy(conn) == 1) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
        if (left <= 0) return false;
        pollfd socket{PQsocket(conn), POLLIN, 0};
        const int ready = ::poll(&socket, 1, static_cast<int>(std::min<int64_t>(left, 60'000)));
        if (ready < 0 && errno != EINTR) break;
        if (ready > 0 && PQconsumeInput(conn) == 0) break;
    }
    return true;
}
} // namespace

std::chrono::milliseconds PgConnection::answer_bound() const {
    // Never shorter than a writer's wait for the lock (lock_timeout = busy_timeout).
    return std::max(options_.answer_timeout, options_.busy_timeout + std::chrono::seconds(2));
}

bool PgConnection::wait_readable(pg_conn* conn) {
    return input_before(conn, std::chrono::steady_clock::now() + answer_bound());
}

PgResult PgConnection::take_result(pg_conn* conn) { return PgResult(PQgetResult(conn)); }

void PgConnection::abandon(pg_conn* conn, const std::string& what) {
    const auto timeout = answer_bound();
    end_backend(conn);
    if (streaming_ != nullptr) {
        streaming_->lose_stream();
        streaming_ = nullptr;
    }
    if (conn_.get() == conn) conn_.reset();
    broken_ = true;
    throw StoreError(0,
                     what + ": no answer within " + std::to_string(timeout.count()) +
                         " ms ([store] answer_timeout); the session was dropped",
                     "57014");
}

// end_backend: a backend that does not answer may be waiting (for a synchronous
// standby, a lock) or hung; it is ended from a session of its own to the same server
// (its host and port, not the DSN's list: a pid means nothing on another server) so
// that it does not keep its connection slot, then forgotten if that fails too.
void PgConnection::end_backend(pg_conn* conn) noexcept {
    try {
        const int pid = PQbackendPID(conn);
        if (pid <= 0) return;
        std::vector<std::string> keywords;
        std::vector<std::string> values;
        for (size_t i = 0; i < settings_.keywords.size(); ++i) {
            const std::string& keyword = settings_.keywords[i];
            if (keyword == "host" || keyword == "hostaddr" || keyword == "port" || keyword == "connect_timeout" ||
                keyword == "target_session_attrs")
                continue;
            keywords.push_back(keyword);
            values.push_back(settings_.values[i]);
        }
        const char* host = PQhost(conn);
        const char* address = PQhostaddr(conn);
        const char* port = PQport(conn);
        if (host != nullptr && *host != '\0') keywords.emplace_back("host"), values.emplace_back(host);
        if (address != nullptr && *address != '\0') keywords.emplace_back("hostaddr"), values.emplace_back(address);
        if (port != nullptr && *port != '\0') keywords.emplace_back("port"), values.emplace_back(port);
        keywords.emplace_back("connect_timeout");
        values.emplace_back("2");
        std::vector<const char*> keyword_list;
        std::vector<const char*> value_list;
        for (size_t i = 0; i < keywords.size(); ++i) {
            keyword_list.push_back(keywords[i].c_str());
            value_list.push_back(values[i].c_str());
        }
        keyword_list.push_back(nullptr);
        value_list.push_back(nullptr);
        PgConn killer(PQconnectdbParams(keyword_list.data(), value_list.data(), 0));
        if (!killer || PQstatus(killer.get()) != CONNECTION_OK) return;
        const std::string pid_text = std::to_string(pid);
        const char* params[] = {pid_text.c_str()};
        if (PQsendQueryParams(killer.get(), "SELECT pg_terminate_backend($1::integer)", 1, nullptr, params, nullptr,
                              nullptr, 0) != 1)
            return;
        // Bounded too; a server that cannot answer this either is left alone.
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while (input_before(killer.get(), deadline)) {
            PGresult* result = PQgetResult(killer.get());
            if (result == nullptr) break;
            PQclear(result);
        }
    } catch (...) { // NOLINT(bugprone-empty-catch): best effort; the session is dropped anyway
    }
}

void PgConnection::exec_script(const std::string& sql) {
    // Constant SQL: the schema migrations, which may rewrite big tables; they take as
    // long as they take (a day at most), not answer_timeout.
    const auto bound = options_.answer_timeout;
    options_.answer_timeout = std::chrono::hours(24);
    auto restore = gsl::finally([&] { options_.answer_timeout = bound; });
    command(sql);
}

std::unique_ptr<StatementImpl> PgConnection::prepare(std::string_view sql) {
    return std::make_unique<PgStatement>(*this, sql, false);
}

StatementImpl* PgConnection::cached(const std::string& sql) {
    auto found = cache_.find(sql);
    if (found == cache_.end()) found = cache_.emplace(sql, std::make_unique<PgStatement>(*this, sql, true)).first;
    return found->second.get();
}

std::unique_ptr<TransactionImpl> PgConnection::begin(Locking locking) {
    return std::make_unique<PgTransaction>(*this, in_transaction_, locking);
}

void PgConnection::begin_read() {
    command("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    in_transaction_ = true;
}

void PgConnection::end_read() noexcept {
    in_transaction_ = false;
    if (live_session() != nullptr) {
        try {
            exchange([](pg_conn* live) { return PQsendQuery(live, "COMMIT"); },
                     [&] { return "no answer to the end of a read on " + described_; });
        } catch (const StoreError&) { // NOLINT(bugprone-empty-catch): abandoned; the snapshot ends with it
        }
    }
}

bool PgConnection::try_advisory_lock(AdvisoryLock lock) {
    StatementImpl* statement = cached("SELECT pg_try_advisory_lock(?)");
    statement->bind_int64(1, advisory_key(lock));
    const bool taken = statement->step() && statement->column_int64(0) == 1;
    statement->reset();
    return taken;
}

PgStatement::PgStatement(PgConnection& connection, std::string_view sql, bool named)
    : sql_(sql), named_(named), connection_(connection) {
    TranslatedSql translated;
    try {
        translated = translate_placeholders(sql);
    } catch (const std::invalid_argument& error) {
        throw StoreError(0, "cannot prepare [" + sql_ + "]: " + error.what());
    }
    text_ = std::move(translated.text);
    names_ = std::move(translated.names);
    const auto count = static_cast<size_t>(translated.parameters);
    values_.resize(count);
    null_.assign(count, true);
    types_.assign(count, 0);
    formats_.assign(count, 0);
}

PgStatement::~PgStatement() {
    if (streaming_) {
        discard_stream();
        end_stream();
    }
}

void PgStatement::check_index(int index) const {
    if (index < 1 || static_cast<size_t>(index) > values_.size())
        throw StoreError(0, "cannot bind parameter " + std::to_string(index) + " of [" + sql_ + "]: out of range");
}

void PgStatement::bind_int64(int index, int64_t value) {
    check_index(index);
    const auto i = static_cast<size_t>(index - 1);
    values_[i] = std::to_string(value);
    null_[i] = false;
    types_[i] = kInt8Oid;
    formats_[i] = 0;
}

void PgStatement::bind_text(int index, std::string_view text) {
    check_index(index);
    if (text.find('\0') != std::string_view::npos)
        throw StoreError(0, "cannot bind parameter " + std::to_string(index) + " of [" + sql_ +
                                "]: PostgreSQL text cannot hold a NUL character");
    const auto i = static_cast<size_t>(index - 1);
    values_[i].assign(text);
    null_[i] = false;
    types_[i] = kTextOid;
    formats_[i] = 0;
}

void PgStatement::bind_blob(int index, std::span<const std::byte> data) {
    check_index(index);
    const auto i = static_cast<size_t>(index - 1);
    values_[i].assign(reinterpret_cast<const char*>(data.data()), data.size());
    null_[i] = false;
    types_[i] = kByteaOid;
    formats_[i] = 1; // binary: the bytes as they are
}

void PgStatement::bind_null(int index, ValueType type) {
    check_index(index);
    const auto i = static_cast<size_t>(index - 1);
    values_[i].clear();
    null_[i] = true;
    types_[i] = oid_of(type);
    formats_[i] = 0;
}

int PgStatement::parameter_index(const char* name) const {
    auto found = names_.find(name);
    return found == names_.end() ? 0 : found->second;
}

void PgStatement::execute() {
    pg_conn* conn = connection_.session();
    const int count = gsl::narrow<int>(values_.size());
    std::vector<const char*> values(values_.size());
    std::vector<int> lengths(values_.size());
    for (size_t i = 0; i < values_.size(); ++i) {
        values[i] = null_[i] ? nullptr : values_[i].data();
        lengths[i] = gsl::narrow<int>(values_[i].size());
    }
    // Built only when it fails: this is every statement's path.
    const auto what = [&] { return "statement failed [" + sql_ + "] on " + connection_.described(); };
    PgResult result;
    if (named_) {
        if (prepared_generation_ != connection_.generation()) {
            prepared_.clear(); // a new session knows none of them
            prepared_generation_ = connection_.generation();
        }
        std::string signature;
        for (const unsigned int type : types_)
            signature += std::to_string(type) + ',';
        auto found = prepared_.find(signature);
        if (found == prepared_.end()) {
            std::string name = connection_.next_statement_name();
            connection_.check(connection_.exchange(
                                  [&](pg_conn* session) {
                                      return PQsendPrepare(session, name.c_str(), text_.c_str(), count, types_.data());
                                  },
                                  what),
                              "cannot prepare [" + sql_ + "] on " + connection_.described());
            found = prepared_.emplace(signature, std::move(name)).first;
        }
        result = connection_.exchange(
            [&](pg_conn* session) {
                return PQsendQueryPrepared(session, found->second.c_str(), count, values.data(), lengths.data(),
                                           formats_.data(), 0);
            },
            what);
    } else {
        // Streamed: one row per result (single-row mode), so that a long result (a
        // report, the audit chain) never sits in memory whole.
        if (PQsendQueryParams(conn, text_.c_str(), count, types_.data(), values.data(), lengths.data(), formats_.data(),
                              0) == 0)
            connection_.check(PgResult(), what());
        PQsetSingleRowMode(conn); // if refused, the rows come as one result: still right
        streaming_ = true;
        drained_ = false;
        connection_.set_streaming(this);
        result_.reset();
        rows_ = 0;
        row_ = -1;
        return;
    }
    result_ = connection_.checked(std::move(result), what);
    rows_ = PQresultStatus(result_.get()) == PGRES_TUPLES_OK ? PQntuples(result_.get()) : 0;
    row_ = -1;
    note_changes(result_.get());
}

void PgStatement::note_changes(const pg_result* result) {
    const std::string_view status = PQcmdStatus(const_cast<pg_result*>(result));
    if (status.starts_with("INSERT") || status.starts_with("UPDATE") || status.starts_with("DELETE")) {
        const char* tuples = PQcmdTuples(const_cast<pg_result*>(result));
        int64_t changed = 0;
        std::from_chars(tuples, tuples + std::strlen(tuples), changed);
        connection_.set_changes(changed);
    }
}

bool PgStatement::step() {
    if (!named_) return stream_step();
    // Like SQLite's: a statement stepped past its last row runs again.
    if (!result_ || row_ >= rows_) execute();
    ++row_;
    return row_ < rows_;
}

PgResult PgStatement::next_result() {
    if (!pending_.empty()) {
        PgResult next = std::move(pending_.front());
        pending_.pop_front();
        return next;
    }
    if (drained_ || connection_.raw() == nullptr) return {}; // the connection runs another command now
    return connection_.await(connection_.raw(),
                             [&] { return "no row of [" + sql_ + "] came from " + connection_.described(); });
}

bool PgStatement::stream_step() {
    if (result_ && row_ + 1 < rows_) {
        ++row_;
        return true;
    }
    if (!streaming_) execute(); // like SQLite's: past its last row, it runs again
    for (;;) {
        PgResult next = next_result();
        if (!next) {
            end_stream();
            return false;
        }
        const ExecStatusType status = PQresultStatus(next.get());
        if (status == PGRES_SINGLE_TUPLE || (status == PGRES_TUPLES_OK && PQntuples(next.get()) > 0)) {
            rows_ = PQntuples(next.get());
            row_ = 0;
            result_ = std::move(next);
            return true;
        }
        if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
            note_changes(next.get());
            continue;
        }
        discard_stream(); // the error ends the command: read what is left of it
        end_stream();
        connection_.check(std::move(next), "statement failed [" + sql_ + "] on " + connection_.described());
    }
}

void PgStatement::buffer_rest() noexcept {
    if (!streaming_ || drained_) return;
    try {
        while (PgResult next = connection_.await(connection_.raw(), [&] {
            return "the rest of [" + sql_ + "] did not come from " + connection_.described();
        }))
            pending_.push_back(std::move(next));
    } catch (const StoreError&) { // NOLINT(bugprone-empty-catch): abandoned (lose_stream); the next step ends
    }
    drained_ = true;
    connection_.set_streaming(nullptr);
}

void PgStatement::lose_stream() noexcept {
    pending_.clear();
    drained_ = true;
}

void PgStatement::discard_stream() noexcept {
    pending_.clear();
    if (streaming_ && !drained_ && connection_.raw() != nullptr) {
        try {
            while (connection_.await(connection_.raw(), [&] {
                return "the rest of [" + sql_ + "] did not come from " + connection_.described();
            })) {}
        } catch (const StoreError&) { // NOLINT(bugprone-empty-catch): abandoned: nothing is left to read
        }
    }
    drained_ = true;
}

void PgStatement::end_stream() noexcept {
    if (connection_.streaming() == this) connection_.set_streaming(nullptr);
    streaming_ = false;
    result_.reset();
    rows_ = 0;
    row_ = -1;
}

void PgStatement::reset() {
    if (streaming_) {
        discard_stream();
        end_stream();
    }
    result_.reset();
    row_ = -1;
    rows_ = 0;
    for (size_t i = 0; i < values_.size(); ++i) {
        values_[i].clear();
        null_[i] = true;
        types_[i] = 0;
        formats_[i] = 0;
    }
}

bool PgStatement::is_null(int column) const {
    if (!result_ || row_ < 0 || row_ >= rows_ || column >= PQnfields(result_.get())) return true;
    return PQgetisnull(result_.get(), row_, column) == 1;
}

int64_t PgStatement::column_int64(int column) const {
    if (is_null(column)) return 0;
    const char* text = PQgetvalue(result_.get(), row_, column);
    if (PQftype(result_.get(), column) == kBoolOid) return text[0] == 't' ? 1 : 0;
    const auto length = static_cast<size_t>(PQgetlength(result_.get(), row_, column));
    int64_t value = 0;
    std::from_chars(text, text + length, value); // a numeric's digits before the point, as SQLite reads text
    return value;
}

std::optional<std::string_view> PgStatement::column_view(int column) const {
    if (is_null(column)) return std::nullopt;
    return std::string_view(PQgetvalue(result_.get(), row_, column),
                            static_cast<size_t>(PQgetlength(result_.get(), row_, column)));
}

std::vector<std::byte> PgStatement::column_blob(int column) const {
    if (is_null(column)) return {};
    const auto* text = reinterpret_cast<const unsigned char*>(PQgetvalue(result_.get(), row_, column));
    if (PQftype(result_.get(), column) != kByteaOid) {
        const auto length = static_cast<size_t>(PQgetlength(result_.get(), row_, column));
        const auto* bytes = reinterpret_cast<const std::byte*>(text);
        return {bytes, bytes + length};
    }
    size_t length = 0;
    std::unique_ptr<unsigned char, decltype(&PQfreemem)> bytes(PQunescapeBytea(text, &length), &PQfreemem);
    if (!bytes) throw StoreError(0, "cannot decode a bytea column of [" + sql_ + "]: out of memory");
    const auto* begin = reinterpret_cast<const std::byte*>(bytes.get());
    return {begin, begin + length};
}

int PgStatement::column_count() const { return result_ ? PQnfields(result_.get()) : 0; }

} // namespace keyholder::store::detail
