// Connection (see connection.h): non-blocking reads for the reactor, writes with a
// deadline for the workers, over a plain socket or OpenSSL.
#include "connection.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "socket_io.h"

namespace keyholder::http::detail {

Connection::Connection(Poco::Net::StreamSocket socket, ssl_ctx_st* tls)
    : socket_(std::move(socket)), fd_(static_cast<int>(socket_.impl()->sockfd())) {
    socket_.setBlocking(false);
    socket_.setNoDelay(true);
    try {
        peer_ = socket_.peerAddress();
        local_ = socket_.address();
        peer_host_ = peer_.host().toString();
    } catch (const Poco::Exception&) {
        // reset before we looked: fill() finds it closed
    }
    if (tls != nullptr) {
        ssl_ = SSL_new(tls);
        if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1) {
            ERR_clear_error();
            if (ssl_ != nullptr) SSL_free(ssl_);
            ssl_ = nullptr;
            throw Poco::IOException("cannot set up TLS for a connection");
        }
        SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        SSL_set_accept_state(ssl_);
    }
}

Connection::~Connection() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    ERR_clear_error();
}

Connection::Fill Connection::fill(size_t limit) {
    Fill result;
    char buffer[16384];
    while (input.size() < limit) {
        const size_t want = std::min(sizeof buffer, limit - input.size());
        if (ssl_ != nullptr) {
            const int n = SSL_read(ssl_, buffer, static_cast<int>(want));
            if (n > 0) {
                input.append(buffer, static_cast<size_t>(n));
                result.got = true;
                continue;
            }
            const int error = SSL_get_error(ssl_, n);
            ERR_clear_error();
            if (error == SSL_ERROR_WANT_READ) return result;
            if (error == SSL_ERROR_WANT_WRITE) {
                result.want_write = true;
                return result;
            }
            result.closed = true; // close_notify, a failed handshake, a reset
            return result;
        }
        const IoResult got = receive(fd_, buffer, want);
        if (got.bytes > 0) {
            input.append(buffer, static_cast<size_t>(got.bytes));
            result.got = true;
            continue;
        }
        if (got.would_block) return result;
        result.closed = true;
        return result;
    }
    return result;
}

bool Connection::wait_for(bool writable, Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    return wait_ready(fd_, writable, static_cast<int>(left));
}

bool Connection::write_all(std::string_view data, Clock::time_point deadline) {
    while (!data.empty()) {
        if (ssl_ != nullptr) {
            const int n = SSL_write(ssl_, data.data(), static_cast<int>(std::min<size_t>(data.size(), 1 << 20)));
            if (n > 0) {
                data.remove_prefix(static_cast<size_t>(n));
                continue;
            }
            const int error = SSL_get_error(ssl_, n);
            ERR_clear_error();
            if (error == SSL_ERROR_WANT_WRITE || error == SSL_ERROR_WANT_READ) {
                if (!wait_for(error == SSL_ERROR_WANT_WRITE, deadline)) return false;
                continue;
            }
            return false;
        }
        const IoResult sent = send_some(fd_, data.data(), data.size());
        if (sent.bytes > 0) {
            data.remove_prefix(static_cast<size_t>(sent.bytes));
            continue;
        }
        if (sent.would_block) {
            if (!wait_for(true, deadline)) return false;
            continue;
        }
        return false;
    }
    return true;
}

void Connection::try_write(std::string_view data) {
    if (ssl_ != nullptr) {
        if (SSL_is_init_finished(ssl_) == 1) (void)SSL_write(ssl_, data.data(), static_cast<int>(data.size()));
        ERR_clear_error();
        return;
    }
    (void)send_some(fd_, data.data(), data.size());
}

void Connection::shutdown_send() {
    if (ssl_ != nullptr && SSL_is_init_finished(ssl_) == 1) (void)SSL_shutdown(ssl_);
    ERR_clear_error();
    detail::shutdown_send(fd_);
}

void Connection::abort() { shutdown_both(fd_); }

bool Connection::discard() {
    input.clear();
    const Fill f = fill(64 * 1024);
    input.clear();
    return !f.closed;
}

} // namespace keyholder::http::detail
