// Approval by mail, against real processes: keyholderd, slapd (the directory) and an
// SMTP server (aiosmtpd, tests/support/smtp-sink) on loopback. SMTP is down while
// the request is made and comes up later: every mail arrives exactly once. The
// approver's link is followed with a real HTTP client; prefetching (GET) changes
// nothing; replayed, tampered, forged, expired and foreign links change nothing.
// No mail of the run contains any password used in it.
#include <gtest/gtest.h>

#include <Poco/URI.h>

#include <csignal>
#include <regex>
#include <set>
#include <thread>

#include "support/child_process.h"
#include "support/http_get.h"
#include "support/mailbox.h"
#include "support/slapd.h"
#include "support/temp_dir.h"

namespace {

using namespace keyholder::testing;
using namespace std::chrono_literals;

const std::filesystem::path kSource = KEYHOLDER_SOURCE_DIR;
const std::vector<std::string> kPasswords{"alice-demo-password",   "bob-demo-password",
                                          "carol-demo-password",   "dave-demo-password",
                                          "demo-service-password", "initial-demo-admin-password"};
const std::map<std::string, std::string> kLogin{{"alice", "alice-demo-password"},
                                                {"bob", "bob-demo-password"},
                                                {"carol", "carol-demo-password"},
                                                {"dave", "dave-demo-password"}};

class Mail : public ::testing::Test {
protected:
    void start(const std::string& extra_auth = "", const std::string& request_ttl = "8h",
               const std::string& smtp = "starttls = false\n") {
        http_port_ = free_loopback_port();
        smtp_port_ = free_loopback_port();
        url_ = "http://127.0.0.1:" + std::to_string(http_port_);
        dir_.write("data/ldap.password", "demo-service-password");
        auto file = dir_.write(
            "keyholder.ini",
            "[service]\ndata_dir = data\nadmin_groups = keyholder-admins\n"
            "[http]\nlisten = 127.0.0.1:" +
                std::to_string(http_port_) + "\npublic_url = " + url_ + "\n[auth]\n" + extra_auth +
                "\n[ldap]\nuris = " + slapd_.ldap_uri() +
                "\nbase_dn = dc=demo,dc=test\nflavour = openldap\nbind_dn = cn=keyholder,ou=services,dc=demo,dc=test\n"
                "bind_password_file = ldap.password\n"
                "[smtp]\nhost = 127.0.0.1\nport = " +
                std::to_string(smtp_port_) + "\n" + smtp +
                "from = keyholder@demo.test\nretry_initial = 1s\nretry_max = 2s\n"
                "[policy.standard]\nrequester_groups = operators\nstage1_approvers = team-leads\nrequest_ttl = " +
                request_ttl +
                "\n"
                "[entry.demo-admin]\ndisplay_name = Demo Admin\npolicy = standard\nrelease = password\n"
                "account = demo-admin\nrotate_password = false\n");
        config_file_ = file;
        start_daemon();
    }

    void start_daemon() {
        daemon_.reset();
        daemon_ = std::make_unique<ChildProcess>(
            KEYHOLDERD_PATH, std::vector<std::string>{"--config", config_file_.string()}, dir_.path());
        int status = 0;
        for (int i = 0; i < 200 && status != 200; ++i) {
            status = http_get(url_ + "/readyz").status;
            if (status != 200) std::this_thread::sleep_for(50ms);
        }
        ASSERT_EQ(status, 200) << daemon_->err();
    }

    void start_smtp(std::vector<std::string> extra = {}) {
        std::vector<std::string> args{(kSource / "tests/support/smtp-sink").string(), "127.0.0.1",
                                      std::to_string(smtp_port_), (dir_.path() / "inbox").string()};
        args.insert(args.end(), extra.begin(), extra.end());
        std::filesystem::create_directories(dir_.path() / "smtp-log");
        smtp_ = std::make_unique<ChildProcess>("/usr/bin/python3", args, dir_.path() / "smtp-log");
        ASSERT_NE(smtp_->wait_for_output("ready", 10s), "") << smtp_->err();
    }

    HttpAnswer api(const std::string& user, const std::string& method, const std::string& path,
                   const std::string& body = {}) {
        HttpCall c;
        c.method = method;
        c.url = url_ + path;
        c.body = body;
        if (!user.empty()) {
            c.basic_user = user;
            c.basic_password = kLogin.at(user);
        }
        return http_call(c);
    }

    std::string state_of(int64_t id) {
        auto answer = api("bob", "GET", "/api/v1/requests/" + std::to_string(id));
        std::smatch m;
        return std::regex_search(answer.body, m, std::regex(R"re("state":"([a-z_]+)")re")) ? m[1].str() : "?";
    }

    std::vector<ReceivedMail> wait_for_mails(size_t count, std::chrono::seconds timeout = 20s) {
        std::vector<ReceivedMail> mails;
        const auto until = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < until) {
            mails = read_mailbox(dir_.path() / "inbox");
            if (mails.size() >= count) break;
            std::this_thread::sleep_for(100ms);
        }
        return mails;
    }

    static std::string token_of(const std::string& link) {
        auto at = link.find("/approve/");
        auto end = link.find('?', at);
        return link.substr(at + 9, end == std::string::npos ? std::string::npos : end - at - 9);
    }

    // page / decide: the approval page and its form, as a browser would use them.
    HttpAnswer page(const std::string& token, const std::string& user = "") {
        HttpCall c;
        c.url = url_ + "/approve/" + token;
        if (!user.empty()) {
            c.basic_user = user;
            c.basic_password = kLogin.at(user);
        }
        return http_call(c);
    }
    static std::string form_key_of(const std::string& html) {
        std::smatch m;
        return std::regex_search(html, m, std::regex(R"(name="form_key" value="([^"]+)\")")) ? m[1].str() : "";
    }
    HttpAnswer decide(const std::string& token, const std::string& form_key, const std::string& decision,
                      const std::string& user = "", const std::string& duration = "") {
        HttpCall c;
        c.method = "POST";
        c.url = url_ + "/approve/" + token;
        std::string key, comment;
        Poco::URI::encode(form_key, "+/=&", key);
        Poco::URI::encode("fine by me & <you>", "+/=&<>", comment);
        c.body = "form_key=" + key + "&decision=" + decision + "&comment=" + comment;
        if (!duration.empty()) c.body += "&duration=" + duration;
        c.content_type = "application/x-www-form-urlencoded";
        c.headers = {{"Origin", url_}};
        if (!user.empty()) {
            c.basic_user = user;
            c.basic_password = kLogin.at(user);
        }
        return http_call(c);
    }

    int64_t request_demo_admin() {
        EXPECT_EQ(
            api("dave", "POST", "/api/v1/entries/demo-admin/secret", R"({"secret":"initial-demo-admin-password"})")
                .status,
            200);
        auto created = api("bob", "POST", "/api/v1/requests",
                           R"({"entry":"demo-admin","reason":"rotate <certs> & keys","duration":"1h"})");
        EXPECT_EQ(created.status, 201) << created.body;
        std::smatch m;
        EXPECT_TRUE(std::regex_search(created.body, m, std::regex(R"("id":([0-9]+))")));
        return std::stoll(m[1].str());
    }

    void expect_no_password_in_any_mail() {
        for (const auto& mail : read_mailbox(dir_.path() / "inbox"))
            for (const auto& password : kPasswords)
                EXPECT_EQ(mail.raw.find(password), std::string::npos) << mail.file << " contains " << password;
    }

    SlapdSandbox slapd_{{kSource / "config/demo-directory.ldif"}};
    TempDir dir_;
    int http_port_ = 0;
    int smtp_port_ = 0;
    std::string url_;
    std::filesystem::path config_file_;
    std::unique_ptr<ChildProcess> daemon_;
    std::unique_ptr<ChildProcess> smtp_;
};

TEST_F(Mail, SmtpDownThenUpEveryMailArrivesOnceAndTheLinkApproves) {
    start();
    const int64_t id = request_demo_admin();
    // The mail server is down: deliveries fail and are retried; nothing is lost.
    std::string metrics;
    // Every counter exists from the start at 0: wait for a count above it.
    const std::regex retried("keyholder_mail_deliveries_total\\{result=\"retry\"\\} [1-9]");
    for (int i = 0; i < 50 && !std::regex_search(metrics, retried); ++i) {
        std::this_thread::sleep_for(100ms);
        metrics = http_get(url_ + "/metrics").body;
    }
    EXPECT_TRUE(std::regex_search(metrics, retried)) << metrics;
    EXPECT_NE(metrics.find("keyholder_outbox_backlog 2"), std::string::npos) << metrics;
    start_smtp();
    auto mails = wait_for_mails(2);
    std::this_thread::sleep_for(3s); // retries would have fired by now
    mails = read_mailbox(dir_.path() / "inbox");
    ASSERT_EQ(mails.size(), 2U);
    // The DATA the server received: every line ends CRLF (RFC 5321; strict servers
    // refuse bare LF, and their 5xx would be final).
    for (const auto& m : mails) {
        for (size_t i = 0; i < m.raw.size(); ++i) {
            if (m.raw[i] == '\n') {
                ASSERT_TRUE(i > 0 && m.raw[i - 1] == '\r') << "bare LF at byte " << i << " of\n" << m.raw;
            }
        }
    }
    std::set<std::string> to, ids;
    for (const auto& m : mails) {
        to.insert(m.to);
        ids.insert(m.message_id);
        EXPECT_NE(m.subject.find("Bob Operator asks for Demo Admin"), std::string::npos) << m.subject;
        EXPECT_NE(m.text.find("rotate <certs> & keys"), std::string::npos);                     // text part: as written
        EXPECT_NE(m.html.find("rotate &lt;certs&gt; &amp; keys"), std::string::npos) << m.html; // HTML: escaped
    }
    EXPECT_EQ(to, (std::set<std::string>{"alice@demo.test", "carol@demo.test"})); // never bob, the requester
    EXPECT_EQ(ids.size(), 2U);
    const ReceivedMail& carol = mails[0].to == "carol@demo.test" ? mails[0] : mails[1];
    const ReceivedMail& alice = mails[0].to == "carol@demo.test" ? mails[1] : mails[0];
    const std::string approve = link_in(carol.text, "decision=approve");
    ASSERT_FALSE(approve.empty()) << carol.text;
    EXPECT_EQ(approve.rfind(url_ + "/approve/", 0), 0U);
    const std::string token = token_of(approve);

    // A scanner prefetching the link (GET, twice) decides nothing.
    auto shown = page(token);
    ASSERT_EQ(shown.status, 200) << shown.body;
    EXPECT_NE(shown.body.find("Bob Operator"), std::string::npos);
    EXPECT_NE(shown.body.find("rotate &lt;certs&gt; &amp; keys"), std::string::npos);
    EXPECT_EQ(page(token).status, 200);
    EXPECT_EQ(state_of(id), "pending");
    // A forged form (no key from the page) decides nothing.
    EXPECT_EQ(decide(token, "forged", "approve").status, 403);
    EXPECT_EQ(state_of(id), "pending");
    // The page offers shorter windows than the 1 h asked; a duration that is none
    // decides nothing.
    EXPECT_NE(shown.body.find("<option value=\"\">1h (as asked)</option><option value=\"15m\">"), std::string::npos)
        << shown.body;
    EXPECT_EQ(decide(token, form_key_of(shown.body), "approve", "", "soon").status, 400);
    EXPECT_EQ(state_of(id), "pending");
    // The real form approves, for 30 minutes.
    auto decided = decide(token, form_key_of(shown.body), "approve", "", "30m");
    ASSERT_EQ(decided.status, 200) << decided.body;
    EXPECT_NE(decided.body.find(">active<"), std::string::npos) << decided.body;
    EXPECT_EQ(state_of(id), "active");
    auto request = api("bob", "GET", "/api/v1/requests/" + std::to_string(id)).body;
    EXPECT_NE(request.find("\"via\":\"link\""), std::string::npos) << request;
    EXPECT_NE(request.find("\"granted_duration_seconds\":1800"), std::string::npos) << request;
    EXPECT_NE(request.find("fine by me & <you>"), std::string::npos) << request;
    // Replay: used.
    EXPECT_EQ(decide(token, form_key_of(shown.body), "approve").status, 410);
    EXPECT_EQ(page(token).status, 410);
    // alice's link is hers, but the request is no longer pending.
    const std::string alice_token = token_of(link_in(alice.text, "decision=deny"));
    auto late = page(alice_token);
    EXPECT_EQ(late.status, 409) << late.body;
    EXPECT_EQ(decide(alice_token, form_key_of(shown.body), "deny").status, 403); // carol's form key is not hers
    // Tampering with any part of a token: refused before anything is read.
    const size_t dot = alice_token.find('.');
    for (size_t at : {size_t{0}, dot / 2, dot - 1, dot + 1, alice_token.size() - 2}) {
        std::string forged = alice_token;
        forged[at] = forged[at] == 'A' ? 'B' : 'A';
        EXPECT_EQ(page(forged).status, 400) << "changed at " << at;
    }
    EXPECT_EQ(page(alice_token.substr(0, dot)).status, 400);
    EXPECT_EQ(page(alice_token + "A").status, 400);
    EXPECT_EQ(page(token.substr(0, token.find('.')) + alice_token.substr(dot)).status, 400); // spliced
    EXPECT_EQ(state_of(id), "active");
    // The requester hears the window started (and only once).
    auto all = wait_for_mails(3);
    ASSERT_EQ(all.size(), 3U);
    EXPECT_EQ(all[2].to, "bob@demo.test");
    EXPECT_NE(all[2].subject.find("is yours until"), std::string::npos) << all[2].subject;
    EXPECT_EQ(api("bob", "GET", "/api/v1/checkouts/1/credential").status, 200);
    // A restart sends nothing again: rows are marked sent once the server accepted them.
    daemon_->signal(SIGTERM);
    ASSERT_TRUE(daemon_->wait_for(10s));
    start_daemon();
    std::this_thread::sleep_for(3s);
    EXPECT_EQ(read_mailbox(dir_.path() / "inbox").size(), 3U);
    expect_no_password_in_any_mail();
}

TEST_F(Mail, PermanentRefusalSignedOnLinksAndExpiry) {
    start("link_sign_on = true", "4s");
    start_smtp({"--reject-rcpt", "alice@demo.test"});
    const int64_t id = request_demo_admin();
    auto mails = wait_for_mails(1);
    ASSERT_EQ(mails.size(), 1U);
    EXPECT_EQ(mails[0].to, "carol@demo.test");
    // alice's mail was refused with 550: failed for good, in the log and /metrics, not retried.
    std::string metrics;
    for (int i = 0; i < 50 && metrics.find("keyholder_mail_deliveries_total{result=\"failed\"} 1") == std::string::npos;
         ++i) {
        std::this_thread::sleep_for(100ms);
        metrics = http_get(url_ + "/metrics").body;
    }
    EXPECT_NE(metrics.find("keyholder_mail_deliveries_total{result=\"failed\"} 1"), std::string::npos) << metrics;
    EXPECT_NE(daemon_->err().find("refused for good"), std::string::npos);
    const std::string token = token_of(link_in(mails[0].text, "/approve/"));
    // With link_sign_on the page wants the link's own approver.
    EXPECT_EQ(page(token).status, 401);
    auto foreign = page(token, "alice");
    EXPECT_EQ(foreign.status, 403) << foreign.body;
    EXPECT_NE(foreign.body.find("not yours"), std::string::npos);
    auto own = page(token, "carol");
    EXPECT_EQ(own.status, 200) << own.body;
    EXPECT_EQ(decide(token, form_key_of(own.body), "approve", "alice").status, 403);
    EXPECT_EQ(state_of(id), "pending");
    // The link expires with the request (request_ttl 4s).
    std::this_thread::sleep_for(5s);
    auto expired = page(token, "carol");
    EXPECT_EQ(expired.status, 410) << expired.body;
    EXPECT_NE(expired.body.find("expired"), std::string::npos);
    EXPECT_EQ(decide(token, form_key_of(own.body), "approve", "carol").status, 410);
    EXPECT_NE(state_of(id), "active");
    expect_no_password_in_any_mail();
}

// STARTTLS (certificate checked against the CA) and AUTH: with the wrong password the
// mails wait (retried, logged); with the right one they all arrive.
TEST_F(Mail, StartTlsAndAuthentication) {
    dir_.write("data/smtp.password", "mail-Pa55!");
    start("", "8h",
          "starttls = true\nca_file = " + slapd_.ca_file().string() +
              "\nuser = keyholder\npassword_file = smtp.password\nauth = plain\n");
    start_smtp({"--starttls", (slapd_.dir() / "server.crt").string(), (slapd_.dir() / "server.key").string(), "--auth",
                "keyholder:mail-Pa55!"});
    const int64_t id = request_demo_admin();
    auto mails = wait_for_mails(2);
    ASSERT_EQ(mails.size(), 2U) << daemon_->err() << smtp_->err();
    EXPECT_FALSE(link_in(mails[0].text, "/approve/").empty());
    EXPECT_EQ(state_of(id), "pending");
    expect_no_password_in_any_mail();
    for (const auto& mail : mails)
        EXPECT_EQ(mail.raw.find("mail-Pa55!"), std::string::npos);
}

TEST_F(Mail, WrongSmtpPasswordIsRetriedNotLost) {
    dir_.write("data/smtp.password", "not-the-password");
    start("", "8h",
          "starttls = true\nca_file = " + slapd_.ca_file().string() +
              "\nuser = keyholder\npassword_file = smtp.password\nauth = plain\n");
    start_smtp({"--starttls", (slapd_.dir() / "server.crt").string(), (slapd_.dir() / "server.key").string(), "--auth",
                "keyholder:mail-Pa55!"});
    request_demo_admin();
    std::string metrics;
    // Every counter exists from the start at 0: wait for a count above it.
    const std::regex retried("keyholder_mail_deliveries_total\\{result=\"retry\"\\} [1-9]");
    for (int i = 0; i < 50 && !std::regex_search(metrics, retried); ++i) {
        std::this_thread::sleep_for(100ms);
        metrics = http_get(url_ + "/metrics").body;
    }
    EXPECT_TRUE(std::regex_search(metrics, retried)) << daemon_->err();
    EXPECT_NE(metrics.find("keyholder_mail_deliveries_total{result=\"failed\"} 0"), std::string::npos)
        << metrics; // a login failure is not final
    EXPECT_TRUE(read_mailbox(dir_.path() / "inbox").empty());
    EXPECT_EQ(daemon_->err().find("not-the-password"), std::string::npos); // never logged
}

} // namespace
