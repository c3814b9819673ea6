// Fail closed against the real Samba AD DC: every grant reads the directory live.
// With the caches warm (cache_ttl 10 min) and the DC stopped, a request and a
// decision are refused as unavailable and nothing is recorded; the DC back, the
// same decision is served without a restart. An approver taken out of the approver
// group, or disabled, behind keyholder's back (by another directory client) is
// refused at the very next decision, while keyholder's cache still says yes.
#include <gtest/gtest.h>

#include "keyholder/config/config.h"
#include "keyholder/core/authority.h"
#include "keyholder/core/catalog.h"
#include "keyholder/core/checkout_service.h"
#include "keyholder/core/directory_settings.h"
#include "keyholder/directory/directory.h"
#include "keyholder/store/checkouts.h"
#include "keyholder/store/store.h"
#include "support/samba_dc.h"
#include "support/temp_dir.h"

namespace {

using namespace keyholder;
using keyholder::testing::SambaDc;
using keyholder::testing::TempDir;
using namespace std::chrono_literals;
using Kind = core::CoreError::Kind;

class FailClosedWithActiveDirectory : public ::testing::Test {
protected:
    void SetUp() override {
        SambaDc& dc = SambaDc::shared();
        if (!dc.running()) dc.start();
        dir_.write("data/ldap.password", SambaDc::kServicePassword);
        auto file =
            dir_.write("keyholder.ini",
                       "[service]\ndata_dir = data\nadmin_groups = Keyholder Admins\n[http]\nlisten = 127.0.0.1:0\n"
                       "[ldap]\nuris = " +
                           dc.ldaps_uri() + "\nbase_dn = " + SambaDc::kBaseDn + "\nca_file = " + dc.ca_file().string() +
                           "\nbind_dn = " + SambaDc::kServiceUpn +
                           "\nbind_password_file = ldap.password\nnetbios_domain = KEYHOLDER\ncache_ttl = 10m\n"
                           "network_timeout = 2s\noperation_timeout = 3s\n"
                           "[policy.tier0]\nrequester_groups = Tier0 Operators\nstage1_approvers = Team Leads\n"
                           "max_duration = 4h\nexclusive = false\n"
                           "[entry.server-admins]\npolicy = tier0\nrelease = group\ngroup = Server Admins\n");
        auto loaded = config::load_config(file);
        ASSERT_TRUE(loaded) << loaded.error().front().to_string();
        config_ = std::make_unique<config::Config>(std::move(*loaded));
        store_ = std::make_unique<store::OpenedStore>(store::open_store(config_->store.file));
        core::record_service_start(store_->connection, *config_, clock_, "test");
        directory_ = std::make_unique<directory::Directory>(core::directory_settings(config_->ldap));
        authority_ = std::make_unique<core::DirectoryAuthority>(*directory_);
        service_ = std::make_unique<core::CheckoutService>(*config_, store_->connection, *authority_, clock_);
    }

    // rows: what a refused grant must not change.
    std::string rows() {
        auto q = store_->connection.prepare(
            "SELECT (SELECT count(*) FROM requests) || '/' || (SELECT count(*) FROM approvals) || '/' || "
            "(SELECT count(*) FROM checkouts) || '/' || (SELECT count(*) FROM audit_events) || '/' || "
            "(SELECT count(*) FROM outbox)");
        q.step();
        return q.column_text(0);
    }
    core::NewCheckoutRequest bob() { return {"bob", "server-admins", "patch night", std::nullopt, 1h, std::nullopt}; }

    TempDir dir_;
    core::SystemClock clock_;
    std::unique_ptr<config::Config> config_;
    std::unique_ptr<store::OpenedStore> store_;
    std::unique_ptr<directory::Directory> directory_;
    std::unique_ptr<core::DirectoryAuthority> authority_;
    std::unique_ptr<core::CheckoutService> service_;
};

TEST_F(FailClosedWithActiveDirectory, AStoppedDcMeansNoWhateverTheCacheHolds) {
    SambaDc& dc = SambaDc::shared();
    auto pending = service_->request(bob());
    ASSERT_TRUE(pending) << pending.error().message;
    // Warm every cache a decision could use: the approver lists, alice, her groups.
    ASSERT_EQ(service_->may_decide(*pending, "alice"), true);
    ASSERT_TRUE(service_->eligible_approvers(*pending));
    dc.stop();
    const std::string before = rows();
    auto request = service_->request(bob());
    ASSERT_FALSE(request) << "a request was accepted with the DC down";
    EXPECT_EQ(request.error().kind, Kind::unavailable) << request.error().message;
    auto decided = service_->decide(*pending, "alice", core::Decision::approve);
    ASSERT_FALSE(decided) << "a decision was taken with the DC down";
    EXPECT_EQ(decided.error().kind, Kind::unavailable) << decided.error().message;
    EXPECT_EQ(rows(), before) << "nothing recorded";
    EXPECT_EQ(store::find_request(store_->connection, *pending)->state, store::RequestState::pending);
    dc.start();
    auto served = service_->decide(*pending, "alice", core::Decision::approve);
    ASSERT_TRUE(served) << "the DC is back but: " << served.error().message;
    EXPECT_EQ(*served, "active");
    auto checkout = store::checkout_of_request(store_->connection, *pending);
    ASSERT_TRUE(service_->check_in(checkout->id, "bob"));
}

TEST_F(FailClosedWithActiveDirectory, AnApproverRemovedOrDisabledInAdIsRefusedAtOnce) {
    auto first = service_->request(bob());
    auto second = service_->request(bob());
    ASSERT_TRUE(first && second);
    ASSERT_EQ(service_->may_decide(*first, "carol"), true); // warm: carol is in Team Leads
    ASSERT_EQ(service_->may_decide(*first, "alice"), true);
    // An administrator changes AD with another client; keyholder's cache is not told.
    config::LdapSection as_admin = config_->ldap;
    as_admin.bind_dn = SambaDc::kAdminDn;
    as_admin.bind_password = config::Secret(SambaDc::shared().admin_password());
    directory::Directory admin(core::directory_settings(as_admin));
    auto carol = admin.find_user("carol");
    auto alice = admin.find_user("alice");
    auto leads = admin.find_group("Team Leads");
    ASSERT_TRUE(carol && alice && leads);
    ASSERT_TRUE(admin.remove_member(*leads, *carol));
    ASSERT_TRUE(admin.set_enabled(*alice, false));
    const std::string before = rows();
    auto removed = service_->decide(*first, "carol", core::Decision::approve);
    auto disabled = service_->decide(*second, "alice", core::Decision::approve);
    // Put AD back before asserting, so that a failure leaves the shared DC as seeded.
    ASSERT_TRUE(admin.add_member(*leads, *carol));
    ASSERT_TRUE(admin.set_enabled(*alice, true));
    ASSERT_FALSE(removed) << "carol approved from the cache after leaving Team Leads";
    EXPECT_EQ(removed.error().code, "not_an_approver");
    ASSERT_FALSE(disabled) << "a disabled alice approved from the cache";
    EXPECT_EQ(disabled.error().code, "account_disabled");
    EXPECT_EQ(rows(), before);
}

} // namespace
