// End-to-end with Kerberos: keyholderd against the Samba AD DC with HTTP Negotiate
// on; users get real tickets from the Samba KDC with kinit and nobody types a
// password into keyholder. bob requests with the CLI, carol approves with the CLI,
// bob reads the credential and checks in; the password in AD has changed.
#include <gtest/gtest.h>

#include <iostream>
#include <regex>
#include <thread>

#include "keyholder/config/config.h"
#include "keyholder/core/directory_settings.h"
#include "keyholder/directory/directory.h"
#include "keyholder/store/checkouts.h"
#include "keyholder/store/connection.h"
#include "keyholder/store/secrets.h"
#include "support/child_process.h"
#include "support/http_get.h"
#include "support/samba_dc.h"
#include "support/temp_dir.h"

namespace {

using namespace keyholder;
using keyholder::testing::ChildProcess;
using keyholder::testing::HttpCall;
using keyholder::testing::SambaDc;
using keyholder::testing::TempDir;
using namespace std::chrono_literals;

class NegotiateEndToEnd : public ::testing::Test {
protected:
    void SetUp() override {
        SambaDc& dc = SambaDc::shared();
        dir_.write("data/ldap.password", SambaDc::kServicePassword);
        config_file_ = dir_.write(
            "keyholder.ini",
            "[service]\ndata_dir = data\nadmin_groups = Keyholder Admins\nauditor_groups = Compliance Auditors\n"
            "[http]\nlisten = 127.0.0.2:0\n"
            "[auth]\nnegotiate = true\nkeytab = " +
                dc.keytab().string() + "\nrealms = " + SambaDc::kRealm +
                "\n"
                "[ldap]\nuris = " +
                dc.ldaps_uri() + "\nbase_dn = " + SambaDc::kBaseDn + "\nca_file = " + dc.ca_file().string() +
                "\nbind_dn = " + SambaDc::kServiceUpn +
                "\nbind_password_file = ldap.password\nnetbios_domain = KEYHOLDER\n"
                "[policy.tier0]\nrequester_groups = Tier0 Operators\nstage1_approvers = Team Leads\nmax_duration = 4h\n"
                "[entry.vaulted]\npolicy = tier0\nrelease = password\naccount = da-vault\nrotate_password = true\n");
        env_ = {{"KRB5_CONFIG", dc.krb5_conf().string()}};
        daemon_ = std::make_unique<ChildProcess>(
            KEYHOLDERD_PATH, std::vector<std::string>{"--config", config_file_.string()}, dir_.path(), env_);
        std::string log = daemon_->wait_for_output("listening on ", 20s);
        std::smatch match;
        ASSERT_TRUE(std::regex_search(log, match, std::regex("listening on (http://[0-9.]+:[0-9]+)")))
            << daemon_->err();
        url_ = match[1].str();
        int status = 0;
        for (int i = 0; i < 200 && status != 200; ++i) {
            status = keyholder::testing::http_get(url_ + "/readyz").status;
            if (status != 200) std::this_thread::sleep_for(50ms);
        }
        ASSERT_EQ(status, 200) << daemon_->err();
        // The administrator stores da-vault's current password (piped, never an argument).
        auto set = keyholder::testing::run("/bin/sh",
                                           {"-c", "printf %s 'Initial-Vau1ted!' | " + std::string(KEYHOLDER_CLI_PATH) +
                                                      " secret set vaulted --config " + config_file_.string()},
                                           env_);
        ASSERT_EQ(set.status, 0) << set.out << set.err;
    }

    // kinit: a ticket cache of the user's own, from the Samba KDC.
    std::map<std::string, std::string> kinit(const std::string& user, const std::string& password) {
        auto env = env_;
        env["KRB5CCNAME"] = "FILE:" + (dir_.path() / (user + ".ccache")).string();
        auto result = keyholder::testing::run(
            "/bin/sh", {"-c", "printf '%s\\n' \"$PW\" | kinit " + user + "@" + SambaDc::kRealm}, [&] {
                auto e = env;
                e["PW"] = password;
                return e;
            }());
        EXPECT_EQ(result.status, 0) << "kinit " << user << ": " << result.out << result.err;
        return env;
    }

    keyholder::testing::RunResult cli(const std::map<std::string, std::string>& env, std::vector<std::string> args) {
        args.push_back("--server");
        args.push_back(url_);
        return keyholder::testing::run(KEYHOLDER_CLI_PATH, args, env);
    }

    TempDir dir_;
    std::filesystem::path config_file_;
    std::map<std::string, std::string> env_;
    std::unique_ptr<ChildProcess> daemon_;
    std::string url_;
};

TEST_F(NegotiateEndToEnd, RequestApproveRetrieveCheckInWithKerberosTickets) {
    // No credentials: both schemes are offered.
    auto anonymous = keyholder::testing::http_get(url_ + "/api/v1/me");
    EXPECT_EQ(anonymous.status, 401);
    std::set<std::string> offered;
    for (const auto& [name, value] : anonymous.headers)
        if (name == "WWW-Authenticate") offered.insert(value.substr(0, value.find(' ')));
    EXPECT_EQ(offered, (std::set<std::string>{"Negotiate", "Basic"}));

    auto bob = kinit("bob", "Bob-Pa55word!");
    auto carol = kinit("carol", "Carol-Pa55word!");
    // curl --negotiate with bob's ticket: no password anywhere.
    auto curl =
        keyholder::testing::run("/usr/bin/curl", {"-sS", "-v", "--negotiate", "-u", ":", url_ + "/api/v1/me"}, bob);
    EXPECT_NE(curl.out.find("\"name\":\"bob\""), std::string::npos) << curl.out << curl.err << daemon_->err();
    EXPECT_NE(curl.out.find("\"signed_on_with\":\"negotiate\""), std::string::npos) << curl.out;

    // The portal's silent sign-on: without a ticket only Negotiate is offered (no Basic
    // dialog); with one, a session cookie that signs bob on by itself.
    HttpCall unticketed;
    unticketed.method = "POST";
    unticketed.url = url_ + "/api/v1/session/negotiate";
    auto challenged = keyholder::testing::http_call(unticketed);
    EXPECT_EQ(challenged.status, 401);
    std::set<std::string> silent;
    for (const auto& [name, value] : challenged.headers)
        if (name == "WWW-Authenticate") silent.insert(value);
    EXPECT_EQ(silent, (std::set<std::string>{"Negotiate"}));
    auto session = keyholder::testing::run(
        "/usr/bin/curl", {"-sS", "-D", "-", "-X", "POST", "--negotiate", "-u", ":", url_ + "/api/v1/session/negotiate"},
        bob);
    std::smatch cookie;
    ASSERT_TRUE(std::regex_search(session.out, cookie, std::regex("Set-Cookie: keyholder_session=([A-Za-z0-9_-]+);")))
        << session.out << session.err;
    EXPECT_NE(session.out.find("\"signed_on_with\":\"negotiate\""), std::string::npos) << session.out;
    HttpCall with_cookie;
    with_cookie.url = url_ + "/api/v1/me";
    with_cookie.headers = {{"Cookie", "keyholder_session=" + cookie[1].str()}};
    auto me = keyholder::testing::http_call(with_cookie);
    EXPECT_EQ(me.status, 200) << me.body;
    EXPECT_NE(me.body.find("\"name\":\"bob\""), std::string::npos) << me.body;
    EXPECT_NE(me.body.find("\"signed_on_with\":\"session\""), std::string::npos) << me.body;

    // The same in Chromium: the portal signs bob on silently where the address is in
    // the browser's Negotiate allow-list, and shows its form where it is not.
    const std::string host = url_.substr(7, url_.rfind(':') - 7);
    const auto shot = dir_.path() / "negotiate-signed-on.png";
    auto browser = keyholder::testing::run(
        "/usr/bin/python3",
        {std::string(KEYHOLDER_SOURCE_DIR) + "/tests/e2e/negotiate-in-browser", url_, host, shot.string()},
        [&] {
            auto e = bob;
            e["HOME"] = dir_.path().string();
            return e;
        }(),
        120s);
    EXPECT_EQ(browser.status, 0) << browser.out << browser.err << daemon_->err();
    std::cout << browser.out;
    EXPECT_NE(browser.out.find("negotiate in the browser: ok"), std::string::npos) << browser.out << browser.err;
    EXPECT_TRUE(std::regex_search(daemon_->err(), std::regex("session started for bob from [0-9.]+ \\(negotiate\\)")))
        << daemon_->err();

    auto whoami = cli(bob, {"whoami"});
    ASSERT_EQ(whoami.status, 0) << whoami.out << whoami.err;
    EXPECT_NE(whoami.out.find("Bob Operator (bob"), std::string::npos) << whoami.out;
    EXPECT_NE(whoami.out.find("negotiate"), std::string::npos) << whoami.out;

    auto requested = cli(bob, {"request", "vaulted", "--for", "1h", "--reason", "database maintenance"});
    ASSERT_EQ(requested.status, 0) << requested.out << requested.err;
    std::smatch match;
    ASSERT_TRUE(std::regex_search(requested.out, match, std::regex("request ([0-9]+)"))) << requested.out;
    const std::string id = match[1].str();
    auto self = cli(bob, {"approve", id});
    EXPECT_EQ(self.status, 1) << self.out << self.err;
    EXPECT_NE(self.err.find("self_approval"), std::string::npos) << self.err;

    auto approvable = cli(carol, {"list", "--approvable"});
    EXPECT_NE(approvable.out.find("request " + id), std::string::npos) << approvable.out << approvable.err;
    auto approved = cli(carol, {"approve", id, "--comment", "approved by the on-call lead"});
    ASSERT_EQ(approved.status, 0) << approved.out << approved.err;
    EXPECT_NE(approved.out.find("active"), std::string::npos) << approved.out;

    auto credential = cli(bob, {"credential", id});
    ASSERT_EQ(credential.status, 0) << credential.out << credential.err;
    EXPECT_NE(credential.out.find("password:    Initial-Vau1ted!"), std::string::npos) << credential.out;
    EXPECT_EQ(cli(carol, {"credential", id}).status, 1); // not hers

    auto checkin = cli(bob, {"checkin", id});
    ASSERT_EQ(checkin.status, 0) << checkin.out << checkin.err;
    // The take-back (a password rotation in AD) follows at once.
    std::string shown;
    for (int i = 0; i < 100; ++i) {
        shown = cli(bob, {"show", id}).out;
        if (shown.find("take-back done") != std::string::npos) break;
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_NE(shown.find("(checked_in), take-back done"), std::string::npos) << shown;
    // The password in AD has changed: the old one no longer binds.
    auto config = config::load_config(config_file_);
    ASSERT_TRUE(config);
    directory::Directory directory(core::directory_settings(config->ldap));
    auto vault = directory.find_user("da-vault");
    ASSERT_TRUE(vault);
    auto old = directory.verify_password(*vault, "Initial-Vau1ted!");
    ASSERT_FALSE(old);
    EXPECT_EQ(old.error().kind, directory::DirectoryError::Kind::invalid_credentials);
    // A disabled user cannot get a ticket at all; a bad token is a 401.
    keyholder::testing::HttpCall forged;
    forged.url = url_ + "/api/v1/me";
    forged.headers = {{"Authorization", "Negotiate YIIBAAAAAAAAAAAAAAAAAAAA"}};
    auto bad = keyholder::testing::http_call(forged);
    EXPECT_EQ(bad.status, 401);
    // Basic still works as the fallback on this loopback listener.
    keyholder::testing::HttpCall fallback;
    fallback.url = url_ + "/api/v1/me";
    fallback.basic_user = "erin";
    fallback.basic_password = "Erin-Pa55word!";
    auto basic = keyholder::testing::http_call(fallback);
    EXPECT_EQ(basic.status, 200) << basic.body;
}

} // namespace
