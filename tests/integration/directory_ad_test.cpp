// The directory module against a real Active Directory (Samba AD DC on 127.0.0.2):
// lookups, hostile names, membership (nested, primary, cycles), large groups, binds
// (simple over TLS, StartTLS, GSSAPI with a keytab), failover, writes and the cache.
#include <gtest/gtest.h>

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>

#include <algorithm>
#include <thread>

#include "keyholder/directory/directory.h"
#include "keyholder/directory/sid.h"
#include "support/samba_dc.h"

namespace {

using namespace keyholder::directory;
using keyholder::testing::group_dn;
using keyholder::testing::people_dn;
using keyholder::testing::SambaDc;
using Kind = DirectoryError::Kind;
using namespace std::chrono_literals;

DirectorySettings settings(const std::string& uris = "") {
    SambaDc& dc = SambaDc::shared();
    DirectorySettings s;
    s.connection.uris = {uris.empty() ? dc.ldaps_uri() : uris};
    if (!uris.empty() && uris.find(' ') != std::string::npos) {
        s.connection.uris.clear();
        std::string rest = uris;
        while (!rest.empty()) {
            auto space = rest.find(' ');
            s.connection.uris.push_back(rest.substr(0, space));
            rest = space == std::string::npos ? "" : rest.substr(space + 1);
        }
    }
    s.connection.ca_file = dc.ca_file().string();
    s.connection.network_timeout = 2s;
    s.connection.operation_timeout = 5s;
    s.base_dn = SambaDc::kBaseDn;
    s.bind = BindMethod::simple;
    s.bind_dn = SambaDc::kServiceUpn;
    s.bind_password = SambaDc::kServicePassword;
    s.netbios_domain = SambaDc::kDomain;
    return s;
}

struct ManualTime {
    int64_t now = 1'800'000'000;
    std::function<int64_t()> fn() {
        return [this] { return now; };
    }
};

class DirectoryAd : public ::testing::Test {
protected:
    void SetUp() override { SambaDc::shared(); }
    Directory directory_{settings()};
};

TEST_F(DirectoryAd, DetectsActiveDirectoryFromTheRootDse) {
    auto flavour = directory_.flavour();
    ASSERT_TRUE(flavour) << flavour.error().to_string();
    EXPECT_EQ(*flavour, Flavour::active_directory);
    auto dse = directory_.probe();
    ASSERT_TRUE(dse);
    EXPECT_TRUE(dse->is_active_directory());
    EXPECT_EQ(dse->default_naming_context, SambaDc::kBaseDn);
}

TEST_F(DirectoryAd, FindsAUserByEveryKindOfName) {
    auto by_sam = directory_.find_user("bob");
    ASSERT_TRUE(by_sam) << by_sam.error().to_string();
    EXPECT_EQ(by_sam->dn, people_dn("Bob Operator"));
    EXPECT_EQ(by_sam->sam_account_name, "bob");
    EXPECT_EQ(by_sam->display_name, "Bob Operator");
    EXPECT_EQ(by_sam->mail, "bob@keyholder.test");
    EXPECT_EQ(by_sam->manager_dn, people_dn("Alice Lead"));
    EXPECT_TRUE(by_sam->enabled);
    EXPECT_TRUE(by_sam->sid.starts_with("S-1-5-21-")) << by_sam->sid;
    EXPECT_EQ(by_sam->guid.size(), 36U);
    EXPECT_EQ(by_sam->primary_group_sid, sid_domain_part(by_sam->sid) + "-513"); // Domain Users
    EXPECT_EQ(by_sam->id(), by_sam->sid);

    for (const char* name : {"bob@keyholder.test", "KEYHOLDER\\bob", "keyholder\\BOB", "BOB"}) {
        auto found = directory_.find_user(name);
        ASSERT_TRUE(found) << name << ": " << found.error().to_string();
        EXPECT_EQ(found->sid, by_sam->sid) << name;
    }
    auto by_id = directory_.find_user_by_id(by_sam->sid);
    ASSERT_TRUE(by_id);
    EXPECT_EQ(by_id->dn, by_sam->dn);
    auto by_dn = directory_.find_user_by_dn(by_sam->dn);
    ASSERT_TRUE(by_dn);
    EXPECT_EQ(by_dn->sid, by_sam->sid);
}

TEST_F(DirectoryAd, NonAsciiNamesRoundTrip) {
    auto zoe = directory_.find_user("zoe");
    ASSERT_TRUE(zoe) << zoe.error().to_string();
    EXPECT_EQ(zoe->display_name, "Zoë Ünïcode");
    auto by_dn = directory_.find_user_by_dn(people_dn("Zoë Ünïcode"));
    ASSERT_TRUE(by_dn) << by_dn.error().to_string();
    EXPECT_EQ(by_dn->sid, zoe->sid);
}

TEST_F(DirectoryAd, HostileNamesFindNobody) {
    const std::string nul("bob\0", 4);
    for (const std::string& name :
         {std::string("*"), std::string("bob)(|(sAMAccountName=*"), std::string("a\\29"), nul, std::string("bo*"),
          std::string("*)(objectClass=*"), std::string("bob)"), std::string("(bob"), std::string("\\2a"),
          std::string("OTHER\\bob"), std::string("KEYHOLDER\\*"), std::string("*@keyholder.test"), std::string(""),
          std::string(300, 'a')}) {
        auto found = directory_.find_user(name);
        ASSERT_FALSE(found) << "'" << name << "' found " << found->dn;
        EXPECT_EQ(found.error().kind, Kind::not_found) << name << ": " << found.error().to_string();
    }
    for (const std::string& spec : {std::string("*"), std::string("Team*"), std::string("Operators)(cn=*")}) {
        auto group = directory_.find_group(spec);
        ASSERT_FALSE(group) << spec;
        EXPECT_EQ(group.error().kind, Kind::not_found) << spec;
    }
}

TEST_F(DirectoryAd, DisabledAndExpiredAccountsAreNotEnabled) {
    auto frank = directory_.find_user("frank");
    ASSERT_TRUE(frank);
    EXPECT_FALSE(frank->enabled);
    EXPECT_EQ(frank->disabled_reason, "account disabled");
    auto gina = directory_.find_user("gina");
    ASSERT_TRUE(gina);
    EXPECT_FALSE(gina->enabled);
    EXPECT_EQ(gina->disabled_reason, "account expired");
}

TEST_F(DirectoryAd, ManagerIsResolvedToAUser) {
    auto bob = directory_.find_user("bob");
    ASSERT_TRUE(bob);
    auto manager = directory_.manager_of(*bob);
    ASSERT_TRUE(manager) << manager.error().to_string();
    EXPECT_EQ(manager->sam_account_name, "alice");
    auto alice = directory_.find_user("alice");
    auto none = directory_.manager_of(*alice);
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().kind, Kind::not_found);
}

TEST_F(DirectoryAd, GroupsByDnSidOrName) {
    auto by_name = directory_.find_group("Tier0 Operators");
    ASSERT_TRUE(by_name) << by_name.error().to_string();
    EXPECT_EQ(by_name->dn, group_dn("Tier0 Operators"));
    auto by_dn = directory_.find_group(group_dn("Tier0 Operators"));
    ASSERT_TRUE(by_dn);
    auto by_sid = directory_.find_group(by_name->sid);
    ASSERT_TRUE(by_sid);
    EXPECT_EQ(by_dn->sid, by_name->sid);
    EXPECT_EQ(by_sid->dn, by_name->dn);
    auto missing = directory_.find_group("No Such Group");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().kind, Kind::not_found);
}

TEST_F(DirectoryAd, TransitiveMembershipIncludesNestingThePrimaryGroupAndCycles) {
    auto bob = directory_.find_user("bob");
    ASSERT_TRUE(bob);
    for (const char* group :
         {"Operators", "Tier0 Operators", "Privileged Requesters", "Domain Users", "Cycle A", "Cycle B"}) {
        auto member = directory_.is_member(*bob, group);
        ASSERT_TRUE(member) << group << ": " << member.error().to_string();
        EXPECT_TRUE(*member) << "bob should be in " << group;
    }
    for (const char* group : {"Team Leads", "Security Officers", "Domain Admins", "No Such Group"}) {
        auto member = directory_.is_member(*bob, group);
        ASSERT_TRUE(member) << group;
        EXPECT_FALSE(*member) << "bob should not be in " << group;
    }
    // By SID and DN too.
    auto tier0 = directory_.find_group("Tier0 Operators");
    EXPECT_TRUE(*directory_.is_member(*bob, tier0->sid));
    EXPECT_TRUE(*directory_.is_member(*bob, tier0->dn));
}

// A grant's question in one read: who (by SID or DN, read now) and whether they are
// in any of the groups, nesting and the primary group included.
TEST_F(DirectoryAd, StandingIsOneLiveReadBySidOrDn) {
    auto bob = directory_.find_user("bob");
    ASSERT_TRUE(bob);
    for (const std::string& who : {bob->sid, bob->dn, std::string("bob")}) {
        auto nested = directory_.standing(who, {"No Such Group", "Privileged Requesters"});
        ASSERT_TRUE(nested) << who << ": " << nested.error().to_string();
        EXPECT_EQ(nested->user.sid, bob->sid) << who;
        EXPECT_TRUE(nested->user.enabled);
        EXPECT_TRUE(nested->member) << who;
        auto primary = directory_.standing(who, {"Domain Users"});
        ASSERT_TRUE(primary);
        EXPECT_TRUE(primary->member) << who << ": the primary group counts";
        auto outside = directory_.standing(who, {"Team Leads", "Domain Admins"});
        ASSERT_TRUE(outside);
        EXPECT_FALSE(outside->member) << who;
    }
    auto frank = directory_.find_user("frank");
    auto disabled = directory_.standing(frank->sid, {"Operators"});
    ASSERT_TRUE(disabled);
    EXPECT_FALSE(disabled->user.enabled);
    auto nobody = directory_.standing(bob->sid.substr(0, bob->sid.rfind('-')) + "-999999", {"Operators"});
    ASSERT_FALSE(nobody);
    EXPECT_EQ(nobody.error().kind, Kind::not_found);
}

TEST_F(DirectoryAd, GroupsOfAUserSayHowEachWasFound) {
    auto bob = directory_.find_user("bob");
    auto groups = directory_.groups_of(*bob);
    ASSERT_TRUE(groups) << groups.error().to_string();
    auto find = [&](const std::string& name) -> const Membership* {
        for (const auto& m : *groups)
            if (m.group.name == name) return &m;
        return nullptr;
    };
    ASSERT_NE(find("Operators"), nullptr);
    EXPECT_EQ(find("Operators")->via, MembershipVia::direct);
    ASSERT_NE(find("Domain Users"), nullptr);
    EXPECT_EQ(find("Domain Users")->via, MembershipVia::primary);
    const Membership* requesters = find("Privileged Requesters");
    ASSERT_NE(requesters, nullptr);
    EXPECT_EQ(requesters->via, MembershipVia::nested);
    EXPECT_EQ(requesters->path, (std::vector<std::string>{group_dn("Operators"), group_dn("Tier0 Operators"),
                                                          group_dn("Privileged Requesters")}));
    EXPECT_EQ(requesters->found_by, "tokenGroups");
    ASSERT_NE(find("Cycle B"), nullptr);
    EXPECT_EQ(find("Cycle B")->via, MembershipVia::nested);
}

TEST(DirectoryAdLarge, RangedRetrievalReadsEveryMemberOfALargeGroup) {
    auto s = settings();
    s.range_step = 500; // force four ranged requests for 1,600 members
    Directory directory(s);
    auto big = directory.find_group("Big Group");
    ASSERT_TRUE(big);
    auto members = directory.member_dns(*big);
    ASSERT_TRUE(members) << members.error().to_string();
    EXPECT_EQ(members->size(), 1600U);
    std::sort(members->begin(), members->end());
    EXPECT_EQ(std::unique(members->begin(), members->end()), members->end()) << "a member was read twice";
    EXPECT_EQ(members->front(), people_dn("big0000"));
    EXPECT_EQ(members->back(), people_dn("big1599"));

    s.range_step = 0; // as many as the server gives
    Directory whole(s);
    auto all = whole.member_dns(*big);
    ASSERT_TRUE(all);
    EXPECT_EQ(all->size(), 1600U);
}

TEST(DirectoryAdLarge, PagedSearchReturnsMoreThanOnePage) {
    auto s = settings();
    s.page_size = 100; // 16 pages
    Directory directory(s);
    auto big = directory.find_group("Big Group");
    ASSERT_TRUE(big);
    auto users = directory.transitive_members(*big);
    ASSERT_TRUE(users) << users.error().to_string();
    EXPECT_EQ(users->size(), 1600U);
    auto leads = directory.transitive_members(*directory.find_group("Privileged Requesters"));
    ASSERT_TRUE(leads);
    ASSERT_EQ(leads->size(), 1U);
    EXPECT_EQ(leads->front().sam_account_name, "bob");
}

TEST(DirectoryAdBinds, StartTlsOnThePlainPort) {
    auto s = settings(SambaDc::shared().ldap_uri());
    s.connection.starttls = true;
    Directory directory(s);
    auto bob = directory.find_user("bob");
    ASSERT_TRUE(bob) << bob.error().to_string();
}

TEST(DirectoryAdBinds, GssapiWithAKeytab) {
    SambaDc& dc = SambaDc::shared();
    auto s = settings(dc.ldap_uri()); // plain port: the SASL layer seals the connection
    s.bind = BindMethod::gssapi;
    s.bind_dn.clear();
    s.bind_password.clear();
    s.keytab = dc.keytab().string();
    s.principal = std::string("svc-keyholder@") + SambaDc::kRealm;
    Directory directory(s);
    auto bob = directory.find_user("bob");
    ASSERT_TRUE(bob) << bob.error().to_string();
    auto member = directory.is_member(*bob, "Tier0 Operators");
    ASSERT_TRUE(member);
    EXPECT_TRUE(*member);
}

TEST(DirectoryAdBinds, WrongPasswordIsInvalidCredentialsNotAnOutage) {
    auto s = settings();
    s.bind_password = "wrong";
    Directory directory(s);
    auto bob = directory.find_user("bob");
    ASSERT_FALSE(bob);
    EXPECT_EQ(bob.error().kind, Kind::invalid_credentials) << bob.error().to_string();
    EXPECT_EQ(bob.error().ldap_code, 49);
    EXPECT_FALSE(bob.error().diagnostic.empty()) << "the server's diagnostic message is kept";
}

TEST(DirectoryAdBinds, UnknownCertificateAuthorityIsRefused) {
    auto s = settings();
    s.connection.ca_file = "/etc/ssl/certs/ca-certificates.crt";
    Directory directory(s);
    auto bob = directory.find_user("bob");
    ASSERT_FALSE(bob);
    EXPECT_EQ(bob.error().kind, Kind::unavailable) << bob.error().to_string();
}

TEST(DirectoryAdBinds, VerifyPasswordBindsAsTheUser) {
    Directory directory(settings());
    auto alice = directory.find_user("alice");
    ASSERT_TRUE(alice);
    EXPECT_TRUE(directory.verify_password(*alice, "Alice-Pa55word!"));
    auto wrong = directory.verify_password(*alice, "nope");
    ASSERT_FALSE(wrong);
    EXPECT_EQ(wrong.error().kind, Kind::invalid_credentials);
    auto empty = directory.verify_password(*alice, "");
    ASSERT_FALSE(empty) << "an empty password must never be an unauthenticated success";
    auto frank = directory.find_user("frank");
    EXPECT_FALSE(directory.verify_password(*frank, "Frank-Pa55word!")) << "a disabled account cannot sign on";
}

TEST(DirectoryAdFailover, SecondUriAnswersWhenTheFirstRefuses) {
    auto s = settings("ldaps://127.0.0.3 " + SambaDc::shared().ldaps_uri());
    s.connection.network_timeout = 1s;
    Directory directory(s);
    auto started = std::chrono::steady_clock::now();
    auto bob = directory.find_user("bob");
    ASSERT_TRUE(bob) << bob.error().to_string();
    EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
}

TEST(DirectoryAdFailover, SecondUriAnswersWithinTheNetworkTimeoutWhenTheFirstHangs) {
    // A "DC" that accepts connections and never says a word.
    Poco::Net::ServerSocket hung(Poco::Net::SocketAddress("127.0.0.4", 0));
    auto s =
        settings("ldaps://127.0.0.4:" + std::to_string(hung.address().port()) + " " + SambaDc::shared().ldaps_uri());
    s.connection.network_timeout = 1s;
    s.connection.operation_timeout = 2s;
    Directory directory(s);
    auto started = std::chrono::steady_clock::now();
    auto bob = directory.find_user("bob");
    auto took = std::chrono::steady_clock::now() - started;
    ASSERT_TRUE(bob) << bob.error().to_string();
    EXPECT_LT(took, 4s) << "the hung DC held us for "
                        << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
}

TEST(DirectoryAdFailover, EveryDcDownIsAFastTypedUnavailableError) {
    auto s = settings("ldaps://127.0.0.3 ldaps://127.0.0.5");
    Directory directory(s);
    auto started = std::chrono::steady_clock::now();
    auto bob = directory.find_user("bob");
    ASSERT_FALSE(bob);
    EXPECT_EQ(bob.error().kind, Kind::unavailable) << bob.error().to_string();
    EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
    auto ready = directory.probe();
    EXPECT_FALSE(ready);
}

TEST(DirectoryAdWrites, PasswordResetOverTlsTakesEffectAtOnce) {
    Directory directory(settings());
    auto account = directory.find_user("da-breakglass");
    ASSERT_TRUE(account);
    const std::string fresh = "Nëw-Pässwörd-" + std::to_string(::getpid()) + "!"; // non-ASCII: real UTF-16LE
    ASSERT_TRUE(directory.set_enabled(*account, true));
    auto reset = directory.reset_password(*account, fresh);
    ASSERT_TRUE(reset) << reset.error().to_string();
    EXPECT_TRUE(directory.verify_password(*account, fresh)) << "the new password binds";
    EXPECT_FALSE(directory.verify_password(*account, "Initial-Br3akglass!")) << "the old one does not";
    ASSERT_TRUE(directory.set_enabled(*account, false));
}

TEST(DirectoryAdWrites, PasswordResetOverAPlainConnectionIsRefusedBeforeSending) {
    Directory plain(settings(SambaDc::shared().ldap_uri())); // simple bind on 389, no TLS
    auto account = plain.find_user("alice");
    ASSERT_TRUE(account) << account.error().to_string();
    auto reset = plain.reset_password(*account, "Leaked-Pa55word!");
    ASSERT_FALSE(reset);
    EXPECT_EQ(reset.error().kind, Kind::refused);
    EXPECT_NE(reset.error().message.find("unencrypted"), std::string::npos) << reset.error().to_string();
    Directory tls(settings());
    EXPECT_TRUE(tls.verify_password(*account, "Alice-Pa55word!")) << "alice's password is unchanged";
}

TEST(DirectoryAdWrites, EnableAndDisableAnAccount) {
    Directory directory(settings());
    auto account = directory.find_user("da-breakglass");
    ASSERT_TRUE(account);
    ASSERT_TRUE(directory.set_enabled(*account, true));
    auto enabled = directory.find_user("da-breakglass");
    ASSERT_TRUE(enabled);
    EXPECT_TRUE(enabled->enabled) << "the write invalidated the cached account";
    ASSERT_TRUE(directory.set_enabled(*account, false));
    auto disabled = directory.find_user("da-breakglass");
    EXPECT_FALSE(disabled->enabled);
    EXPECT_TRUE(directory.set_enabled(*account, false)) << "disabling twice is fine";
}

TEST(DirectoryAdWrites, AddAndRemoveAGroupMemberIdempotently) {
    Directory directory(settings());
    auto bob = directory.find_user("bob");
    auto admins = directory.find_group("Server Admins");
    ASSERT_TRUE(bob && admins);
    EXPECT_FALSE(*directory.is_member(*bob, "Server Admins"));
    ASSERT_TRUE(directory.add_member(*admins, *bob));
    EXPECT_TRUE(directory.add_member(*admins, *bob)) << "adding twice is fine";
    EXPECT_TRUE(*directory.is_member(*bob, "Server Admins"));
    ASSERT_TRUE(directory.remove_member(*admins, *bob));
    EXPECT_TRUE(directory.remove_member(*admins, *bob)) << "removing twice is fine (take-back retries)";
    EXPECT_FALSE(*directory.is_member(*bob, "Server Admins"));
}

TEST(DirectoryAdCache, LookupsAreCachedUntilTheTtlOrAnInvalidation) {
    ManualTime time;
    auto s = settings();
    s.cache_ttl = 60s;
    Directory cached(s, time.fn());
    Directory writer(settings());
    auto first = cached.find_user("erin");
    ASSERT_TRUE(first);
    EXPECT_TRUE(first->enabled);
    auto before = cached.cache_stats();
    ASSERT_TRUE(writer.set_enabled(*first, false)); // changed behind the cache's back
    auto second = cached.find_user("erin");
    EXPECT_TRUE(second->enabled) << "served from the cache";
    EXPECT_GT(cached.cache_stats().hits, before.hits);
    time.now += 61;
    auto third = cached.find_user("erin");
    EXPECT_FALSE(third->enabled) << "the TTL passed";
    ASSERT_TRUE(writer.set_enabled(*first, true));
    cached.invalidate(*first);
    EXPECT_TRUE(cached.find_user("erin")->enabled) << "explicit invalidation";
}

TEST(DirectoryAdCache, NegativeEntriesAndASizeBound) {
    ManualTime time;
    auto s = settings();
    s.cache_size = 3;
    Directory directory(s, time.fn());
    auto missing = directory.find_user("nobody-here");
    ASSERT_FALSE(missing);
    auto stats = directory.cache_stats();
    auto again = directory.find_user("nobody-here");
    EXPECT_EQ(again.error().kind, Kind::not_found);
    EXPECT_GT(directory.cache_stats().hits, stats.hits) << "the negative answer was cached";
    for (const char* name : {"alice", "bob", "carol", "dave", "erin"})
        ASSERT_TRUE(directory.find_user(name));
    EXPECT_LE(directory.cache_stats().entries, 9U); // three caches of at most 3
}

TEST(DirectoryAdOutage, UnavailableIsToldApartFromNoSuchUser) {
    SambaDc& dc = SambaDc::shared();
    Directory directory(settings());
    ASSERT_TRUE(directory.find_user("carol")); // a pooled connection exists
    dc.stop();
    auto down = directory.find_user("dave");
    dc.start();
    ASSERT_FALSE(down);
    EXPECT_EQ(down.error().kind, Kind::unavailable) << down.error().to_string();
    auto back = directory.find_user("dave");
    EXPECT_TRUE(back) << "reconnects after LDAP_SERVER_DOWN: " << back.error().to_string();
}

} // namespace
