#include "keyholder/schedule/calendar.h"

#include "keyholder/platform/time.h"

#include <ctime>
#include <regex>
#include <tuple>

namespace keyholder::schedule {
namespace {

std::tm breakdown(int64_t t, Zone zone) {
    const std::time_t time = static_cast<std::time_t>(t);
    return zone == Zone::utc ? platform::utc_time(time) : platform::local_time(time);
}

// to_time: a wall-clock time in the zone (normalised: day 32 is next month) -> UTC seconds.
int64_t to_time(std::tm parts, Zone zone) {
    parts.tm_isdst = -1;
    return zone == Zone::utc ? static_cast<int64_t>(platform::from_utc_time(parts))
                             : static_cast<int64_t>(platform::from_local_time(parts));
}

std::tuple<int, int, int, int, int> wall(const std::tm& t) {
    return {t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min};
}

int64_t start_of_next_day(const std::tm& now, Zone zone) {
    std::tm next = now;
    next.tm_mday += 1;
    next.tm_hour = next.tm_min = next.tm_sec = 0;
    return to_time(next, zone);
}

} // namespace

std::optional<int64_t> next_run(const CronExpression& cron, int64_t after, Zone zone) {
    const auto after_wall = wall(breakdown(after, zone));
    int64_t t = after - (after % 60 + 60) % 60 + 60; // the next whole minute
    const int64_t limit = after + 5LL * 366 * 86400; // "30 2 31 2 *" never matches: give up
    while (t <= limit) {
        const std::tm now = breakdown(t, zone);
        if (!cron.month(now.tm_mon + 1)) {
            std::tm first = now;
            first.tm_mon += 1;
            first.tm_mday = 1;
            first.tm_hour = first.tm_min = first.tm_sec = 0;
            t = std::max(t + 60, to_time(first, zone));
            continue;
        }
        if (!cron.day_matches(now.tm_mday, now.tm_wday)) {
            t = std::max(t + 60, start_of_next_day(now, zone));
            continue;
        }
        if (!cron.hour(now.tm_hour)) {
            t += 60LL * (60 - now.tm_min);
            continue;
        }
        if (!cron.minute(now.tm_min) || wall(now) <= after_wall) {
            t += 60;
            continue;
        }
        return t;
    }
    return std::nullopt;
}

std::expected<std::pair<int64_t, int64_t>, std::string> report_window(const std::string& window, int64_t due,
                                                                      Zone zone) {
    static const std::regex last(R"(last ((?:[0-9]+[smhd])+))");
    static const std::regex unit(R"(([0-9]+)([smhd]))");
    std::smatch m;
    if (std::regex_match(window, m, last)) {
        const std::string spec = m[1].str();
        int64_t seconds = 0;
        for (auto it = std::sregex_iterator(spec.begin(), spec.end(), unit); it != std::sregex_iterator(); ++it) {
            const int64_t n = std::stoll((*it)[1].str());
            const char u = (*it)[2].str()[0];
            seconds += n * (u == 's' ? 1 : u == 'm' ? 60 : u == 'h' ? 3600 : 86400);
        }
        return std::pair{due - seconds, due};
    }
    std::tm day = breakdown(due, zone);
    day.tm_hour = day.tm_min = day.tm_sec = 0;
    if (window == "previous day") {
        std::tm from = day;
        from.tm_mday -= 1;
        return std::pair{to_time(from, zone), to_time(day, zone)};
    }
    if (window == "previous week") {
        std::tm monday = day;
        monday.tm_mday -= (day.tm_wday + 6) % 7; // back to this week's Monday
        std::tm from = monday;
        from.tm_mday -= 7;
        return std::pair{to_time(from, zone), to_time(monday, zone)};
    }
    if (window == "previous month") {
        std::tm first = day;
        first.tm_mday = 1;
        std::tm from = first;
        from.tm_mon -= 1;
        return std::pair{to_time(from, zone), to_time(first, zone)};
    }
    return std::unexpected("unknown window '" + window + "' (last 7d, previous day, previous week, previous month)");
}

} // namespace keyholder::schedule
