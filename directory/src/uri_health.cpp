// UriHealth (see uri_health.h).
#include "uri_health.h"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

namespace keyholder::directory::detail {

using Clock = std::chrono::steady_clock;

struct UriHealth::State {
    explicit State(Backoff b) : backoff(b) {}
    struct Down {
        Clock::time_point probe_at;       ///< when the prober asks it again
        std::chrono::milliseconds wait{}; ///< the current back-off
    };
    const Backoff backoff;
    std::mutex mutex;
    std::condition_variable changed;
    std::map<std::string, Down> down;
    std::map<std::string, std::map<uint64_t, Clock::time_point>> in_flight; ///< set-ups running, by start
    uint64_t next_attempt = 0;
    bool stop = false;
    bool prober_started = false;

    // slow: another caller's set-up to this URI has run longer than slow_setup.
    bool slow(const std::string& uri, Clock::time_point now) const {
        auto it = in_flight.find(uri);
        if (it == in_flight.end()) return false;
        return std::any_of(it->second.begin(), it->second.end(),
                           [&](const auto& attempt) { return now - attempt.second > backoff.slow_setup; });
    }

    void prober_loop(const Probe& probe) {
        std::unique_lock lock(mutex);
        while (!stop) {
            auto next = std::min_element(down.begin(), down.end(), [](const auto& a, const auto& b) {
                return a.second.probe_at < b.second.probe_at;
            });
            if (next == down.end()) {
                changed.wait(lock);
                continue;
            }
            if (Clock::now() < next->second.probe_at) {
                const auto probe_at = next->second.probe_at; // the entry may go while this waits
                changed.wait_until(lock, probe_at);
                continue;
            }
            const std::string uri = next->first;
            next->second.probe_at = Clock::now() + next->second.wait; // not again while probing
            lock.unlock();
            const bool answered = probe(uri);
            lock.lock();
            auto it = down.find(uri);
            if (it == down.end()) continue; // a caller reached it meanwhile
            if (answered) {
                down.erase(it);
            } else {
                it->second.wait = std::min(it->second.wait * 2, backoff.max);
                it->second.probe_at = Clock::now() + it->second.wait;
            }
        }
    }
};

UriHealth::UriHealth(Backoff backoff) : state_(std::make_shared<State>(backoff)) {}

UriHealth::~UriHealth() {
    std::lock_guard lock(state_->mutex);
    state_->stop = true;
    state_->changed.notify_all();
}

std::vector<std::string> UriHealth::ordered(const std::vector<std::string>& uris) {
    std::lock_guard lock(state_->mutex);
    const auto now = Clock::now();
    std::vector<std::string> up, down;
    for (const auto& uri : uris)
        (state_->down.count(uri) != 0 || state_->slow(uri, now) ? down : up).push_back(uri);
    up.insert(up.end(), down.begin(), down.end());
    return up;
}

void UriHealth::failed(const std::string& uri) {
    std::lock_guard lock(state_->mutex);
    auto [it, fresh] = state_->down.try_emplace(uri);
    if (fresh) {
        it->second.wait = state_->backoff.first;
        it->second.probe_at = Clock::now() + it->second.wait;
        state_->changed.notify_all();
    }
}

void UriHealth::succeeded(const std::string& uri) {
    std::lock_guard lock(state_->mutex);
    state_->down.erase(uri);
}

bool UriHealth::is_down(const std::string& uri) {
    std::lock_guard lock(state_->mutex);
    return state_->down.count(uri) != 0;
}

UriHealth::Attempt::Attempt(UriHealth& health, std::string uri) : health_(health), uri_(std::move(uri)) {
    std::lock_guard lock(health_.state_->mutex);
    id_ = ++health_.state_->next_attempt;
    health_.state_->in_flight[uri_][id_] = Clock::now();
}

UriHealth::Attempt::~Attempt() {
    std::lock_guard lock(health_.state_->mutex);
    auto it = health_.state_->in_flight.find(uri_);
    if (it == health_.state_->in_flight.end()) return;
    it->second.erase(id_);
    if (it->second.empty()) health_.state_->in_flight.erase(it);
}

void UriHealth::start_prober(Probe probe) {
    std::lock_guard lock(state_->mutex);
    if (state_->prober_started) return;
    state_->prober_started = true;
    // The thread shares the state, not this object: it may outlive it (a probe that
    // hangs until its timeout must not hold up shutdown), and ends once told to stop.
    std::thread([state = state_, probe = std::move(probe)] { state->prober_loop(probe); }).detach();
}

} // namespace keyholder::directory::detail
