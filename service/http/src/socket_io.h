// Non-blocking socket calls of the HTTP front end, one implementation per system
// (posix/socket_io.cpp: recv/send/poll; windows/socket_io.cpp: Winsock).
#pragma once

#include <cstddef>

namespace keyholder::http::detail {

/// IoResult: bytes moved (> 0), or why none were.
struct IoResult {
    long bytes = 0;           ///< > 0: moved
    bool would_block = false; ///< none now: wait for readiness
    bool closed = false;      ///< end of stream (receive) or the connection failed
};

/// receive / send_some: one non-blocking call (interrupted calls are retried); a
/// broken connection never raises a signal.
IoResult receive(int fd, char* buffer, size_t size);
IoResult send_some(int fd, const char* data, size_t size);
/// wait_ready: the socket became readable (or writable) within `timeout_ms`.
bool wait_ready(int fd, bool writable, int timeout_ms);
void shutdown_send(int fd);
void shutdown_both(int fd);
/// ignore_broken_pipes: a peer that resets mid-answer costs a failed write, not the
/// process (POSIX: OpenSSL writes with write(2), which raises SIGPIPE).
void ignore_broken_pipes();

} // namespace keyholder::http::detail
