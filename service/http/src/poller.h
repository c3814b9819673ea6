// Poller: waits for readiness on many sockets at once, and can be woken from other
// threads. The HTTP front end's reactor uses it to read requests without a thread
// per connection. One implementation per platform (posix/poller.cpp: epoll;
// windows/poller.cpp: WSAPoll).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

namespace keyholder::http::detail {

class Poller {
public:
    enum Interest : uint32_t { readable = 1, writable = 2 };
    struct Event {
        int fd;
        bool readable;
        bool writable;
        bool hangup;
    };

    Poller();
    ~Poller();
    Poller(const Poller&) = delete;
    Poller& operator=(const Poller&) = delete;

    void add(int fd, uint32_t interest);
    void modify(int fd, uint32_t interest);
    void remove(int fd);
    /// wait: ready sockets, or none after `timeout` (or when woken).
    std::vector<Event> wait(std::chrono::milliseconds timeout);
    /// wake: makes a wait() in progress (or the next one) return at once. Thread-safe.
    void wake();

private:
    struct State; ///< the system's poll set and wake-up channel
    std::unique_ptr<State> state_;
};

} // namespace keyholder::http::detail
