// keyholder audit verify: exit 0 and the head hash on an intact chain; exit 1 and
// the first bad event named after a change, a removal or a swap done with raw SQL.
#include <gtest/gtest.h>

#include "keyholder/store/audit.h"
#include "keyholder/store/store.h"
#include "support/child_process.h"
#include "support/temp_dir.h"

namespace {

using namespace keyholder::testing;
using namespace keyholder::store;

const std::string kCli = KEYHOLDER_CLI_PATH;

class AuditVerifyCommand : public ::testing::Test {
protected:
    void SetUp() override {
        db_ = dir_.path() / "keyholder.db";
        auto opened = open_store(db_);
        for (int i = 1; i <= 5; ++i) {
            Transaction tx(opened.connection);
            append_audit_event(tx, {2000 + i, "system", "checkout.ended", "checkout:" + std::to_string(i), "{}"});
            tx.commit();
        }
    }
    void tamper(const std::string& sql) {
        Connection db = Connection::open(db_);
        db.exec_script("DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;" + sql);
    }
    RunResult verify() { return run(kCli, {"audit", "verify", "--db", db_.string()}); }

    TempDir dir_;
    std::filesystem::path db_;
};

TEST_F(AuditVerifyCommand, IntactChainExitsZero) {
    auto result = verify();
    EXPECT_EQ(result.status, 0) << result.out << result.err;
    EXPECT_NE(result.out.find("audit chain intact: 5 events, head hash "), std::string::npos) << result.out;
}

TEST_F(AuditVerifyCommand, ChangedRowIsNamed) {
    tamper("UPDATE audit_events SET subject = 'checkout:99' WHERE seq = 3");
    auto result = verify();
    EXPECT_EQ(result.status, 1);
    EXPECT_NE(result.out.find("audit event #3 (checkout.ended) was changed"), std::string::npos) << result.out;
}

TEST_F(AuditVerifyCommand, DeletedRowIsNamed) {
    tamper("DELETE FROM audit_events WHERE seq = 2");
    auto result = verify();
    EXPECT_EQ(result.status, 1);
    EXPECT_NE(result.out.find("audit event #2 is missing"), std::string::npos) << result.out;
}

TEST_F(AuditVerifyCommand, SwappedRowsAreNamed) {
    tamper("UPDATE audit_events SET seq = -4 WHERE seq = 4; UPDATE audit_events SET seq = 4 WHERE seq = 5;"
           "UPDATE audit_events SET seq = 5 WHERE seq = -4;");
    auto result = verify();
    EXPECT_EQ(result.status, 1);
    EXPECT_NE(result.out.find("audit event #4"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("reordered"), std::string::npos) << result.out;
}

TEST_F(AuditVerifyCommand, MissingDatabaseIsAnErrorNotASuccess) {
    auto result = run(kCli, {"audit", "verify", "--db", (dir_.path() / "nope.db").string()});
    EXPECT_EQ(result.status, 3);
    EXPECT_NE(result.err.find("nope.db"), std::string::npos) << result.err;
}

TEST(KeyholderCli, UsageErrorsExitTwo) {
    EXPECT_EQ(run(kCli, {}).status, 2);
    EXPECT_EQ(run(kCli, {"frobnicate"}).status, 2);
    EXPECT_EQ(run(kCli, {"audit", "verify", "--bogus", "x"}).status, 2);
    auto help = run(kCli, {"audit", "verify", "--help"});
    EXPECT_EQ(help.status, 0);
    EXPECT_NE(help.out.find("head hash"), std::string::npos);
}

} // namespace
