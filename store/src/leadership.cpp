// Leadership (see leadership.h).
#include "keyholder/store/leadership.h"

#include "backend.h"
#include "keyholder/store/error.h"
#ifndef _WIN32
#include "postgresql/connection.h"
#endif

namespace keyholder::store {

Leadership::Leadership(const Location& location, const ConnectionOptions& options) : backend_(location.backend) {
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
        if (!pg.try_advisory_lock(detail::AdvisoryLock::scheduler_leader))
            return set(false, "another node leads (holds the scheduler's lock)");
        generation_ = pg.generation();
        return set(true, "");
    } catch (const std::exception& e) {
        return set(false, std::string("cannot reach the store: ") + e.what());
    }
#endif
}

std::string Leadership::why() const {
    std::lock_guard lock(why_mutex_);
    return why_;
}

} // namespace keyholder::store
