// The directory module against a real OpenLDAP server (slapd with the memberOf and
// ppolicy overlays): the OpenLDAP flavour of lookups, the bounded cycle-safe group
// walk, paging past a forced size limit, RFC 3062 password modify, lock / unlock,
// and group writes.
#include <gtest/gtest.h>

#include <fstream>

#include "keyholder/directory/directory.h"
#include "support/slapd.h"
#include "support/temp_dir.h"

namespace {

using namespace keyholder::directory;
using keyholder::testing::SlapdSandbox;
using keyholder::testing::TempDir;
using Kind = DirectoryError::Kind;

const std::filesystem::path kSource = KEYHOLDER_SOURCE_DIR;
constexpr int kManyGroups = 120; // more than the forced size limit of 50

// Nested groups (operators < tier0 < privileged), a cycle (loop-a <-> loop-b, bob in
// loop-a), a privileged account, and kManyGroups groups with bob in each.
std::filesystem::path write_test_ldif(const TempDir& dir) {
    std::string ldif = R"(dn: cn=tier0,ou=groups,dc=demo,dc=test
objectClass: groupOfNames
cn: tier0
member: cn=operators,ou=groups,dc=demo,dc=test

dn: cn=privileged,ou=groups,dc=demo,dc=test
objectClass: groupOfNames
cn: privileged
member: cn=tier0,ou=groups,dc=demo,dc=test

dn: cn=loop-a,ou=groups,dc=demo,dc=test
objectClass: groupOfNames
cn: loop-a
member: uid=bob,ou=people,dc=demo,dc=test

dn: cn=loop-b,ou=groups,dc=demo,dc=test
objectClass: groupOfNames
cn: loop-b
member: cn=loop-a,ou=groups,dc=demo,dc=test

dn: cn=loop-a,ou=groups,dc=demo,dc=test
changetype: modify
add: member
member: cn=loop-b,ou=groups,dc=demo,dc=test

dn: cn=jit,ou=groups,dc=demo,dc=test
objectClass: groupOfNames
cn: jit
member: uid=dave,ou=people,dc=demo,dc=test

)";
    for (int i = 0; i < kManyGroups; ++i) {
        ldif += "dn: cn=many" + std::to_string(i) + ",ou=groups,dc=demo,dc=test\nobjectClass: groupOfNames\ncn: many" +
                std::to_string(i) + "\nmember: uid=carol,ou=people,dc=demo,dc=test\n\n";
    }
    return dir.write("test.ldif", ldif, 0644);
}

class DirectoryOpenLdap : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        ldif_dir_ = new TempDir;
        slapd_ = new SlapdSandbox({kSource / "config/demo-directory.ldif", write_test_ldif(*ldif_dir_)},
                                  "dc=demo,dc=test", 50);
    }
    static void TearDownTestSuite() {
        delete slapd_;
        delete ldif_dir_;
    }
    static DirectorySettings settings() {
        DirectorySettings s;
        s.connection.uris = {slapd_->ldaps_uri()};
        s.connection.ca_file = slapd_->ca_file().string();
        s.base_dn = "dc=demo,dc=test";
        s.bind_dn = "cn=keyholder,ou=services,dc=demo,dc=test";
        s.bind_password = "demo-service-password";
        s.page_size = 20;
        return s;
    }
    static TempDir* ldif_dir_;
    static SlapdSandbox* slapd_;
};
TempDir* DirectoryOpenLdap::ldif_dir_ = nullptr;
SlapdSandbox* DirectoryOpenLdap::slapd_ = nullptr;

TEST_F(DirectoryOpenLdap, DetectsOpenLdapAndFindsUsers) {
    Directory directory(settings());
    ASSERT_EQ(directory.flavour(), Flavour::openldap);
    auto bob = directory.find_user("bob");
    ASSERT_TRUE(bob) << bob.error().to_string();
    EXPECT_EQ(bob->dn, "uid=bob,ou=people,dc=demo,dc=test");
    EXPECT_EQ(bob->display_name, "Bob Operator");
    EXPECT_TRUE(bob->sid.empty());
    EXPECT_EQ(bob->guid.size(), 36U);
    EXPECT_EQ(bob->id(), "uuid:" + bob->guid);
    EXPECT_TRUE(bob->enabled);
    auto by_mail = directory.find_user("bob@demo.test");
    ASSERT_TRUE(by_mail);
    EXPECT_EQ(by_mail->dn, bob->dn);
    auto by_id = directory.find_user_by_id(bob->id());
    ASSERT_TRUE(by_id);
    EXPECT_EQ(by_id->dn, bob->dn);
    auto manager = directory.manager_of(*bob);
    ASSERT_TRUE(manager);
    EXPECT_EQ(manager->sam_account_name, "alice");
}

TEST_F(DirectoryOpenLdap, HostileNamesFindNobody) {
    Directory directory(settings());
    for (const std::string& name : {std::string("*"), std::string("bob)(|(uid=*"), std::string("a\\29"),
                                    std::string("bob\0", 4), std::string("b*"), std::string("*)(objectClass=*")}) {
        auto found = directory.find_user(name);
        ASSERT_FALSE(found) << name;
        EXPECT_EQ(found.error().kind, Kind::not_found) << name;
    }
}

TEST_F(DirectoryOpenLdap, NestedMembershipWalkIsBoundedAndCycleSafe) {
    Directory directory(settings());
    auto bob = directory.find_user("bob");
    for (const char* group :
         {"operators", "tier0", "privileged", "loop-a", "loop-b", "cn=privileged,ou=groups,dc=demo,dc=test"}) {
        auto member = directory.is_member(*bob, group);
        ASSERT_TRUE(member) << group << ": " << member.error().to_string();
        EXPECT_TRUE(*member) << group;
    }
    EXPECT_FALSE(*directory.is_member(*bob, "team-leads"));
    auto groups = directory.groups_of(*bob);
    ASSERT_TRUE(groups);
    EXPECT_EQ(groups->size(), 5U); // operators, loop-a (direct), tier0, loop-b, privileged (nested), each once
    for (const auto& m : *groups) {
        if (m.group.name == "privileged") {
            EXPECT_EQ(m.via, MembershipVia::nested);
            EXPECT_EQ(m.path, (std::vector<std::string>{"cn=operators,ou=groups,dc=demo,dc=test",
                                                        "cn=tier0,ou=groups,dc=demo,dc=test",
                                                        "cn=privileged,ou=groups,dc=demo,dc=test"}));
        }
    }
    auto s = settings();
    s.max_nesting = 1; // only direct groups
    Directory shallow(s);
    auto direct_only = shallow.groups_of(*bob);
    ASSERT_TRUE(direct_only);
    EXPECT_EQ(direct_only->size(), 2U);
}

TEST_F(DirectoryOpenLdap, PagingReadsPastAForcedSizeLimit) {
    Directory paged(settings()); // pages of 20
    auto carol = paged.find_user("carol");
    ASSERT_TRUE(carol);
    auto groups = paged.groups_of(*carol);
    ASSERT_TRUE(groups) << groups.error().to_string();
    EXPECT_EQ(groups->size(), static_cast<size_t>(kManyGroups + 1)); // many0..119 and team-leads
    auto s = settings();
    s.page_size = 0; // no paging: the server's limit of 50 bites
    Directory unpaged(s);
    auto capped = unpaged.groups_of(*unpaged.find_user("carol"));
    ASSERT_FALSE(capped) << "the size limit should have been exceeded";
    EXPECT_EQ(capped.error().ldap_code, 4) << capped.error().to_string(); // sizeLimitExceeded
}

TEST_F(DirectoryOpenLdap, TransitiveMembersWalkDown) {
    Directory directory(settings());
    auto privileged = directory.find_group("privileged");
    ASSERT_TRUE(privileged);
    auto users = directory.transitive_members(*privileged);
    ASSERT_TRUE(users) << users.error().to_string();
    ASSERT_EQ(users->size(), 1U);
    EXPECT_EQ(users->front().sam_account_name, "bob");
    auto loop = directory.transitive_members(*directory.find_group("loop-b"));
    ASSERT_TRUE(loop);
    EXPECT_EQ(loop->size(), 1U);
}

TEST_F(DirectoryOpenLdap, PasswordModifyLockAndGroupWrites) {
    Directory directory(settings());
    auto account = directory.find_user("demo-admin");
    ASSERT_TRUE(account);
    ASSERT_TRUE(directory.verify_password(*account, "initial-demo-admin-password"));
    auto reset = directory.reset_password(*account, "Rotated-Pässwörd-1");
    ASSERT_TRUE(reset) << reset.error().to_string();
    EXPECT_TRUE(directory.verify_password(*account, "Rotated-Pässwörd-1"));
    EXPECT_FALSE(directory.verify_password(*account, "initial-demo-admin-password"));

    ASSERT_TRUE(directory.set_enabled(*account, false));
    auto locked = directory.find_user("demo-admin");
    EXPECT_FALSE(locked->enabled);
    EXPECT_EQ(locked->disabled_reason, "account locked");
    EXPECT_FALSE(directory.verify_password(*account, "Rotated-Pässwörd-1")) << "a locked account cannot bind";
    ASSERT_TRUE(directory.set_enabled(*account, true));
    EXPECT_TRUE(directory.find_user("demo-admin")->enabled);
    EXPECT_TRUE(directory.set_enabled(*account, true)) << "enabling twice is fine";

    auto bob = directory.find_user("bob");
    auto jit = directory.find_group("jit");
    ASSERT_TRUE(directory.add_member(*jit, *bob));
    EXPECT_TRUE(directory.add_member(*jit, *bob));
    EXPECT_TRUE(*directory.is_member(*bob, "jit"));
    ASSERT_TRUE(directory.remove_member(*jit, *bob));
    EXPECT_TRUE(directory.remove_member(*jit, *bob));
    EXPECT_FALSE(*directory.is_member(*bob, "jit"));
}

TEST_F(DirectoryOpenLdap, PlainConnectionOnLoopbackAndStartTls) {
    auto s = settings();
    s.connection.uris = {slapd_->ldap_uri()};
    s.connection.starttls = true;
    Directory directory(s);
    auto bob = directory.find_user("bob");
    ASSERT_TRUE(bob) << bob.error().to_string();
}

} // namespace
