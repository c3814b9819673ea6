// Report queries (see reports.h).
#include "keyholder/store/reports.h"

#include "sql_support.h"

#include <map>

namespace keyholder::store {
namespace {

struct ReportSql {
    std::vector<ReportColumn> columns;
    std::string sql; // parameters: ?1 from, ?2 to, ?3 entry, ?4 requester, ?5 state, ?6 approver
};

std::map<std::string, ReportSql> make_reports(Backend backend) {
    using K = ColumnKind;
    return {
        {"checkout-requests",
         {{{"request_id", K::number},
           {"entry"},
           {"requester"},
           {"requester_display_name"},
           {"requester_sid"},
           {"reason"},
           {"ticket"},
           {"requested_at", K::time},
           {"requested_start", K::time},
           {"duration_seconds", K::number},
           {"state"},
           {"decided_at", K::time},
           {"decisions", K::decisions},
           {"window_start", K::time},
           {"window_end", K::time},
           {"actual_end", K::time},
           {"checked_in_at", K::time},
           {"end_reason"},
           {"credential_retrievals", K::number},
           {"takeback"}},
          "SELECT r.id, e.name, r.requester_name, r.requester_display, r.requester_sid, r.reason, r.ticket,"
          " r.requested_at, r.start_at, r.duration_s, r.state, r.decided_at,"
          " " +
              approval_lines(backend, "a.approver_name || '|' || a.decision || '|' || a.decided_at || '|' || a.stage") +
              ","
              " c.starts_at, c.ends_at, c.ended_at, CASE WHEN c.end_reason = 'checked_in' THEN c.ended_at END,"
              " c.end_reason,"
              " c.retrievals, CASE WHEN c.id IS NULL THEN NULL WHEN c.state != 'ended' THEN 'not due'"
              "   ELSE c.takeback_state END"
              " FROM requests r JOIN entries e ON e.id = r.entry_id LEFT JOIN checkouts c ON c.request_id = r.id"
              " WHERE (?1 IS NULL OR r.requested_at >= ?1) AND (?2 IS NULL OR r.requested_at < ?2)"
              " AND (?3 IS NULL OR e.name = ?3) AND (?4 IS NULL OR r.requester_name = ?4 OR r.requester_sid = ?4)"
              " AND (?5 IS NULL OR r.state = ?5) AND (?6 IS NULL OR r.id IN (SELECT request_id FROM approvals"
              "   WHERE approver_name = ?6 OR approver_sid = ?6)) ORDER BY r.id"}},
        {"active-checkouts",
         {{{"checkout_id", K::number},
           {"request_id", K::number},
           {"entry"},
           {"holder"},
           {"holder_sid"},
           {"state"},
           {"starts_at", K::time},
           {"ends_at", K::time},
           {"release"},
           {"credential_retrievals", K::number}},
          "SELECT c.id, c.request_id, e.name, c.holder_name, c.holder_sid, c.state, c.starts_at, c.ends_at,"
          " c.release_state, c.retrievals"
          " FROM checkouts c JOIN entries e ON e.id = c.entry_id"
          " WHERE c.state IN ('active', 'scheduled') AND (?1 IS NULL OR c.ends_at >= ?1)"
          " AND (?2 IS NULL OR c.starts_at < ?2) AND (?3 IS NULL OR e.name = ?3)"
          " AND (?4 IS NULL OR c.holder_name = ?4 OR c.holder_sid = ?4) AND (?5 IS NULL OR c.state = ?5)"
          " AND (?6 IS NULL OR c.request_id IN (SELECT request_id FROM approvals"
          "   WHERE approver_name = ?6 OR approver_sid = ?6)) ORDER BY c.ends_at, c.id"}},
        {"approvals",
         {{{"request_id", K::number},
           {"entry"},
           {"requester"},
           {"stage", K::number},
           {"approver"},
           {"approver_sid"},
           {"decision"},
           {"granted_seconds", K::number},
           {"comment"},
           {"via"},
           {"decided_at", K::time}},
          "SELECT a.request_id, e.name, r.requester_name, a.stage, a.approver_name, a.approver_sid, a.decision,"
          " a.granted_s, a.comment, a.via, a.decided_at"
          " FROM approvals a JOIN requests r ON r.id = a.request_id JOIN entries e ON e.id = r.entry_id"
          " WHERE (?1 IS NULL OR a.decided_at >= ?1) AND (?2 IS NULL OR a.decided_at < ?2)"
          " AND (?3 IS NULL OR e.name = ?3) AND (?4 IS NULL OR r.requester_name = ?4 OR r.requester_sid = ?4)"
          " AND (?5 IS NULL OR r.state = ?5) AND (?6 IS NULL OR a.approver_name = ?6 OR a.approver_sid = ?6)"
          " ORDER BY a.decided_at, a.id"}},
        {"audit",
         {{{"seq", K::number},
           {"at", K::time},
           {"actor"},
           {"action"},
           {"subject"},
           {"details"},
           {"prev_hash"},
           {"hash"}},
          "SELECT seq, at, actor, action, subject, details, prev_hash, hash FROM audit_events"
          " WHERE (?1 IS NULL OR at >= ?1) AND (?2 IS NULL OR at < ?2) AND (?3 IS NULL OR ?3 = ?3)"
          " AND (?4 IS NULL OR actor = ?4) AND (?5 IS NULL OR action = ?5) AND (?6 IS NULL OR ?6 = ?6)"
          " ORDER BY seq"}}, // (the API refuses an approver filter for the audit trail)
    };
}

const std::map<std::string, ReportSql>& reports(Backend backend) {
    static const std::map<std::string, ReportSql> sqlite = make_reports(Backend::sqlite);
    static const std::map<std::string, ReportSql> postgresql = make_reports(Backend::postgresql);
    return backend == Backend::postgresql ? postgresql : sqlite;
}

} // namespace

const std::vector<std::string>& report_names() {
    static const std::vector<std::string> names{"checkout-requests", "active-checkouts", "approvals", "audit"};
    return names;
}

const std::vector<ReportColumn>& report_columns(const std::string& report) {
    static const std::vector<ReportColumn> none;
    auto it = reports(Backend::sqlite).find(report);
    return it == reports(Backend::sqlite).end() ? none : it->second.columns;
}

const std::string& report_sql(const std::string& report, Backend backend) {
    static const std::string none;
    auto it = reports(backend).find(report);
    return it == reports(backend).end() ? none : it->second.sql;
}

int64_t stream_report(Connection& db, const std::string& report, const ReportFilter& filter,
                      const std::function<void(const ReportRow&)>& row) {
    auto it = reports(db.backend()).find(report);
    if (it == reports(db.backend()).end()) return 0;
    Statement s = db.prepare(it->second.sql);
    s.bind(1, filter.from).bind(2, filter.to).bind(3, filter.entry).bind(4, filter.requester).bind(5, filter.state);
    s.bind(6, filter.approver);
    const size_t columns = it->second.columns.size();
    ReportRow values(columns);
    int64_t count = 0;
    while (s.step()) {
        for (size_t i = 0; i < columns; ++i)
            values[i] = s.column_view(static_cast<int>(i));
        row(values);
        ++count;
    }
    return count;
}

int64_t begin_report_run(Transaction& tx, const std::optional<std::string>& schedule, const std::string& report,
                         int64_t window_from, int64_t window_to, std::optional<int64_t> due_at, int64_t started_at,
                         int attempt) {
    if (schedule && due_at) {
        // The claim of a scheduled run: none if it succeeded, or another runner (a
        // leader that lost its lock a moment ago) has had it for less than the lease.
        auto taken = tx.connection().cached(
            "SELECT state FROM report_runs WHERE schedule = ? AND due_at = ? AND"
            " (state = 'succeeded' OR (state = 'running' AND started_at > ?)) ORDER BY state DESC LIMIT 1");
        taken->bind(1, *schedule).bind(2, *due_at).bind(3, started_at - kReportRunLeaseSeconds);
        if (taken->step()) return taken->column_text(0) == "succeeded" ? kReportRunDone : kReportRunBusy;
    }
    auto s = tx.connection().cached("INSERT INTO report_runs(schedule, report, window_from, window_to, due_at, "
                                    "started_at, state, attempt) VALUES (?, ?, ?, ?, ?, ?, 'running', ?) RETURNING id");
    s->bind(1, schedule).bind(2, report).bind(3, window_from).bind(4, window_to).bind(5, due_at).bind(6, started_at);
    s->bind(7, attempt);
    return inserted_id(*s);
}

void finish_report_run(Transaction& tx, int64_t id, int64_t finished_at, int64_t rows, const std::string& file,
                       const std::string& sha256) {
    auto s = tx.connection().cached("UPDATE report_runs SET state = 'succeeded', finished_at = ?, rows = ?, file = ?, "
                                    "sha256 = ? WHERE id = ?");
    s->bind(1, finished_at).bind(2, rows).bind(3, file).bind(4, sha256).bind(5, id).run();
}

void fail_report_run(Transaction& tx, int64_t id, int64_t finished_at, const std::string& error) {
    auto s = tx.connection().cached("UPDATE report_runs SET state = 'failed', finished_at = ?, error = ? WHERE id = ?");
    s->bind(1, finished_at).bind(2, error).bind(3, id).run();
}

std::optional<int64_t> last_succeeded_due(Connection& db, const std::string& schedule) {
    auto s = db.cached("SELECT max(due_at) FROM report_runs WHERE schedule = ? AND state = 'succeeded'");
    s->bind(1, schedule);
    s->step();
    return s->column_optional_int64(0);
}

std::optional<int64_t> first_service_start(Connection& db) {
    auto s = db.cached("SELECT min(at) FROM audit_events WHERE action = 'service.started'");
    s->step();
    return s->column_optional_int64(0);
}

} // namespace keyholder::store
