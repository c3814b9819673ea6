// Clock: where the core reads the time, so that expiry and deadlines are testable
// without sleeping. Time is UTC seconds since the epoch throughout keyholder.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace keyholder::core {

class Clock {
public:
    virtual ~Clock() = default;
    /// now: UTC seconds since the epoch.
    [[nodiscard]] virtual int64_t now() const = 0;
    /// now_ms: UTC milliseconds since the epoch (the scheduler wakes on the dot).
    [[nodiscard]] virtual int64_t now_ms() const { return now() * 1000; }
};

/// SystemClock: the real time.
class SystemClock final : public Clock {
public:
    [[nodiscard]] int64_t now() const override {
        return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    }
    [[nodiscard]] int64_t now_ms() const override {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    }
};

/// ManualClock: a clock tests move by hand. Thread-safe.
class ManualClock final : public Clock {
public:
    explicit ManualClock(int64_t start) : now_(start) {}
    [[nodiscard]] int64_t now() const override { return now_.load(); }
    void set(int64_t t) { now_.store(t); }
    void advance(std::chrono::seconds by) { now_.fetch_add(by.count()); }

private:
    std::atomic<int64_t> now_;
};

} // namespace keyholder::core
