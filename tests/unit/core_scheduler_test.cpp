// The scheduler runs a pass at once, sleeps until the next due time it was given,
// runs early when woken, survives a throwing pass, and stops promptly.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "keyholder/core/scheduler.h"

namespace {

using namespace keyholder::core;
using namespace std::chrono_literals;

bool eventually(const std::function<bool()>& condition) {
    for (int i = 0; i < 400; ++i) {
        if (condition()) return true;
        std::this_thread::sleep_for(5ms);
    }
    return false;
}

TEST(CoreScheduler, SleepsUntilWokenWhenNothingIsDue) {
    ManualClock clock(1000);
    std::atomic<int> passes{0};
    Scheduler scheduler(
        [&] {
            ++passes;
            return SchedulerPass{};
        },
        clock);
    scheduler.start();
    ASSERT_TRUE(eventually([&] { return passes == 1; }));
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(passes, 1) << "nothing due: no polling";
    scheduler.wake();
    ASSERT_TRUE(eventually([&] { return passes == 2; }));
    auto stopping = std::chrono::steady_clock::now();
    scheduler.stop();
    EXPECT_LT(std::chrono::steady_clock::now() - stopping, 1s);
}

TEST(CoreScheduler, RunsAgainWhenTheNextDueTimeComes) {
    ManualClock clock(1000);
    std::atomic<int> passes{0};
    Scheduler scheduler(
        [&] {
            ++passes;
            SchedulerPass pass;
            if (passes == 1) pass.next_due = 1000; // due right away (already past)
            return pass;
        },
        clock);
    scheduler.start();
    ASSERT_TRUE(eventually([&] { return passes >= 2; }));
    scheduler.stop();
}

TEST(CoreScheduler, AThrowingPassDoesNotKillTheThread) {
    ManualClock clock(1000);
    std::atomic<int> passes{0};
    Scheduler scheduler(
        [&]() -> SchedulerPass {
            if (++passes == 1) throw std::runtime_error("disk full");
            return {};
        },
        clock);
    scheduler.start();
    ASSERT_TRUE(eventually([&] { return passes == 1; }));
    scheduler.wake();
    ASSERT_TRUE(eventually([&] { return passes == 2; }));
    scheduler.stop();
}

} // namespace
