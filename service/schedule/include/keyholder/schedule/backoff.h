// backoff: the delay before retry number `attempts` (1 = after the first failure):
// `initial`, doubling each time, at most `max`. One rule for every retry in keyholder
// (releases, take-backs, mail deliveries, report exports).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace keyholder::schedule {

inline int64_t backoff(int attempts, std::chrono::seconds initial, std::chrono::seconds max) {
    int64_t delay = initial.count();
    for (int i = 1; i < attempts && delay < max.count(); ++i)
        delay *= 2;
    return std::min<int64_t>(delay, max.count());
}

} // namespace keyholder::schedule
