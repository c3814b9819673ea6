// A DC that accepts connections and then never answers (here a loopback listener that
// accepts and stays silent, first in the URI list, in front of a real slapd over
// LDAPS), for 40 s of lookups from 4 threads. It costs one timeout, once: the first connection set-up that meets it
// waits for the set-up bound, marks it down for the whole pool, and every later
// connection goes to the next URI at once; only the background prober asks the
// silent server again (with a doubling back-off), never a caller.
#include <gtest/gtest.h>

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "keyholder/directory/directory.h"
#include "support/slapd.h"

namespace {

using namespace keyholder::directory;
using keyholder::testing::SlapdSandbox;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::filesystem::path kSource = KEYHOLDER_SOURCE_DIR;

// SilentServer: accepts TCP connections on 127.0.0.1 and never sends a byte.
class SilentServer {
public:
    SilentServer() : socket_(Poco::Net::SocketAddress("127.0.0.1", 0)) {
        socket_.setBlocking(false);
        thread_ = std::thread([this] {
            while (!stop_) {
                if (socket_.poll(Poco::Timespan(0, 50000), Poco::Net::Socket::SELECT_READ)) {
                    std::lock_guard lock(mutex_);
                    held_.push_back(socket_.acceptConnection());
                    ++accepted_;
                }
            }
        });
    }
    ~SilentServer() {
        stop_ = true;
        thread_.join();
    }
    [[nodiscard]] std::string ldaps_uri() const {
        return "ldaps://127.0.0.1:" + std::to_string(socket_.address().port());
    }
    [[nodiscard]] int accepted() const { return accepted_; }

private:
    Poco::Net::ServerSocket socket_;
    std::atomic<bool> stop_{false};
    std::atomic<int> accepted_{0};
    std::mutex mutex_;
    std::vector<Poco::Net::StreamSocket> held_;
    std::thread thread_;
};

DirectorySettings settings_for(const SlapdSandbox& slapd, std::vector<std::string> uris) {
    DirectorySettings s;
    s.connection.uris = std::move(uris);
    s.connection.ca_file = slapd.ca_file().string();
    s.connection.network_timeout = 1s;
    s.connection.operation_timeout = 2s;
    s.base_dn = "dc=demo,dc=test";
    s.flavour = Flavour::openldap;
    s.bind_dn = "cn=keyholder,ou=services,dc=demo,dc=test";
    s.bind_password = "demo-service-password";
    s.cache_size = 0; // every lookup goes to the directory
    s.pool_size = 4;
    s.down_retry = 4s; // the prober asks again 4 s after the failure, then 8 s, 16 s after each failed probe
    return s;
}

TEST(DirectoryFaults, AHangingDcCostsOneTimeoutOnce) {
    SlapdSandbox slapd({kSource / "config/demo-directory.ldif"});
    SilentServer silent;
    // Baseline from the same run: the healthy server alone.
    Directory healthy(settings_for(slapd, {slapd.ldaps_uri()}));
    std::vector<double> baseline;
    for (int i = 0; i < 30; ++i) {
        const auto started = Clock::now();
        ASSERT_TRUE(healthy.find_user("bob"));
        baseline.push_back(std::chrono::duration<double>(Clock::now() - started).count());
    }
    std::sort(baseline.begin(), baseline.end());
    const double typical = baseline[baseline.size() / 2];

    const std::chrono::duration<double> setup_bound = 1s + 2s; // network + operation timeout
    Directory directory(settings_for(slapd, {silent.ldaps_uri(), slapd.ldaps_uri()}));
    std::mutex mutex;
    std::vector<double> latencies;
    std::atomic<int> failures{0};
    auto lookup = [&] {
        const auto started = Clock::now();
        if (!directory.find_user("bob")) ++failures;
        const double took = std::chrono::duration<double>(Clock::now() - started).count();
        std::lock_guard lock(mutex);
        latencies.push_back(took);
    };
    lookup(); // the first caller (keyholderd's readiness probe) meets the silent server
    const auto until = Clock::now() + 40s;
    std::vector<std::thread> callers;
    for (int t = 0; t < 4; ++t)
        callers.emplace_back([&] {
            while (Clock::now() < until) {
                lookup();
                std::this_thread::sleep_for(20ms);
            }
        });
    for (auto& c : callers)
        c.join();
    // What the silent server cost: the lookups that waited on it (over 1 s: a third of
    // the set-up bound, far above anything a loaded machine adds to a lookup). The
    // sum of every lookup's excess over the baseline is printed too; on a busy shared
    // machine it also holds ordinary jitter.
    double extra = 0;
    double waited = 0;
    int waits = 0;
    for (double took : latencies) {
        extra += std::max(0.0, took - typical);
        if (took > 1.0) {
            waited += took;
            ++waits;
        }
    }
    std::sort(latencies.begin(), latencies.end());
    std::printf("lookups: %zu, baseline p50 %.2f ms, p50 %.2f ms, p99 %.2f ms, max %.0f ms; %d waited on the "
                "silent server, %.2f s in all (bound: one set-up, %.0f s); excess over the baseline, jitter "
                "included: %.2f s; connections to the silent server: %d\n",
                latencies.size(), typical * 1e3, latencies[latencies.size() / 2] * 1e3,
                latencies[latencies.size() * 99 / 100] * 1e3, latencies.back() * 1e3, waits, waited,
                setup_bound.count(), extra, silent.accepted());
    EXPECT_EQ(failures, 0);
    EXPECT_GT(latencies.size(), 200U);
    EXPECT_EQ(waits, 1) << "more than one lookup waited on the silent server";
    EXPECT_LE(waited, setup_bound.count() + 0.5) << "more than one timeout in all";
    // One caller connection, then the prober's retries (4 s, 8 s, 16 s back-off after
    // each 3 s probe): never one per pooled connection.
    EXPECT_GE(silent.accepted(), 2) << "the prober asks the silent server again";
    EXPECT_LE(silent.accepted(), 5);
}

} // namespace
