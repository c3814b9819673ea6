// The audit hash chain: append-only, and verify names the first event that was
// changed, removed or reordered.
#include <gtest/gtest.h>

#include "keyholder/store/audit.h"
#include "keyholder/store/error.h"
#include "keyholder/store/store.h"
#include "support/store_backends.h"
#include "support/temp_dir.h"

namespace {

using namespace keyholder::store;
using keyholder::testing::TempDir;

class AuditChain : public ::testing::TestWithParam<Backend> {
protected:
    void SetUp() override {
        opened_ = std::make_unique<OpenedStore>(open_store(keyholder::testing::fresh_location(GetParam(), dir_)));
        for (int i = 1; i <= 6; ++i) {
            Transaction tx(db());
            append_audit_event(tx, {1000 + i, "S-1-5-21-1-2-3-" + std::to_string(1100 + i), "request.created",
                                    "request:" + std::to_string(i), "{\"n\":" + std::to_string(i) + "}"});
            tx.commit();
        }
    }
    Connection& db() { return opened_->connection; }
    // Tampering the way an attacker with the sqlite3 tool (or psql, as the table's
    // owner) would: triggers dropped or disabled first.
    void tamper(const std::string& sql) {
        db().exec_script(dialect(db(), "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;",
                                 "ALTER TABLE audit_events DISABLE TRIGGER USER"));
        db().exec_script(sql);
    }

    TempDir dir_;
    std::unique_ptr<OpenedStore> opened_;
};

TEST_P(AuditChain, IntactChainVerifies) {
    auto result = verify_audit_chain(db());
    EXPECT_TRUE(result.ok()) << result.message;
    EXPECT_EQ(result.events, 6);
    EXPECT_EQ(result.head_hash.size(), 64U);
}

TEST_P(AuditChain, EventsLinkToTheirPredecessor) {
    std::vector<AuditEvent> events;
    for_each_audit_event(db(), [&](const AuditEvent& e) { events.push_back(e); });
    ASSERT_EQ(events.size(), 6U);
    EXPECT_EQ(events[0].prev_hash, kGenesisHash);
    for (size_t i = 1; i < events.size(); ++i)
        EXPECT_EQ(events[i].prev_hash, events[i - 1].hash);
}

TEST_P(AuditChain, UpdateAndDeleteAreRefusedByTheStore) {
    EXPECT_THROW(db().exec_script("UPDATE audit_events SET details = '{}' WHERE seq = 2"), StoreError);
    EXPECT_THROW(db().exec_script("DELETE FROM audit_events WHERE seq = 2"), StoreError);
    EXPECT_TRUE(verify_audit_chain(db()).ok());
}

TEST_P(AuditChain, ChangedEventIsNamed) {
    tamper("UPDATE audit_events SET actor = 'S-1-5-21-1-2-3-500' WHERE seq = 3");
    auto result = verify_audit_chain(db());
    EXPECT_EQ(result.problem, AuditProblem::changed);
    EXPECT_EQ(result.first_bad, 3);
    EXPECT_NE(result.message.find("#3"), std::string::npos) << result.message;
}

TEST_P(AuditChain, ChangedTimestampIsNamed) {
    tamper("UPDATE audit_events SET at = at + 1 WHERE seq = 5");
    auto result = verify_audit_chain(db());
    EXPECT_EQ(result.problem, AuditProblem::changed);
    EXPECT_EQ(result.first_bad, 5);
}

TEST_P(AuditChain, RewrittenEventWithRecomputedHashBreaksTheNextLink) {
    // A forger who edits #2 and recomputes its hash still breaks #3's link.
    NewAuditEvent forged{1002, "someone-else", "request.created", "request:2", "{\"n\":2}"};
    std::vector<AuditEvent> events;
    for_each_audit_event(db(), [&](const AuditEvent& e) { events.push_back(e); });
    std::string hash = audit_event_hash(events[0].hash, 2, forged);
    tamper("UPDATE audit_events SET actor = 'someone-else', hash = '" + hash + "' WHERE seq = 2");
    auto result = verify_audit_chain(db());
    EXPECT_EQ(result.problem, AuditProblem::broken_link);
    EXPECT_EQ(result.first_bad, 3);
}

TEST_P(AuditChain, RemovedEventIsNamed) {
    tamper("DELETE FROM audit_events WHERE seq = 4");
    auto result = verify_audit_chain(db());
    EXPECT_EQ(result.problem, AuditProblem::missing);
    EXPECT_EQ(result.first_bad, 4);
    EXPECT_NE(result.message.find("#4 is missing"), std::string::npos) << result.message;
}

TEST_P(AuditChain, RemovedAndRenumberedEventIsNamed) {
    tamper("DELETE FROM audit_events WHERE seq = 4; UPDATE audit_events SET seq = seq - 1 WHERE seq > 4");
    auto result = verify_audit_chain(db());
    EXPECT_EQ(result.problem, AuditProblem::broken_link);
    EXPECT_EQ(result.first_bad, 4);
}

TEST_P(AuditChain, SwappedEventsAreNamed) {
    // Swap the content of #2 and #3 (keeping their positions).
    tamper("UPDATE audit_events SET seq = -2 WHERE seq = 2;"
           "UPDATE audit_events SET seq = 2 WHERE seq = 3;"
           "UPDATE audit_events SET seq = 3 WHERE seq = -2;");
    auto result = verify_audit_chain(db());
    EXPECT_FALSE(result.ok());
    EXPECT_EQ(result.first_bad, 2);
    EXPECT_EQ(result.problem, AuditProblem::broken_link);
}

INSTANTIATE_TEST_SUITE_P(Engines, AuditChain, ::testing::ValuesIn(keyholder::testing::store_backends()),
                         keyholder::testing::engine_name);

TEST(AuditHash, FieldsCannotBleedIntoEachOther) {
    NewAuditEvent a{1, "ab", "c", "s", "{}"};
    NewAuditEvent b{1, "a", "bc", "s", "{}"};
    EXPECT_NE(audit_event_hash(kGenesisHash, 1, a), audit_event_hash(kGenesisHash, 1, b));
}

TEST(AuditHash, KnownVector) {
    // Pins the canonical form: changing it silently would break every stored chain.
    NewAuditEvent e{1700000000, "system", "service.started", "service", "{}"};
    // Independently computed: sha256 of "18:keyholder-audit-v1;64:000...0;1:1;10:1700000000;6:system;..."
    EXPECT_EQ(audit_event_hash(kGenesisHash, 1, e), "c69e898288b963188fc02a382313683eb78d7c214e09cbfbc15e6efc4fa0a887");
    EXPECT_NE(audit_event_hash(kGenesisHash, 1, e), audit_event_hash(kGenesisHash, 2, e));
}

} // namespace
