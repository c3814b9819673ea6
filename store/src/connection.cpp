// The engine-neutral connection (see connection.h): forwards to the engine's
// implementation in src/sqlite/ or src/postgresql/.
#include "keyholder/store/connection.h"

#include <regex>

#include "backend.h"
#include "keyholder/store/error.h"

namespace keyholder::store {
namespace {

// writer_locks_held: Transactions of this thread that hold a write lock now.
thread_local int writer_locks_held = 0;

} // namespace

namespace detail {
void writer_lock_taken() noexcept { ++writer_locks_held; }
void writer_lock_released() noexcept { --writer_locks_held; }
} // namespace detail

bool holds_writer_lock() noexcept { return writer_locks_held > 0; }

const char* backend_name(Backend backend) noexcept { return backend == Backend::postgresql ? "postgresql" : "sqlite"; }

std::string Location::describe() const {
    if (backend == Backend::sqlite) return file.string();
    // Both of libpq's forms: password=... (quoted or not) and the URI's user:password@.
    static const std::regex keyword(R"((password\s*=\s*)('([^'\\]|\\.)*'|[^\s]*))", std::regex::icase);
    static const std::regex uri(R"(^(postgres(ql)?://[^:/@]*):[^@/]*@)", std::regex::icase);
    std::string safe = std::regex_replace(dsn, keyword, "$1***");
    return "postgresql " + std::regex_replace(safe, uri, "$1:***@");
}

Location parse_location(const std::string& text) {
    if (text.starts_with("postgresql:") && text.size() > 11 && text.compare(11, 2, "//") != 0)
        return Location::postgresql(text.substr(11));
    if (text.starts_with("postgresql://") || text.starts_with("postgres://")) return Location::postgresql(text);
    if (text.starts_with("sqlite:") && text.size() > 7) return Location::sqlite(text.substr(7));
    if (text.empty() || text == "sqlite:" || text == "postgresql:")
        throw StoreError(0, "an empty store location: give sqlite:FILE or postgresql:DSN");
    return Location::sqlite(text);
}

Connection::Connection(std::unique_ptr<detail::ConnectionImpl> impl) : impl_(std::move(impl)) {}
Connection::Connection(Connection&& other) noexcept = default;
Connection& Connection::operator=(Connection&& other) noexcept = default;
Connection::~Connection() = default;

Connection Connection::open(const std::filesystem::path& file, const ConnectionOptions& options) {
    return Connection(detail::open_sqlite(file, options));
}

Connection Connection::open(const Location& location, const ConnectionOptions& options) {
    if (location.backend == Backend::sqlite) return open(location.file, options);
    return Connection(detail::open_postgresql(location, options));
}

Statement Connection::prepare(std::string_view sql) { return Statement(impl_->prepare(sql)); }
CachedStatement Connection::cached(const std::string& sql) { return CachedStatement(Statement(impl_->cached(sql))); }
void Connection::exec_script(const std::string& sql) { impl_->exec_script(sql); }
int64_t Connection::changes() const { return impl_->changes(); }
bool Connection::in_transaction() const { return impl_->in_transaction(); }
Backend Connection::backend() const { return impl_->location().backend; }
const Location& Connection::location() const { return impl_->location(); }
Connection::GroupCommitCounts Connection::group_commit_counts() const { return impl_->group_commit_counts(); }
int Connection::queued_writers() const { return impl_->queued_writers(); }

Statement::Statement(std::unique_ptr<detail::StatementImpl> owned) : impl_(owned.release()), owned_(true) {}

Statement::Statement(Statement&& other) noexcept : impl_(other.impl_), owned_(other.owned_) {
    other.impl_ = nullptr;
    other.owned_ = false;
}

Statement& Statement::operator=(Statement&& other) noexcept {
    if (this != &other) {
        if (owned_) delete impl_;
        impl_ = other.impl_;
        owned_ = other.owned_;
        other.impl_ = nullptr;
        other.owned_ = false;
    }
    return *this;
}

Statement::~Statement() {
    if (owned_) delete impl_;
}

Statement& Statement::bind(int index, int64_t value) {
    impl_->bind_int64(index, value);
    return *this;
}
Statement& Statement::bind(int index, std::string_view text) {
    impl_->bind_text(index, text);
    return *this;
}
Statement& Statement::bind_blob(int index, std::span<const std::byte> data) {
    impl_->bind_blob(index, data);
    return *this;
}
Statement& Statement::bind_null(int index, ValueType type) {
    impl_->bind_null(index, type);
    return *this;
}
int Statement::parameter_index(const char* name) const { return impl_->parameter_index(name); }
bool Statement::step() { return impl_->step(); }
void Statement::run() {
    while (step()) {}
}
void Statement::reset() { impl_->reset(); }
bool Statement::is_null(int column) const { return impl_->is_null(column); }
int64_t Statement::column_int64(int column) const { return impl_->column_int64(column); }
std::string Statement::column_text(int column) const {
    auto view = impl_->column_view(column);
    return view ? std::string(*view) : std::string();
}
std::optional<std::string> Statement::column_optional_text(int column) const {
    auto view = impl_->column_view(column);
    if (!view) return std::nullopt;
    return std::string(*view);
}
std::optional<std::string_view> Statement::column_view(int column) const { return impl_->column_view(column); }
std::optional<int64_t> Statement::column_optional_int64(int column) const {
    if (impl_->is_null(column)) return std::nullopt;
    return impl_->column_int64(column);
}
std::vector<std::byte> Statement::column_blob(int column) const { return impl_->column_blob(column); }
int Statement::column_count() const { return impl_->column_count(); }

CachedStatement::~CachedStatement() {
    try {
        statement_.reset();
    } catch (...) { // NOLINT(bugprone-empty-catch): a reset that fails leaves nothing to undo
    }
}

Transaction::Transaction(Connection& connection, Locking locking)
    : connection_(connection), impl_(connection.impl().begin(locking)) {}
Transaction::~Transaction() = default;
void Transaction::commit() { impl_->commit(); }

ReadSnapshot::ReadSnapshot(Connection& connection) : connection_(connection) {
    if (connection_.in_transaction()) return;
    connection_.impl().begin_read();
    began_ = true;
}

ReadSnapshot::~ReadSnapshot() {
    if (began_) connection_.impl().end_read();
}

} // namespace keyholder::store
