// The web portal in a real browser against the Samba AD DC: keyholderd signs people
// on with an LDAP bind to the DC; tests/e2e/portal-in-browser drives headless
// Chromium through bob's request, carol's approval for a shorter window, bob's
// credential (which binds to the DC as da-vault), extension and check-in (which
// rotates the password in AD), erin's and dave's views, and dave's revocation of
// another check-out. The API then confirms what the browser saw. Screenshots:
// build/tests/e2e/portal-screenshots.
#include <gtest/gtest.h>

#include <iostream>
#include <regex>
#include <thread>

#include "support/child_process.h"
#include "support/http_get.h"
#include "support/samba_dc.h"
#include "support/slapd.h" // free_loopback_port
#include "support/temp_dir.h"

namespace {

using namespace keyholder::testing;
using namespace std::chrono_literals;

const std::filesystem::path kSource = KEYHOLDER_SOURCE_DIR;

TEST(Portal, RequestApproveShorterRevealAndCheckInInChromium) {
    SambaDc& dc = SambaDc::shared();
    TempDir dir;
    dir.write("data/ldap.password", SambaDc::kServicePassword);
    const int port = free_loopback_port();
    const std::string url = "http://127.0.0.1:" + std::to_string(port);
    auto file = dir.write(
        "keyholder.ini",
        "[service]\ndata_dir = data\nadmin_groups = Keyholder Admins\nauditor_groups = Compliance Auditors\n"
        "[http]\nlisten = 127.0.0.1:" +
            std::to_string(port) + "\npublic_url = " + url + "\n[ldap]\nuris = " + dc.ldaps_uri() + "\nbase_dn = " +
            SambaDc::kBaseDn + "\nca_file = " + dc.ca_file().string() + "\nbind_dn = " + SambaDc::kServiceUpn +
            "\nbind_password_file = ldap.password\nnetbios_domain = KEYHOLDER\n"
            "[policy.tier0]\nrequester_groups = Tier0 Operators\nstage1_approvers = Team Leads\nmax_duration = 4h\n"
            "max_extension = 1h\nticket_pattern = CHG-[0-9]+\n"
            "[entry.vaulted]\ndisplay_name = Domain Admin (vaulted)\npolicy = tier0\nrelease = password\n"
            "account = da-vault\nrotate_password = true\n"
            "[entry.breakglass]\ndisplay_name = Break-glass\npolicy = tier0\nrelease = enable\naccount = "
            "da-breakglass\n"
            "[entry.tools]\ndisplay_name = Server tools\npolicy = tier0\nrelease = group\ngroup = Server Admins\n"
            // Its account is not in AD: the rotation at its take-back fails.
            "[entry.ghost]\ndisplay_name = Gone account\npolicy = tier0\nrelease = password\naccount = da-gone\n"
            "rotate_password = true\n");
    ChildProcess daemon(KEYHOLDERD_PATH, {"--config", file.string()}, dir.path());
    int status = 0;
    for (int i = 0; i < 300 && status != 200; ++i) {
        status = http_get(url + "/readyz").status;
        if (status != 200) std::this_thread::sleep_for(50ms);
    }
    ASSERT_EQ(status, 200) << daemon.err();
    HttpCall secret;
    secret.method = "POST";
    secret.url = url + "/api/v1/entries/vaulted/secret";
    secret.body = R"({"secret":"Initial-Vau1ted!"})";
    secret.basic_user = "dave";
    secret.basic_password = "Dave-Pa55word!";
    ASSERT_EQ(http_call(secret).status, 200);

    // Another check-out, active before the browser starts, for dave to revoke: the
    // break-glass account enabled in AD.
    HttpCall spare = secret;
    spare.url = url + "/api/v1/requests";
    spare.body = R"({"entry":"breakglass","reason":"a second window","ticket":"CHG-78","duration":"1h"})";
    spare.basic_user = "bob";
    spare.basic_password = "Bob-Pa55word!";
    auto spare_request = http_call(spare);
    ASSERT_EQ(spare_request.status, 201) << spare_request.body;
    HttpCall approve = spare;
    approve.url = url + "/api/v1/requests/1/approve";
    approve.body = "{}";
    approve.basic_user = "alice";
    approve.basic_password = "Alice-Pa55word!";
    auto approved = http_call(approve);
    ASSERT_EQ(approved.status, 200) << approved.body;
    std::smatch checkout;
    ASSERT_TRUE(std::regex_search(approved.body, checkout, std::regex(R"("id":([0-9]+),"release_state")")))
        << approved.body;

    // A check-out whose take-back fails (no such account in AD), for dave's list of
    // take-backs not done.
    HttpCall ghost = secret;
    ghost.url = url + "/api/v1/entries/ghost/secret";
    ghost.body = R"({"secret":"Ghost-Pa55word!"})";
    ASSERT_EQ(http_call(ghost).status, 200);
    ghost = spare;
    ghost.body = R"({"entry":"ghost","reason":"an account since deleted","ticket":"CHG-82","duration":"1h"})";
    auto ghost_request = http_call(ghost);
    ASSERT_EQ(ghost_request.status, 201) << ghost_request.body;
    approve.url = url + "/api/v1/requests/2/approve";
    auto ghost_approved = http_call(approve);
    ASSERT_EQ(ghost_approved.status, 200) << ghost_approved.body;
    std::smatch ghost_checkout;
    ASSERT_TRUE(std::regex_search(ghost_approved.body, ghost_checkout, std::regex(R"("id":([0-9]+),"release_state")")));
    HttpCall checkin = spare;
    checkin.url = url + "/api/v1/checkouts/" + ghost_checkout[1].str() + "/checkin";
    checkin.body = "{}";
    auto checked_in = http_call(checkin);
    ASSERT_EQ(checked_in.status, 200) << checked_in.body;

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
                       {(kSource / "tests/e2e/portal-in-browser").string(), url, shots.string(), checkout[1].str(),
                        ghost_checkout[1].str()},
                       {{"HOME", dir.path().string()},
                        {"KEYHOLDER_DC_URI", dc.ldaps_uri()},
                        {"LDAPTLS_CACERT", dc.ca_file().string()}},
                       240s);
    EXPECT_EQ(browser.status, 0) << browser.out << browser.err << daemon.err();
    std::cout << browser.out; // one line per step
    EXPECT_NE(browser.out.find("portal flow: ok"), std::string::npos) << browser.out << browser.err;

    // What the browser did, as the API records it.
    HttpCall show = secret;
    show.method = "GET";
    show.body.clear();
    std::smatch requested;
    ASSERT_TRUE(std::regex_search(browser.out, requested, std::regex("sent to carol only: request ([0-9]+) pending")));
    show.url = url + "/api/v1/requests/" + requested[1].str();
    show.basic_user = "bob";
    show.basic_password = "Bob-Pa55word!";
    auto shown = http_call(show);
    EXPECT_NE(shown.body.find("\"state\":\"ended\""), std::string::npos) << shown.body;
    EXPECT_NE(shown.body.find("\"granted_duration_seconds\":1800"), std::string::npos) << shown.body;
    EXPECT_NE(shown.body.find("\"end_reason\":\"checked_in\""), std::string::npos) << shown.body;
    EXPECT_NE(shown.body.find("30 minutes are enough"), std::string::npos) << shown.body;
    show.url = url + "/api/v1/checkouts/" + checkout[1].str();
    auto revoked = http_call(show);
    EXPECT_NE(revoked.body.find("\"end_reason\":\"revoked\""), std::string::npos) << revoked.body;
    // The check-in rotated da-vault's password in AD: the revealed one binds no more.
    std::string rotated;
    for (int i = 0; i < 100; ++i) {
        rotated = run("/usr/bin/ldapsearch",
                      {"-x", "-H", dc.ldaps_uri(), "-D", "da-vault@keyholder.test", "-w", "Initial-Vau1ted!", "-b", "",
                       "-s", "base", "dn"},
                      {{"LDAPTLS_CACERT", dc.ca_file().string()}})
                      .err;
        if (rotated.find("Invalid credentials") != std::string::npos) break;
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_NE(rotated.find("Invalid credentials"), std::string::npos) << rotated;
}

} // namespace
