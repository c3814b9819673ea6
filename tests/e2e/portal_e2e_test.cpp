// The web portal in a real browser: keyholderd with the sample directory (slapd);
// tests/e2e/portal-in-browser drives headless Chromium through bob's request,
// carol's approval for a shorter window, bob's credential and check-in. Then the
// API confirms what the browser saw. Screenshots: build/tests/e2e/portal-screenshots.
#include <gtest/gtest.h>

#include <regex>
#include <thread>

#include "support/child_process.h"
#include "support/http_get.h"
#include "support/slapd.h"
#include "support/temp_dir.h"

namespace {

using namespace keyholder::testing;
using namespace std::chrono_literals;

const std::filesystem::path kSource = KEYHOLDER_SOURCE_DIR;

TEST(Portal, RequestApproveShorterRevealAndCheckInInChromium) {
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
                                               "stage1_approvers = team-leads\nmax_duration = 4h\nmax_extension = 1h\n"
                                               "ticket_pattern = CHG-[0-9]+\n"
                                               "[entry.demo-admin]\ndisplay_name = Demo Admin\npolicy = standard\n"
                                               "release = password\naccount = demo-admin\nrotate_password = false\n"
                                               "[entry.spare]\ndisplay_name = Spare\npolicy = standard\n"
                                               "release = password\naccount = demo-admin\nrotate_password = false\n"
                                               "[entry.tools]\ndisplay_name = Tools\npolicy = standard\n"
                                               "release = group\ngroup = cn=tools,ou=groups,dc=demo,dc=test\n");
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

    // Another check-out, active before the browser starts, for dave to revoke.
    secret.url = url + "/api/v1/entries/spare/secret";
    ASSERT_EQ(http_call(secret).status, 200);
    HttpCall spare = secret;
    spare.url = url + "/api/v1/requests";
    spare.body = R"({"entry":"spare","reason":"a second window","ticket":"CHG-78","duration":"1h"})";
    spare.basic_user = "bob";
    spare.basic_password = "bob-demo-password";
    auto spare_request = http_call(spare);
    ASSERT_EQ(spare_request.status, 201) << spare_request.body;
    HttpCall approve = spare;
    approve.url = url + "/api/v1/requests/1/approve";
    approve.body = "{}";
    approve.basic_user = "alice";
    approve.basic_password = "alice-demo-password";
    auto approved = http_call(approve);
    ASSERT_EQ(approved.status, 200) << approved.body;
    std::smatch checkout;
    ASSERT_TRUE(std::regex_search(approved.body, checkout, std::regex(R"("id":([0-9]+),"release_state")")))
        << approved.body;

    // The page and its files: strict CSP, cacheable with an ETag.
    auto page = http_get(url + "/");
    ASSERT_EQ(page.status, 200);
    EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
    EXPECT_NE(page.header("Content-Security-Policy").find("script-src 'self'"), std::string::npos);
    EXPECT_NE(page.header("Content-Security-Policy").find("frame-ancestors 'none'"), std::string::npos);
    EXPECT_EQ(page.header("Cache-Control"), "no-cache");
    HttpCall again;
    again.url = url + "/portal/app.js";
    auto script = http_call(again);
    ASSERT_EQ(script.status, 200);
    again.headers = {{"If-None-Match", script.header("ETag")}};
    EXPECT_EQ(http_call(again).status, 304);

    const auto shots = std::filesystem::path(KEYHOLDER_BINARY_DIR) / "portal-screenshots";
    std::filesystem::remove_all(shots);
    auto browser = run("/usr/bin/python3",
                       {(kSource / "tests/e2e/portal-in-browser").string(), url, shots.string(), checkout[1].str()},
                       {{"HOME", dir.path().string()}}, 180s);
    EXPECT_EQ(browser.status, 0) << browser.out << browser.err << daemon.err();
    EXPECT_NE(browser.out.find("portal flow: ok"), std::string::npos) << browser.out << browser.err;

    // What the browser did, as the API records it.
    HttpCall show = secret;
    show.method = "GET";
    show.body.clear();
    show.url = url + "/api/v1/requests/2"; // 1 is the spare one
    show.basic_user = "bob";
    show.basic_password = "bob-demo-password";
    auto shown = http_call(show);
    EXPECT_NE(shown.body.find("\"state\":\"ended\""), std::string::npos) << shown.body;
    EXPECT_NE(shown.body.find("\"granted_duration_seconds\":1800"), std::string::npos) << shown.body;
    EXPECT_NE(shown.body.find("\"end_reason\":\"checked_in\""), std::string::npos) << shown.body;
    EXPECT_NE(shown.body.find("30 minutes are enough"), std::string::npos) << shown.body;
    show.url = url + "/api/v1/checkouts/" + checkout[1].str();
    auto revoked = http_call(show);
    EXPECT_NE(revoked.body.find("\"end_reason\":\"revoked\""), std::string::npos) << revoked.body;
}

} // namespace
