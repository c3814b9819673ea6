// keyholderd as a process: configuration check, start, probes, clean stop on
// SIGTERM / SIGINT within 2 s with no stray process, daemon mode with a PID file,
// and refusals (port taken, database from a newer version).
#include <gtest/gtest.h>

#include <Poco/Environment.h>

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>

#include <csignal>
#include <regex>
#include <thread>

#include "keyholder/store/connection.h"
#include "keyholder/store/store.h"
#include "support/child_process.h"
#include "support/http_get.h"
#include "support/slapd.h"
#include "support/temp_dir.h"

namespace {

using namespace keyholder::testing;
using namespace std::chrono_literals;

const std::filesystem::path kSource = KEYHOLDER_SOURCE_DIR;
const std::string kDaemon = KEYHOLDERD_PATH;

// A complete configuration: plain HTTP on an ephemeral loopback port, a directory
// URI where nothing listens (port 1), the password in a private file.
std::filesystem::path write_config(const TempDir& dir, const std::string& listen = "127.0.0.1:0") {
    dir.write("data/ldap.password", "pw");
    return dir.write("keyholder.ini", "[service]\ndata_dir = data\nadmin_groups = Admins\n"
                                      "[http]\nlisten = " +
                                          listen +
                                          "\n"
                                          "[ldap]\nuris = ldap://127.0.0.1:1\nbase_dn = dc=test\n"
                                          "bind_dn = cn=svc,dc=test\nbind_password_file = ldap.password\n"
                                          "network_timeout = 1s\n"
                                          "[policy.p]\nrequester_groups = Ops\nstage1_approvers = Leads\n"
                                          "[entry.e]\npolicy = p\nrelease = group\ngroup = Tier0\n");
}

// The URL keyholderd logged ("listening on http://127.0.0.1:PORT"), once its
// start-up work is done ("started"; "ready" follows once /readyz would say so).
std::string wait_for_url(ChildProcess& daemon) {
    std::string log = daemon.wait_for_output("keyholderd: started", 20s);
    std::smatch match;
    if (!std::regex_search(log, match, std::regex("listening on (http://[0-9.]+:[0-9]+)"))) return "";
    return match[1].str();
}

std::vector<pid_t> children_of(pid_t parent) {
    std::vector<pid_t> out;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        const std::string name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::string stat = read_file(entry.path() / "stat");
        auto close = stat.rfind(')');
        if (close == std::string::npos) continue;
        std::istringstream rest(stat.substr(close + 2));
        char state = 0;
        pid_t ppid = 0;
        rest >> state >> ppid;
        if (ppid == parent) out.push_back(std::stoi(name));
    }
    return out;
}

TEST(Keyholderd, StartsAnswersHealthzAndStopsOnSigtermWithinTwoSeconds) {
    TempDir dir;
    ChildProcess daemon(kDaemon, {"--config", write_config(dir).string()}, dir.path());
    const std::string url = wait_for_url(daemon);
    ASSERT_FALSE(url.empty()) << daemon.err();

    auto health = http_get(url + "/healthz");
    EXPECT_EQ(health.status, 200);
    EXPECT_EQ(health.content_type, "application/json");
    EXPECT_EQ(health.body, R"({"status":"alive"})");

    // The directory is down, so the service is alive but not ready, and says why; the
    // log does not claim "ready" (it says what is missing).
    auto ready = http_get(url + "/readyz");
    EXPECT_EQ(ready.status, 503);
    EXPECT_FALSE(daemon.wait_for_output("not ready yet: ", 5s).empty()) << daemon.err();
    EXPECT_EQ((daemon.out() + daemon.err()).find("keyholderd: ready"), std::string::npos);
    EXPECT_NE(ready.body.find("directory"), std::string::npos) << ready.body;
    EXPECT_NE(ready.body.find("ldap://127.0.0.1:1"), std::string::npos) << ready.body;

    // Every documented counter is there from the start, at 0 (an increase() alert sees
    // the first failure), beside the gauges.
    const std::string metrics = http_get(url + "/metrics").body;
    for (const char* series :
         {"keyholder_takeback_failures_total 0", "keyholder_directory_errors_total{where=\"api\"} 0",
          "keyholder_directory_errors_total{where=\"sign_on\"} 0", "keyholder_report_runs_total{result=\"failed\"} 0",
          "keyholder_report_runs_total{result=\"succeeded\"} 0", "keyholder_mail_deliveries_total{result=\"sent\"} 0",
          "keyholder_mail_deliveries_total{result=\"retry\"} 0", "keyholder_mail_deliveries_total{result=\"failed\"} 0",
          "keyholder_signon_failures_total{method=\"basic\"} 0",
          "keyholder_signon_failures_total{method=\"negotiate\"} 0", "keyholder_http_connections_refused_total 0",
          "keyholder_http_request_timeouts_total 0", "keyholder_http_connections_open ", "keyholder_http_workers_busy ",
          "keyholder_http_requests_queued ", "keyholder_up 1"})
        EXPECT_NE(metrics.find(series), std::string::npos) << series << " missing from\n" << metrics;

    auto missing = http_get(url + "/nope");
    EXPECT_EQ(missing.status, 404);
    EXPECT_NE(missing.body.find(R"("error":{"code":"not_found")"), std::string::npos) << missing.body;

    // The store was created, migrated and is private to the service.
    auto db = dir.path() / "data/keyholder.db";
    ASSERT_TRUE(std::filesystem::exists(db));
    EXPECT_EQ(std::filesystem::status(db).permissions() & std::filesystem::perms::others_read,
              std::filesystem::perms::none);

    const auto stop_requested = std::chrono::steady_clock::now();
    daemon.signal(SIGTERM);
    auto status = daemon.wait_for(2s);
    const auto took = std::chrono::steady_clock::now() - stop_requested;
    ASSERT_TRUE(status.has_value()) << "keyholderd did not stop within 2 s of SIGTERM";
    EXPECT_EQ(*status, 0) << daemon.err();
    EXPECT_LT(took, 2s);
    EXPECT_FALSE(process_exists(daemon.pid()));
    EXPECT_TRUE(children_of(daemon.pid()).empty());
    EXPECT_NE(daemon.err().find("stopped"), std::string::npos) << daemon.err();
    EXPECT_EQ(http_get(url + "/healthz").status, 0) << "the port still answers after the stop";
}

TEST(Keyholderd, StopsOnSigintWhileAKeepAliveConnectionIsOpen) {
    TempDir dir;
    ChildProcess daemon(kDaemon, {"--config", write_config(dir).string()}, dir.path());
    const std::string url = wait_for_url(daemon);
    ASSERT_FALSE(url.empty()) << daemon.err();
    // An idle keep-alive client must not hold up the stop.
    Poco::Net::StreamSocket idle(Poco::Net::SocketAddress(url.substr(7)));
    std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    idle.sendBytes(request.data(), static_cast<int>(request.size()));
    char buffer[512];
    ASSERT_GT(idle.receiveBytes(buffer, sizeof buffer), 0);
    daemon.signal(SIGINT);
    auto status = daemon.wait_for(2s);
    ASSERT_TRUE(status.has_value()) << "keyholderd did not stop within 2 s of SIGINT";
    EXPECT_EQ(*status, 0);
}

TEST(Keyholderd, RunsAsADaemonWithAPidFile) {
    TempDir dir;
    auto pidfile = dir.path() / "keyholderd.pid";
    // Pick a free port up front: the daemon's log goes to a file, not to us.
    Poco::Net::ServerSocket probe(Poco::Net::SocketAddress("127.0.0.1", 0));
    const auto port = probe.address().port();
    probe.close();
    auto config = write_config(dir, "127.0.0.1:" + std::to_string(port));
    auto result = run(kDaemon, {"--config", config.string(), "--daemon", "--pidfile=" + pidfile.string()});
    ASSERT_EQ(result.status, 0) << result.err; // the launcher returns once the daemon forked

    pid_t pid = 0;
    for (int i = 0; i < 200 && pid == 0; ++i) {
        std::string text = read_file(pidfile);
        if (!text.empty())
            pid = std::stoi(text);
        else
            std::this_thread::sleep_for(25ms);
    }
    ASSERT_GT(pid, 0) << "no PID file";
    const std::string url = "http://127.0.0.1:" + std::to_string(port);
    int status = 0;
    for (int i = 0; i < 200 && status != 200; ++i) {
        status = http_get(url + "/healthz").status;
        if (status != 200) std::this_thread::sleep_for(25ms);
    }
    EXPECT_EQ(status, 200);
    ::kill(pid, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + 2s;
    while (process_exists(pid) && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(10ms);
    EXPECT_FALSE(process_exists(pid)) << "daemon still running 2 s after SIGTERM";
    if (process_exists(pid)) ::kill(pid, SIGKILL);
    for (int i = 0; i < 100 && std::filesystem::exists(pidfile); ++i)
        std::this_thread::sleep_for(10ms);
    EXPECT_FALSE(std::filesystem::exists(pidfile)) << "the PID file is removed on exit";
}

TEST(Keyholderd, RefusesToStartWhenThePortIsTaken) {
    TempDir dir;
    Poco::Net::ServerSocket taken;
    taken.bind(Poco::Net::SocketAddress("127.0.0.1", 0), false, false);
    taken.listen();
    auto config = write_config(dir, "127.0.0.1:" + std::to_string(taken.address().port()));
    auto result = run(kDaemon, {"--config", config.string()}, {}, 20s);
    EXPECT_NE(result.status, 0);
    EXPECT_NE(result.err.find("cannot listen on 127.0.0.1:" + std::to_string(taken.address().port())),
              std::string::npos)
        << result.err;
}

TEST(Keyholderd, RefusesADatabaseWrittenByANewerVersion) {
    TempDir dir;
    auto config = write_config(dir);
    {
        auto opened = keyholder::store::open_store(dir.path() / "data/keyholder.db");
        opened.connection.exec_script(
            "INSERT INTO schema_version(version, description, applied_at) VALUES (1000, 'future', 0)");
    }
    auto result = run(kDaemon, {"--config", config.string()}, {}, 20s);
    EXPECT_NE(result.status, 0);
    EXPECT_NE(result.err.find("written by a newer keyholder"), std::string::npos) << result.err;
}

TEST(Keyholderd, RefusesToStartWithABrokenConfiguration) {
    TempDir dir;
    auto config = dir.write("bad.ini", "[service]\nadmin_groups = A\n[ldap]\nuris = ldaps://x\n");
    auto result = run(kDaemon, {"--config", config.string()}, {}, 20s);
    EXPECT_EQ(result.status, 78); // EX_CONFIG
    EXPECT_NE(result.err.find("not starting"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("[ldap] base_dn: missing required value"), std::string::npos) << result.err;
}

TEST(KeyholderdCheckConfig, ShippedSamplePasses) {
    TempDir data;
    data.write("tls/keyholder.crt", "cert", 0644);
    data.write("tls/keyholder.key", "key");
    data.write("keyholder.keytab", "keytab");
    data.write("smtp.password", "pw");
    auto result = run(
        kDaemon, {"--check-config", (kSource / "config/keyholder.ini").string(), "--data-dir", data.path().string()});
    EXPECT_EQ(result.status, 0) << result.err;
    EXPECT_NE(result.out.find("keyholder.ini: OK (2 policies, 2 entries, 2 scheduled reports)"), std::string::npos)
        << result.out;
}

TEST(KeyholderdCheckConfig, DemoConfigPasses) {
    TempDir data;
    auto result =
        run(kDaemon, {"--check-config", (kSource / "config/demo.ini").string(), "--data-dir", data.path().string()},
            {{"KEYHOLDER_DEMO_LDAP_PASSWORD", "demo"}});
    EXPECT_EQ(result.status, 0) << result.err;
}

TEST(KeyholderdCheckConfig, BrokenCopyOfTheSampleListsEveryProblem) {
    TempDir dir;
    std::string text = read_file(kSource / "config/keyholder.ini");
    auto replace = [&](const std::string& from, const std::string& to) {
        auto at = text.find(from);
        ASSERT_NE(at, std::string::npos) << from;
        text.replace(at, from.size(), to);
    };
    replace("read_timeout = 15s", "read_timeout = 2x");
    replace("policy = servers", "policy = nosuchpolicy");
    replace("stage1_approvers = CN=Team Leads,OU=Groups,DC=example,DC=com; manager\n", "");
    replace("pool_size = 4", "pool_size = 4\npool_colour = blue");
    auto file = dir.write("keyholder.ini", text);
    auto result = run(kDaemon, {"--check-config", file.string(), "--data-dir", dir.path().string()});
    EXPECT_EQ(result.status, 78);
    const std::string f = file.string();
    for (const std::string& expected :
         {f + ": [http] read_timeout: bad duration '2x'",
          f + ": [entry.server-admins] policy: names policy 'nosuchpolicy'",
          f + ": [policy.servers] stage1_approvers: missing required value", f + ": [ldap] pool_colour: unknown key",
          f + ": [smtp] password_file: cannot read", f + ": [ldap] keytab: cannot read"}) {
        EXPECT_NE(result.err.find(expected), std::string::npos) << "missing: " << expected << "\n" << result.err;
    }
}

} // namespace

namespace {

using namespace keyholder::testing;
using namespace std::chrono_literals;

// keyholderd against a real slapd over LDAPS with the sandbox's CA.
std::filesystem::path write_directory_config(const TempDir& dir, const std::string& uris,
                                             const std::filesystem::path& ca_file) {
    dir.write("data/ldap.password", "demo-service-password");
    return dir.write("keyholder.ini", "[service]\ndata_dir = data\nadmin_groups = Admins\n"
                                      "[http]\nlisten = 127.0.0.1:0\n"
                                      "[ldap]\nuris = " +
                                          uris +
                                          "\nbase_dn = dc=demo,dc=test\n"
                                          "ca_file = " +
                                          ca_file.string() +
                                          "\n"
                                          "bind_dn = cn=keyholder,ou=services,dc=demo,dc=test\n"
                                          "bind_password_file = ldap.password\nnetwork_timeout = 1s\n"
                                          "[policy.p]\nrequester_groups = Ops\nstage1_approvers = Leads\n"
                                          "[entry.e]\npolicy = p\nrelease = group\ngroup = Tier0\n");
}

int poll_status(const std::string& url, int wanted, std::chrono::seconds within) {
    auto deadline = std::chrono::steady_clock::now() + within;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        status = http_get(url).status;
        if (status == wanted) break;
        std::this_thread::sleep_for(100ms);
    }
    return status;
}

TEST(KeyholderdReadiness, ReadyWhileTheDirectoryAnswersOverVerifiedTlsAndNotAfter) {
    SlapdSandbox slapd;
    TempDir dir;
    // The first DC is down: the probe fails over to the second.
    auto config = write_directory_config(dir, "ldaps://127.0.0.1:1 " + slapd.ldaps_uri(), slapd.ca_file());
    ChildProcess daemon(KEYHOLDERD_PATH, {"--config", config.string()}, dir.path());
    const std::string url = wait_for_url(daemon);
    ASSERT_FALSE(url.empty()) << daemon.err();
    auto ready = http_get(url + "/readyz");
    EXPECT_EQ(ready.status, 200) << ready.body;
    // One node on SQLite: it leads the scheduler, and says which node it is.
    EXPECT_EQ(ready.body, R"({"node":")" + Poco::Environment::nodeName() + " pid " + std::to_string(daemon.pid()) +
                              R"(","scheduler":"leader","status":"ready"})");

    slapd.stop(); // fail closed: no directory, not ready
    EXPECT_EQ(poll_status(url + "/readyz", 503, 10s), 503);
    auto down = http_get(url + "/readyz");
    EXPECT_NE(down.body.find("directory"), std::string::npos) << down.body;
    EXPECT_EQ(http_get(url + "/healthz").status, 200) << "alive even when not ready";
    daemon.signal(SIGTERM);
    EXPECT_EQ(daemon.wait_for(2s), 0);
}

TEST(KeyholderdReadiness, AServerCertificateFromAnUnknownCaIsNotTrusted) {
    SlapdSandbox slapd;
    TempDir dir;
    // The system CA bundle does not hold the sandbox's private CA.
    auto config = write_directory_config(dir, slapd.ldaps_uri(), "/etc/ssl/certs/ca-certificates.crt");
    ChildProcess daemon(KEYHOLDERD_PATH, {"--config", config.string()}, dir.path());
    const std::string url = wait_for_url(daemon);
    ASSERT_FALSE(url.empty()) << daemon.err();
    auto ready = http_get(url + "/readyz");
    EXPECT_EQ(ready.status, 503) << ready.body;
    EXPECT_NE(ready.body.find(slapd.ldaps_uri()), std::string::npos) << ready.body;
    daemon.signal(SIGTERM);
    EXPECT_EQ(daemon.wait_for(2s), 0);
}

} // namespace

namespace {

using namespace keyholder::testing;
using namespace std::chrono_literals;

TEST(KeyholderdStartup, StopRequestedDuringStartUpIsStillAnOrderlyStop) {
    TempDir dir;
    dir.write("data/ldap.password", "pw");
    auto config = dir.write("keyholder.ini", "[service]\ndata_dir = data\nadmin_groups = Admins\n"
                                             "[http]\nlisten = 127.0.0.1:0\n"
                                             "[ldap]\nuris = ldap://127.0.0.1:1\nbase_dn = dc=test\n"
                                             "bind_dn = cn=svc,dc=test\nbind_password_file = ldap.password\n"
                                             "[policy.p]\nrequester_groups = Ops\nstage1_approvers = Leads\n"
                                             "[entry.e]\npolicy = p\nrelease = group\ngroup = Tier0\n");
    ChildProcess daemon(KEYHOLDERD_PATH, {"--config", config.string()}, dir.path());
    ASSERT_FALSE(daemon.wait_for_output("starting with", 20s).empty()) << daemon.err();
    daemon.signal(SIGTERM); // while it opens the store and runs its start-up pass
    auto status = daemon.wait_for(5s);
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(*status, 0) << daemon.err();
}

} // namespace
