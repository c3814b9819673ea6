// BerlinTime: while it lives, local time is Europe/Berlin's (tests of local-time
// schedules and reports). POSIX: TZ and tzset. A Windows process cannot be given a
// zone of its own (the C runtime reads only "CET-1CEST" from TZ, with US daylight
// rules): it has the system's, which Wine takes from the host's TZ (scripts/test
// runs the Windows suite with TZ=Europe/Berlin); active() says
// whether the zone is Berlin's, and a test skips when it is not.
#pragma once

#include <ctime>

#include "keyholder/platform/process.h"
#include "keyholder/platform/time.h"

namespace keyholder::testing {

class BerlinTime {
public:
    BerlinTime() {
#ifndef _WIN32
        platform::set_environment("TZ", "Europe/Berlin");
        ::tzset();
#else
        // Wine hands the host's TZ on, which the C runtime cannot read (it would take
        // UTC): without it, the runtime asks the system's zone.
        platform::unset_environment("TZ");
        _tzset();
#endif
    }
    ~BerlinTime() {
#ifndef _WIN32
        platform::unset_environment("TZ");
        ::tzset();
#endif
    }
    BerlinTime(const BerlinTime&) = delete;
    BerlinTime& operator=(const BerlinTime&) = delete;

    /// active: winter is UTC+1 and summer UTC+2 (2026-01-15 and 2026-07-15, noon UTC).
    [[nodiscard]] bool active() const {
        return platform::utc_offset(1'768'478'400) == 3600 && platform::utc_offset(1'784'116'800) == 7200;
    }
};

} // namespace keyholder::testing
