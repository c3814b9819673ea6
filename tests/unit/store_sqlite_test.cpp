// The SQLite engine: WAL, the group commit, its file. (What both engines must do:
// store_engine_test.cpp.)
#include <gtest/gtest.h>

#include <thread>

#include "keyholder/store/connection.h"
#include "keyholder/store/error.h"
#include "keyholder/store/records.h"
#include "keyholder/store/store.h"
#include "sqlite/file_shared.h" // the group commit's test hooks (store/src)
#include "support/temp_dir.h"

namespace {

using namespace keyholder::store;
using keyholder::store::detail::GroupCommitHooks;
using keyholder::store::detail::install_test_hooks;
using keyholder::testing::TempDir;

std::string pragma(Connection& db, const std::string& name) {
    Statement s = db.prepare("PRAGMA " + name);
    EXPECT_TRUE(s.step());
    return s.column_text(0);
}

TEST(StoreSqlite, OpensInWalModeWithForeignKeysAndFullSync) {
    TempDir dir;
    auto opened = open_store(dir / "sub/folder/k.db");
    EXPECT_EQ(pragma(opened.connection, "journal_mode"), "wal");
    EXPECT_EQ(pragma(opened.connection, "foreign_keys"), "1");
    // Durable commits are group commits: SQLite at NORMAL, commit() waits for a WAL fsync.
    EXPECT_EQ(pragma(opened.connection, "synchronous"), "1");
    EXPECT_EQ(opened.migration.from_version, 0);
    EXPECT_EQ(opened.migration.to_version, latest_schema_version());
    {
        Transaction tx(opened.connection);
        opened.connection.exec_script("CREATE TABLE t(v INTEGER)");
        tx.commit();
    }
    auto counts = opened.connection.group_commit_counts();
    EXPECT_GE(counts.transactions, 1U);
    EXPECT_EQ(counts.commits, counts.transactions); // alone, every transaction is its own group
    EXPECT_EQ(counts.syncs, counts.commits);        // and waits for its own fsync
}

// Concurrent writers on their own connections: every commit lands, commits queue
// on the in-process writer lock (no busy errors), and they share WAL fsyncs.
TEST(StoreSqlite, ConcurrentDurableCommitsShareFsyncs) {
    TempDir dir;
    auto opened = open_store(dir / "k.db");
    opened.connection.exec_script("CREATE TABLE t(v INTEGER)");
    const auto before = opened.connection.group_commit_counts();
    constexpr int kThreads = 8;
    constexpr int kCommits = 40;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            auto db = Connection::open(dir / "k.db");
            for (int i = 0; i < kCommits; ++i) {
                Transaction tx(db);
                db.prepare("INSERT INTO t(v) VALUES (?)").bind(1, t * 1000 + i).run();
                tx.commit();
            }
        });
    }
    for (auto& t : threads)
        t.join();
    auto count = opened.connection.prepare("SELECT count(*) FROM t");
    ASSERT_TRUE(count.step());
    EXPECT_EQ(count.column_int64(0), kThreads * kCommits);
    const auto after = opened.connection.group_commit_counts();
    EXPECT_EQ(after.transactions - before.transactions, static_cast<uint64_t>(kThreads * kCommits));
    EXPECT_LE(after.commits - before.commits, after.transactions - before.transactions);
    EXPECT_LE(after.syncs - before.syncs, after.commits - before.commits);
}

// wait_for_queue: until `n` other threads wait for the write lock of db's file.
void wait_for_queue(Connection& db, int n) {
    for (int i = 0; i < 5000 && db.queued_writers() < n; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ASSERT_EQ(db.queued_writers(), n);
}

int64_t count_rows(Connection& db, const std::string& table) {
    auto count = db.prepare("SELECT count(*) FROM " + table);
    count.step();
    return count.column_int64(0);
}

// open_grouping: a migrated store whose queued writers form a group whether or not
// the disk is busy (so that the tests below do not depend on fsync timing).
struct Grouping {
    Connection connection;
};
Grouping open_grouping(const std::filesystem::path& file) {
    open_store(file);
    Grouping grouping{Connection::open(file)};
    GroupCommitHooks hooks;
    hooks.group_while_idle = true;
    install_test_hooks(grouping.connection, hooks);
    return grouping;
}

// Writers that queue while one holds the lock become members of one SQLite
// transaction: each sees what earlier members wrote, a member that rolls back
// takes only its own rows with it, and the group is one commit and one fsync.
TEST(StoreSqlite, QueuedTransactionsShareOneCommit) {
    TempDir dir;
    auto opened = open_grouping(dir / "k.db");
    opened.connection.exec_script("CREATE TABLE t(v INTEGER)");
    const auto before = opened.connection.group_commit_counts();
    auto second = open_grouping(dir / "k.db").connection;
    auto third = open_grouping(dir / "k.db").connection;
    std::optional<Transaction> first(std::in_place, opened.connection);
    opened.connection.prepare("INSERT INTO t(v) VALUES (1)").run();
    int64_t seen_by_second = -1;
    std::thread member([&] {
        Transaction tx(second);
        seen_by_second = count_rows(second, "t"); // the first member's row, not yet committed
        second.prepare("INSERT INTO t(v) VALUES (2)").run();
        tx.commit();
    });
    wait_for_queue(opened.connection, 1);
    std::thread quitter([&] {
        wait_for_queue(opened.connection, 1); // behind `member`
        Transaction tx(third);
        third.prepare("INSERT INTO t(v) VALUES (3)").run();
        // no commit: rolled back
    });
    wait_for_queue(opened.connection, 2);
    first->commit(); // returns when the group is committed: the quitter closes it
    member.join();
    quitter.join();
    first.reset();
    EXPECT_EQ(seen_by_second, 1);
    auto values = opened.connection.prepare("SELECT group_concat(v) FROM (SELECT v FROM t ORDER BY v)");
    ASSERT_TRUE(values.step());
    EXPECT_EQ(values.column_text(0), "1,2");
    const auto after = opened.connection.group_commit_counts();
    EXPECT_EQ(after.transactions - before.transactions, 2U);
    EXPECT_EQ(after.commits - before.commits, 1U);
    EXPECT_EQ(after.syncs - before.syncs, 1U);
}

// By default a writer does not wait for the ones queued behind it while the disk
// is idle: its group is committed and synced at once (they would only add latency).
TEST(StoreSqlite, AnIdleDiskCommitsAtOnce) {
    TempDir dir;
    auto opened = open_store(dir / "k.db");
    opened.connection.exec_script("CREATE TABLE t(v INTEGER)");
    const auto before = opened.connection.group_commit_counts();
    auto second = Connection::open(dir / "k.db");
    std::optional<Transaction> first(std::in_place, opened.connection);
    opened.connection.prepare("INSERT INTO t(v) VALUES (1)").run();
    std::thread queued([&] {
        Transaction tx(second);
        second.prepare("INSERT INTO t(v) VALUES (2)").run();
        tx.commit();
    });
    wait_for_queue(opened.connection, 1);
    first->commit();
    queued.join();
    const auto after = opened.connection.group_commit_counts();
    EXPECT_EQ(after.transactions - before.transactions, 2U);
    EXPECT_EQ(after.commits - before.commits, 2U);
}

// While an fsync runs, the next group stays open: transactions that come one after
// the other (never queued together) still share one commit, which the fsync's
// caller makes when its fsync ends. Shared pages (the table's last leaf, the
// header) are then written once per fsync, not once per transaction.
TEST(StoreSqlite, WhileTheDiskIsBusyTheNextGroupStaysOpen) {
    TempDir dir;
    auto opened = open_store(dir / "k.db");
    opened.connection.exec_script("CREATE TABLE t(v INTEGER)");
    std::mutex mutex;
    std::condition_variable changed;
    bool holding = false;
    bool release = false;
    int syncs_seen = 0;
    GroupCommitHooks held;
    held.before_sync = [&] { // holds the first fsync until the test releases it
        std::unique_lock lock(mutex);
        if (syncs_seen++ != 0) return;
        holding = true;
        changed.notify_all();
        changed.wait(lock, [&] { return release; });
    };
    auto first_db = Connection::open(dir / "k.db");
    install_test_hooks(first_db, held);
    auto second_db = Connection::open(dir / "k.db");
    auto third_db = Connection::open(dir / "k.db");
    const auto before = first_db.group_commit_counts();
    auto insert = [](Connection& db, int v) {
        Transaction tx(db);
        db.prepare("INSERT INTO t(v) VALUES (?)").bind(1, v).run();
        tx.commit();
    };
    std::thread first([&] { insert(first_db, 1); });
    {
        std::unique_lock lock(mutex);
        ASSERT_TRUE(changed.wait_for(lock, std::chrono::seconds(10), [&] { return holding; }));
    }
    std::thread second([&] { insert(second_db, 2); });
    std::this_thread::sleep_for(std::chrono::milliseconds(100)); // second waits in commit() by now
    std::thread third([&] { insert(third_db, 3); });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(first_db.group_commit_counts().commits - before.commits, 1U) << "the second group is still open";
    {
        std::lock_guard lock(mutex);
        release = true;
    }
    changed.notify_all();
    first.join();
    second.join();
    third.join();
    const auto after = first_db.group_commit_counts();
    EXPECT_EQ(after.transactions - before.transactions, 3U);
    EXPECT_EQ(after.commits - before.commits, 2U);
    EXPECT_EQ(after.syncs - before.syncs, 2U);
    EXPECT_EQ(count_rows(opened.connection, "t"), 3);
}

// A group commits as a whole: when SQLite refuses the commit (here a deferred
// foreign key that one member broke), every member's commit() throws and none of
// the group is written; the next transaction starts a fresh group.
TEST(StoreSqlite, AFailedGroupCommitFailsEveryMember) {
    TempDir dir;
    auto opened = open_grouping(dir / "k.db");
    opened.connection.exec_script("CREATE TABLE parent(id INTEGER PRIMARY KEY);"
                                  "CREATE TABLE child(parent INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY "
                                  "DEFERRED)");
    auto second = open_grouping(dir / "k.db").connection;
    std::optional<Transaction> first(std::in_place, opened.connection);
    opened.connection.prepare("INSERT INTO parent(id) VALUES (1)").run();
    bool second_failed = false;
    std::thread breaker([&] {
        Transaction tx(second);
        second.prepare("INSERT INTO child(parent) VALUES (42)").run(); // no parent 42: fails at COMMIT
        try {
            tx.commit();
        } catch (const StoreError&) {
            second_failed = true;
        }
    });
    wait_for_queue(opened.connection, 1);
    EXPECT_THROW(first->commit(), StoreError);
    breaker.join();
    first.reset();
    EXPECT_TRUE(second_failed);
    EXPECT_EQ(count_rows(opened.connection, "parent"), 0);
    EXPECT_EQ(count_rows(opened.connection, "child"), 0);
    {
        Transaction tx(opened.connection);
        opened.connection.prepare("INSERT INTO parent(id) VALUES (7)").run();
        tx.commit();
    }
    EXPECT_EQ(count_rows(opened.connection, "parent"), 1);
}

// A member owns its group's outcome: one that wakes long after its group failed,
// thousands of groups later, still fails (no table of failures that is pruned).
TEST(StoreSqlite, AMemberThatWakesLateStillSeesItsGroupFail) {
    TempDir dir;
    auto opened = open_grouping(dir / "k.db");
    opened.connection.exec_script("CREATE TABLE parent(id INTEGER PRIMARY KEY);"
                                  "CREATE TABLE child(parent INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY "
                                  "DEFERRED)");
    auto late = open_grouping(dir / "k.db").connection;
    std::mutex mutex;
    std::condition_variable changed;
    bool woken = false;
    GroupCommitHooks hooks;
    hooks.group_while_idle = true;
    hooks.after_durable = [&] {
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return woken; });
    };
    install_test_hooks(late, hooks);
    std::optional<Transaction> first(std::in_place, opened.connection);
    opened.connection.prepare("INSERT INTO parent(id) VALUES (1)").run();
    bool late_failed = false;
    std::thread breaker([&] {
        Transaction tx(late);
        late.prepare("INSERT INTO child(parent) VALUES (42)").run(); // fails at COMMIT
        try {
            tx.commit();
        } catch (const StoreError&) {
            late_failed = true;
        }
    });
    wait_for_queue(opened.connection, 1);
    EXPECT_THROW(first->commit(), StoreError);
    first.reset();
    constexpr int kLaterGroups = 5000; // more than any table of failures would keep
    for (int i = 0; i < kLaterGroups; ++i) {
        Transaction tx(opened.connection);
        opened.connection.prepare("INSERT INTO parent(id) VALUES (?)").bind(1, 100 + i).run();
        tx.commit();
    }
    EXPECT_GE(opened.connection.group_commit_counts().commits, static_cast<uint64_t>(kLaterGroups));
    {
        std::lock_guard lock(mutex);
        woken = true;
    }
    changed.notify_all();
    breaker.join();
    EXPECT_TRUE(late_failed);
    EXPECT_EQ(count_rows(opened.connection, "child"), 0);
}

TEST(StoreSqlite, UnopenableFileNamesTheFile) {
    TempDir dir;
    ConnectionOptions no_create;
    no_create.create = false;
    try {
        Connection::open(dir / "missing.db", no_create);
        FAIL();
    } catch (const StoreError& e) {
        EXPECT_NE(std::string(e.what()).find("missing.db"), std::string::npos) << e.what();
    }
}

} // namespace
