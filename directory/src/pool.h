// SessionPool: at most `size` bound connections shared by many threads; a caller
// holds one at a time. A connection that fails with a connection error is dropped
// and the operation is retried once on a fresh one (which fails over across the
// URIs). Private to the directory module.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "session.h"

namespace keyholder::directory::detail {

class SessionPool {
public:
    SessionPool(DirectorySettings settings, int size)
        : settings_(std::move(settings)),
          health_(UriHealth::Backoff{settings_.down_retry, settings_.down_retry * 20, std::chrono::milliseconds(250)}),
          free_slots_(std::max(size, 1)) {}

    /// run: op(session) on a pooled session; reconnects and retries once after a
    /// connection error. Returns the op's result or the connection error.
    template <typename T> Result<T> run(const std::function<Result<T>(Session&)>& op) {
        for (int attempt = 0; attempt < 2; ++attempt) {
            auto lease = acquire();
            if (!lease) return std::unexpected(lease.error());
            Result<T> result = op(**lease);
            if (!result && is_connection_error(result.error())) {
                // The server is gone or hangs: it is down for every connection, so idle
                // sessions to it are dropped too (none of them pays its timeout again)
                // and the retry opens a session on the next URI.
                health_.failed((*lease)->uri());
                drop_idle((*lease)->uri());
                release(nullptr); // the connection is gone: do not return it to the pool
                if (attempt == 0) continue;
                return result;
            }
            release(std::move(*lease));
            return result;
        }
        return std::unexpected(DirectoryError{DirectoryError::Kind::unavailable, 0, "unreachable", "", ""});
    }

    const DirectorySettings& settings() const { return settings_; }
    UriHealth& health() { return health_; }

private:
    Result<std::unique_ptr<Session>> acquire() {
        std::unique_ptr<Session> session;
        {
            std::unique_lock lock(mutex_);
            available_.wait(lock, [&] { return free_slots_ > 0; });
            --free_slots_;
            if (!idle_.empty()) {
                session = std::move(idle_.back());
                idle_.pop_back();
            }
        }
        if (session) return session;
        auto fresh = open_session(settings_, &health_);
        if (!fresh) {
            release(nullptr);
            return std::unexpected(fresh.error());
        }
        return std::make_unique<Session>(std::move(*fresh));
    }

    void drop_idle(const std::string& uri) {
        std::lock_guard lock(mutex_);
        std::erase_if(idle_, [&](const std::unique_ptr<Session>& s) { return s->uri() == uri; });
    }

    void release(std::unique_ptr<Session> session) {
        {
            std::lock_guard lock(mutex_);
            if (session) idle_.push_back(std::move(session));
            ++free_slots_;
        }
        available_.notify_one();
    }

    DirectorySettings settings_;
    UriHealth health_;
    std::mutex mutex_;
    std::condition_variable available_;
    int free_slots_;
    std::vector<std::unique_ptr<Session>> idle_;
};

} // namespace keyholder::directory::detail
