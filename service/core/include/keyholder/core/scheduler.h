// Scheduler: runs a pass (CheckoutService::run_due) whenever something is due. It
// sleeps until the next due time the pass reports — no once-a-minute poll — and
// wakes early when told that new work exists. A pass that throws is logged and
// retried a few seconds later; nothing escapes the thread.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "keyholder/core/checkout_service.h"
#include "keyholder/core/clock.h"

namespace keyholder::core {

class Scheduler {
public:
    Scheduler(std::function<SchedulerPass()> pass, const Clock& clock) : pass_(std::move(pass)), clock_(clock) {}
    ~Scheduler() { stop(); }
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;

    void start();
    /// wake: run a pass now (new work was committed).
    void wake();
    /// stop: finishes the pass in progress, then joins.
    void stop();
    [[nodiscard]] uint64_t passes() const;

private:
    void loop();
    std::function<SchedulerPass()> pass_;
    const Clock& clock_;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    bool stopping_ = false;
    bool woken_ = false;
    uint64_t passes_ = 0;
    std::thread thread_;
};

} // namespace keyholder::core
