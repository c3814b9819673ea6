// copy_store (see copy.h).
#include "keyholder/store/copy.h"

#include <string_view>
#include <vector>

#include "keyholder/store/audit.h"
#include "keyholder/store/error.h"
#include "keyholder/store/migrations.h"

namespace keyholder::store {
namespace {

struct Column {
    std::string_view name;
    ValueType type;
};
struct Table {
    std::string_view name;
    std::vector<Column> columns;
    bool identity; ///< an id column PostgreSQL numbers itself
};

constexpr ValueType I = ValueType::integer;
constexpr ValueType T = ValueType::text;
constexpr ValueType B = ValueType::blob;

// Every table of the newest schemas (SQLite 12, PostgreSQL 2), parents first. A
// request's extends_checkout_id points at a check-out, which points at a request:
// it is filled in after the check-outs (see copy_store).
const std::vector<Table>& tables() {
    static const std::vector<Table> all{
        {"policies", {{"id", I}, {"name", T}, {"definition", T}, {"updated_at", I}}, true},
        {"entries",
         {{"id", I},
          {"name", T},
          {"display_name", T},
          {"policy_id", I},
          {"kinds", T},
          {"account", T},
          {"group_name", T},
          {"retired", I},
          {"updated_at", I}},
         true},
        {"requests",
         {{"id", I},
          {"entry_id", I},
          {"requester_sid", T},
          {"requester_name", T},
          {"requester_display", T},
          {"reason", T},
          {"ticket", T},
          {"requested_at", I},
          {"start_at", I},
          {"duration_s", I},
          {"state", T},
          {"stage", I},
          {"deadline_at", I},
          {"decided_at", I}},
         true},
        {"checkouts",
         {{"id", I},
          {"request_id", I},
          {"entry_id", I},
          {"holder_sid", T},
          {"holder_name", T},
          {"starts_at", I},
          {"ends_at", I},
          {"state", T},
          {"ended_at", I},
          {"end_reason", T},
          {"takeback_state", T},
          {"takeback_attempts", I},
          {"takeback_next_at", I},
          {"takeback_error", T},
          {"retrievals", I},
          {"release_state", T},
          {"release_attempts", I},
          {"release_next_at", I},
          {"release_error", T},
          {"ending_notice_at", I},
          {"takeback_lease_until", I}},
         true},
        {"approvals",
         {{"id", I},
          {"request_id", I},
          {"stage", I},
          {"approver_sid", T},
          {"approver_name", T},
          {"decision", T},
          {"comment", T},
          {"via", T},
          {"decided_at", I},
          {"granted_s", I}},
         true},
        {"secrets",
         {{"entry_id", I},
          {"key_id", T},
          {"nonce", B},
          {"ciphertext", B},
          {"version", I},
          {"updated_at", I},
          {"updated_by", T},
          {"pending_key_id", T},
          {"pending_nonce", B},
          {"pending_ciphertext", B}},
         false},
        {"audit_events",
         {{"seq", I},
          {"at", I},
          {"actor", T},
          {"action", T},
          {"subject", T},
          {"details", T},
          {"prev_hash", T},
          {"hash", T}},
         false},
        {"outbox",
         {{"id", I},
          {"created_at", I},
          {"kind", T},
          {"recipient", T},
          {"request_id", I},
          {"payload", T},
          {"message_id", T},
          {"state", T},
          {"attempts", I},
          {"next_attempt_at", I},
          {"last_error", T},
          {"sent_at", I},
          {"claimed_until", I}},
         true},
        {"link_tokens", {{"nonce", T}, {"request_id", I}, {"approver_sid", T}, {"used_at", I}}, false},
        {"report_runs",
         {{"id", I},
          {"schedule", T},
          {"report", T},
          {"window_from", I},
          {"window_to", I},
          {"due_at", I},
          {"started_at", I},
          {"finished_at", I},
          {"state", T},
          {"rows", I},
          {"file", T},
          {"sha256", T},
          {"error", T},
          {"attempt", I}},
         true},
        {"portal_sessions",
         {{"id_hash", T},
          {"user_id", T},
          {"user_name", T},
          {"display_name", T},
          {"method", T},
          {"csrf_token", T},
          {"created_at", I},
          {"last_seen_at", I},
          {"expires_at", I}},
         false},
    };
    return all;
}

int64_t count_rows(Connection& db, std::string_view table) {
    auto count = db.prepare("SELECT count(*) FROM " + std::string(table));
    count.step();
    return count.column_int64(0);
}

void copy_value(const Statement& from, int column, ValueType type, Statement& to, int index) {
    if (from.is_null(column)) {
        to.bind_null(index, type);
    } else if (type == ValueType::integer) {
        to.bind(index, from.column_int64(column));
    } else if (type == ValueType::blob) {
        const auto bytes = from.column_blob(column);
        to.bind_blob(index, bytes);
    } else {
        to.bind(index, *from.column_view(column));
    }
}

} // namespace

CopySummary copy_store(Connection& from, Connection& to) {
    migrate(from);
    migrate(to);
    if (from.backend() == to.backend() && from.location().describe() == to.location().describe())
        throw StoreError(0, "the source and the target are the same store");
    for (const Table& table : tables())
        if (count_rows(to, table.name) != 0)
            throw StoreError(0, to.location().describe() + " is not empty (" + std::string(table.name) +
                                    " has rows): a copy goes into a new store only");
    CopySummary summary;
    ReadSnapshot snapshot(from); // one state of the source, while its service may go on
    Transaction tx(to);
    for (const Table& table : tables()) {
        std::string names;
        std::string marks;
        for (const Column& column : table.columns) {
            names += (names.empty() ? "" : ", ") + std::string(column.name);
            marks += marks.empty() ? "?" : ", ?";
        }
        Statement read = from.prepare("SELECT " + names + " FROM " + std::string(table.name));
        Statement write =
            to.prepare("INSERT INTO " + std::string(table.name) + "(" + names + ") VALUES (" + marks + ")");
        int64_t rows = 0;
        while (read.step()) {
            write.reset();
            for (size_t i = 0; i < table.columns.size(); ++i)
                copy_value(read, static_cast<int>(i), table.columns[i].type, write, static_cast<int>(i) + 1);
            write.run();
            ++rows;
        }
        summary.rows[std::string(table.name)] = rows;
        if (table.name == "checkouts") {
            // Now that the check-outs are there: which check-out each extension extends.
            Statement extensions =
                from.prepare("SELECT id, extends_checkout_id FROM requests WHERE extends_checkout_id IS NOT NULL");
            Statement link = to.prepare("UPDATE requests SET extends_checkout_id = ? WHERE id = ?");
            while (extensions.step()) {
                link.reset();
                link.bind(1, extensions.column_int64(1)).bind(2, extensions.column_int64(0)).run();
            }
        }
        if (table.identity && to.backend() == Backend::postgresql) {
            // New rows go on after the copied ids.
            to.prepare("SELECT setval(pg_get_serial_sequence('" + std::string(table.name) +
                       "', 'id'), coalesce(max(id), 0) + 1, false) FROM " + std::string(table.name))
                .run();
        }
    }
    for (const Table& table : tables()) {
        const int64_t copied = count_rows(to, table.name);
        if (copied != summary.rows[std::string(table.name)] || copied != count_rows(from, table.name))
            throw StoreError(0, "the copy of " + std::string(table.name) + " has " + std::to_string(copied) +
                                    " rows, the source " + std::to_string(count_rows(from, table.name)));
    }
    const AuditVerification source_chain = verify_audit_chain(from);
    const AuditVerification target_chain = verify_audit_chain(to);
    if (!target_chain.ok()) throw StoreError(0, "the copy's audit chain does not verify: " + target_chain.message);
    if (target_chain.head_hash != source_chain.head_hash || target_chain.events != source_chain.events)
        throw StoreError(0, "the copy's audit chain ends at " + target_chain.head_hash + ", the source's at " +
                                source_chain.head_hash);
    tx.commit();
    summary.events = target_chain.events;
    summary.head_hash = target_chain.head_hash;
    return summary;
}

} // namespace keyholder::store
