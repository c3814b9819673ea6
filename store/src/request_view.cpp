// The check-out requests view (see request_view.h).
#include "keyholder/store/request_view.h"

#include "sql_support.h"

namespace keyholder::store {

std::string request_view_sql(const RequestViewQuery& q, Backend backend) {
    using Sort = RequestViewQuery::Sort;
    const std::string key = q.sort == Sort::requested_at ? "r.requested_at"
                            : q.sort == Sort::id         ? "r.id"
                            : q.sort == Sort::entry      ? "e.name"
                            : q.sort == Sort::requester  ? "r.requester_name"
                                                         : "r.state";
    const std::string direction = q.descending ? "DESC" : "ASC";
    std::string where;
    auto add = [&](const std::string& condition) { where += (where.empty() ? " WHERE " : " AND ") + condition; };
    // Parameters by name, so that a condition left out leaves no hole.
    if (q.from) add("r.requested_at >= :from");
    if (q.to) add("r.requested_at < :to");
    if (q.entry) add("r.entry_id = (SELECT id FROM entries WHERE name = :entry)");
    if (q.requester_name) add("r.requester_name = :requester_name");
    if (q.requester_sid) add("r.requester_sid = :requester_sid");
    if (q.approver_name) add("r.id IN (SELECT request_id FROM approvals WHERE approver_name = :approver_name)");
    if (q.approver_sid) add("r.id IN (SELECT request_id FROM approvals WHERE approver_sid = :approver_sid)");
    if (q.state) add("r.state = :state");
    if (q.takeback) add("c.state = 'ended' AND c.takeback_state = :takeback");
    if (q.after) add("(" + key + ", r.id) " + (q.descending ? "<" : ">") + " (:after_key, :after_id)");
    return "SELECT r.id, e.name, r.requester_name, r.requester_display, r.requester_sid, r.reason, r.ticket,"
           " r.requested_at, r.start_at, r.duration_s, r.state, r.decided_at,"
           " " +
           approval_lines(backend, "a.approver_name || '|' || a.decision || '|' || a.decided_at || '|' || a.stage ||"
                                   " '|' || coalesce(CAST(a.granted_s AS TEXT), '')") +
           ","
           " c.starts_at, c.ends_at, c.ended_at, c.end_reason, c.retrievals,"
           " CASE WHEN c.id IS NULL THEN NULL WHEN c.state != 'ended' THEN 'not due' ELSE c.takeback_state END,"
           " c.id, c.takeback_attempts, c.takeback_error"
           " FROM requests r JOIN entries e ON e.id = r.entry_id LEFT JOIN checkouts c ON c.request_id = r.id" +
           where + " ORDER BY " + key + " " + direction + ", r.id " + direction + " LIMIT :limit";
}

std::vector<RequestViewRow> query_request_view(Connection& db, const RequestViewQuery& q) {
    auto statement = db.cached(request_view_sql(q, db.backend()));
    Statement& s = *statement;
    auto bind = [&](const char* name, const auto& value) {
        const int index = s.parameter_index(name);
        if (index > 0) s.bind(index, value);
    };
    if (q.from) bind(":from", *q.from);
    if (q.to) bind(":to", *q.to);
    if (q.entry) bind(":entry", *q.entry);
    if (q.requester_name) bind(":requester_name", *q.requester_name);
    if (q.requester_sid) bind(":requester_sid", *q.requester_sid);
    if (q.approver_name) bind(":approver_name", *q.approver_name);
    if (q.approver_sid) bind(":approver_sid", *q.approver_sid);
    if (q.state) bind(":state", *q.state);
    if (q.takeback) bind(":takeback", *q.takeback);
    if (q.after) {
        std::visit([&](const auto& key) { bind(":after_key", key); }, q.after->first);
        bind(":after_id", q.after->second);
    }
    bind(":limit", static_cast<int64_t>(q.limit));
    std::vector<RequestViewRow> rows;
    while (s.step()) {
        RequestViewRow r;
        r.request_id = s.column_int64(0);
        r.entry = s.column_text(1);
        r.requester = s.column_text(2);
        r.requester_display_name = s.column_text(3);
        r.requester_sid = s.column_text(4);
        r.reason = s.column_text(5);
        r.ticket = s.column_optional_text(6);
        r.requested_at = s.column_int64(7);
        r.requested_start = s.column_optional_int64(8);
        r.duration_s = s.column_int64(9);
        r.state = s.column_text(10);
        r.decided_at = s.column_optional_int64(11);
        r.decisions = s.column_optional_text(12).value_or("");
        r.window_start = s.column_optional_int64(13);
        r.window_end = s.column_optional_int64(14);
        r.actual_end = s.column_optional_int64(15);
        r.end_reason = s.column_optional_text(16);
        r.credential_retrievals = s.column_optional_int64(17);
        r.takeback = s.column_optional_text(18);
        r.checkout_id = s.column_optional_int64(19);
        r.takeback_attempts = s.column_optional_int64(20);
        r.takeback_error = s.column_optional_text(21);
        rows.push_back(std::move(r));
    }
    return rows;
}

} // namespace keyholder::store
