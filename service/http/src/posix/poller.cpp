// Poller on Linux: epoll, woken through an eventfd (see poller.h).
#include "../poller.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace keyholder::http::detail {
namespace {

uint32_t to_epoll(uint32_t interest) {
    uint32_t events = EPOLLRDHUP;
    if ((interest & Poller::readable) != 0) events |= EPOLLIN;
    if ((interest & Poller::writable) != 0) events |= EPOLLOUT;
    return events;
}

[[noreturn]] void fail(const char* call) { throw std::runtime_error(std::string(call) + ": " + std::strerror(errno)); }

} // namespace

struct Poller::State {
    int poll_fd = -1;
    int wake_fd = -1;
};

Poller::Poller() : state_(std::make_unique<State>()) {
    int& poll_fd = state_->poll_fd;
    int& wake_fd = state_->wake_fd;
    poll_fd = ::epoll_create1(EPOLL_CLOEXEC);
    if (poll_fd < 0) fail("epoll_create1");
    wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd < 0) {
        ::close(poll_fd);
        fail("eventfd");
    }
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = wake_fd;
    if (::epoll_ctl(poll_fd, EPOLL_CTL_ADD, wake_fd, &event) != 0) {
        ::close(wake_fd);
        ::close(poll_fd);
        fail("epoll_ctl");
    }
}

Poller::~Poller() {
    ::close(state_->wake_fd);
    ::close(state_->poll_fd);
}

void Poller::add(int fd, uint32_t interest) {
    epoll_event event{};
    event.events = to_epoll(interest);
    event.data.fd = fd;
    if (::epoll_ctl(state_->poll_fd, EPOLL_CTL_ADD, fd, &event) != 0) fail("epoll_ctl(ADD)");
}

void Poller::modify(int fd, uint32_t interest) {
    epoll_event event{};
    event.events = to_epoll(interest);
    event.data.fd = fd;
    if (::epoll_ctl(state_->poll_fd, EPOLL_CTL_MOD, fd, &event) != 0) fail("epoll_ctl(MOD)");
}

void Poller::remove(int fd) { ::epoll_ctl(state_->poll_fd, EPOLL_CTL_DEL, fd, nullptr); }

std::vector<Poller::Event> Poller::wait(std::chrono::milliseconds timeout) {
    epoll_event events[256];
    const int n = ::epoll_wait(state_->poll_fd, events, 256, static_cast<int>(std::max<int64_t>(timeout.count(), 0)));
    std::vector<Event> ready;
    if (n < 0) {
        if (errno == EINTR) return ready;
        fail("epoll_wait");
    }
    ready.reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
        if (events[i].data.fd == state_->wake_fd) {
            uint64_t count = 0;
            while (::read(state_->wake_fd, &count, sizeof count) > 0) {}
            continue;
        }
        const uint32_t e = events[i].events;
        ready.push_back({events[i].data.fd, (e & EPOLLIN) != 0, (e & EPOLLOUT) != 0, (e & (EPOLLHUP | EPOLLERR)) != 0});
    }
    return ready;
}

void Poller::wake() {
    const uint64_t one = 1;
    [[maybe_unused]] auto written = ::write(state_->wake_fd, &one, sizeof one);
}

} // namespace keyholder::http::detail
