// The package on a fresh Debian 12: dpkg -i into a minimal root (chroot), what it
// leaves there (the conffile, the user, private folders, the service not started on
// an incomplete configuration with the message naming what to set), the packaged
// keyholderd checking a configuration and serving against the Samba AD DC until
// /readyz answers, an orderly stop, and a purge that leaves nothing behind.
#include <gtest/gtest.h>

#include <unistd.h>

#include <csignal>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "support/child_process.h"
#include "support/http_get.h"
#include "support/samba_dc.h"
#include "support/slapd.h" // free_loopback_port
#include "support/temp_dir.h"

namespace {

using namespace keyholder::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

const fs::path kSource = KEYHOLDER_SOURCE_DIR;

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.pop_back();
    return s;
}

// Everything in the root except the bookkeeping that dpkg and adduser keep by design
// (their logs, databases, locks in /run and backup copies of the account files).
std::set<std::string> files_of(const fs::path& root) {
    static const std::regex kept(
        R"(^/(var/lib/dpkg|var/log|var/cache/debconf|proc|dev|run|tmp)(/|$)|^/etc/(passwd|group|shadow|gshadow|subuid|subgid)-?$)");
    std::set<std::string> files;
    for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied);
         it != fs::recursive_directory_iterator(); ++it) {
        const std::string path = "/" + it->path().lexically_relative(root).string();
        if (std::regex_search(path, kept)) {
            if (it->is_directory() && !it->is_symlink()) it.disable_recursion_pending();
            continue;
        }
        files.insert(path);
    }
    return files;
}

class Package : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        // chroot, dpkg and chown need root. CI runs as root, so there it always runs; a
        // developer without root is told how to run it rather than failed.
        if (geteuid() != 0) GTEST_SKIP() << "the packaging test installs into a chroot: sudo ctest -R packaging_tests";
        // The .deb (an incremental Release build) and the cached Debian 12 root.
        auto built = run((kSource / "scripts/package").string(), {}, {}, 1500s);
        ASSERT_EQ(built.status, 0) << built.out << built.err;
        deb_ = new fs::path(trimmed(built.out));
        auto made = run((kSource / "scripts/debian-root").string(), {deb_->string()}, {}, 900s);
        ASSERT_EQ(made.status, 0) << made.out << made.err;
        root_tar_ = new fs::path(trimmed(made.out));
    }

    void SetUp() override {
        if (geteuid() != 0) GTEST_SKIP() << "needs root (see above)";
        ASSERT_TRUE(deb_ != nullptr && root_tar_ != nullptr) << "no package or Debian root: the suite's set-up failed";
        root_ = dir_.path() / "root";
        fs::create_directories(root_);
        auto unpacked = run("/bin/tar", {"-C", root_.string(), "-xf", root_tar_->string()}, {}, 300s);
        ASSERT_EQ(unpacked.status, 0) << unpacked.err;
        fs::copy_file(*deb_, root_ / "tmp/keyholder.deb");
    }

    RunResult in_root(std::vector<std::string> command, std::chrono::seconds timeout = 120s) {
        command.insert(command.begin(), root_.string());
        return run("/usr/sbin/chroot", command, {{"PATH", "/usr/sbin:/usr/bin:/sbin:/bin"}, {"LC_ALL", "C"}}, timeout);
    }

    std::string stat_of(const std::string& path) { return trimmed(in_root({"stat", "-c", "%U:%G %a", path}).out); }

    void write_in_root(const std::string& path, const std::string& text, const std::string& mode,
                       const std::string& owner = "root:keyholder") {
        std::ofstream(root_ / path.substr(1)) << text;
        ASSERT_EQ(in_root({"chown", owner, path}).status, 0);
        ASSERT_EQ(in_root({"chmod", mode, path}).status, 0);
    }

    static inline fs::path* deb_ = nullptr;
    static inline fs::path* root_tar_ = nullptr;
    TempDir dir_;
    fs::path root_;
};

TEST_F(Package, InstallsRunsAgainstTheDcAndPurgesToNothing) {
    const auto before = files_of(root_);

    // Installed on a fresh system: the sample configuration is not complete, so the
    // service is not started, and postinst names what to set.
    auto installed = in_root({"dpkg", "-i", "/tmp/keyholder.deb"});
    ASSERT_EQ(installed.status, 0) << installed.out << installed.err;
    const std::string said = installed.out + installed.err;
    EXPECT_NE(said.find("keyholderd is not started"), std::string::npos) << said;
    EXPECT_NE(said.find("[ldap] keytab"), std::string::npos) << said;
    EXPECT_NE(said.find("systemctl start keyholderd"), std::string::npos) << said;

    // A conffile readable by root and the service only; a system user without a shell;
    // private state with the database and the keys in folders of their own.
    // The GSSAPI SASL module is loaded at run time ([ldap] bind = gssapi): no linker
    // dependency shows it, the package names it.
    auto depends = in_root({"dpkg-query", "-W", "-f", "${Depends}", "keyholder"});
    EXPECT_NE(depends.out.find("libsasl2-modules-gssapi-mit"), std::string::npos) << depends.out;
    auto conffiles = in_root({"dpkg-query", "-W", "-f", "${Conffiles}", "keyholder"});
    EXPECT_NE(conffiles.out.find("/etc/keyholder/keyholder.ini"), std::string::npos) << conffiles.out;
    EXPECT_EQ(stat_of("/etc/keyholder"), "root:keyholder 750");
    EXPECT_EQ(stat_of("/etc/keyholder/keyholder.ini"), "root:keyholder 640");
    EXPECT_EQ(stat_of("/var/lib/keyholder"), "keyholder:keyholder 700");
    EXPECT_EQ(stat_of("/var/lib/keyholder/db"), "keyholder:keyholder 700");
    EXPECT_EQ(stat_of("/var/lib/keyholder/keys"), "keyholder:keyholder 700");
    const std::string user = trimmed(in_root({"getent", "passwd", "keyholder"}).out);
    std::smatch account;
    ASSERT_TRUE(std::regex_search(user, account, std::regex(R"(^keyholder:x:([0-9]+):[0-9]+:[^:]*:([^:]*):(.*)$)")))
        << user;
    EXPECT_LT(std::stoi(account[1].str()), 1000) << "a system user";
    EXPECT_EQ(account[2].str(), "/var/lib/keyholder");
    EXPECT_EQ(account[3].str(), "/usr/sbin/nologin");
    EXPECT_TRUE(fs::exists(root_ / "usr/share/man/man8/keyholderd.8.gz"));
    EXPECT_TRUE(fs::exists(root_ / "usr/share/man/man1/keyholder.1.gz"));

    // The packaged keyholderd checks the packaged sample: 78, each problem named.
    auto sample = in_root({"setpriv", "--reuid=keyholder", "--regid=keyholder", "--clear-groups",
                           "/usr/sbin/keyholderd", "--check-config", "/etc/keyholder/keyholder.ini"});
    EXPECT_EQ(sample.status, 78) << sample.out << sample.err;
    EXPECT_NE(sample.err.find("[smtp] password_file"), std::string::npos) << sample.err;

    // Configured for the test DC (simple bind over LDAPS, its CA; mail to the pickup
    // folder), the packaged binary runs as the keyholder user and becomes ready.
    SambaDc& dc = SambaDc::shared();
    std::ifstream ca(dc.ca_file());
    std::stringstream ca_text;
    ca_text << ca.rdbuf();
    write_in_root("/etc/keyholder/dc-ca.pem", ca_text.str(), "0640");
    // A secret file is the service's own, 0600 (keyholderd refuses anything wider).
    write_in_root("/etc/keyholder/ldap.password", SambaDc::kServicePassword, "0600", "keyholder:keyholder");
    const int port = free_loopback_port();
    const std::string url = "http://127.0.0.1:" + std::to_string(port);
    write_in_root("/etc/keyholder/keyholder.ini",
                  "[service]\ndata_dir = /var/lib/keyholder\nmaster_key_file = /var/lib/keyholder/keys/master.key\n"
                  "link_key_file = /var/lib/keyholder/keys/link.key\nadmin_groups = Keyholder Admins\n"
                  "[http]\nlisten = 127.0.0.1:" +
                      std::to_string(port) + "\npublic_url = " + url + "\n[ldap]\nuris = " + dc.ldaps_uri() +
                      "\nbase_dn = " + SambaDc::kBaseDn +
                      "\nca_file = /etc/keyholder/dc-ca.pem\nbind = simple\nbind_dn = " + SambaDc::kServiceUpn +
                      "\nbind_password_file = /etc/keyholder/ldap.password\nnetbios_domain = KEYHOLDER\n"
                      "[store]\npath = /var/lib/keyholder/db/keyholder.db\n"
                      "[policy.tier0]\nrequester_groups = Tier0 Operators\nstage1_approvers = Team Leads\n"
                      "max_duration = 4h\n[entry.vaulted]\npolicy = tier0\nrelease = password\naccount = da-vault\n",
                  "0640");
    auto check = in_root({"setpriv", "--reuid=keyholder", "--regid=keyholder", "--clear-groups", "/usr/sbin/keyholderd",
                          "--check-config", "/etc/keyholder/keyholder.ini"});
    ASSERT_EQ(check.status, 0) << check.out << check.err;
    {
        ChildProcess daemon("/usr/sbin/chroot",
                            {"--userspec=keyholder:keyholder", root_.string(), "/usr/sbin/keyholderd", "--config",
                             "/etc/keyholder/keyholder.ini"},
                            dir_.path(), {{"PATH", "/usr/sbin:/usr/bin"}});
        int status = 0;
        for (int i = 0; i < 600 && status != 200; ++i) {
            status = http_get(url + "/readyz").status;
            if (status != 200) std::this_thread::sleep_for(50ms);
        }
        ASSERT_EQ(status, 200) << daemon.err();
        EXPECT_EQ(http_get(url + "/").status, 200); // the portal is in the binary
        daemon.signal(SIGTERM);
        EXPECT_EQ(daemon.wait_for(20s), 0) << daemon.err();
    }
    EXPECT_EQ(stat_of("/var/lib/keyholder/keys/master.key"), "keyholder:keyholder 600");
    EXPECT_EQ(stat_of("/var/lib/keyholder/keys/link.key"), "keyholder:keyholder 600");
    EXPECT_TRUE(fs::exists(root_ / "var/lib/keyholder/db/keyholder.db"));
    auto chain = in_root({"keyholder", "audit", "verify", "--db", "/var/lib/keyholder/db/keyholder.db"});
    EXPECT_EQ(chain.status, 0) << chain.out << chain.err;

    // Removed, the configuration stays (a conffile); purged, nothing is left.
    auto removed = in_root({"dpkg", "--remove", "keyholder"});
    ASSERT_EQ(removed.status, 0) << removed.out << removed.err;
    EXPECT_TRUE(fs::exists(root_ / "etc/keyholder/keyholder.ini"));
    EXPECT_FALSE(fs::exists(root_ / "usr/sbin/keyholderd"));
    auto purged = in_root({"dpkg", "--purge", "keyholder"});
    ASSERT_EQ(purged.status, 0) << purged.out << purged.err;
    EXPECT_NE(in_root({"getent", "passwd", "keyholder"}).status, 0);
    EXPECT_NE(in_root({"getent", "group", "keyholder"}).status, 0);
    const auto after = files_of(root_);
    std::vector<std::string> left, gone;
    std::set_difference(after.begin(), after.end(), before.begin(), before.end(), std::back_inserter(left));
    std::set_difference(before.begin(), before.end(), after.begin(), after.end(), std::back_inserter(gone));
    EXPECT_TRUE(left.empty()) << "left behind: " << ::testing::PrintToString(left);
    EXPECT_TRUE(gone.empty()) << "removed but not ours: " << ::testing::PrintToString(gone);
}

} // namespace
