// utc: a UTC calendar time as UTC seconds (tests of schedules and windows).
#pragma once

#include <cstdint>
#include <ctime>

#include "keyholder/platform/time.h"

namespace keyholder::testing {

inline int64_t utc(int year, int month, int day, int hour, int minute) {
    std::tm t{};
    t.tm_year = year - 1900;
    t.tm_mon = month - 1;
    t.tm_mday = day;
    t.tm_hour = hour;
    t.tm_min = minute;
    return static_cast<int64_t>(keyholder::platform::from_utc_time(t));
}

} // namespace keyholder::testing
