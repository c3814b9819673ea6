// The approval mail in a real browser: keyholderd (mail to its pickup folder) with
// the sample directory (slapd); bob asks for demo-admin; carol's mail is read from
// the pickup folder, its Approve link opened in headless Chromium
// (tests/e2e/approve-in-browser), which sees the request and clicks Approve; the
// request is then active, decided by carol through the link.
#include <gtest/gtest.h>

#include <regex>
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

TEST(BrowserApproval, EmailedLinkOpensInChromiumAndApproves) {
    SlapdSandbox slapd({kSource / "config/demo-directory.ldif"});
    TempDir dir;
    const int port = free_loopback_port();
    const std::string url = "http://127.0.0.1:" + std::to_string(port);
    dir.write("data/ldap.password", "demo-service-password");
    auto file = dir.write("keyholder.ini", "[service]\ndata_dir = data\nadmin_groups = keyholder-admins\n"
                                           "[http]\nlisten = 127.0.0.1:" +
                                               std::to_string(port) + "\npublic_url = " + url +
                                               "\n[ldap]\nuris = " + slapd.ldap_uri() +
                                               "\nbase_dn = dc=demo,dc=test\nflavour = openldap\n"
                                               "bind_dn = cn=keyholder,ou=services,dc=demo,dc=test\n"
                                               "bind_password_file = ldap.password\n"
                                               "[policy.standard]\nrequester_groups = operators\n"
                                               "stage1_approvers = team-leads\n"
                                               "[entry.demo-admin]\ndisplay_name = Demo Admin\npolicy = standard\n"
                                               "release = password\naccount = demo-admin\nrotate_password = false\n");
    ChildProcess daemon(KEYHOLDERD_PATH, {"--config", file.string()}, dir.path());
    int status = 0;
    for (int i = 0; i < 200 && status != 200; ++i) {
        status = http_get(url + "/readyz").status;
        if (status != 200) std::this_thread::sleep_for(50ms);
    }
    ASSERT_EQ(status, 200) << daemon.err();
    HttpCall secret;
    secret.method = "POST";
    secret.url = url + "/api/v1/entries/demo-admin/secret";
    secret.body = R"({"secret":"initial-demo-admin-password"})";
    secret.basic_user = "dave";
    secret.basic_password = "dave-demo-password";
    ASSERT_EQ(http_call(secret).status, 200);
    HttpCall request = secret;
    request.url = url + "/api/v1/requests";
    request.body = R"({"entry":"demo-admin","reason":"quarterly <patching>","ticket":"CHG-7","duration":"2h"})";
    request.basic_user = "bob";
    request.basic_password = "bob-demo-password";
    auto created = http_call(request);
    ASSERT_EQ(created.status, 201) << created.body;

    std::vector<ReceivedMail> mails;
    for (int i = 0; i < 100 && mails.size() < 2; ++i) {
        std::this_thread::sleep_for(100ms);
        mails = read_mailbox(dir.path() / "data/mail-pickup");
    }
    ASSERT_EQ(mails.size(), 2U);
    const auto& carol = mails[0].to.find("carol") != std::string::npos ? mails[0] : mails[1];
    const std::string link = link_in(carol.text, "decision=approve");
    ASSERT_FALSE(link.empty()) << carol.text;

    auto browser = run("/usr/bin/python3",
                       {(kSource / "tests/e2e/approve-in-browser").string(), link, "Bob Operator", "Demo Admin",
                        "quarterly <patching>", "CHG-7"},
                       {{"HOME", dir.path().string()}}, 120s);
    EXPECT_EQ(browser.status, 0) << browser.out << browser.err;
    EXPECT_NE(browser.out.find("state: active"), std::string::npos) << browser.out << browser.err;

    HttpCall show = request;
    show.method = "GET";
    show.body.clear();
    show.url = url + "/api/v1/requests/1";
    auto shown = http_call(show);
    EXPECT_NE(shown.body.find("\"state\":\"active\""), std::string::npos) << shown.body;
    EXPECT_NE(shown.body.find("\"via\":\"link\""), std::string::npos) << shown.body;
    EXPECT_NE(shown.body.find("\"name\":\"carol\""), std::string::npos) << shown.body;
    EXPECT_NE(shown.body.find("approved from the browser test"), std::string::npos) << shown.body;
}

} // namespace
