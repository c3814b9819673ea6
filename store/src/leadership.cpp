// Leadership (see leadership.h).
#include "keyholder/store/leadership.h"

#include "backend.h"
#include "keyholder/store/error.h"
#ifndef _WIN32
#include "postgresql/connection.h"
#endif

namespace keyholder::store {

Leadership::Leadership(const Location& location, const ConnectionOptions& options, std::chrono::seconds stale_after)
    : backend_(location.backend), stale_after_(stale_after) {
    if (backend_ == Backend::sqlite) {
        held_ = true;
        return;
    }
    session_ = std::make_unique<Connection>(Connection::open(location, options));
}

Leadership::~Leadership() = default;

bool Leadership::renew() noexcept {
    if (backend_ == Backend::sqlite) return true;
#ifdef _WIN32
    return false;
#else
    auto set = [&](bool leads, std::string why) {
        std::lock_guard lock(why_mutex_);
        why_ = std::move(why);
        held_ = leads;
        return leads;
    };
    try {
        auto& pg = dynamic_cast<detail::PgConnection&>(session_->impl());
        if (held_ && pg.generation() == generation_) {
            // Still this session (a lost one took the lock with it): a round trip shows it.
            auto probe = session_->cached("SELECT 1");
            probe->step();
            if (pg.generation() == generation_) return true;
        }
        held_ = false;
        pg.session(); // reconnect first, so the lock is taken on the session kept
        std::string took_over;
        bool taken = pg.try_advisory_lock(detail::AdvisoryLock::scheduler_leader);
        if (!taken) {
            took_over = end_stale_leader();
            if (!took_over.empty()) taken = pg.try_advisory_lock(detail::AdvisoryLock::scheduler_leader);
        }
        if (!taken) return set(false, "another node leads (holds the scheduler's lock)");
        generation_ = pg.generation();
        return set(true, took_over);
    } catch (const std::exception& e) {
        return set(false, std::string("cannot reach the store: ") + e.what());
    }
#endif
}

// end_stale_leader: the session that holds the scheduler's lock and has been idle
// (no renew) for stale_after, by the server's clock, is ended; waits up to a second
// for it to go (and its lock with it). Answers what it did ("" when nothing).
std::string Leadership::end_stale_leader() {
#ifdef _WIN32
    return "";
#else
    const int64_t key = detail::advisory_key(detail::AdvisoryLock::scheduler_leader);
    auto stale = session_->cached(
        "SELECT l.pid, pg_terminate_backend(l.pid, 1000) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = "
        "current_database()) AND l.classid::bigint = ?1 AND l.objid::bigint = ?2 AND l.objsubid = 1 "
        "AND a.pid <> pg_backend_pid() AND a.state LIKE 'idle%' "
        "AND a.state_change < now() - make_interval(secs => ?3)");
    stale->bind(1, key >> 32).bind(2, key & 0xffffffff).bind(3, static_cast<int64_t>(stale_after_.count()));
    bool ended = false;
    int64_t pid = 0;
    while (stale->step()) {
        pid = stale->column_int64(0);
        ended = ended || stale->column_int64(1) == 1;
    }
    if (!ended) return "";
    return "ended the previous leader's session (backend " + std::to_string(pid) + "), idle for over " +
           std::to_string(stale_after_.count()) + " s";
#endif
}

std::string Leadership::why() const {
    std::lock_guard lock(why_mutex_);
    return why_;
}

} // namespace keyholder::store
