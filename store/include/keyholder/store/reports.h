// Report queries: the rows of the compliance reports, read straight off a prepared
// statement one at a time (constant memory whatever the size). Values come back as
// text or NULL; times are UTC seconds for the caller to format.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "keyholder/store/connection.h"

namespace keyholder::store {

struct ReportFilter {
    std::optional<int64_t> from; ///< inclusive, UTC seconds (requested_at / decided_at / at)
    std::optional<int64_t> to;   ///< exclusive
    std::optional<std::string> entry;
    std::optional<std::string> requester; ///< sAMAccountName or SID
    std::optional<std::string> state;
    std::optional<std::string> approver; ///< decided on it: sAMAccountName or SID (not for audit)
};

enum class ColumnKind { text, number, time, decisions };

struct ReportColumn {
    std::string name;
    ColumnKind kind = ColumnKind::text;
};

/// report_names: checkout-requests, active-checkouts, approvals, audit.
const std::vector<std::string>& report_names();
/// report_columns: the columns of a report; empty for an unknown name.
const std::vector<ReportColumn>& report_columns(const std::string& report);

/// report_sql: the query behind a report (parameters ?1 from, ?2 to, ?3 entry,
/// ?4 requester, ?5 state, ?6 approver; NULL disables each) — for benchmarks and reviews.
const std::string& report_sql(const std::string& report, Backend backend = Backend::sqlite);

/// ReportRow: the row's values, valid only during the callback (no copies).
using ReportRow = std::vector<std::optional<std::string_view>>;
/// stream_report: calls `row` for every row in order; returns the row count.
/// `decisions` cells hold one "name|decision|time|stage" line per decision.
int64_t stream_report(Connection& db, const std::string& report, const ReportFilter& filter,
                      const std::function<void(const ReportRow&)>& row);

/// kReportRunLeaseSeconds: how long a running scheduled run is its runner's; after
/// that (the runner died) another may run it.
inline constexpr int64_t kReportRunLeaseSeconds = 1800;

/// Report runs: one row per scheduled (or on-demand) export attempt. A scheduled run
/// (schedule and due_at given) is claimed: kReportRunDone when it succeeded already,
/// kReportRunBusy when another runner has it (running, started within
/// kReportRunLeaseSeconds: ask again later), so that a due time is exported once
/// across a change of leader; else the new run's id.
inline constexpr int64_t kReportRunDone = 0;
inline constexpr int64_t kReportRunBusy = -1;
int64_t begin_report_run(Transaction& tx, const std::optional<std::string>& schedule, const std::string& report,
                         int64_t window_from, int64_t window_to, std::optional<int64_t> due_at, int64_t started_at,
                         int attempt);
void finish_report_run(Transaction& tx, int64_t id, int64_t finished_at, int64_t rows, const std::string& file,
                       const std::string& sha256);
void fail_report_run(Transaction& tx, int64_t id, int64_t finished_at, const std::string& error);
/// last_succeeded_due: the due time of the schedule's newest successful run.
std::optional<int64_t> last_succeeded_due(Connection& db, const std::string& schedule);
/// first_service_start: when keyholder first started on this store (audit trail).
std::optional<int64_t> first_service_start(Connection& db);

} // namespace keyholder::store
