// Connection: one client connection of the HTTP front end, plain or TLS (OpenSSL
// over the non-blocking socket, with the server's SSL_CTX). The reactor fills its
// input without blocking; a worker writes the answer with a deadline. Only one of
// them owns it at a time.
#pragma once

#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include <chrono>
#include <string>
#include <string_view>

struct ssl_st;
struct ssl_ctx_st;

namespace keyholder::http::detail {

using Clock = std::chrono::steady_clock;

class Connection {
public:
    /// Connection: takes the accepted socket (made non-blocking); `tls` null: plain HTTP.
    Connection(Poco::Net::StreamSocket socket, ssl_ctx_st* tls);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    [[nodiscard]] int fd() const { return fd_; }
    [[nodiscard]] bool secure() const { return ssl_ != nullptr; }
    [[nodiscard]] const Poco::Net::SocketAddress& peer() const { return peer_; }
    [[nodiscard]] const Poco::Net::SocketAddress& local() const { return local_; }
    [[nodiscard]] const std::string& peer_host() const { return peer_host_; }

    /// Fill: what a non-blocking read found.
    struct Fill {
        bool got = false;        ///< bytes were added to input
        bool closed = false;     ///< the peer closed, or the connection failed
        bool want_write = false; ///< TLS needs the socket writable before it can read on
    };
    /// fill: reads what is there (decrypted) into `input`, up to `limit` bytes in all.
    Fill fill(size_t limit);
    std::string input; ///< received, not yet consumed

    /// write_all: sends every byte by `deadline`; false when the peer is gone or too slow.
    bool write_all(std::string_view data, Clock::time_point deadline);
    /// try_write: sends what fits now without waiting (the reactor's "100 Continue", a 503).
    void try_write(std::string_view data);
    /// shutdown_send: no more output (TLS close_notify first); reading goes on.
    void shutdown_send();
    /// abort: ends the connection at once (stop): a worker blocked on it returns.
    void abort();
    /// discard: reads and drops what is there (lingering close); false at end of stream.
    bool discard();

private:
    bool wait_for(bool writable, Clock::time_point deadline);
    Poco::Net::StreamSocket socket_;
    int fd_;
    ssl_st* ssl_ = nullptr;
    Poco::Net::SocketAddress peer_;
    Poco::Net::SocketAddress local_;
    std::string peer_host_;
};

} // namespace keyholder::http::detail
