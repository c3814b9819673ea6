// The administrator's view against the Samba AD DC: `keyholder directory whois` and
// `keyholder directory groups` with keyholder.ini (simple bind over LDAPS, and GSSAPI
// with a keytab), and keyholderd's readiness with that directory.
#include <gtest/gtest.h>

#include <csignal>
#include <regex>

#include "support/child_process.h"
#include "support/http_get.h"
#include "support/samba_dc.h"
#include "support/temp_dir.h"

namespace {

using namespace keyholder::testing;
using namespace std::chrono_literals;

const std::string kCli = KEYHOLDER_CLI_PATH;

std::filesystem::path write_config(const TempDir& dir, bool gssapi = false) {
    SambaDc& dc = SambaDc::shared();
    dir.write("data/ldap.password", SambaDc::kServicePassword);
    std::string ldap = "[ldap]\nbase_dn = " + std::string(SambaDc::kBaseDn) + "\nca_file = " + dc.ca_file().string() +
                       "\nnetbios_domain = KEYHOLDER\n";
    if (gssapi) {
        dir.write("data/keyholder.keytab", read_file(dc.keytab()));
        ldap += "uris = " + dc.ldap_uri() + "\nbind = gssapi\nkeytab = keyholder.keytab\nprincipal = svc-keyholder@" +
                SambaDc::kRealm + "\n";
    } else {
        ldap += "uris = " + dc.ldaps_uri() + "\nbind_dn = " + SambaDc::kServiceUpn +
                "\nbind_password_file = ldap.password\n";
    }
    return dir.write("keyholder.ini", "[service]\ndata_dir = data\nadmin_groups = Keyholder Admins\n"
                                      "[http]\nlisten = 127.0.0.1:0\n" +
                                          ldap +
                                          "[policy.p]\nrequester_groups = Tier0 Operators\n"
                                          "stage1_approvers = Team Leads\n"
                                          "[entry.e]\npolicy = p\nrelease = group\ngroup = Server Admins\n");
}

std::map<std::string, std::string> krb5_env() { return {{"KRB5_CONFIG", SambaDc::shared().krb5_conf().string()}}; }

TEST(DirectoryCli, WhoisShowsIdentityEnabledAndManager) {
    TempDir dir;
    auto config = write_config(dir);
    auto result = run(kCli, {"directory", "whois", "KEYHOLDER\\bob", "--config", config.string()});
    ASSERT_EQ(result.status, 0) << result.out << result.err;
    EXPECT_NE(result.out.find("display name    Bob Operator"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("sid             S-1-5-21-"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("enabled         yes"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("manager         alice (Alice Lead, CN=Alice Lead,"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("directory       Active Directory"), std::string::npos) << result.out;

    auto frank = run(kCli, {"directory", "whois", "frank", "--config", config.string()});
    ASSERT_EQ(frank.status, 0);
    EXPECT_NE(frank.out.find("enabled         no (account disabled)"), std::string::npos) << frank.out;

    // By SID, and as JSON.
    std::smatch sid;
    ASSERT_TRUE(std::regex_search(result.out, sid, std::regex("S-1-5-21-[0-9-]+")));
    auto json = run(kCli, {"directory", "whois", sid.str(), "--config", config.string(), "--json"});
    ASSERT_EQ(json.status, 0) << json.err;
    EXPECT_TRUE(std::regex_search(json.out, std::regex("\"sAMAccountName\" ?: ?\"bob\""))) << json.out;
}

TEST(DirectoryCli, GroupsShowHowEachWasFound) {
    TempDir dir;
    auto result = run(kCli, {"directory", "groups", "bob", "--config", write_config(dir).string()});
    ASSERT_EQ(result.status, 0) << result.out << result.err;
    EXPECT_TRUE(std::regex_search(result.out, std::regex("Operators +direct +CN=Operators,"))) << result.out;
    EXPECT_TRUE(std::regex_search(result.out, std::regex("Privileged Requesters +nested +Operators > Tier0 Operators > "
                                                         "Privileged Requesters")))
        << result.out;
    EXPECT_TRUE(std::regex_search(result.out, std::regex("Domain Users +primary group"))) << result.out;
    EXPECT_NE(result.out.find("(found by tokenGroups)"), std::string::npos) << result.out;
}

TEST(DirectoryCli, GssapiBindFromTheConfiguration) {
    TempDir dir;
    auto config = write_config(dir, true);
    auto result = run(kCli, {"directory", "groups", "bob", "--config", config.string()}, krb5_env());
    ASSERT_EQ(result.status, 0) << result.out << result.err;
    EXPECT_NE(result.out.find("Tier0 Operators"), std::string::npos) << result.out;
}

TEST(DirectoryCli, NoSuchUserAndHostileNamesExitOne) {
    TempDir dir;
    auto config = write_config(dir);
    for (const char* name : {"nobody", "*", "bob)(|(sAMAccountName=*"}) {
        auto result = run(kCli, {"directory", "whois", name, "--config", config.string()});
        EXPECT_EQ(result.status, 1) << name << ": " << result.out;
        EXPECT_NE(result.err.find("no such user"), std::string::npos) << result.err;
    }
}

TEST(DirectoryCli, UsageAndHelp) {
    EXPECT_EQ(run(kCli, {"directory"}).status, 2);
    EXPECT_EQ(run(kCli, {"directory", "whois"}).status, 2);
    auto help = run(kCli, {"directory", "whois", "--help"});
    EXPECT_EQ(help.status, 0);
    EXPECT_NE(help.out.find("primary group"), std::string::npos);
    EXPECT_NE(help.out.find("quote it in a shell: 'EXAMPLE\\bob'"), std::string::npos) << help.out;
}

TEST(KeyholderdWithActiveDirectory, ReadyWhileTheDcAnswers) {
    TempDir dir;
    ChildProcess daemon(KEYHOLDERD_PATH, {"--config", write_config(dir, true).string()}, dir.path(), krb5_env());
    std::string log = daemon.wait_for_output("keyholderd: ready", 20s);
    std::smatch match;
    ASSERT_TRUE(std::regex_search(log, match, std::regex("listening on (http://[0-9.]+:[0-9]+)"))) << daemon.err();
    auto ready = http_get(match[1].str() + "/readyz");
    EXPECT_EQ(ready.status, 200) << ready.body;
    daemon.signal(SIGTERM);
    EXPECT_EQ(daemon.wait_for(2s), 0);
}

// Runs last in this program: the DC goes away.
TEST(DirectoryCliZ, DirectoryDownExitsThreeNotOne) {
    TempDir dir;
    auto config = write_config(dir);
    SambaDc& dc = SambaDc::shared();
    dc.stop();
    auto result = run(kCli, {"directory", "whois", "bob", "--config", config.string()});
    dc.start();
    EXPECT_EQ(result.status, 3) << result.out << result.err;
    EXPECT_NE(result.err.find("Can't contact LDAP server"), std::string::npos) << result.err;
}

} // namespace
