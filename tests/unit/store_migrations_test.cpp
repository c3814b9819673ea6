// Schema migrations: every earlier version upgrades with its data; a newer file is
// refused untouched; a failing migration leaves the database as it was.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "keyholder/store/connection.h"
#include "keyholder/store/error.h"
#include "keyholder/store/migrations.h"
#include "support/store_backends.h"
#include "support/temp_dir.h"

namespace {

using namespace keyholder::store;
using keyholder::testing::TempDir;

int64_t count(Connection& db, const std::string& sql) {
    Statement s = db.prepare(sql);
    s.step();
    return s.column_int64(0);
}

std::vector<std::string> schema_of(Connection& db) {
    std::vector<std::string> out;
    Statement s = db.prepare(
        dialect(db, "SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_master ORDER BY name",
                "SELECT table_name || '.' || column_name || ' ' || data_type FROM information_schema.columns"
                " WHERE table_schema = current_schema() ORDER BY 1"));
    while (s.step())
        out.push_back(s.column_text(0));
    return out;
}

TEST(StoreMigrations, EveryEarlierVersionUpgradesAndKeepsItsData) {
    auto all = builtin_migrations();
    for (int start = 1; start < latest_schema_version(); ++start) {
        SCOPED_TRACE("database at schema version " + std::to_string(start));
        TempDir dir;
        {
            Connection db = Connection::open(dir / "old.db");
            auto result = migrate(db, all.first(static_cast<size_t>(start)));
            EXPECT_EQ(result.to_version, start);
            // Data written by that version: a policy and an audit event.
            db.exec_script("INSERT INTO policies(name, definition, updated_at) VALUES ('legacy', '{\"v\":1}', 10)");
            db.exec_script("INSERT INTO audit_events(seq, at, actor, action, subject, details, prev_hash, hash) "
                           "VALUES (1, 10, 'system', 'test', 'x', '{}', 'p', 'h')");
            db.exec_script("INSERT INTO outbox(created_at, kind, recipient, payload, message_id, state, attempts, "
                           "next_attempt_at, last_error) VALUES (10, 'lapsed', 'bob@example.com', '{}', "
                           "'<lapsed.1.a@keyholder>', 'failed', 3, 20, 'smtp 550')");
        }
        Connection db = Connection::open(dir / "old.db");
        auto result = migrate(db);
        EXPECT_EQ(result.from_version, start);
        EXPECT_EQ(result.to_version, latest_schema_version());
        EXPECT_EQ(current_schema_version(db), latest_schema_version());
        EXPECT_EQ(count(db, "SELECT count(*) FROM policies WHERE name = 'legacy'"), 1);
        EXPECT_EQ(count(db, "SELECT count(*) FROM audit_events"), 1);
        EXPECT_EQ(count(db, "SELECT count(*) FROM outbox WHERE message_id = '<lapsed.1.a@keyholder>' AND "
                            "state = 'failed' AND attempts = 3 AND last_error = 'smtp 550'"),
                  1);
        EXPECT_EQ(count(db, "SELECT count(*) FROM schema_version"), latest_schema_version());
        // The upgraded schema equals a fresh one.
        TempDir fresh_dir;
        Connection fresh = Connection::open(fresh_dir / "fresh.db");
        migrate(fresh);
        EXPECT_EQ(schema_of(db), schema_of(fresh));
    }
}

class StoreMigrationsOnBoth : public ::testing::TestWithParam<Backend> {
protected:
    Connection open_fresh() { return Connection::open(keyholder::testing::fresh_location(GetParam(), dir_)); }
    TempDir dir_;
};

TEST_P(StoreMigrationsOnBoth, VersionsAreContiguousFromOne) {
    auto all = builtin_migrations(GetParam());
    ASSERT_FALSE(all.empty());
    for (size_t i = 0; i < all.size(); ++i)
        EXPECT_EQ(all[i].version, static_cast<int>(i) + 1);
    EXPECT_EQ(latest_schema_version(GetParam()), all.back().version);
}

TEST_P(StoreMigrationsOnBoth, MigratingTwiceIsANoOp) {
    Connection db = open_fresh();
    migrate(db);
    auto again = migrate(db);
    EXPECT_EQ(again.from_version, again.to_version);
    EXPECT_EQ(again.to_version, latest_schema_version(GetParam()));
}

TEST(StoreMigrations, NewerDatabaseIsRefusedAndLeftUntouched) {
    TempDir dir;
    {
        Connection db = Connection::open(dir / "k.db");
        migrate(db);
        db.exec_script(
            "INSERT INTO schema_version(version, description, applied_at) VALUES (99, 'from the future', 0)");
    }
    Connection db = Connection::open(dir / "k.db");
    auto before = schema_of(db);
    try {
        migrate(db);
        FAIL() << "a newer database must be refused";
    } catch (const NewerSchemaError& e) {
        EXPECT_EQ(e.found_version(), 99);
        EXPECT_EQ(e.supported_version(), latest_schema_version());
        std::string message = e.what();
        EXPECT_NE(message.find("newer keyholder"), std::string::npos) << message;
        EXPECT_NE(message.find("99"), std::string::npos) << message;
    }
    EXPECT_EQ(schema_of(db), before);
    EXPECT_EQ(current_schema_version(db), 99);
}

TEST_P(StoreMigrationsOnBoth, FailedMigrationLeavesTheDatabaseAsItWas) {
    Connection db = open_fresh();
    const int latest = latest_schema_version(GetParam());
    auto all = builtin_migrations(GetParam());
    std::vector<Migration> broken(all.begin(), all.end());
    // A migration that does real work and then fails half-way.
    broken.push_back(Migration{latest + 1, "broken",
                               "CREATE TABLE half_done(x INTEGER);"
                               "INSERT INTO half_done VALUES (1);"
                               "ALTER TABLE policies ADD COLUMN extra TEXT;"
                               "INSERT INTO no_such_table VALUES (1);"});
    migrate(db); // bring it to the latest good version first
    db.exec_script("INSERT INTO policies(name, definition, updated_at) VALUES ('keep', '{}', 1)");
    auto before = schema_of(db);
    try {
        migrate(db, broken);
        FAIL() << "the broken migration must fail";
    } catch (const StoreError& e) {
        std::string message = e.what();
        EXPECT_NE(message.find("left at version " + std::to_string(latest)), std::string::npos) << message;
    }
    EXPECT_FALSE(db.in_transaction());
    EXPECT_EQ(current_schema_version(db), latest);
    EXPECT_EQ(schema_of(db), before);
    EXPECT_EQ(count(db, "SELECT count(*) FROM policies WHERE name = 'keep'"), 1);
}

TEST_P(StoreMigrationsOnBoth, FailureInALaterStepKeepsEarlierStepsApplied) {
    Connection db = open_fresh();
    auto all = builtin_migrations(GetParam());
    std::vector<Migration> list(all.begin(), all.begin() + 1);
    list.push_back(Migration{2, "fails", "CREATE TABLE oops(x BIGINT); SELECT * FROM nowhere;"});
    EXPECT_THROW(migrate(db, list), StoreError);
    EXPECT_EQ(current_schema_version(db), 1);
    EXPECT_EQ(count(db, dialect(db, "SELECT count(*) FROM sqlite_master WHERE name = 'oops'",
                                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'oops'")),
              0);
}

// Two nodes (or a node and `keyholder store copy`) that start at once on an empty
// store: each migration is applied once, by whichever takes the writers' lock first.
TEST_P(StoreMigrationsOnBoth, NodesThatMigrateAtOnceApplyEachVersionOnce) {
    const Location location = keyholder::testing::fresh_location(GetParam(), dir_);
    constexpr int kNodes = 4;
    std::vector<Connection> nodes;
    for (int n = 0; n < kNodes; ++n)
        nodes.push_back(Connection::open(location));
    std::atomic<int> waiting{kNodes};
    std::vector<std::string> failures(kNodes);
    std::vector<std::thread> threads;
    for (int n = 0; n < kNodes; ++n)
        threads.emplace_back([&, n] {
            --waiting;
            while (waiting > 0)
                std::this_thread::yield();
            try {
                migrate(nodes[static_cast<size_t>(n)]);
            } catch (const std::exception& error) {
                failures[static_cast<size_t>(n)] = error.what();
            }
        });
    for (auto& thread : threads)
        thread.join();
    for (const auto& failure : failures)
        EXPECT_EQ(failure, "");
    Connection db = Connection::open(location);
    const int latest = latest_schema_version(GetParam());
    EXPECT_EQ(current_schema_version(db), latest);
    EXPECT_EQ(count(db, "SELECT count(*) FROM schema_version"), latest);
    EXPECT_EQ(count(db, "SELECT count(DISTINCT version) FROM schema_version"), latest);
}

INSTANTIATE_TEST_SUITE_P(Engines, StoreMigrationsOnBoth, ::testing::ValuesIn(keyholder::testing::store_backends()),
                         keyholder::testing::engine_name);

} // namespace
