// Scheduled exports ([report.NAME] sections): each runs at its cron times (UTC or the
// host's local zone) over its window, into its output folder. A file is written under
// a temporary name, fsynced and renamed, with a SHA-256 sidecar (sha256sum format)
// written the same way, and every attempt is a row in report_runs. A run missed while
// the service was down runs once at start (the latest missed time only). A failed run
// (folder missing, disk full, permission) leaves no partial file, is logged, reported
// to `on_result` (metrics) and retried after 1 min, doubling up to 1 h, until it
// succeeds or the next run is due.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "keyholder/config/config.h"
#include "keyholder/core/clock.h"
#include "keyholder/schedule/calendar.h"
#include "keyholder/store/connection.h"

namespace keyholder::reports {

struct ExportRun {
    std::string schedule;
    int64_t due_at = 0;
    bool ok = false;
    bool skipped = false; ///< done by another run (ok), or another runner has it now (busy)
    bool busy = false;    ///< another runner has it now: asked again a minute later
    int64_t rows = 0;
    std::string file;  ///< when ok
    std::string error; ///< when not
};

class ExportScheduler {
public:
    ExportScheduler(const config::Config& config, store::Connection& store, const core::Clock& clock,
                    std::function<void(const ExportRun&)> on_result = {});
    /// run_due: runs every export whose time has come; returns when to call again.
    std::optional<int64_t> run_due();
    /// next_due: the earliest pending due time (tests).
    [[nodiscard]] std::optional<int64_t> next_due() const;

private:
    struct State {
        schedule::CronExpression cron;
        schedule::Zone zone;
        int64_t due = 0;        ///< the cron time of the run owed next
        int64_t attempt_at = 0; ///< when to try (later than due after failures)
        int attempts = 0;
    };
    ExportRun run(const config::ReportSchedule& schedule, State& state);
    const config::Config& config_;
    store::Connection& store_;
    const core::Clock& clock_;
    std::function<void(const ExportRun&)> on_result_;
    std::map<std::string, State> states_;
};

} // namespace keyholder::reports
