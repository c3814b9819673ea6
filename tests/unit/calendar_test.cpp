// Cron next-run times and report windows, in UTC and in a local zone across both
// daylight-saving changes: ranges, steps, lists, day-of-week vs day-of-month, month
// ends, the leap day.
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

#include "keyholder/schedule/calendar.h"
#include "support/berlin_time.h"
#include "support/utc.h"

namespace {

using keyholder::testing::utc;

using namespace keyholder::schedule;

int64_t next(const char* cron, int64_t after, Zone zone = Zone::utc) {
    auto parsed = CronExpression::parse(cron);
    EXPECT_TRUE(parsed) << cron;
    return next_run(*parsed, after, zone).value_or(-1);
}

TEST(Calendar, UtcNextRuns) {
    const int64_t mon = utc(2026, 11, 23, 8, 0); // Monday 08:00
    EXPECT_EQ(next("0 6 * * mon", mon), utc(2026, 11, 30, 6, 0));
    EXPECT_EQ(next("0 6 * * mon", utc(2026, 11, 30, 5, 59)), utc(2026, 11, 30, 6, 0));
    EXPECT_EQ(next("0 6 * * mon", utc(2026, 11, 30, 6, 0)), utc(2026, 12, 7, 6, 0)); // strictly after
    EXPECT_EQ(next("*/15 * * * *", utc(2026, 11, 23, 8, 7)), utc(2026, 11, 23, 8, 15));
    EXPECT_EQ(next("0 9-17/4 * * *", utc(2026, 11, 23, 13, 1)), utc(2026, 11, 23, 17, 0));
    EXPECT_EQ(next("0 0 1,15 * *", utc(2026, 11, 2, 0, 0)), utc(2026, 11, 15, 0, 0));
    EXPECT_EQ(next("0 0 31 * *", utc(2026, 11, 1, 0, 0)), utc(2026, 12, 31, 0, 0)); // November has no 31st
    EXPECT_EQ(next("0 0 29 2 *", utc(2026, 3, 1, 0, 0)), utc(2028, 2, 29, 0, 0));   // the next leap day
    // Both day fields restricted: either matches (crontab(5)).
    EXPECT_EQ(next("0 0 13 * fri", utc(2026, 11, 10, 0, 0)), utc(2026, 11, 13, 0, 0)); // the 13th, a Friday anyway
    EXPECT_EQ(next("0 0 1 * fri", utc(2026, 11, 24, 0, 0)), utc(2026, 11, 27, 0, 0));  // Friday before the 1st
    EXPECT_EQ(next("@monthly", utc(2026, 11, 24, 0, 0)), utc(2026, 12, 1, 0, 0));
    EXPECT_EQ(next("0 0 30 2 *", utc(2026, 1, 1, 0, 0)), -1); // never
}

// Debian's cron (Vixie cron, as cronie): day of month and day of week combine with
// AND when either field starts with '*' (even "*/2"), with OR only when neither does.
// The next three runs after Tuesday 2026-12-01 00:00 UTC, by that rule.
TEST(Calendar, DayFieldsCombineAsDebiansCronDoes) {
    struct Case {
        const char* cron;
        int64_t runs[3];
    };
    const int64_t after = utc(2026, 12, 1, 0, 0);
    for (const auto& c : {
             // Mondays that fall on odd days (not: odd days or Mondays).
             Case{"0 0 */2 * mon", {utc(2026, 12, 7, 0, 0), utc(2026, 12, 21, 0, 0), utc(2027, 1, 11, 0, 0)}},
             // Neither starts with '*': the 1st, the 15th or any Monday.
             Case{"0 0 1,15 * mon", {utc(2026, 12, 7, 0, 0), utc(2026, 12, 14, 0, 0), utc(2026, 12, 15, 0, 0)}},
             Case{"30 6 13 * fri", {utc(2026, 12, 4, 6, 30), utc(2026, 12, 11, 6, 30), utc(2026, 12, 13, 6, 30)}},
             // The day of week starts with '*': the first week's Sundays, Tuesdays, Thursdays, Saturdays.
             Case{"0 0 1-7 * */2", {utc(2026, 12, 3, 0, 0), utc(2026, 12, 5, 0, 0), utc(2026, 12, 6, 0, 0)}},
             Case{"0 0 * * mon", {utc(2026, 12, 7, 0, 0), utc(2026, 12, 14, 0, 0), utc(2026, 12, 21, 0, 0)}},
             Case{"0 0 1 * *", {utc(2027, 1, 1, 0, 0), utc(2027, 2, 1, 0, 0), utc(2027, 3, 1, 0, 0)}},
             // The 1st, 11th, 21st and 31st that fall on a weekend.
             Case{"0 12 */10 * sun,sat", {utc(2027, 1, 31, 12, 0), utc(2027, 2, 21, 12, 0), utc(2027, 3, 21, 12, 0)}},
         }) {
        int64_t from = after;
        for (int64_t expected : c.runs) {
            from = next(c.cron, from);
            EXPECT_EQ(from, expected) << c.cron;
        }
    }
}

class LocalZone : public ::testing::Test {
protected:
    void SetUp() override {
        if (!zone_.active()) GTEST_SKIP() << "local time is not Europe/Berlin here (see support/berlin_time.h)";
    }
    keyholder::testing::BerlinTime zone_;
};

TEST_F(LocalZone, DaylightSavingChanges) {
    // Berlin: 2026-03-29 02:00 CET -> 03:00 CEST; 2026-10-25 03:00 CEST -> 02:00 CET.
    EXPECT_EQ(next("0 6 * * *", utc(2026, 3, 28, 12, 0), Zone::local), utc(2026, 3, 29, 4, 0)); // 06:00 CEST
    EXPECT_EQ(next("0 6 * * *", utc(2026, 3, 27, 12, 0), Zone::local), utc(2026, 3, 28, 5, 0)); // 06:00 CET
    // 02:30 does not exist on 29 March: skipped that day, next on the 30th.
    EXPECT_EQ(next("30 2 * * *", utc(2026, 3, 28, 12, 0), Zone::local), utc(2026, 3, 30, 0, 30));
    // 02:30 happens twice on 25 October: it runs once, at the first one (00:30 UTC).
    const int64_t first = next("30 2 * * *", utc(2026, 10, 24, 12, 0), Zone::local);
    EXPECT_EQ(first, utc(2026, 10, 25, 0, 30));
    EXPECT_EQ(next("30 2 * * *", first, Zone::local), utc(2026, 10, 26, 1, 30));
    // Hourly across the fall-back: 02:00 local once, then 03:00 local.
    EXPECT_EQ(next("0 * * * *", utc(2026, 10, 25, 0, 0), Zone::local), utc(2026, 10, 25, 2, 0));
}

TEST_F(LocalZone, ReportWindowsFollowTheLocalCalendar) {
    const int64_t due = utc(2026, 11, 2, 5, 0); // Monday 06:00 CET
    auto day = report_window("previous day", due, Zone::local);
    ASSERT_TRUE(day);
    EXPECT_EQ(day->first, utc(2026, 10, 31, 23, 0));
    EXPECT_EQ(day->second, utc(2026, 11, 1, 23, 0));
    auto week = report_window("previous week", due, Zone::local);
    EXPECT_EQ(week->first, utc(2026, 10, 25, 23, 0)); // Monday 26 Oct 00:00 CET
    EXPECT_EQ(week->second, utc(2026, 11, 1, 23, 0));
    auto month = report_window("previous month", due, Zone::local);
    EXPECT_EQ(month->first, utc(2026, 9, 30, 22, 0));   // 1 Oct 00:00 CEST
    EXPECT_EQ(month->second, utc(2026, 10, 31, 23, 0)); // 1 Nov 00:00 CET: 31 days minus no hour, plus one
}

TEST(Calendar, UtcWindows) {
    const int64_t due = utc(2026, 3, 1, 6, 0);
    auto last = report_window("last 7d", due, Zone::utc);
    EXPECT_EQ(last->first, due - 7 * 86400);
    EXPECT_EQ(report_window("last 1h30m", due, Zone::utc)->first, due - 5400);
    auto month = report_window("previous month", due, Zone::utc);
    EXPECT_EQ(month->first, utc(2026, 2, 1, 0, 0));
    EXPECT_EQ(month->second, utc(2026, 3, 1, 0, 0));
    auto week = report_window("previous week", utc(2026, 11, 24, 6, 0), Zone::utc); // a Tuesday
    EXPECT_EQ(week->first, utc(2026, 11, 16, 0, 0));
    EXPECT_EQ(week->second, utc(2026, 11, 23, 0, 0));
    EXPECT_FALSE(report_window("next week", due, Zone::utc));
}

} // namespace
