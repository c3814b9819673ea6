// Calendar arithmetic for scheduled reports, in UTC or in the host's local time zone
// (TZ / /etc/localtime), daylight-saving changes included.
//
// next_run: the first whole minute after `after` whose wall-clock time in the zone
// matches the cron expression and is later, on the wall clock, than `after` itself.
// So a time that does not exist on the day clocks spring forward is skipped that day,
// and one that occurs twice when clocks fall back runs once (the first time).
//
// report_window: the period a run due at `due` covers: "last 7d" (and any duration)
// is [due - 7d, due); "previous day|week|month" is the calendar day, ISO week (Monday
// to Monday) or month before the one `due` falls in, in the zone.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <utility>

#include "keyholder/schedule/cron.h"

namespace keyholder::schedule {

enum class Zone { utc, local };

std::optional<int64_t> next_run(const CronExpression& cron, int64_t after, Zone zone);

/// report_window: [from, to) in UTC seconds, or a message for an unknown window.
std::expected<std::pair<int64_t, int64_t>, std::string> report_window(const std::string& window, int64_t due,
                                                                      Zone zone);

} // namespace keyholder::schedule
