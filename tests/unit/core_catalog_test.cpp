// The catalog mirror: policies and entries land in the store with audit events,
// a restart with the same configuration changes nothing, a changed policy and a
// removed entry are recorded.
#include <gtest/gtest.h>

#include "keyholder/config/config.h"
#include "keyholder/core/catalog.h"
#include "keyholder/store/audit.h"
#include "keyholder/store/records.h"
#include "keyholder/store/store.h"
#include "support/store_backends.h"
#include "support/temp_dir.h"

namespace {

using namespace keyholder;
using keyholder::testing::TempDir;

config::Config make_config(const TempDir& dir, const std::string& extra = "") {
    dir.write("data/ldap.password", "pw");
    auto file = dir.write("k.ini", "[service]\ndata_dir = data\nadmin_groups = Admins\n"
                                   "[ldap]\nuris = ldaps://dc1\nbase_dn = dc=x\nbind_dn = cn=s\n"
                                   "bind_password_file = ldap.password\n"
                                   "[policy.p]\nrequester_groups = Ops\nstage1_approvers = Leads\n"
                                   "[entry.a]\npolicy = p\nrelease = group\ngroup = G\n" +
                                       extra);
    auto config = config::load_config(file);
    if (!config) throw std::runtime_error(config.error().front().to_string());
    return std::move(*config);
}

std::vector<std::string> actions(store::Connection& db) {
    std::vector<std::string> out;
    store::for_each_audit_event(db, [&](const store::AuditEvent& e) { out.push_back(e.action + " " + e.subject); });
    return out;
}

class CoreCatalog : public ::testing::TestWithParam<store::Backend> {};

TEST_P(CoreCatalog, StartRecordsPoliciesEntriesAndTheStart) {
    TempDir dir;
    auto opened = store::open_store(keyholder::testing::fresh_location(GetParam(), dir));
    core::ManualClock clock(1'800'000'000);
    auto sync = core::record_service_start(
        opened.connection, make_config(dir, "[entry.b]\npolicy = p\nrelease = group\ngroup = H\n"), clock, "test");
    EXPECT_EQ(sync.entries, 2);
    EXPECT_EQ(sync.policies_changed, 1);
    EXPECT_EQ(sync.config_sha256.size(), 64U);
    EXPECT_EQ(store::list_active_entry_names(opened.connection), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(actions(opened.connection),
              (std::vector<std::string>{"policy.changed policy:p", "service.started service:keyholder"}));
    std::vector<store::AuditEvent> events;
    store::for_each_audit_event(opened.connection, [&](const store::AuditEvent& e) { events.push_back(e); });
    EXPECT_EQ(events.back().at, 1'800'000'000);
    EXPECT_NE(events.back().details.find(sync.config_sha256), std::string::npos);
}

TEST_P(CoreCatalog, RestartWithTheSameConfigurationChangesNoPolicy) {
    TempDir dir;
    auto opened = store::open_store(keyholder::testing::fresh_location(GetParam(), dir));
    core::ManualClock clock(1'800'000'000);
    auto config = make_config(dir);
    core::record_service_start(opened.connection, config, clock, "test");
    core::record_service_stop(opened.connection, clock, "test");
    clock.advance(std::chrono::hours(1));
    auto again = core::record_service_start(opened.connection, config, clock, "test");
    EXPECT_EQ(again.policies_changed, 0);
    EXPECT_EQ(actions(opened.connection).size(), 4U); // changed, started, stopped, started
    EXPECT_TRUE(store::verify_audit_chain(opened.connection).ok());
}

TEST_P(CoreCatalog, ChangedPolicyAndRemovedEntryAreRecorded) {
    TempDir first_dir, second_dir;
    auto opened = store::open_store(keyholder::testing::fresh_location(GetParam(), first_dir));
    core::ManualClock clock(1'800'000'000);
    core::record_service_start(opened.connection,
                               make_config(first_dir, "[entry.b]\npolicy = p\nrelease = group\ngroup = H\n"), clock,
                               "test");
    // Second configuration: policy p now needs two approvals, entry b is gone.
    TempDir dir;
    dir.write("data/ldap.password", "pw");
    auto file =
        dir.write("k.ini", "[service]\ndata_dir = data\nadmin_groups = Admins\n"
                           "[ldap]\nuris = ldaps://dc1\nbase_dn = dc=x\nbind_dn = cn=s\n"
                           "bind_password_file = ldap.password\n"
                           "[policy.p]\nrequester_groups = Ops\nstage1_approvers = Leads\nstage1_approvals = 2\n"
                           "[entry.a]\npolicy = p\nrelease = group\ngroup = G\n");
    auto second = config::load_config(file);
    ASSERT_TRUE(second);
    auto sync = core::record_service_start(opened.connection, *second, clock, "test");
    EXPECT_EQ(sync.policies_changed, 1);
    EXPECT_EQ(sync.entries_retired, 1);
    EXPECT_EQ(store::list_active_entry_names(opened.connection), (std::vector<std::string>{"a"}));
    auto all = actions(opened.connection);
    EXPECT_NE(std::find(all.begin(), all.end(), "entry.retired entry:b"), all.end());
    EXPECT_EQ(std::count(all.begin(), all.end(), "policy.changed policy:p"), 2);
    EXPECT_NE(store::find_policy_definition(opened.connection, "p")->find("\"approvals\":2"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Engines, CoreCatalog, ::testing::ValuesIn(keyholder::testing::store_backends()),
                         keyholder::testing::engine_name);

} // namespace
