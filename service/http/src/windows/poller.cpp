// Poller on Windows: WSAPoll over the registered sockets, woken through a loopback
// UDP socket that sends to itself (see poller.h).
#include "../poller.h"

#include <winsock2.h>
#include <ws2tcpip.h>

#include <map>
#include <mutex>
#include <stdexcept>
#include <string>

namespace keyholder::http::detail {
namespace {

[[noreturn]] void fail(const char* call) {
    throw std::runtime_error(std::string(call) + ": Winsock error " + std::to_string(::WSAGetLastError()));
}

SHORT to_poll(uint32_t interest) {
    SHORT events = 0;
    if ((interest & Poller::readable) != 0) events |= POLLRDNORM;
    if ((interest & Poller::writable) != 0) events |= POLLWRNORM;
    return events;
}

} // namespace

struct Poller::State {
    std::mutex mutex;
    std::map<int, uint32_t> interests;
    SOCKET wake = INVALID_SOCKET;
};

Poller::Poller() : state_(std::make_unique<State>()) {
    SOCKET wake = ::socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    if (wake == INVALID_SOCKET) fail("socket");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int length = sizeof address;
    u_long non_blocking = 1;
    if (::bind(wake, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(wake, reinterpret_cast<sockaddr*>(&address), &length) != 0 ||
        ::connect(wake, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::ioctlsocket(wake, FIONBIO, &non_blocking) != 0) {
        ::closesocket(wake);
        fail("the wake-up socket");
    }
    state_->wake = wake;
}

Poller::~Poller() { ::closesocket(state_->wake); }

void Poller::add(int fd, uint32_t interest) {
    std::lock_guard lock(state_->mutex);
    state_->interests[fd] = interest;
}

void Poller::modify(int fd, uint32_t interest) { add(fd, interest); }

void Poller::remove(int fd) {
    std::lock_guard lock(state_->mutex);
    state_->interests.erase(fd);
}

std::vector<Poller::Event> Poller::wait(std::chrono::milliseconds timeout) {
    std::vector<WSAPOLLFD> set;
    {
        std::lock_guard lock(state_->mutex);
        set.reserve(state_->interests.size() + 1);
        set.push_back({state_->wake, POLLRDNORM, 0});
        for (const auto& [fd, interest] : state_->interests)
            set.push_back({static_cast<SOCKET>(fd), to_poll(interest), 0});
    }
    const int n =
        ::WSAPoll(set.data(), static_cast<ULONG>(set.size()), static_cast<INT>(std::max<int64_t>(timeout.count(), 0)));
    std::vector<Event> ready;
    if (n == SOCKET_ERROR) {
        if (::WSAGetLastError() == WSAEINTR) return ready;
        fail("WSAPoll");
    }
    if ((set[0].revents & POLLRDNORM) != 0) {
        char drain[64];
        while (::recv(state_->wake, drain, sizeof drain, 0) > 0) {}
    }
    for (size_t i = 1; i < set.size(); ++i) {
        const SHORT e = set[i].revents;
        if (e == 0) continue;
        ready.push_back({static_cast<int>(set[i].fd), (e & POLLRDNORM) != 0, (e & POLLWRNORM) != 0,
                         (e & (POLLHUP | POLLERR | POLLNVAL)) != 0});
    }
    return ready;
}

void Poller::wake() {
    const char one = 1;
    (void)::send(state_->wake, &one, 1, 0);
}

} // namespace keyholder::http::detail
