// Socket calls on Windows (see socket_io.h): Winsock on a socket Poco made
// non-blocking (ioctlsocket FIONBIO); no SIGPIPE exists.
#include "../socket_io.h"

#include <winsock2.h>

namespace keyholder::http::detail {
namespace {

IoResult outcome(int n) {
    IoResult result;
    if (n > 0)
        result.bytes = n;
    else if (n == SOCKET_ERROR && ::WSAGetLastError() == WSAEWOULDBLOCK)
        result.would_block = true;
    else
        result.closed = true;
    return result;
}

int clamp(size_t size) { return static_cast<int>(size > (1U << 30) ? (1U << 30) : size); }

} // namespace

IoResult receive(int fd, char* buffer, size_t size) {
    return outcome(::recv(static_cast<SOCKET>(fd), buffer, clamp(size), 0));
}

IoResult send_some(int fd, const char* data, size_t size) {
    const int n = ::send(static_cast<SOCKET>(fd), data, clamp(size), 0);
    return outcome(n);
}

bool wait_ready(int fd, bool writable, int timeout_ms) {
    WSAPOLLFD p{static_cast<SOCKET>(fd), static_cast<SHORT>(writable ? POLLWRNORM : POLLRDNORM), 0};
    const int n = ::WSAPoll(&p, 1, timeout_ms);
    return n > 0 && (p.revents & (POLLERR | POLLNVAL)) == 0;
}

void shutdown_send(int fd) { ::shutdown(static_cast<SOCKET>(fd), SD_SEND); }

void shutdown_both(int fd) { ::shutdown(static_cast<SOCKET>(fd), SD_BOTH); }

void ignore_broken_pipes() {}

} // namespace keyholder::http::detail
