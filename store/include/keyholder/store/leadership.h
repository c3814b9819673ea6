// Leadership: whether this process runs the work one node at a time must run (the
// scheduler's passes: ends, lapses, starts, take-backs; scheduled exports).
//
// SQLite: always this process (one file, one service). PostgreSQL: whoever holds a
// session-scoped advisory lock, on a session of its own. The lock goes with the
// session: when a node dies (kill -9), its session ends and another node takes the
// lock at its next renew(). A leader that is alive to the network but does not renew
// (a hung or frozen process, whose kernel keeps the connection open; a host whose
// session the server has not yet found dead) is ended by the next node that asks
// once the leader's session has been idle for `stale_after` (the server's clock:
// pg_stat_activity), and that node leads. Work that must not run twice across a
// handover is also claimed in the store (take-back claims, export runs), so a leader
// that lost its lock a moment ago cannot repeat it.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "keyholder/store/connection.h"

namespace keyholder::store {

class Leadership {
public:
    /// Leadership: opens its own session (PostgreSQL); takes nothing yet. A leader must
    /// renew() more often than every `stale_after`.
    Leadership(const Location& location, const ConnectionOptions& options,
               std::chrono::seconds stale_after = std::chrono::seconds(10));
    ~Leadership();
    Leadership(const Leadership&) = delete;
    Leadership& operator=(const Leadership&) = delete;

    /// renew: takes the lock when it is free (ending a leader that stopped renewing),
    /// or checks that this session still has it. Never throws: an unreachable server
    /// means "not the leader".
    bool renew() noexcept;
    /// held: the answer of the last renew() (any thread).
    [[nodiscard]] bool held() const noexcept { return held_.load(); }
    /// why: why this process does not lead (another node does, the server is
    /// unreachable), or, leading, how it took over from a leader that had stopped.
    [[nodiscard]] std::string why() const;

private:
    std::string end_stale_leader();
    Backend backend_;
    std::chrono::seconds stale_after_;
    std::unique_ptr<Connection> session_; ///< PostgreSQL: the lock's own session
    uint64_t generation_ = 0;             ///< the session the lock was taken on
    std::atomic<bool> held_{false};
    mutable std::mutex why_mutex_;
    std::string why_;
};

} // namespace keyholder::store
