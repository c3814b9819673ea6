// The Windows build against the Samba AD DC, driven from Linux (label windows, run by
// scripts/windows-test after scripts/build windows): the cross-built programs run
// under wine64 (scripts/wine-run) and reach the DC on 127.0.0.2.
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "keyholder/directory/directory.h"
#include "keyholder/store/connection.h"
#include "support/child_process.h"
#include "support/http_get.h"
#include "support/samba_dc.h"
#include "support/slapd.h" // free_loopback_port
#include "support/temp_dir.h"

namespace {

using keyholder::testing::http_call;
using keyholder::testing::http_get;
using keyholder::testing::HttpCall;
using keyholder::testing::read_file;
using keyholder::testing::run;
using keyholder::testing::RunResult;
using keyholder::testing::SambaDc;
using namespace std::chrono_literals;

const std::filesystem::path kSource = KEYHOLDER_SOURCE_DIR;
const std::filesystem::path kWindowsBin = kSource / "build-windows/bin";

std::string wine_run() { return (kSource / "scripts/wine-run").string(); }

// The Wine prefix scripts/wine-run uses, and its C:\ProgramData.
std::filesystem::path wine_prefix() {
    const char* prefix = std::getenv("KEYHOLDER_WINEPREFIX");
    return prefix != nullptr ? std::filesystem::path(prefix) : kSource / "build-windows/wine";
}

// windows_path: a Linux path as Wine's programs see it (Z: is the Linux root).
std::string windows_path(const std::filesystem::path& path) {
    std::string text = "Z:" + path.string();
    std::replace(text.begin(), text.end(), '/', '\\');
    return text;
}

RunResult wine(const std::vector<std::string>& args, std::chrono::seconds timeout = 60s) {
    return run(wine_run(), args, {}, timeout);
}

// sc query: the service's state (RUNNING, STOPPED, ...), "" when it is not registered.
std::string service_state(const std::string& name) {
    auto query = wine({"sc", "query", name});
    std::smatch m;
    return std::regex_search(query.out, m, std::regex(R"(STATE\s*:\s*[0-9]+\s+(\w+))")) ? m[1].str() : "";
}

bool wait_for_state(const std::string& name, const std::string& wanted, std::chrono::seconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
        if (service_state(name) == wanted) return true;
        std::this_thread::sleep_for(250ms);
    }
    return false;
}

// cli: the Linux keyholder CLI as USER (Basic, the password on stdin) against the Windows service.
RunResult cli(const std::string& url, const std::string& user, const std::string& password,
              const std::vector<std::string>& args) {
    std::string command = "printf '%s\\n' \"$PW\" | \"$CLI\"";
    for (const auto& a : args)
        command += " '" + a + "'";
    command += " --user " + user + " --server " + url;
    return run("/bin/sh", {"-c", command}, {{"PW", password}, {"CLI", KEYHOLDER_CLI_PATH}});
}

std::string id_in(const std::string& out) {
    std::smatch m;
    return std::regex_search(out, m, std::regex("request ([0-9]+)")) ? m[1].str() : "";
}

// kinit_bob: bob's ticket from the Samba KDC in a cache of his own, named in `env`.
::testing::AssertionResult kinit_bob(std::map<std::string, std::string>& env, const std::filesystem::path& dir) {
    env["KRB5CCNAME"] = "FILE:" + (dir / "bob.ccache").string();
    auto with_password = env;
    with_password["PW"] = "Bob-Pa55word!";
    auto kinit =
        run("/bin/sh", {"-c", "printf '%s\\n' \"$PW\" | kinit bob@" + std::string(SambaDc::kRealm)}, with_password);
    if (kinit.status == 0) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "kinit bob: " << kinit.out << kinit.err;
}

keyholder::directory::DirectorySettings linux_directory() {
    SambaDc& dc = SambaDc::shared();
    keyholder::directory::DirectorySettings s;
    s.connection.uris = {dc.ldaps_uri()};
    s.connection.ca_file = dc.ca_file().string();
    s.base_dn = SambaDc::kBaseDn;
    s.bind_dn = SambaDc::kServiceUpn;
    s.bind_password = SambaDc::kServicePassword;
    s.netbios_domain = SambaDc::kDomain;
    s.cache_size = 0;
    return s;
}

// The programs are x86-64 PE32+ and need nothing beside them: every DLL they import
// is part of Windows.
TEST(WindowsBuild, TheProgramsAreStaticPe32PlusExecutables) {
    const std::set<std::string> system_dlls{"advapi32.dll", "crypt32.dll", "iphlpapi.dll", "kernel32.dll",
                                            "shell32.dll",  "secur32.dll", "user32.dll",   "wldap32.dll",
                                            "ws2_32.dll",   "msvcrt.dll",  "ole32.dll"};
    for (const char* name : {"keyholderd.exe", "keyholder.exe"}) {
        const auto program = kWindowsBin / name;
        ASSERT_TRUE(std::filesystem::exists(program)) << program << " is missing: run scripts/build windows first";
        auto headers = run("/usr/bin/x86_64-w64-mingw32-objdump", {"-p", program.string()});
        ASSERT_EQ(headers.status, 0) << headers.err;
        EXPECT_NE(headers.out.find("file format pei-x86-64"), std::string::npos) << name;
        EXPECT_NE(headers.out.find("Magic\t\t\t020b\t(PE32+)"), std::string::npos) << name;
        std::regex dll(R"(DLL Name: (\S+))");
        int imports = 0;
        for (std::sregex_iterator it(headers.out.begin(), headers.out.end(), dll), end; it != end; ++it) {
            std::string lower = (*it)[1].str();
            std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
            EXPECT_EQ(system_dlls.count(lower), 1U) << name << " needs " << lower << " beside it";
            ++imports;
        }
        EXPECT_GT(imports, 0) << headers.out.substr(0, 2000);
    }
}

TEST(WindowsDirectory, Wldap32AgainstTheDc) {
    const auto program = kWindowsBin / "directory_wldap32_tests.exe";
    ASSERT_TRUE(std::filesystem::exists(program)) << program << " is missing: run scripts/build windows first";
    SambaDc& dc = SambaDc::shared();
    auto result = run(wine_run(), {program.string(), "--gtest_color=no"},
                      {{"KEYHOLDER_TEST_DC", SambaDc::kAddress},
                       {"KEYHOLDER_TEST_BASE_DN", SambaDc::kBaseDn},
                       {"KEYHOLDER_TEST_BIND_DN", SambaDc::kServiceUpn},
                       {"KEYHOLDER_TEST_BIND_PASSWORD", SambaDc::kServicePassword},
                       {"KEYHOLDER_TEST_DOMAIN", SambaDc::kDomain}},
                      std::chrono::seconds(300));
    (void)dc;
    std::cout << result.out << result.err;
    EXPECT_EQ(result.status, 0) << "the Wldap32 suite failed (its output is above)";
    EXPECT_NE(result.out.find("[  PASSED  ] 10 tests"), std::string::npos) << "every case ran";
}

// keyholderd.exe as a service of Wine's service control manager: registered,
// started with sc, a whole check-out driven by the Linux CLI (SQLite on the Wine
// drive, the directory through Wldap32), stopped with sc as an orderly stop (the
// audit trail says service.stopped), unregistered.
TEST(WindowsService, LifecycleAndACheckOutDrivenByTheLinuxCli) {
    const auto daemon = kWindowsBin / "keyholderd.exe";
    ASSERT_TRUE(std::filesystem::exists(daemon)) << daemon << " is missing: run scripts/build windows first";
    SambaDc& dc = SambaDc::shared();
    (void)dc;
    // C:\ProgramData\keyholder, where the service reads its configuration.
    const auto data = wine_prefix() / "drive_c/ProgramData/keyholder";
    std::filesystem::remove_all(data);
    std::filesystem::create_directories(data);
    {
        std::ofstream(data / "ldap.password") << SambaDc::kServicePassword;
        std::filesystem::permissions(data / "ldap.password",
                                     std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    }
    const int port = keyholder::testing::free_loopback_port();
    const std::string url = "http://127.0.0.1:" + std::to_string(port);
    std::ofstream(data / "keyholder.ini")
        << "[service]\ndata_dir = C:\\ProgramData\\keyholder\nadmin_groups = Keyholder Admins\n"
           "auditor_groups = Compliance Auditors\nlog_file = keyholderd.log\n"
           "[http]\nlisten = 127.0.0.1:"
        << port << "\npublic_url = " << url << "\n[ldap]\nuris = ldap://" << SambaDc::kAddress
        << "\nbase_dn = " << SambaDc::kBaseDn << "\nbind_dn = " << SambaDc::kServiceUpn
        << "\nbind_password_file = ldap.password\nnetbios_domain = " << SambaDc::kDomain
        << "\n[policy.tier0]\nrequester_groups = Tier0 Operators\nstage1_approvers = Team Leads\nmax_duration = 4h\n"
           "[entry.tools]\ndisplay_name = Server tools\npolicy = tier0\nrelease = group\ngroup = Server Admins\n"
           "[entry.vaulted]\ndisplay_name = Domain Admin (vaulted)\npolicy = tier0\nrelease = password\n"
           "account = da-vault\nrotate_password = true\n";

    wine({daemon.string(), "/unregisterService"}); // a run that failed half-way left it registered
    auto registered = wine({daemon.string(), "/registerService", "/displayName=keyholder test", "/startup=manual"});
    ASSERT_EQ(registered.status, 0) << registered.out << registered.err;
    EXPECT_EQ(service_state("keyholderd"), "STOPPED");
    auto started = wine({"sc", "start", "keyholderd"});
    ASSERT_EQ(started.status, 0) << started.out << started.err;
    int ready = 0;
    for (int i = 0; i < 600 && ready != 200; ++i) {
        ready = http_get(url + "/readyz").status;
        if (ready != 200) std::this_thread::sleep_for(100ms);
    }
    ASSERT_EQ(ready, 200) << read_file(data / "keyholderd.log");
    EXPECT_EQ(service_state("keyholderd"), "RUNNING");

    // The keys are sealed with DPAPI, not stored as they are.
    EXPECT_EQ(read_file(data / "master.key").rfind("keyholder-dpapi-v1:", 0), 0U);

    // A group check-out: bob asks, carol approves, bob is in Server Admins until he checks in.
    keyholder::directory::Directory ad(linux_directory());
    auto bob = ad.find_user("bob");
    ASSERT_TRUE(bob) << bob.error().to_string();
    auto requested = cli(url, "bob", "Bob-Pa55word!", {"request", "tools", "--for", "1h", "--reason", "patching"});
    ASSERT_EQ(requested.status, 0) << requested.out << requested.err;
    const std::string id = id_in(requested.out);
    ASSERT_FALSE(id.empty()) << requested.out;
    auto approved = cli(url, "carol", "Carol-Pa55word!", {"approve", id, "--comment", "ok from Wine"});
    ASSERT_EQ(approved.status, 0) << approved.out << approved.err;
    auto in_group = ad.is_member(*bob, "Server Admins", keyholder::directory::Freshness::live);
    ASSERT_TRUE(in_group) << in_group.error().to_string();
    EXPECT_TRUE(*in_group) << "the release added bob to Server Admins";
    auto checked_in = cli(url, "bob", "Bob-Pa55word!", {"checkin", id});
    ASSERT_EQ(checked_in.status, 0) << checked_in.out << checked_in.err;
    EXPECT_FALSE(*ad.is_member(*bob, "Server Admins", keyholder::directory::Freshness::live))
        << "the take-back removed him";

    // A credential: dave stores it, bob gets it after approval. The rotation at the
    // check-in needs an encrypted connection to the DC, which Wine's Wldap32 cannot
    // make (it cannot check a certificate, nor seal a Negotiate bind): the service
    // refuses to send the new password, and AD keeps the old one.
    HttpCall secret;
    secret.method = "POST";
    secret.url = url + "/api/v1/entries/vaulted/secret";
    secret.body = R"({"secret":"Initial-Vau1ted!"})";
    secret.basic_user = "dave";
    secret.basic_password = "Dave-Pa55word!";
    auto stored = http_call(secret);
    ASSERT_EQ(stored.status, 200) << stored.body;
    auto vault_request = cli(url, "bob", "Bob-Pa55word!", {"request", "vaulted", "--for", "1h", "--reason", "db"});
    const std::string vault_id = id_in(vault_request.out);
    ASSERT_FALSE(vault_id.empty()) << vault_request.out << vault_request.err;
    ASSERT_EQ(cli(url, "carol", "Carol-Pa55word!", {"approve", vault_id}).status, 0);
    auto credential = cli(url, "bob", "Bob-Pa55word!", {"credential", vault_id});
    ASSERT_EQ(credential.status, 0) << credential.out << credential.err;
    EXPECT_NE(credential.out.find("Initial-Vau1ted!"), std::string::npos) << credential.out;
    auto vault_checkin = cli(url, "bob", "Bob-Pa55word!", {"checkin", vault_id});
    std::cout << "check-in of the credential: " << vault_checkin.out << vault_checkin.err;
    auto vault = ad.find_user("da-vault");
    ASSERT_TRUE(vault);
    EXPECT_TRUE(ad.verify_password(*vault, "Initial-Vau1ted!")) << "no password was sent in the clear";
    EXPECT_NE(read_file(data / "keyholderd.log").find("unencrypted"), std::string::npos)
        << "the log names why the rotation was refused";

    // The Windows CLI (keyholder.exe, under Wine) as bob: the password from a pipe.
    auto windows_cli =
        run("/bin/sh", {"-c", "printf '%s\\n' \"$PW\" | \"$WINE\" \"$CLI\" entries --user bob --server " + url},
            {{"PW", "Bob-Pa55word!"}, {"WINE", wine_run()}, {"CLI", (kWindowsBin / "keyholder.exe").string()}});
    EXPECT_EQ(windows_cli.status, 0) << windows_cli.out << windows_cli.err;
    EXPECT_NE(windows_cli.out.find("vaulted"), std::string::npos) << windows_cli.out;

    // sc stop: the orderly stop of SIGTERM on Linux.
    auto stopped = wine({"sc", "stop", "keyholderd"});
    EXPECT_EQ(stopped.status, 0) << stopped.out << stopped.err;
    EXPECT_TRUE(wait_for_state("keyholderd", "STOPPED", 60s)) << service_state("keyholderd");
    EXPECT_NE(http_get(url + "/readyz").status, 200) << "the port is closed";
    {
        auto db = keyholder::store::Connection::open(data / "keyholder.db");
        auto last = db.prepare("SELECT action FROM audit_events ORDER BY seq DESC LIMIT 1");
        ASSERT_TRUE(last.step());
        EXPECT_EQ(last.column_text(0), "service.stopped");
    }
    auto unregistered = wine({daemon.string(), "/unregisterService"});
    EXPECT_EQ(unregistered.status, 0) << unregistered.out << unregistered.err;
    EXPECT_EQ(service_state("keyholderd"), "");
    std::cout << "--- keyholderd.log\n" << read_file(data / "keyholderd.log");
}

// SSPI, as far as Wine goes. The client: keyholder.exe signs on to keyholderd (the
// Linux build, Negotiate with its keytab) as the logged-on user, typing nothing;
// Wine's SSPI takes that user's Kerberos ticket from the host's credential cache.
TEST(WindowsNegotiate, TheWindowsCliSignsOnWithTheLoggedOnUsersTicket) {
    const auto cli_exe = kWindowsBin / "keyholder.exe";
    ASSERT_TRUE(std::filesystem::exists(cli_exe)) << cli_exe << " is missing: run scripts/build windows first";
    SambaDc& dc = SambaDc::shared();
    keyholder::testing::TempDir dir;
    dir.write("data/ldap.password", SambaDc::kServicePassword);
    auto config = dir.write(
        "keyholder.ini", "[service]\ndata_dir = data\nadmin_groups = Keyholder Admins\n[http]\nlisten = 127.0.0.2:0\n"
                         "[auth]\nnegotiate = true\nkeytab = " +
                             dc.keytab().string() + "\nrealms = " + SambaDc::kRealm +
                             "\n[ldap]\nuris = " + dc.ldaps_uri() + "\nbase_dn = " + SambaDc::kBaseDn +
                             "\nca_file = " + dc.ca_file().string() + "\nbind_dn = " + SambaDc::kServiceUpn +
                             "\nbind_password_file = ldap.password\nnetbios_domain = KEYHOLDER\n"
                             "[policy.p]\nrequester_groups = Tier0 Operators\nstage1_approvers = Team Leads\n"
                             "[entry.tools]\npolicy = p\nrelease = group\ngroup = Server Admins\n");
    std::map<std::string, std::string> env{{"KRB5_CONFIG", dc.krb5_conf().string()}};
    keyholder::testing::ChildProcess daemon(KEYHOLDERD_PATH, {"--config", config.string()}, dir.path(), env);
    std::string log = daemon.wait_for_output("listening on ", 20s);
    std::smatch match;
    ASSERT_TRUE(std::regex_search(log, match, std::regex("listening on (http://[0-9.]+:[0-9]+)"))) << daemon.err();
    const std::string url = match[1].str();
    ASSERT_TRUE(kinit_bob(env, dir.path()));
    auto whoami = run(wine_run(), {cli_exe.string(), "whoami", "--server", url}, env);
    std::cout << whoami.out << whoami.err << "--- keyholderd\n" << daemon.err();
    EXPECT_EQ(whoami.status, 0) << whoami.out << whoami.err;
    EXPECT_NE(whoami.out.find("bob"), std::string::npos) << whoami.out;
    EXPECT_NE(whoami.out.find("signed on with negotiate"), std::string::npos) << whoami.out;
}

// The acceptor: keyholderd.exe with Negotiate (SSPI, which under Wine takes the
// service keys from the host's keytab) accepts bob's Kerberos token, but Wine's SSPI
// cannot say whose it is (QueryContextAttributes answers SEC_E_UNSUPPORTED_FUNCTION):
// keyholder then signs nobody on, and the log names why.
TEST(WindowsNegotiate, TheServiceRefusesATicketWhoseClientItCannotName) {
    const auto daemon_exe = kWindowsBin / "keyholderd.exe";
    ASSERT_TRUE(std::filesystem::exists(daemon_exe)) << daemon_exe << " is missing: run scripts/build windows first";
    SambaDc& dc = SambaDc::shared();
    keyholder::testing::TempDir dir;
    dir.write("data/ldap.password", SambaDc::kServicePassword);
    const int port = keyholder::testing::free_loopback_port();
    const std::string url = std::string("http://") + SambaDc::kAddress + ":" + std::to_string(port);
    const std::string data = windows_path(dir.path() / "data");
    auto config = dir.write("keyholder.ini",
                            "[service]\ndata_dir = " + data +
                                "\nadmin_groups = Keyholder Admins\n[http]\nlisten = " + SambaDc::kAddress + ":" +
                                std::to_string(port) + "\n[auth]\nnegotiate = true\nrealms = " + SambaDc::kRealm +
                                "\n[ldap]\nuris = ldap://" + SambaDc::kAddress + "\nbase_dn = " + SambaDc::kBaseDn +
                                "\nbind_dn = " + SambaDc::kServiceUpn +
                                "\nbind_password_file = ldap.password\nnetbios_domain = KEYHOLDER\n"
                                "[policy.p]\nrequester_groups = Tier0 Operators\nstage1_approvers = Team Leads\n"
                                "[entry.tools]\npolicy = p\nrelease = group\ngroup = Server Admins\n");
    std::map<std::string, std::string> env{{"KRB5_CONFIG", dc.krb5_conf().string()},
                                           {"KRB5_KTNAME", "FILE:" + dc.keytab().string()}};
    keyholder::testing::ChildProcess daemon(wine_run(), {daemon_exe.string(), "/config=" + windows_path(config)},
                                            dir.path(), env);
    int ready = 0;
    for (int i = 0; i < 300 && ready != 200; ++i) {
        ready = http_get(url + "/readyz").status;
        if (ready != 200) std::this_thread::sleep_for(100ms);
    }
    ASSERT_EQ(ready, 200) << daemon.err();
    ASSERT_TRUE(kinit_bob(env, dir.path()));
    auto me = run("/usr/bin/curl",
                  {"-sS", "-o", "/dev/null", "-w", "%{http_code}", "--negotiate", "-u", ":", url + "/api/v1/me"}, env);
    std::cout << "--- keyholderd.exe\n" << daemon.err();
    EXPECT_EQ(me.out, "401") << me.err;
    EXPECT_NE(daemon.err().find("cannot learn the client's name"), std::string::npos) << daemon.err();
    daemon.signal(SIGTERM);
    daemon.wait_for(10s);
}

} // namespace
