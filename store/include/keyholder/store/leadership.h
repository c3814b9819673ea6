// Leadership: whether this process runs the work one node at a time must run (the
// scheduler's passes: ends, lapses, starts, take-backs; scheduled exports).
//
// SQLite: always this process (one file, one service). PostgreSQL: whoever holds a
// session-scoped advisory lock, on a session of its own. The lock goes with the
// session: when a node dies (kill -9, power), its session ends and another node takes
// the lock at its next renew(). Work that must not run twice across a handover is
// also claimed in the store (take-back claims, export runs), so a leader that lost
// its lock a moment ago cannot repeat it.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "keyholder/store/connection.h"

namespace keyholder::store {

class Leadership {
public:
    /// Leadership: opens its own session (PostgreSQL); takes nothing yet.
    Leadership(const Location& location, const ConnectionOptions& options);
    ~Leadership();
    Leadership(const Leadership&) = delete;
    Leadership& operator=(const Leadership&) = delete;

    /// renew: takes the lock when it is free, or checks that this session still has
    /// it. Never throws: an unreachable server means "not the leader".
    bool renew() noexcept;
    /// held: the answer of the last renew() (any thread).
    [[nodiscard]] bool held() const noexcept { return held_.load(); }
    /// why: why this process does not lead (another node does, the server is unreachable).
    [[nodiscard]] std::string why() const;

private:
    Backend backend_;
    std::unique_ptr<Connection> session_; ///< PostgreSQL: the lock's own session
    uint64_t generation_ = 0;             ///< the session the lock was taken on
    std::atomic<bool> held_{false};
    mutable std::mutex why_mutex_;
    std::string why_;
};

} // namespace keyholder::store
