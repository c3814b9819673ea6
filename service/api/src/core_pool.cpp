#include "keyholder/api/core_pool.h"

#include "keyholder/core/store_settings.h"

namespace keyholder::api {

CorePool::CorePool(const config::Config& config, core::Authority& authority, const core::Clock& clock,
                   const core::SecretVault* vault, size_t size) {
    const store::Location location = core::store_location(config);
    const store::ConnectionOptions options = core::store_options(config);
    for (size_t i = 0; i < std::max<size_t>(size, 1); ++i) {
        free_.push_back(
            std::make_unique<Session>(store::Connection::open(location, options), config, authority, clock, vault));
    }
}

CorePool::~CorePool() = default;

CorePool::Lease::~Lease() {
    std::lock_guard lock(pool_.mutex_);
    pool_.free_.push_back(std::move(session_));
    pool_.available_.notify_one();
}

std::unique_ptr<CorePool::Session> CorePool::take() {
    std::unique_lock lock(mutex_);
    available_.wait(lock, [&] { return !free_.empty(); });
    auto session = std::move(free_.back());
    free_.pop_back();
    return session;
}

CorePool::Lease CorePool::borrow() { return Lease(*this, take()); }

std::shared_ptr<CorePool::Lease> CorePool::borrow_shared() { return std::make_shared<Lease>(*this, take()); }

} // namespace keyholder::api
