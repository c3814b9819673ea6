// Calendar time: the broken-down UTC and local time of a moment, and back
// (gmtime_r/localtime_r/timegm on POSIX, gmtime_s/localtime_s/_mkgmtime on Windows).
#pragma once

#include <ctime>

namespace keyholder::platform {

std::tm utc_time(std::time_t moment);
std::tm local_time(std::time_t moment);
/// from_utc_time: the moment a broken-down UTC time names (fields may be out of range).
std::time_t from_utc_time(std::tm parts);
/// from_local_time: as mktime (tm_isdst -1: the zone's rules decide).
std::time_t from_local_time(std::tm parts);
/// utc_offset: seconds east of UTC of the local zone at that moment.
long utc_offset(std::time_t moment);

} // namespace keyholder::platform
