// Calendar time on Windows (see time.h): the CRT's _s functions and _mkgmtime.
#include "keyholder/platform/time.h"

namespace keyholder::platform {

std::tm utc_time(std::time_t moment) {
    std::tm parts{};
    gmtime_s(&parts, &moment);
    return parts;
}

std::tm local_time(std::time_t moment) {
    std::tm parts{};
    localtime_s(&parts, &moment);
    return parts;
}

std::time_t from_utc_time(std::tm parts) { return _mkgmtime(&parts); }

std::time_t from_local_time(std::tm parts) { return mktime(&parts); }

// The CRT's tm has no tm_gmtoff: the local wall clock read as if it were UTC, less the moment.
long utc_offset(std::time_t moment) { return static_cast<long>(from_utc_time(local_time(moment)) - moment); }

} // namespace keyholder::platform
