// Cron expression parsing: fields, lists, ranges, steps, names, the day rule.
#include <gtest/gtest.h>

#include "keyholder/schedule/cron.h"

namespace {

using keyholder::schedule::CronExpression;

TEST(CronParse, PlainFields) {
    auto cron = CronExpression::parse("0 6 * * mon");
    ASSERT_TRUE(cron) << cron.error();
    EXPECT_TRUE(cron->minute(0));
    EXPECT_FALSE(cron->minute(1));
    EXPECT_TRUE(cron->hour(6));
    EXPECT_FALSE(cron->hour(7));
    EXPECT_TRUE(cron->day_matches(17, 1));  // any day of month, a Monday
    EXPECT_FALSE(cron->day_matches(17, 2)); // a Tuesday
}

TEST(CronParse, ListsRangesAndSteps) {
    auto cron = CronExpression::parse("*/15 9-17/2 1,15 jan-mar,dec *");
    ASSERT_TRUE(cron) << cron.error();
    for (int m : {0, 15, 30, 45})
        EXPECT_TRUE(cron->minute(m));
    EXPECT_FALSE(cron->minute(5));
    for (int h : {9, 11, 13, 15, 17})
        EXPECT_TRUE(cron->hour(h));
    EXPECT_FALSE(cron->hour(10));
    EXPECT_TRUE(cron->month(2));
    EXPECT_FALSE(cron->month(4));
    EXPECT_TRUE(cron->month(12));
    EXPECT_TRUE(cron->day_matches(15, 3));
    EXPECT_FALSE(cron->day_matches(16, 3));
}

TEST(CronParse, SundayIsZeroOrSeven) {
    auto a = CronExpression::parse("0 0 * * 7");
    auto b = CronExpression::parse("0 0 * * sun");
    ASSERT_TRUE(a && b);
    EXPECT_TRUE(a->day_matches(1, 0));
    EXPECT_TRUE(b->day_matches(1, 0));
}

TEST(CronParse, BothDayFieldsRestrictedMeansEither) {
    auto cron = CronExpression::parse("0 0 13 * fri"); // the 13th, or any Friday (crontab(5))
    ASSERT_TRUE(cron);
    EXPECT_TRUE(cron->day_matches(13, 2));
    EXPECT_TRUE(cron->day_matches(20, 5));
    EXPECT_FALSE(cron->day_matches(20, 4));
}

TEST(CronParse, Shortcuts) {
    auto weekly = CronExpression::parse("@weekly");
    ASSERT_TRUE(weekly);
    EXPECT_TRUE(weekly->day_matches(5, 0));
    EXPECT_FALSE(weekly->day_matches(5, 1));
}

TEST(CronParse, RefusesBadExpressionsNamingTheField) {
    struct Case {
        const char* text;
        const char* fragment;
    };
    for (auto [text, fragment] :
         {Case{"0 6 * *", "5 fields"}, Case{"60 * * * *", "minute value 60"}, Case{"* 24 * * *", "hour value 24"},
          Case{"* * 0 * *", "day-of-month value 0"}, Case{"* * * 13 *", "month value 13"},
          Case{"* * * * 8", "day-of-week value 8"}, Case{"5-1 * * * *", "backwards"}, Case{"*/0 * * * *", "bad step"},
          Case{"a * * * *", "minute field"}, Case{"1,,2 * * * *", "empty list item"},
          Case{"@sometimes", "unknown cron shortcut"}, Case{"* * * foo *", "month field"}}) {
        auto cron = CronExpression::parse(text);
        ASSERT_FALSE(cron) << text;
        EXPECT_NE(cron.error().find(fragment), std::string::npos) << text << " -> " << cron.error();
    }
}

} // namespace
