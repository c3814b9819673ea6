// UriHealth: which directory servers to try, and in which order. A server that
// failed (refused, timed out, hung in the TLS handshake) is down for every
// connection of the process: new connections go to the next URI at once, and only
// a background prober pays for asking the down server again, with a back-off that
// doubles from `first` to `max` until it answers. A caller tries a down server only
// when no other is left (then it fails closed anyway). A server whose connection
// set-up has run longer than `slow_setup` for another caller counts as down for the
// others meanwhile, so that concurrent callers do not all wait on one hanging DC.
// Thread-safe. Private to the directory module.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace keyholder::directory::detail {

class UriHealth {
public:
    struct Backoff {
        std::chrono::milliseconds first{std::chrono::seconds(30)};
        std::chrono::milliseconds max{std::chrono::minutes(10)};
        std::chrono::milliseconds slow_setup{250};
    };
    /// Probe: true when the server answers (run by the prober thread, off the callers' path).
    using Probe = std::function<bool(const std::string& uri)>;

    UriHealth() : UriHealth(Backoff{}) {}
    explicit UriHealth(Backoff backoff);
    /// ~UriHealth: stops the prober (a probe in progress finishes on its own).
    ~UriHealth();
    UriHealth(const UriHealth&) = delete;
    UriHealth& operator=(const UriHealth&) = delete;

    /// ordered: the URIs, servers that are up first (in their configured order), down
    /// ones after them.
    std::vector<std::string> ordered(const std::vector<std::string>& uris);
    void failed(const std::string& uri);
    void succeeded(const std::string& uri);
    /// is_down: failed and not answered since (tests, metrics).
    bool is_down(const std::string& uri);

    /// Attempt: a connection set-up to `uri` in progress (RAII).
    class Attempt {
    public:
        Attempt(UriHealth& health, std::string uri);
        ~Attempt();
        Attempt(const Attempt&) = delete;
        Attempt& operator=(const Attempt&) = delete;

    private:
        UriHealth& health_;
        std::string uri_;
        uint64_t id_;
    };

    /// start_prober: from now on a thread re-checks down servers with `probe` when their
    /// back-off ends (once; later calls do nothing).
    void start_prober(Probe probe);

private:
    struct State;
    std::shared_ptr<State> state_;
};

} // namespace keyholder::directory::detail
