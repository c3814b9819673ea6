// CorePool: CheckoutService instances for concurrent HTTP workers. The core is
// thread-compatible (one store connection each); the pool gives every worker its
// own service and connection for the length of one request, so readers never wait
// for each other and writers serialise only in SQLite (BEGIN IMMEDIATE + busy timeout).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "keyholder/config/config.h"
#include "keyholder/core/authority.h"
#include "keyholder/core/checkout_service.h"
#include "keyholder/core/clock.h"
#include "keyholder/core/vault.h"
#include "keyholder/store/connection.h"

namespace keyholder::api {

class CorePool {
public:
    /// Opens `size` connections to the store at once (throws StoreError).
    CorePool(const config::Config& config, core::Authority& authority, const core::Clock& clock,
             const core::SecretVault* vault, size_t size);
    ~CorePool();

    struct Session {
        Session(store::Connection connection, const config::Config& config, core::Authority& authority,
                const core::Clock& clock, const core::SecretVault* vault)
            : store(std::move(connection)), service(config, store, authority, clock, vault) {}
        store::Connection store; // declared first: the service holds a reference to it
        core::CheckoutService service;
    };

    /// Lease: one session, returned to the pool when the lease ends.
    class Lease {
    public:
        Lease(CorePool& pool, std::unique_ptr<Session> session) : pool_(pool), session_(std::move(session)) {}
        ~Lease();
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        core::CheckoutService* operator->() { return &session_->service; }
        core::CheckoutService& service() { return session_->service; }
        store::Connection& store() { return session_->store; }

    private:
        CorePool& pool_;
        std::unique_ptr<Session> session_;
    };

    /// borrow: waits for a free session.
    Lease borrow();
    /// borrow_shared: a lease that can outlive the handler (streamed answers).
    std::shared_ptr<Lease> borrow_shared();

private:
    std::unique_ptr<Session> take();
    std::mutex mutex_;
    std::condition_variable available_;
    std::vector<std::unique_ptr<Session>> free_;
};

} // namespace keyholder::api
