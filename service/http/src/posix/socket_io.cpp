// Socket calls on POSIX (see socket_io.h).
#include "../socket_io.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <csignal>

namespace keyholder::http::detail {
namespace {

IoResult outcome(ssize_t n) {
    IoResult result;
    if (n > 0)
        result.bytes = static_cast<long>(n);
    else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        result.would_block = true;
    else
        result.closed = true;
    return result;
}

} // namespace

IoResult receive(int fd, char* buffer, size_t size) {
    ssize_t n = 0;
    do {
        n = ::recv(fd, buffer, size, MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    return outcome(n);
}

IoResult send_some(int fd, const char* data, size_t size) {
    ssize_t n = 0;
    do {
        n = ::send(fd, data, size, MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return outcome(n);
}

bool wait_ready(int fd, bool writable, int timeout_ms) {
    pollfd p{fd, static_cast<short>(writable ? POLLOUT : POLLIN), 0};
    const int n = ::poll(&p, 1, timeout_ms);
    return n > 0 && (p.revents & (POLLERR | POLLNVAL)) == 0;
}

void shutdown_send(int fd) { ::shutdown(fd, SHUT_WR); }

void shutdown_both(int fd) { ::shutdown(fd, SHUT_RDWR); }

void ignore_broken_pipes() { std::signal(SIGPIPE, SIG_IGN); }

} // namespace keyholder::http::detail
