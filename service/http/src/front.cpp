// Front (see front.h): acceptor, reactor and workers.
#include "front.h"

#include <Poco/Logger.h>

#include "socket_io.h"

#include "keyholder/http/exchange.h"

namespace keyholder::http::detail {
namespace {

using namespace std::chrono_literals;

Poco::Logger& log() { return Poco::Logger::get("keyholder.http"); }

// plain_answer: a whole answer the reactor or acceptor writes itself (the
// connection is closed after it).
std::string plain_answer(int status, const char* reason, const std::string& code, const std::string& message) {
    const std::string body = error_body(code, message);
    return "HTTP/1.1 " + std::to_string(status) + " " + reason +
           "\r\nContent-Type: application/json\r\nCache-Control: no-store\r\nConnection: close\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::chrono::milliseconds until(Clock::time_point t, Clock::time_point now) {
    return std::chrono::ceil<std::chrono::milliseconds>(std::max(t - now, Clock::duration::zero()));
}

} // namespace

Front::Front(Poco::Net::ServerSocket listener, ssl_ctx_st* tls, FrontSettings settings, Handler handler)
    : listener_(std::move(listener)), tls_(tls), settings_(settings), handler_(std::move(handler)) {
    ignore_broken_pipes();
}

Front::~Front() { stop(); }

void Front::start() {
    reactor_ = std::thread([this] { reactor_loop(); });
    for (int i = 0; i < std::max(1, settings_.workers); ++i)
        workers_.emplace_back([this] { worker_loop(); });
    acceptor_ = std::thread([this] { accept_loop(); });
}

void Front::stop() {
    if (stopping_.exchange(true)) return;
    if (acceptor_.joinable()) acceptor_.join();
    listener_.close();
    poller_.wake();
    if (reactor_.joinable()) reactor_.join();
    {
        std::lock_guard lock(mutex_);
        for (Connection* c : in_flight_)
            c->abort(); // a worker blocked on a slow reader returns now
    }
    job_ready_.notify_all();
    for (auto& w : workers_)
        if (w.joinable()) w.join();
    workers_.clear();
    std::lock_guard lock(mutex_);
    jobs_.clear();
    incoming_.clear();
}

Front::Counts Front::counts() const {
    std::lock_guard lock(mutex_);
    return {open_, busy_, jobs_.size()};
}

void Front::accept_loop() {
    while (!stopping_) {
        Poco::Net::StreamSocket socket;
        try {
            if (!listener_.poll(Poco::Timespan(0, 200000), Poco::Net::Socket::SELECT_READ)) continue;
            socket = listener_.acceptConnection();
        } catch (const Poco::Exception&) {
            continue; // the client gave up before we accepted
        }
        std::string host;
        try {
            host = socket.peerAddress().host().toString();
        } catch (const Poco::Exception&) {
            continue;
        }
        bool refuse = false;
        int from_host = 0;
        {
            std::lock_guard lock(mutex_);
            from_host = per_address_[host];
            refuse = open_ >= settings_.max_connections || from_host >= settings_.max_per_address;
            if (refuse) {
                if (from_host == 0) per_address_.erase(host);
                auto& logged = refusal_logged_[host];
                if (Clock::now() - logged > 10s) {
                    logged = Clock::now();
                    log().warning("refusing connections from %s: %d open from it, %d in all (limits %d and %d)", host,
                                  from_host, open_, settings_.max_per_address, settings_.max_connections);
                }
            } else {
                ++open_;
                ++per_address_[host];
            }
        }
        if (refuse && settings_.counted) settings_.counted("refused");
        if (refuse) {
            if (tls_ == nullptr) {
                const std::string answer =
                    plain_answer(503, "Service Unavailable", "too_many_connections",
                                 "too many open connections from " + host + "; close some and try again");
                try {
                    socket.setBlocking(false);
                    socket.sendBytes(answer.data(), static_cast<int>(answer.size()));
                } catch (const Poco::Exception&) {}
            }
            socket.close();
            continue;
        }
        try {
            auto connection = std::make_unique<Connection>(socket, tls_);
            // The connection holds the only reference from now on, so that the socket
            // is closed by whichever thread ends the connection, never by this one.
            socket = Poco::Net::StreamSocket();
            hand_to_reactor(std::move(connection), Parked::Phase::request);
        } catch (const std::exception& e) {
            log().error("cannot take a connection from %s: %s", host, std::string(e.what()));
            release_address(host);
        }
    }
}

void Front::hand_to_reactor(std::unique_ptr<Connection> connection, Parked::Phase phase) {
    {
        std::lock_guard lock(mutex_);
        incoming_.emplace_back(std::move(connection), phase);
    }
    poller_.wake();
}

void Front::reactor_loop() {
    while (!stopping_) {
        auto now = Clock::now();
        auto next = now + 1s;
        for (const auto& [fd, parked] : parked_)
            next = std::min(next, parked.deadline);
        const auto events = poller_.wait(until(next, now));
        now = Clock::now();
        std::deque<std::pair<std::unique_ptr<Connection>, Parked::Phase>> arrived;
        {
            std::lock_guard lock(mutex_);
            arrived.swap(incoming_);
        }
        for (auto& [connection, phase] : arrived) {
            const int fd = connection->fd();
            Parked parked;
            parked.phase = phase;
            parked.deadline = now + (phase == Parked::Phase::request ? settings_.request_timeout
                                     : phase == Parked::Phase::idle  ? settings_.keepalive_timeout
                                                                     : settings_.linger);
            parked.connection = std::move(connection);
            const bool pipelined = phase != Parked::Phase::linger && !parked.connection->input.empty();
            try {
                poller_.add(fd, Poller::readable);
            } catch (const std::exception& e) {
                log().error("cannot watch a connection: %s", std::string(e.what()));
                const std::string host = parked.connection->peer_host();
                parked.connection.reset();
                release_address(host);
                continue;
            }
            auto& slot = parked_[fd] = std::move(parked);
            if (pipelined) on_readable(slot); // the next request may be here already
        }
        for (const auto& event : events) {
            auto it = parked_.find(event.fd);
            if (it == parked_.end()) continue;
            Parked& parked = it->second;
            if (parked.phase == Parked::Phase::linger) {
                if (!parked.connection->discard() || event.hangup) close(event.fd);
                continue;
            }
            on_readable(parked);
        }
        now = Clock::now();
        std::vector<int> expired;
        for (const auto& [fd, parked] : parked_)
            if (parked.deadline <= now) expired.push_back(fd);
        for (int fd : expired) {
            Parked& parked = parked_.at(fd);
            if (parked.phase == Parked::Phase::request) {
                if (settings_.counted) settings_.counted("timed_out");
                log().notice("request from %s not complete within %s ms: closed", parked.connection->peer_host(),
                             std::to_string(settings_.request_timeout.count()));
                parked.connection->try_write(plain_answer(
                    408, "Request Timeout", "request_timeout",
                    "the request did not arrive within " + std::to_string(settings_.request_timeout.count()) + " ms"));
            }
            close(fd);
        }
    }
    std::vector<int> all;
    for (const auto& [fd, parked] : parked_)
        all.push_back(fd);
    for (int fd : all)
        close(fd);
}

void Front::on_readable(Parked& parked) {
    Connection& connection = *parked.connection;
    const size_t limit = settings_.limits.max_head_bytes + settings_.limits.max_body_bytes + 64 * 1024;
    const Connection::Fill filled = connection.fill(limit);
    if (parked.phase == Parked::Phase::idle && !connection.input.empty()) {
        // The next request on a kept-alive connection: its own deadline from now.
        parked.phase = Parked::Phase::request;
        parked.deadline = Clock::now() + settings_.request_timeout;
    }
    if (!connection.input.empty()) {
        Framing framing = frame(connection.input, settings_.limits);
        if (framing.state != Framing::State::incomplete) {
            dispatch(parked, std::move(framing));
            return;
        }
        if (framing.expect_continue && framing.head_bytes > 0 && !parked.continued) {
            connection.try_write("HTTP/1.1 100 Continue\r\n\r\n");
            parked.continued = true;
        }
    }
    if (filled.closed) {
        close(connection.fd());
        return;
    }
    const uint32_t interest = Poller::readable | (filled.want_write ? Poller::writable : 0U);
    if (interest != parked.interest) {
        poller_.modify(connection.fd(), interest);
        parked.interest = interest;
    }
}

void Front::dispatch(Parked& parked, Framing framing) {
    const int fd = parked.connection->fd();
    poller_.remove(fd);
    std::unique_ptr<Connection> connection = std::move(parked.connection);
    parked_.erase(fd);
    bool overloaded = false;
    {
        std::lock_guard lock(mutex_);
        if (jobs_.size() >= settings_.max_queued) {
            overloaded = true;
        } else {
            in_flight_.insert(connection.get());
            jobs_.push_back(Job{std::move(connection), std::move(framing)});
        }
    }
    if (!overloaded) {
        job_ready_.notify_one();
        return;
    }
    log().warning("request from %s refused: %s requests wait for a worker", connection->peer_host(),
                  std::to_string(settings_.max_queued));
    connection->try_write(
        plain_answer(503, "Service Unavailable", "overloaded", "too many requests are waiting; try again in a moment"));
    const std::string host = connection->peer_host();
    connection.reset();
    release_address(host);
}

void Front::worker_loop() {
    while (true) {
        Job job;
        {
            std::unique_lock lock(mutex_);
            job_ready_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
            if (stopping_) return;
            job = std::move(jobs_.front());
            jobs_.pop_front();
            ++busy_;
        }
        After after = After::close;
        try {
            after = handler_(job);
        } catch (const std::exception& e) {
            log().error("request from %s failed: %s", job.connection->peer_host(), std::string(e.what()));
        }
        std::unique_ptr<Connection> connection = std::move(job.connection);
        {
            std::lock_guard lock(mutex_);
            --busy_;
            in_flight_.erase(connection.get());
        }
        if (stopping_) after = After::close;
        // Only a request whose bytes were all taken apart can be followed by another on
        // the same connection (else the same bytes would be served again and again).
        if (after == After::keep_alive && (job.framing.state != Framing::State::complete || job.framing.consumed == 0))
            after = After::linger;
        switch (after) {
        case After::keep_alive:
            connection->input.erase(0, job.framing.consumed);
            hand_to_reactor(std::move(connection), Parked::Phase::idle);
            break;
        case After::linger:
            connection->input.clear();
            connection->shutdown_send();
            hand_to_reactor(std::move(connection), Parked::Phase::linger);
            break;
        case After::close: {
            const std::string host = connection->peer_host();
            connection->shutdown_send();
            connection.reset();
            release_address(host);
            break;
        }
        }
    }
}

void Front::close(int fd) {
    auto it = parked_.find(fd);
    if (it == parked_.end()) return;
    poller_.remove(fd);
    const std::string host = it->second.connection->peer_host();
    parked_.erase(it);
    release_address(host);
}

void Front::release_address(const std::string& host) {
    std::lock_guard lock(mutex_);
    --open_;
    if (auto it = per_address_.find(host); it != per_address_.end() && --it->second <= 0) per_address_.erase(it);
}

} // namespace keyholder::http::detail
