// The directory module on Wldap32 against the Samba AD DC, under wine64. Started by
// tests/integration/windows_test.cpp (on Linux), which runs the DC and passes where
// it is in the environment: KEYHOLDER_TEST_DC (the address), _BASE_DN, _BIND_DN,
// _BIND_PASSWORD, _DOMAIN. Simple binds go over plain LDAP on loopback (the only way
// Wine's Wldap32 can bind here: it cannot verify a certificate, so keyholder makes
// no TLS connection, and that refusal is tested too).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>

#include "keyholder/directory/directory.h"

namespace {

using namespace keyholder::directory;
using Kind = DirectoryError::Kind;
using namespace std::chrono_literals;

std::string env(const char* name) {
    const char* value = std::getenv(name);
    if (value == nullptr) throw std::runtime_error(std::string("the driver did not set ") + name);
    return value;
}

DirectorySettings settings(const std::string& scheme = "ldap") {
    DirectorySettings s;
    s.connection.uris = {scheme + "://" + env("KEYHOLDER_TEST_DC")};
    s.connection.network_timeout = 3s;
    s.connection.operation_timeout = 10s;
    s.base_dn = env("KEYHOLDER_TEST_BASE_DN");
    s.bind = BindMethod::simple;
    s.bind_dn = env("KEYHOLDER_TEST_BIND_DN");
    s.bind_password = env("KEYHOLDER_TEST_BIND_PASSWORD");
    s.netbios_domain = env("KEYHOLDER_TEST_DOMAIN");
    return s;
}

TEST(Wldap32, DetectsActiveDirectory) {
    Directory directory(settings());
    auto flavour = directory.flavour();
    ASSERT_TRUE(flavour) << flavour.error().to_string();
    EXPECT_EQ(*flavour, Flavour::active_directory);
}

TEST(Wldap32, FindsAUserByEveryKindOfName) {
    Directory directory(settings());
    auto bob = directory.find_user("bob", Freshness::live);
    ASSERT_TRUE(bob) << bob.error().to_string();
    EXPECT_EQ(bob->sam_account_name, "bob");
    EXPECT_TRUE(bob->enabled);
    EXPECT_EQ(bob->sid.rfind("S-1-5-21-", 0), 0U) << bob->sid;
    auto by_domain = directory.find_user(env("KEYHOLDER_TEST_DOMAIN") + "\\bob");
    ASSERT_TRUE(by_domain) << by_domain.error().to_string();
    EXPECT_EQ(by_domain->dn, bob->dn);
    auto by_sid = directory.find_user_by_id(bob->sid, Freshness::live);
    ASSERT_TRUE(by_sid) << by_sid.error().to_string();
    EXPECT_EQ(by_sid->dn, bob->dn);
    auto nobody = directory.find_user("*)(objectClass=*");
    ASSERT_FALSE(nobody);
    EXPECT_EQ(nobody.error().kind, Kind::not_found);
}

TEST(Wldap32, NestedMembershipAndThePrimaryGroup) {
    Directory directory(settings());
    auto bob = directory.find_user("bob");
    ASSERT_TRUE(bob) << bob.error().to_string();
    for (const char* group : {"Operators", "Tier0 Operators", "Domain Users"}) {
        auto member = directory.is_member(*bob, group, Freshness::live);
        ASSERT_TRUE(member) << group << ": " << member.error().to_string();
        EXPECT_TRUE(*member) << "bob should be in " << group;
    }
    auto admin = directory.is_member(*bob, "Domain Admins", Freshness::live);
    ASSERT_TRUE(admin) << admin.error().to_string();
    EXPECT_FALSE(*admin);
    auto standing = directory.standing(bob->sid, {"Tier0 Operators"});
    ASSERT_TRUE(standing) << standing.error().to_string();
    EXPECT_TRUE(standing->member);
}

TEST(Wldap32, PagedSearchAndRangedRetrieval) {
    auto s = settings();
    s.page_size = 100; // 16 pages of Big Group's 1,600 users
    s.range_step = 500;
    Directory directory(s);
    auto big = directory.find_group("Big Group");
    ASSERT_TRUE(big) << big.error().to_string();
    auto members = directory.member_dns(*big);
    ASSERT_TRUE(members) << members.error().to_string();
    EXPECT_EQ(members->size(), 1600U);
    auto users = directory.transitive_members(*big);
    ASSERT_TRUE(users) << users.error().to_string();
    EXPECT_EQ(users->size(), 1600U);
}

TEST(Wldap32, UserBindsAndAWrongPasswordIsNotAnOutage) {
    Directory directory(settings());
    auto alice = directory.find_user("alice");
    ASSERT_TRUE(alice) << alice.error().to_string();
    EXPECT_TRUE(directory.verify_password(*alice, "Alice-Pa55word!"));
    auto wrong = directory.verify_password(*alice, "not-her-password");
    ASSERT_FALSE(wrong);
    EXPECT_EQ(wrong.error().kind, Kind::invalid_credentials) << wrong.error().to_string();
}

TEST(Wldap32, GroupWritesAreIdempotent) {
    Directory directory(settings());
    auto bob = directory.find_user("bob");
    auto admins = directory.find_group("Server Admins");
    ASSERT_TRUE(bob && admins);
    ASSERT_TRUE(directory.add_member(*admins, *bob));
    EXPECT_TRUE(directory.add_member(*admins, *bob)) << "adding twice is fine";
    EXPECT_TRUE(*directory.is_member(*bob, "Server Admins", Freshness::live));
    ASSERT_TRUE(directory.remove_member(*admins, *bob));
    EXPECT_TRUE(directory.remove_member(*admins, *bob)) << "removing twice is fine";
    EXPECT_FALSE(*directory.is_member(*bob, "Server Admins", Freshness::live));
}

TEST(Wldap32, PasswordResetOverAPlainConnectionIsRefusedBeforeSending) {
    Directory directory(settings());
    auto account = directory.find_user("alice");
    ASSERT_TRUE(account) << account.error().to_string();
    auto reset = directory.reset_password(*account, "Leaked-Pa55word!");
    ASSERT_FALSE(reset);
    EXPECT_EQ(reset.error().kind, Kind::refused) << reset.error().to_string();
    EXPECT_TRUE(directory.verify_password(*account, "Alice-Pa55word!")) << "alice's password is unchanged";
}

// Wine's Wldap32 cannot check a server certificate (LDAP_OPT_SERVER_CERTIFICATE
// answers LDAP_NOT_SUPPORTED): keyholder makes no TLS connection then.
TEST(Wldap32, NoTlsConnectionWhereTheCertificateCannotBeChecked) {
    for (const auto& s : {settings("ldaps"), [] {
                              auto starttls = settings();
                              starttls.connection.starttls = true;
                              return starttls;
                          }()}) {
        Directory directory(s);
        auto bob = directory.find_user("bob", Freshness::live);
        ASSERT_FALSE(bob) << s.connection.uris.front() << " answered without a checked certificate";
        EXPECT_EQ(bob.error().kind, Kind::unavailable);
        EXPECT_NE(bob.error().message.find("cannot verify the DC's certificate"), std::string::npos)
            << bob.error().to_string();
    }
}

// Failover as on Linux: a URI that refuses connections is passed over.
TEST(Wldap32, FailsOverToTheNextUri) {
    Poco::Net::ServerSocket closed(Poco::Net::SocketAddress("127.0.0.1", 0));
    const auto port = closed.address().port();
    closed.close(); // nothing listens there now
    auto s = settings();
    s.connection.uris.insert(s.connection.uris.begin(), "ldap://127.0.0.1:" + std::to_string(port));
    Directory directory(s);
    auto bob = directory.find_user("bob", Freshness::live);
    ASSERT_TRUE(bob) << bob.error().to_string();
    EXPECT_EQ(bob->sam_account_name, "bob");
}

// A server that takes the connection and never answers costs the timeouts, then is
// an outage (fail closed), not a hang.
TEST(Wldap32, ADcThatNeverAnswersIsAnOutageAfterTheTimeout) {
    Poco::Net::ServerSocket silent(Poco::Net::SocketAddress("127.0.0.1", 0)); // connects, never accepted
    auto s = settings();
    s.connection.uris = {"ldap://127.0.0.1:" + std::to_string(silent.address().port())};
    s.connection.network_timeout = 2s;
    s.connection.operation_timeout = 2s;
    Directory directory(s);
    const auto started = std::chrono::steady_clock::now();
    auto bob = directory.find_user("bob", Freshness::live);
    const auto took = std::chrono::steady_clock::now() - started;
    ASSERT_FALSE(bob);
    EXPECT_EQ(bob.error().kind, Kind::unavailable) << bob.error().to_string();
    EXPECT_LT(took, 30s) << "bounded by the timeouts, not hanging";
}

} // namespace
