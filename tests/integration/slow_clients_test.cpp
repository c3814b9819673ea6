// Slow clients cannot starve others. 10 x `threads` connections from 127.0.0.10-13
// that send a request head one byte a second (slowloris), and a few that send nothing
// at all, hold no worker: /healthz and an authenticated GET from another address are
// answered within 1 s all along, and every slow connection is closed at its
// whole-request deadline (read_timeout) with a 408. Connections beyond the
// per-address cap are refused at once (503), and the cap frees up when they close.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "keyholder/api/api.h"
#include "keyholder/auth/sign_on.h"
#include "keyholder/config/config.h"
#include "keyholder/core/authority.h"
#include "keyholder/core/catalog.h"
#include "keyholder/core/directory_settings.h"
#include "keyholder/directory/directory.h"
#include "keyholder/http/server.h"
#include "keyholder/store/store.h"
#include "support/http_get.h"
#include "support/slapd.h"
#include "support/temp_dir.h"

namespace {

using namespace keyholder;
using keyholder::testing::HttpCall;
using keyholder::testing::SlapdSandbox;
using keyholder::testing::TempDir;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::filesystem::path kSource = KEYHOLDER_SOURCE_DIR;
constexpr int kThreads = 8;
constexpr auto kDeadline = 3s; // read_timeout in the test configuration

// SlowClient: a connection from `source` that drips a request head, a byte a second.
struct SlowClient {
    SlowClient() = default;
    SlowClient(SlowClient&& o) noexcept
        : fd(std::exchange(o.fd, -1)), opened(o.opened), closed(o.closed), answer(std::move(o.answer)),
          silent(o.silent) {}
    SlowClient& operator=(SlowClient&&) = delete;
    ~SlowClient() {
        if (fd >= 0) ::close(fd);
    }
    int fd = -1;
    Clock::time_point opened;
    std::optional<Clock::time_point> closed;
    std::string answer;
    bool silent = false; ///< sends nothing at all
};

class SlowClients : public ::testing::Test {
protected:
    void SetUp() override {
        slapd_ =
            std::make_unique<SlapdSandbox>(std::vector<std::filesystem::path>{kSource / "config/demo-directory.ldif"});
        dir_.write("data/ldap.password", "demo-service-password");
        auto file = dir_.write("keyholder.ini",
                               "[service]\ndata_dir = data\nadmin_groups = keyholder-admins\n"
                               "[http]\nlisten = 127.0.0.1:0\nthreads = " +
                                   std::to_string(kThreads) +
                                   "\nread_timeout = 3s\nmax_connections_per_address = 32\n"
                                   "[ldap]\nuris = " +
                                   slapd_->ldap_uri() +
                                   "\nbase_dn = dc=demo,dc=test\nflavour = openldap\n"
                                   "bind_dn = cn=keyholder,ou=services,dc=demo,dc=test\n"
                                   "bind_password_file = ldap.password\n"
                                   "[policy.standard]\nrequester_groups = operators\nstage1_approvers = team-leads\n"
                                   "[entry.demo-admin]\npolicy = standard\nrelease = password\naccount = demo-admin\n");
        auto loaded = config::load_config(file);
        ASSERT_TRUE(loaded) << loaded.error().front().to_string();
        config_ = std::make_unique<config::Config>(std::move(*loaded));
        {
            auto store = store::open_store(config_->store.file);
            core::record_service_start(store.connection, *config_, clock_, "test");
        }
        directory_ = std::make_unique<directory::Directory>(core::directory_settings(config_->ldap));
        authority_ = std::make_unique<core::DirectoryAuthority>(*directory_);
        pool_ = std::make_unique<api::CorePool>(*config_, *authority_, clock_, nullptr, 4);
        context_ = std::make_unique<api::ApiContext>(
            api::ApiContext{*config_, *pool_, *authority_, clock_, nullptr, nullptr, {}});
        api::add_api_routes(router_, *context_);
        sign_on_ = std::make_unique<auth::SignOn>(config_->auth, *directory_);
        server_ = std::make_unique<http::Server>(config_->http, http::Readiness{}, &router_, sign_on_.get(), &metrics_);
        server_->start();
    }
    void TearDown() override {
        server_.reset();
        sign_on_.reset();
    }

    // open: a slow client connected from `source` (a loopback address of its own).
    SlowClient open(const std::string& source, bool silent) {
        SlowClient c;
        c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        sockaddr_in from{};
        from.sin_family = AF_INET;
        ::inet_pton(AF_INET, source.c_str(), &from.sin_addr);
        EXPECT_EQ(::bind(c.fd, reinterpret_cast<sockaddr*>(&from), sizeof from), 0) << source;
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_port = htons(server_->port());
        ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
        ::connect(c.fd, reinterpret_cast<sockaddr*>(&to), sizeof to); // in progress (non-blocking)
        c.opened = Clock::now();
        c.silent = silent;
        if (!silent) {
            std::this_thread::sleep_for(1ms); // the loopback connect completes at once
            send(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
        }
        return c;
    }
    static void send(SlowClient& c, const std::string& bytes) {
        [[maybe_unused]] auto sent = ::send(c.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    // poll: reads what the server sent; marks the client closed at end of stream.
    static void poll(SlowClient& c) {
        if (c.closed) return;
        char buffer[4096];
        while (true) {
            const ssize_t n = ::recv(c.fd, buffer, sizeof buffer, MSG_DONTWAIT);
            if (n > 0) {
                c.answer.append(buffer, static_cast<size_t>(n));
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOTCONN)) return;
            c.closed = Clock::now(); // end of stream, or a reset
            return;
        }
    }
    // probe: one answer from an honest client, and how long it took.
    std::pair<int, double> probe(const std::string& path, bool signed_on) {
        HttpCall call;
        call.url = "http://127.0.0.1:" + std::to_string(server_->port()) + path;
        if (signed_on) {
            call.basic_user = "bob";
            call.basic_password = "bob-demo-password";
        }
        const auto started = Clock::now();
        const auto answer = keyholder::testing::http_call(call);
        return {answer.status, std::chrono::duration<double>(Clock::now() - started).count()};
    }

    TempDir dir_;
    core::SystemClock clock_;
    std::unique_ptr<SlapdSandbox> slapd_;
    std::unique_ptr<config::Config> config_;
    std::unique_ptr<directory::Directory> directory_;
    std::unique_ptr<core::DirectoryAuthority> authority_;
    std::unique_ptr<api::CorePool> pool_;
    std::unique_ptr<api::ApiContext> context_;
    http::Router router_;
    http::Metrics metrics_;
    std::unique_ptr<auth::SignOn> sign_on_;
    std::unique_ptr<http::Server> server_;
};

TEST_F(SlowClients, CannotStarveOthersAndAreClosedAtTheirDeadline) {
    std::vector<SlowClient> slow;
    const std::vector<std::string> sources{"127.0.0.10", "127.0.0.11", "127.0.0.12", "127.0.0.13"};
    for (int i = 0; i < 10 * kThreads; ++i)
        slow.push_back(open(sources[static_cast<size_t>(i) % sources.size()], i % 10 == 9)); // a tenth silent
    double worst = 0;
    int probes = 0;
    const auto until = Clock::now() + kDeadline + 2s;
    auto next_drip = Clock::now() + 1s;
    while (Clock::now() < until) {
        if (Clock::now() >= next_drip) {
            for (auto& c : slow)
                if (!c.silent && !c.closed) send(c, "X");
            next_drip += 1s;
        }
        for (const auto& [path, signed_on] : {std::pair{"/healthz", false}, std::pair{"/api/v1/me", true}}) {
            const auto [status, seconds] = probe(path, signed_on);
            EXPECT_EQ(status, 200) << path;
            worst = std::max(worst, seconds);
            ++probes;
        }
        for (auto& c : slow)
            poll(c);
        std::this_thread::sleep_for(100ms);
    }
    std::printf("%d honest requests beside %zu slow connections: the slowest took %.0f ms\n", probes, slow.size(),
                worst * 1e3);
    EXPECT_LT(worst, 1.0) << "an honest request waited behind slow clients";
    int closed_on_time = 0;
    for (auto& c : slow) {
        poll(c);
        ASSERT_TRUE(c.closed) << "a slow connection is still open after its deadline";
        const double after = std::chrono::duration<double>(*c.closed - c.opened).count();
        if (after >= 2.9 && after < 4.5) ++closed_on_time;
        if (!c.silent) {
            EXPECT_NE(c.answer.find("408"), std::string::npos) << c.answer;
        }
    }
    EXPECT_EQ(closed_on_time, static_cast<int>(slow.size())) << "closed at read_timeout (3 s)";
    EXPECT_EQ(metrics_.value("keyholder_http_request_timeouts_total"), static_cast<double>(slow.size()));
}

TEST_F(SlowClients, APerAddressCapRefusesTheRestAtOnce) {
    std::vector<SlowClient> held;
    for (int i = 0; i < 32; ++i)
        held.push_back(open("127.0.0.20", true));
    std::this_thread::sleep_for(200ms);
    SlowClient refused = open("127.0.0.20", true);
    const auto deadline = Clock::now() + 1s;
    while (!refused.closed && Clock::now() < deadline) {
        poll(refused);
        std::this_thread::sleep_for(10ms);
    }
    ASSERT_TRUE(refused.closed) << "the 33rd connection from one address was not refused";
    EXPECT_NE(refused.answer.find("503"), std::string::npos) << refused.answer;
    EXPECT_NE(refused.answer.find("too_many_connections"), std::string::npos) << refused.answer;
    EXPECT_EQ(metrics_.value("keyholder_http_connections_refused_total"), 1.0);
    EXPECT_EQ(probe("/healthz", false).first, 200) << "other addresses are served";
    held.clear(); // closed by the client: the cap frees up
    std::this_thread::sleep_for(300ms);
    SlowClient again = open("127.0.0.20", false);
    send(again, "\r\n");
    const auto answered_by = Clock::now() + 2s;
    while (again.answer.find("\r\n\r\n") == std::string::npos && Clock::now() < answered_by) {
        poll(again);
        std::this_thread::sleep_for(10ms);
    }
    EXPECT_NE(again.answer.find("200 OK"), std::string::npos) << again.answer;
}

} // namespace
