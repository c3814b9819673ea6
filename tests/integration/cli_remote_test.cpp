// The keyholder CLI's remote commands against a running keyholderd (sample directory
// in slapd, Basic sign-on with the password on stdin): every command, its text and
// --json output, per-command help, and the documented exit codes (0 ok, 1 refused,
// 2 usage, 3 unavailable, 4 sign-on failed). Negotiate is covered by the e2e suite.
#include <gtest/gtest.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <fstream>
#include <regex>
#include <set>
#include <thread>

#include "support/child_process.h"
#include "support/http_get.h"
#include "support/slapd.h"
#include "support/temp_dir.h"

namespace {

using namespace keyholder::testing;
using namespace std::chrono_literals;

const std::filesystem::path kSource = KEYHOLDER_SOURCE_DIR;

class CliRemote : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        slapd_ = new SlapdSandbox({kSource / "config/demo-directory.ldif"});
        dir_ = new TempDir;
        const int port = free_loopback_port();
        // Over TLS with the sandbox CA's certificate: the CLI must be given the CA
        // (KEYHOLDER_CA_FILE in cli() below) or it refuses the server.
        url_ = "https://127.0.0.1:" + std::to_string(port);
        dir_->write("data/ldap.password", "demo-service-password");
        auto file = dir_->write(
            "keyholder.ini", "[service]\ndata_dir = data\nadmin_groups = keyholder-admins\nauditor_groups = auditors\n"
                             "[http]\nlisten = 127.0.0.1:" +
                                 std::to_string(port) + "\ntls_cert_file = " + (slapd_->dir() / "server.crt").string() +
                                 "\ntls_key_file = " + (slapd_->dir() / "server.key").string() +
                                 "\n[ldap]\nuris = " + slapd_->ldap_uri() +
                                 "\nbase_dn = dc=demo,dc=test\nflavour = openldap\n"
                                 "bind_dn = cn=keyholder,ou=services,dc=demo,dc=test\n"
                                 "bind_password_file = ldap.password\n"
                                 "[policy.standard]\nrequester_groups = operators\nstage1_approvers = team-leads\n"
                                 "max_extension = 1h\nexclusive = false\n"
                                 "[entry.jit]\ndisplay_name = JIT group\npolicy = standard\nrelease = group\n"
                                 "group = cn=auditors,ou=groups,dc=demo,dc=test\n"
                                 "[report.minutely]\nreport = checkout-requests\nschedule = * * * * *\n"
                                 "window = last 1h\nmail_to = auditors-box@demo.test\noutput_dir = " +
                                 (dir_->path() / "exports").string() + "\n");
        std::filesystem::create_directories(dir_->path() / "exports");
        daemon_ = new ChildProcess(KEYHOLDERD_PATH, {"--config", file.string()}, dir_->path());
        int status = 0;
        for (int i = 0; i < 200 && status != 200; ++i) {
            HttpCall ready;
            ready.url = url_ + "/readyz";
            ready.ca_file = slapd_->ca_file().string();
            status = http_call(ready).status;
            if (status != 200) std::this_thread::sleep_for(50ms);
        }
        ASSERT_EQ(status, 200) << daemon_->err();
    }
    static void TearDownTestSuite() {
        delete daemon_;
        delete dir_;
        delete slapd_;
    }

    // cli: keyholder ARGS --user USER --server URL, the password on stdin.
    static RunResult cli(const std::string& user, const std::vector<std::string>& args,
                         const std::string& password = "", const std::string& server = url_) {
        std::string command = "printf '%s\\n' \"$PW\" | \"$CLI\"";
        for (const auto& a : args)
            command += " '" + a + "'";
        if (!user.empty()) command += " --user " + user;
        command += " --server " + server;
        return run("/bin/sh", {"-c", command},
                   {{"PW", password.empty() ? user + "-demo-password" : password},
                    {"CLI", KEYHOLDER_CLI_PATH},
                    {"KEYHOLDER_CA_FILE", slapd_->ca_file().string()}});
    }
    static std::string id_in(const std::string& out) {
        std::smatch m;
        return std::regex_search(out, m, std::regex("request ([0-9]+)")) ? m[1].str() : "";
    }

    static inline SlapdSandbox* slapd_ = nullptr;
    static inline TempDir* dir_ = nullptr;
    static inline ChildProcess* daemon_ = nullptr;
    static inline std::string url_;
};

TEST_F(CliRemote, EveryCommandHasHelpAndUsageErrorsExitTwo) {
    for (const char* command : {"whoami", "entries", "request", "status", "list", "show", "approve", "deny", "cancel",
                                "credential", "checkin", "extend", "revoke"}) {
        auto help = run(KEYHOLDER_CLI_PATH, {command, "--help"});
        EXPECT_EQ(help.status, 0) << command;
        EXPECT_NE(help.out.find(std::string("Usage: keyholder ") + command), std::string::npos) << help.out;
        EXPECT_NE(help.out.find("Exit status"), std::string::npos);
        EXPECT_NE(help.out.find("--server URL (Env:KEYHOLDER_URL)"), std::string::npos) << help.out;
        EXPECT_NE(help.out.find("--ca-file FILE (Env:KEYHOLDER_CA_FILE)"), std::string::npos) << help.out;
    }
    // Every command is in the help, report too; -V is --version.
    auto overview = run(KEYHOLDER_CLI_PATH, {"help"});
    EXPECT_EQ(overview.status, 0);
    for (const char* command : {"whoami", "request", "report", "backup", "audit", "directory", "secret"})
        EXPECT_NE(overview.out.find(std::string("  ") + command + " "), std::string::npos) << command;
    EXPECT_EQ(run(KEYHOLDER_CLI_PATH, {"-V"}).out, "keyholder 0.1.0\n");
    EXPECT_EQ(run(KEYHOLDER_CLI_PATH, {"--version"}).out, "keyholder 0.1.0\n");
    // The server's certificate is checked: without the CA that issued it, no answer is trusted.
    auto untrusted =
        run("/bin/sh", {"-c", "printf 'bob-demo-password\\n' | \"$CLI\" whoami --user bob --server " + url_},
            {{"CLI", KEYHOLDER_CLI_PATH}});
    EXPECT_EQ(untrusted.status, 3) << untrusted.out << untrusted.err;
    auto unknown = run(KEYHOLDER_CLI_PATH, {"frobnicate"});
    EXPECT_EQ(unknown.status, 2);
    EXPECT_NE(unknown.err.find("unknown command 'frobnicate'"), std::string::npos) << unknown.err;
    EXPECT_EQ(run(KEYHOLDER_CLI_PATH, {"show"}, {{"KEYHOLDER_URL", url_}}).status, 2);        // no id
    EXPECT_EQ(run(KEYHOLDER_CLI_PATH, {"show", "12x"}, {{"KEYHOLDER_URL", url_}}).status, 2); // not an id
    EXPECT_EQ(run(KEYHOLDER_CLI_PATH, {"status", "--colour", "red"}, {{"KEYHOLDER_URL", url_}}).status, 2);
    EXPECT_EQ(run(KEYHOLDER_CLI_PATH, {"status"}).status, 2);             // no server given
    EXPECT_EQ(cli("bob", {"request", "jit", "--reason", "x"}).status, 2); // --for missing
}

TEST_F(CliRemote, RequestDenyCancelApproveExtendRevoke) {
    auto entries = cli("bob", {"entries"});
    ASSERT_EQ(entries.status, 0) << entries.err;
    EXPECT_NE(entries.out.find("jit  JIT group"), std::string::npos) << entries.out;
    EXPECT_NE(entries.out.find("Alice Lead, Carol Lead"), std::string::npos) << entries.out;

    // Options before or after the ENTRY: the same request.
    auto first = cli("bob", {"request", "--for", "1h", "jit", "--reason", "cli test one"});
    ASSERT_EQ(first.status, 0) << first.out << first.err;
    const std::string one = id_in(first.out);
    auto denied = cli("carol", {"deny", one, "--comment", "not today"});
    EXPECT_EQ(denied.status, 0) << denied.err;
    EXPECT_NE(denied.out.find("denied"), std::string::npos) << denied.out;
    auto again = cli("alice", {"approve", one});
    EXPECT_EQ(again.status, 1); // no longer pending: refused
    EXPECT_NE(again.err.find("not_pending"), std::string::npos) << again.err;

    const std::string two = id_in(cli("bob", {"request", "jit", "--for", "1h", "--reason", "cli test two"}).out);
    EXPECT_EQ(cli("carol", {"cancel", two}).status, 1); // not hers
    auto cancelled = cli("bob", {"cancel", two});
    EXPECT_EQ(cancelled.status, 0) << cancelled.err;
    EXPECT_NE(cancelled.out.find("cancelled"), std::string::npos);

    const std::string three =
        id_in(cli("bob", {"request", "jit", "--for", "30m", "--reason", "cli test three", "--ticket", "CHG-1"}).out);
    auto status = cli("bob", {"status"});
    EXPECT_NE(status.out.find("request " + three + "  jit  pending"), std::string::npos) << status.out;
    EXPECT_EQ(status.out.find("request " + one + " "), std::string::npos); // denied: not in status
    auto approvable = cli("alice", {"list", "--approvable"});
    EXPECT_NE(approvable.out.find("request " + three), std::string::npos) << approvable.out;
    EXPECT_EQ(cli("alice", {"approve", three, "--comment", "ok", "--for", "20m"}).status, 0);
    auto shown = cli("bob", {"show", three});
    EXPECT_NE(shown.out.find("ticket:    CHG-1"), std::string::npos) << shown.out;
    EXPECT_NE(shown.out.find("alice approved for at most 20m"), std::string::npos) << shown.out;
    EXPECT_NE(shown.out.find("check-out"), std::string::npos) << shown.out;
    auto json = cli("bob", {"show", three, "--json"});
    EXPECT_EQ(json.out.rfind("{", 0), 0U) << json.out;
    EXPECT_NE(json.out.find("\"state\":\"active\""), std::string::npos) << json.out;

    auto extend = cli("bob", {"extend", three, "--by", "15m", "--reason", "more"});
    EXPECT_EQ(extend.status, 0) << extend.err;
    EXPECT_NE(extend.out.find("needs approval"), std::string::npos);
    std::smatch extension;
    ASSERT_TRUE(std::regex_search(extend.out, extension, std::regex("request ([0-9]+)"))) << extend.out;
    // More time on request three's window, not a window of its own.
    auto more = cli("bob", {"show", extension[1].str()});
    EXPECT_NE(more.out.find(": extends request " + three + " by 15m, to "), std::string::npos) << more.out;
    EXPECT_EQ(more.out.find("from approval"), std::string::npos) << more.out;
    EXPECT_EQ(cli("bob", {"credential", three}).status, 1); // a group entry has no password

    EXPECT_EQ(cli("bob", {"revoke", three, "--reason", "mine"}).status, 1); // admins only
    auto revoked = cli("dave", {"revoke", three, "--reason", "incident 12"});
    EXPECT_EQ(revoked.status, 0) << revoked.err;
    EXPECT_NE(revoked.out.find("ended (revoked)"), std::string::npos) << revoked.out;
    // The actual end is shown besides the planned one; the waiting extension ended with it.
    auto ended = cli("bob", {"show", three});
    EXPECT_TRUE(
        std::regex_search(ended.out, std::regex(R"(check-out [0-9]+: ended, \S+ \.\. \S+, ended \S+ \(revoked\))")))
        << ended.out;
    EXPECT_NE(cli("bob", {"show", extension[1].str()}).out.find("  lapsed"), std::string::npos);
    EXPECT_EQ(cli("bob", {"status"}).out.find("request " + extension[1].str() + " "), std::string::npos);
    EXPECT_EQ(cli("bob", {"checkin", three}).status, 1); // already ended
    EXPECT_EQ(cli("bob", {"list", "--all"}).status, 1);  // auditors only
    EXPECT_EQ(cli("dave", {"list", "--all", "--state", "ended"}).status, 0);
}

TEST_F(CliRemote, SignOnFailuresExitFourAndOutagesThree) {
    auto wrong = cli("bob", {"whoami"}, "not-his-password");
    EXPECT_EQ(wrong.status, 4) << wrong.err;
    auto whoami = cli("bob", {"whoami"});
    EXPECT_EQ(whoami.status, 0);
    EXPECT_NE(whoami.out.find("Bob Operator (bob"), std::string::npos) << whoami.out;
    auto down = cli("bob", {"whoami"}, "", "http://127.0.0.1:" + std::to_string(free_loopback_port()));
    EXPECT_EQ(down.status, 3) << down.err;
    EXPECT_NE(down.err.find("cannot reach"), std::string::npos) << down.err;
    // Without --user and without a Kerberos ticket: a sign-on failure with a hint.
    auto no_ticket = run(KEYHOLDER_CLI_PATH, {"whoami", "--server", url_},
                         {{"KRB5CCNAME", "FILE:" + (dir_->path() / "no-such-ccache").string()}});
    EXPECT_EQ(no_ticket.status, 4) << no_ticket.err;
    EXPECT_NE(no_ticket.err.find("kinit"), std::string::npos) << no_ticket.err;
}

// A scheduled export (every minute here) writes a file whose rows are the requests
// the API shows, and `keyholder report` downloads the same report on demand.
TEST_F(CliRemote, ScheduledExportMatchesTheApi) {
    cli("bob", {"request", "jit", "--for", "1h", "--reason", "export me, \"quoted\""});
    auto on_demand = cli("dave", {"report", "checkout-requests", "-o", (dir_->path() / "now.csv").string()});
    ASSERT_EQ(on_demand.status, 0) << on_demand.err;
    std::ifstream now(dir_->path() / "now.csv", std::ios::binary);
    const std::string now_csv((std::istreambuf_iterator<char>(now)), std::istreambuf_iterator<char>());
    EXPECT_EQ(now_csv.rfind("request_id,entry,", 0), 0U) << now_csv;
    EXPECT_NE(now_csv.find("export me, \"\"quoted\"\""), std::string::npos) << now_csv;
    EXPECT_FALSE(std::filesystem::exists(dir_->path() / ".now.csv.tmp"));
    EXPECT_EQ(cli("bob", {"report", "audit"}).status, 1); // auditors only
    // Wait for the next minute's export (written atomically: a .csv appears complete).
    // Exports already there ran before the requests (a slow start-up may catch up on a
    // minute that passed meanwhile): only a new one must hold them.
    std::set<std::filesystem::path> earlier;
    if (std::filesystem::exists(dir_->path() / "exports"))
        for (const auto& f : std::filesystem::directory_iterator(dir_->path() / "exports"))
            earlier.insert(f.path());
    std::filesystem::path file;
    for (int i = 0; i < 700 && file.empty(); ++i) {
        if (std::filesystem::exists(dir_->path() / "exports"))
            for (const auto& f : std::filesystem::directory_iterator(dir_->path() / "exports"))
                if (f.path().extension() == ".sha256" && earlier.count(f.path()) == 0)
                    file = f.path().parent_path() / f.path().stem();
        if (file.empty()) std::this_thread::sleep_for(100ms);
    }
    ASSERT_FALSE(file.empty()) << "no export within 70 s" << daemon_->err();
    std::ifstream in(file, std::ios::binary);
    const std::string csv((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ifstream sidecar(file.string() + ".sha256");
    std::string sum;
    sidecar >> sum;
    auto check = run("/usr/bin/sha256sum", {file.string()});
    EXPECT_EQ(check.out.substr(0, 64), sum);
    // Every request the API lists (made in the last hour) is a row, with its state.
    HttpCall all;
    all.url = url_ + "/api/v1/requests?mine=false&limit=500";
    all.ca_file = slapd_->ca_file().string();
    all.basic_user = "dave";
    all.basic_password = "dave-demo-password";
    auto listed = http_call(all);
    ASSERT_EQ(listed.status, 200);
    Poco::JSON::Parser parser;
    auto requests = parser.parse(listed.body).extract<Poco::JSON::Object::Ptr>()->getArray("requests");
    int compared = 0;
    for (size_t i = 0; i < requests->size(); ++i) {
        auto request = requests->getObject(static_cast<unsigned>(i));
        const std::string id = std::to_string(request->getValue<int64_t>("id"));
        const std::string state = request->getValue<std::string>("state");
        std::regex row("(^|\r\n)" + id + ",jit,[^\r]*," + state + ",");
        EXPECT_TRUE(std::regex_search(csv, row)) << "request " << id << " (" << state << ") not in\n" << csv;
        ++compared;
    }
    EXPECT_GE(compared, 1);
    EXPECT_NE(csv.find("\"export me, \"\"quoted\"\"\""), std::string::npos) << csv;
    // The export's mail (mail_to) goes out at once: the export wakes the mail worker.
    bool mailed = false;
    for (int i = 0; i < 50 && !mailed; ++i) {
        if (std::filesystem::exists(dir_->path() / "data/mail-pickup"))
            for (const auto& f : std::filesystem::directory_iterator(dir_->path() / "data/mail-pickup")) {
                std::ifstream mail(f.path(), std::ios::binary);
                const std::string text((std::istreambuf_iterator<char>(mail)), std::istreambuf_iterator<char>());
                if (text.find("auditors-box@demo.test") != std::string::npos &&
                    text.find(file.filename().string()) != std::string::npos)
                    mailed = true;
            }
        if (!mailed) std::this_thread::sleep_for(100ms);
    }
    EXPECT_TRUE(mailed) << "the export's mail was not sent within 5 s";
}

} // namespace
