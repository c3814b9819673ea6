// Calendar time on POSIX (see time.h).
#include "keyholder/platform/time.h"

namespace keyholder::platform {

std::tm utc_time(std::time_t moment) {
    std::tm parts{};
    gmtime_r(&moment, &parts);
    return parts;
}

std::tm local_time(std::time_t moment) {
    std::tm parts{};
    localtime_r(&moment, &parts);
    return parts;
}

std::time_t from_utc_time(std::tm parts) { return timegm(&parts); }

std::time_t from_local_time(std::tm parts) { return mktime(&parts); }

long utc_offset(std::time_t moment) { return local_time(moment).tm_gmtoff; }

} // namespace keyholder::platform
