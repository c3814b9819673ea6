// Durations: 90s, 15m, 4h, 7d, combinations; anything else is refused with a reason.
#include <gtest/gtest.h>

#include "keyholder/config/duration.h"

namespace {

using keyholder::config::format_duration;
using keyholder::config::parse_duration;
using std::chrono::seconds;

TEST(Duration, AcceptsEveryUnit) {
    EXPECT_EQ(*parse_duration("90s"), seconds(90));
    EXPECT_EQ(*parse_duration("15m"), seconds(900));
    EXPECT_EQ(*parse_duration("4h"), seconds(14400));
    EXPECT_EQ(*parse_duration("7d"), seconds(604800));
    EXPECT_EQ(*parse_duration("1h30m"), seconds(5400));
    EXPECT_EQ(*parse_duration("1d2h3m4s"), seconds(93784));
    EXPECT_EQ(*parse_duration("0s"), seconds(0));
}

TEST(Duration, RefusesBadText) {
    for (const char* bad : {"2x", "", "h", "10", "1.5h", "-1h", " 1h", "1h ", "1 h", "4H", "1h30", "99999999999d",
                            "1h1h", "30m1h", "1s1s", "1d2d"}) {
        auto parsed = parse_duration(bad);
        EXPECT_FALSE(parsed) << "'" << bad << "' was accepted";
        if (!parsed) {
            EXPECT_FALSE(parsed.error().empty());
        }
    }
    EXPECT_NE(parse_duration("2x").error().find("'2x'"), std::string::npos);
}

TEST(Duration, FormatsBackToParsableText) {
    for (int64_t s : {0, 1, 59, 60, 3600, 5400, 86400, 90061}) {
        auto text = format_duration(seconds(s));
        EXPECT_EQ(*parse_duration(text), seconds(s)) << text;
    }
    EXPECT_EQ(format_duration(seconds(5400)), "1h30m");
}

} // namespace
