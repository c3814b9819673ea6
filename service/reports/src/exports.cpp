#include "keyholder/reports/exports.h"

#include <Poco/JSON/Object.h>
#include <Poco/Logger.h>
#include <Poco/UUIDGenerator.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "keyholder/platform/files.h"
#include "keyholder/platform/time.h"
#include "keyholder/reports/report_writer.h"
#include "keyholder/schedule/backoff.h"
#include "keyholder/store/records.h"
#include "keyholder/store/reports.h"

namespace keyholder::reports {
namespace {

// ensure_output_folder: a missing folder is made, private (the exports name people
// and accounts); one that cannot be made fails the run with the reason.
void ensure_output_folder(const std::filesystem::path& folder) {
    try {
        platform::create_private_folder(folder);
    } catch (const std::runtime_error& e) {
        throw std::runtime_error(std::string("cannot create the output folder: ") + e.what());
    }
}

/// kExportMode: exports (and their sidecars) are for the service and its group (auditors).
constexpr auto kExportMode =
    std::filesystem::perms::owner_read | std::filesystem::perms::owner_write | std::filesystem::perms::group_read;

Poco::Logger& log() { return Poco::Logger::get("keyholder.reports"); }

/// kBusyRetrySeconds: how soon a run another runner holds is asked for again.
constexpr int64_t kBusyRetrySeconds = 60;

std::string stamp(int64_t t, schedule::Zone zone) {
    const std::time_t time = static_cast<std::time_t>(t);
    const std::tm parts = zone == schedule::Zone::utc ? platform::utc_time(time) : platform::local_time(time);
    char text[32];
    std::strftime(text, sizeof text, "%Y%m%d-%H%M", &parts);
    return text;
}

} // namespace

ExportScheduler::ExportScheduler(const config::Config& config, store::Connection& store, const core::Clock& clock,
                                 std::function<void(const ExportRun&)> on_result)
    : config_(config), store_(store), clock_(clock), on_result_(std::move(on_result)) {
    const int64_t now = clock_.now();
    for (const auto& [name, s] : config_.report_schedules) {
        auto cron = schedule::CronExpression::parse(s.schedule);
        if (!cron) continue; // the configuration check refused it already
        State state{*cron, s.timezone == "local" ? schedule::Zone::local : schedule::Zone::utc, 0, 0, 0};
        // Owed: the next cron time after the last successful run (or after keyholder's
        // first start). If several passed while the service was down, only the latest runs.
        const auto since =
            store::last_succeeded_due(store_, name).value_or(store::first_service_start(store_).value_or(now));
        auto due = schedule::next_run(state.cron, since, state.zone);
        for (int i = 0; due && *due <= now && i < 100000; ++i) {
            auto later = schedule::next_run(state.cron, *due, state.zone);
            if (!later || *later > now) break;
            due = later;
        }
        if (!due) continue;
        state.due = state.attempt_at = *due;
        states_.emplace(name, std::move(state));
    }
}

std::optional<int64_t> ExportScheduler::next_due() const {
    std::optional<int64_t> earliest;
    for (const auto& [name, state] : states_)
        if (!earliest || state.attempt_at < *earliest) earliest = state.attempt_at;
    return earliest;
}

std::optional<int64_t> ExportScheduler::run_due() {
    const int64_t now = clock_.now();
    for (auto& [name, state] : states_) {
        if (state.attempt_at > now) continue;
        const auto& schedule = config_.report_schedules.at(name);
        ExportRun result = run(schedule, state);
        if (on_result_ && !result.skipped) on_result_(result);
        if (result.busy) {
            state.attempt_at = now + kBusyRetrySeconds;
            continue;
        }
        const auto following = schedule::next_run(state.cron, std::max(state.due, now - 60), state.zone);
        if (result.ok) {
            state.attempts = 0;
            state.due = following.value_or(INT64_MAX);
            state.attempt_at = state.due;
            continue;
        }
        // Retry the same run with backoff, unless the next one comes first (it covers later data).
        ++state.attempts;
        state.attempt_at = now + schedule::backoff(state.attempts, std::chrono::minutes(1), std::chrono::hours(1));
        if (following && *following <= state.attempt_at) {
            state.due = *following;
            state.attempt_at = *following;
            state.attempts = 0;
        }
    }
    return next_due();
}

ExportRun ExportScheduler::run(const config::ReportSchedule& schedule, State& state) {
    ExportRun result;
    result.schedule = schedule.name;
    result.due_at = state.due;
    const int64_t started = clock_.now();
    auto window = schedule::report_window(schedule.window, state.due, state.zone);
    if (!window) {
        result.error = window.error();
        return result;
    }
    int64_t run_id = 0;
    {
        store::Transaction tx(store_);
        run_id = store::begin_report_run(tx, schedule.name, schedule.report, window->first, window->second, state.due,
                                         started, state.attempts + 1);
        tx.commit();
    }
    if (run_id == store::kReportRunDone) {
        // Exported already by another node, or before a change of leader.
        result.ok = true;
        result.skipped = true;
        log().information("report %s (due %s): exported by another run; not again", schedule.name,
                          format_time(state.due, false));
        return result;
    }
    if (run_id == store::kReportRunBusy) {
        // Another runner has it now; asked again later (it may die before it finishes).
        result.skipped = true;
        result.busy = true;
        result.error = "being exported by another runner";
        return result;
    }
    const std::filesystem::path file =
        schedule.output_dir / (schedule.name + "-" + stamp(state.due, state.zone) + ".csv");
    bool csv_in_place = false;
    try {
        ensure_output_folder(schedule.output_dir);
        store::ReportFilter filter;
        filter.from = window->first;
        filter.to = window->second;
        CsvOptions options;
        options.local_time = state.zone == schedule::Zone::local;
        options.bom = config_.reports.bom;
        platform::write_file_atomically(
            file, [&](std::ostream& out) { result.rows = write_report(store_, schedule.report, filter, out, options); },
            kExportMode);
        csv_in_place = true;
        const std::string sha = platform::file_sha256(file);
        platform::write_file_atomically(std::filesystem::path(file.string() + ".sha256"),
                                        sha + "  " + file.filename().string() + "\n", kExportMode);
        store::Transaction tx(store_);
        store::finish_report_run(tx, run_id, clock_.now(), result.rows, file.string(), sha);
        // mail_to: a notice with the file attached, sent by the outbox worker like every mail.
        for (const auto& address : schedule.mail_to) {
            Poco::JSON::Object payload;
            payload.set("recipient_display", address);
            payload.set("schedule", schedule.name);
            payload.set("report", schedule.report);
            payload.set("rows", result.rows);
            payload.set("sha256", sha);
            payload.set("attachment", file.string());
            payload.set("window", format_time(window->first, options.local_time) + " to " +
                                      format_time(window->second, options.local_time));
            std::ostringstream text;
            payload.stringify(text);
            store::enqueue_notification(tx, {clock_.now(), "report_ready", address, std::nullopt, text.str(),
                                             "<report_ready." + schedule.name + "." +
                                                 Poco::UUIDGenerator::defaultGenerator().createRandom().toString() +
                                                 "@keyholder>"});
        }
        tx.commit();
        result.ok = true;
        result.file = file.string();
        log().information("report %s: %s rows to %s (sha256 %s)", schedule.name, std::to_string(result.rows),
                          file.string(), sha);
    } catch (const std::exception& e) {
        result.error = e.what();
        std::error_code ignored;
        if (csv_in_place) std::filesystem::remove(file, ignored); // a CSV without its sidecar is not finished
        store::Transaction tx(store_);
        store::fail_report_run(tx, run_id, clock_.now(), result.error);
        tx.commit();
        log().error("report %s (due %s) failed, will retry: %s", schedule.name, format_time(state.due, false),
                    result.error);
    }
    return result;
}

} // namespace keyholder::reports
