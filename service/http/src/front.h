// Front: the connection side of the HTTP server. An acceptor thread takes new
// connections (at most `max_per_address` open per client address and
// `max_connections` in all); one reactor thread reads every connection without
// blocking until a whole request (head and body) is in, within `request_timeout`
// from its first byte; only then does a worker run it. Idle keep-alive connections
// and lingering closes also wait in the reactor, so a slow or idle client holds a
// socket, never a worker. A request not complete by its deadline is answered 408
// (best effort) and closed.
#pragma once

#include <Poco/Net/ServerSocket.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "connection.h"
#include "framing.h"
#include "poller.h"

namespace keyholder::http::detail {

struct FrontSettings {
    FramingLimits limits;
    std::chrono::milliseconds request_timeout{15000};
    std::chrono::milliseconds keepalive_timeout{10000};
    std::chrono::milliseconds linger{5000}; ///< reading (and dropping) after a refused body
    int workers = 16;
    size_t max_queued = 1024; ///< complete requests waiting for a worker
    int max_per_address = 64; ///< open connections per client address
    int max_connections = 4096;
    /// counted: called for each refused connection ("refused") and each request that
    /// missed its deadline ("timed_out"), e.g. to count them in /metrics.
    std::function<void(const char* event)> counted;
};

/// Job: a complete request (or one refused by its framing) for a worker.
struct Job {
    std::unique_ptr<Connection> connection;
    Framing framing;
};

/// After: what happens to a connection once its answer is sent.
enum class After { keep_alive, close, linger };

class Front {
public:
    /// Handler: runs one job in a worker and says what to do with the connection.
    using Handler = std::function<After(Job&)>;

    Front(Poco::Net::ServerSocket listener, ssl_ctx_st* tls, FrontSettings settings, Handler handler);
    ~Front();
    Front(const Front&) = delete;
    Front& operator=(const Front&) = delete;

    void start();
    /// stop: stops accepting, closes every connection (in-flight answers are cut
    /// short) and joins the threads.
    void stop();

    struct Counts {
        int open = 0;      ///< connections open now
        int busy = 0;      ///< workers running a request now
        size_t queued = 0; ///< complete requests waiting for a worker
    };
    [[nodiscard]] Counts counts() const;

private:
    struct Parked {
        std::unique_ptr<Connection> connection;
        Clock::time_point deadline;
        enum class Phase { request, idle, linger } phase = Phase::request;
        bool continued = false; ///< "100 Continue" sent
        uint32_t interest = Poller::readable;
    };

    void accept_loop();
    void reactor_loop();
    void worker_loop();
    void hand_to_reactor(std::unique_ptr<Connection> connection, Parked::Phase phase);
    void on_readable(Parked& parked);
    void dispatch(Parked& parked, Framing framing);
    void close(int fd);
    void release_address(const std::string& host);

    Poco::Net::ServerSocket listener_;
    ssl_ctx_st* tls_;
    FrontSettings settings_;
    Handler handler_;
    Poller poller_;
    std::atomic<bool> stopping_{false};
    std::thread acceptor_;
    std::thread reactor_;
    std::vector<std::thread> workers_;

    mutable std::mutex mutex_;                                                   // guards everything below
    std::deque<std::pair<std::unique_ptr<Connection>, Parked::Phase>> incoming_; ///< for the reactor
    std::deque<Job> jobs_;
    std::condition_variable job_ready_;
    std::map<std::string, int> per_address_;
    std::set<Connection*> in_flight_; ///< owned by workers now
    int open_ = 0;
    int busy_ = 0;
    std::map<std::string, Clock::time_point> refusal_logged_;

    // Reactor thread only.
    std::map<int, Parked> parked_;
};

} // namespace keyholder::http::detail
