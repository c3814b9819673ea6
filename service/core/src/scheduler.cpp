// Scheduler (see scheduler.h).
#include "keyholder/core/scheduler.h"

#include <Poco/Logger.h>

#include <exception>

namespace keyholder::core {

void Scheduler::start() {
    std::lock_guard lock(mutex_);
    if (thread_.joinable()) return;
    stopping_ = false;
    thread_ = std::thread([this] { loop(); });
}

void Scheduler::wake() {
    {
        std::lock_guard lock(mutex_);
        woken_ = true;
    }
    changed_.notify_one();
}

void Scheduler::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    changed_.notify_one();
    if (thread_.joinable()) thread_.join();
}

uint64_t Scheduler::passes() const {
    std::lock_guard lock(mutex_);
    return passes_;
}

void Scheduler::loop() {
    auto& log = Poco::Logger::get("keyholder.scheduler");
    // A safety net against wall-clock jumps, not a poll: with nothing due the thread
    // sleeps until woken or for at most this long.
    constexpr auto kLongestSleep = std::chrono::hours(1);
    while (true) {
        std::chrono::steady_clock::duration sleep = kLongestSleep;
        try {
            SchedulerPass pass = pass_();
            if (pass.lapsed + pass.started + pass.ended + pass.taken_back + pass.takeback_failures > 0)
                log.information("pass: %d lapsed, %d started, %d ended, %d taken back, %d take-back failures",
                                pass.lapsed, pass.started, pass.ended, pass.taken_back, pass.takeback_failures);
            if (pass.next_due) {
                // Wake at the start of the due second, not up to a second later.
                auto ms = std::max<int64_t>(*pass.next_due * 1000 - clock_.now_ms(), 0);
                sleep = std::min<std::chrono::steady_clock::duration>(std::chrono::milliseconds(ms), kLongestSleep);
            }
        } catch (const std::exception& e) {
            log.error("scheduler pass failed, retrying in 5 s: %s", std::string(e.what()));
            sleep = std::chrono::seconds(5);
        }
        std::unique_lock lock(mutex_);
        ++passes_;
        changed_.wait_for(lock, sleep, [&] { return stopping_ || woken_; });
        if (stopping_) return;
        woken_ = false;
    }
}

} // namespace keyholder::core
