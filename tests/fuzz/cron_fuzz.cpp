// CronExpression::parse: no crash on any text; an accepted expression keeps its text,
// parses again to the same rule, and answers for every minute, hour, day and month.
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "keyholder/schedule/cron.h"

using keyholder::schedule::CronExpression;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto parsed = CronExpression::parse(keyholder::fuzz::as_text(data, size));
    if (!parsed) {
        FUZZ_CHECK(!parsed.error().empty());
        return 0;
    }
    const auto again = CronExpression::parse(parsed->text());
    FUZZ_CHECK(again.has_value());
    bool any_minute = false, any_hour = false, any_month = false, any_day = false;
    for (int m = 0; m < 60; ++m) {
        FUZZ_CHECK(parsed->minute(m) == again->minute(m));
        any_minute |= parsed->minute(m);
    }
    for (int h = 0; h < 24; ++h) {
        FUZZ_CHECK(parsed->hour(h) == again->hour(h));
        any_hour |= parsed->hour(h);
    }
    for (int month = 1; month <= 12; ++month)
        any_month |= parsed->month(month);
    for (int day = 1; day <= 31; ++day)
        for (int weekday = 0; weekday < 7; ++weekday) {
            FUZZ_CHECK(parsed->day_matches(day, weekday) == again->day_matches(day, weekday));
            any_day |= parsed->day_matches(day, weekday);
        }
    // An accepted rule can fire: every field matches something.
    FUZZ_CHECK(any_minute && any_hour && any_month && any_day);
    return 0;
}
