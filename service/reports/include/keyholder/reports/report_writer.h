// write_report: one compliance report as CSV (header row, then the rows streamed off
// the store), timestamps ISO 8601 in UTC ("2026-11-24T09:00:00Z") or in the host's
// local time zone with its offset ("2026-11-24T10:00:00+01:00").
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "keyholder/store/connection.h"
#include "keyholder/store/reports.h"

namespace keyholder::reports {

struct CsvOptions {
    bool local_time = false; ///< false: UTC
    bool bom = false;        ///< UTF-8 byte order mark for Excel
};

/// is_report: a known report name.
bool is_report(const std::string& name);
/// write_report: the report's CSV; returns the number of data rows.
int64_t write_report(store::Connection& db, const std::string& report, const store::ReportFilter& filter,
                     std::ostream& out, const CsvOptions& options = {});
/// format_time: a timestamp as the reports write it.
std::string format_time(int64_t utc_seconds, bool local_time);

} // namespace keyholder::reports
