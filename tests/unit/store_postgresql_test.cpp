// The PostgreSQL engine's own rules: SQLite's parameter forms translated, the DSN's
// security rules (TLS verified off this machine, read-write sessions, no password in
// messages), TLS against a real server, and sessions that come back after the
// server restarted (but never in the middle of a transaction).
#include <gtest/gtest.h>

#include <gsl/util>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "keyholder/store/connection.h"
#include "keyholder/store/error.h"
#include "keyholder/store/leadership.h"
#include "keyholder/store/migrations.h"
#include "keyholder/store/store.h"
#include "postgresql/connection.h"
#include "postgresql/placeholders.h"
#include "support/postgres.h"

namespace {

using namespace keyholder::store;
using keyholder::store::detail::connect_settings;
using keyholder::store::detail::translate_placeholders;
using keyholder::testing::PostgresSandbox;

TEST(PostgresPlaceholders, SqliteFormsBecomeNumberedParameters) {
    auto plain = translate_placeholders("SELECT ? , ?, ?5, ?");
    EXPECT_EQ(plain.text, "SELECT $1 , $2, $5, $6");
    EXPECT_EQ(plain.parameters, 6);
    auto named = translate_placeholders("WHERE a >= :from AND b < :to OR c = :from AND d = ?");
    EXPECT_EQ(named.text, "WHERE a >= $1 AND b < $2 OR c = $1 AND d = $3");
    EXPECT_EQ(named.names.at(":from"), 1);
    EXPECT_EQ(named.names.at(":to"), 2);
    auto repeated = translate_placeholders("?1 IS NULL OR x = ?1 AND y = ?2");
    EXPECT_EQ(repeated.text, "$1 IS NULL OR x = $1 AND y = $2");
}

TEST(PostgresPlaceholders, LiteralsCommentsAndCastsAreLeftAlone) {
    auto t = translate_placeholders("SELECT '?', 'it''s :x', \"col?\" -- what ?\n, x::text, ? /* :y ? */");
    EXPECT_EQ(t.text, "SELECT '?', 'it''s :x', \"col?\" -- what ?\n, x::text, $1 /* :y ? */");
    EXPECT_EQ(t.parameters, 1);
    EXPECT_TRUE(t.names.empty());
    EXPECT_THROW(translate_placeholders("SELECT ?0"), std::invalid_argument);
    EXPECT_THROW(translate_placeholders("SELECT ?99999"), std::invalid_argument);
}

std::string value_of(const detail::ConnectSettings& settings, const std::string& keyword) {
    for (size_t i = 0; i < settings.keywords.size(); ++i)
        if (settings.keywords[i] == keyword) return settings.values[i];
    return "(unset)";
}

TEST(PostgresDsn, LoopbackAndSocketsNeedNoTlsButOtherHostsNeedItVerified) {
    auto local = connect_settings("host=127.0.0.1,/run/postgresql,localhost port=5432 dbname=k", "k");
    EXPECT_TRUE(local.loopback_only);
    EXPECT_EQ(value_of(local, "sslmode"), "(unset)");
    auto remote = connect_settings("host=db1.example.test,db2.example.test dbname=k", "k");
    EXPECT_FALSE(remote.loopback_only);
    EXPECT_EQ(value_of(remote, "sslmode"), "verify-full") << "verified TLS by default";
    EXPECT_EQ(value_of(connect_settings("host=db1.example.test sslmode=verify-ca", "k"), "sslmode"), "verify-ca");
    for (const char* weak : {"disable", "allow", "prefer", "require"}) {
        try {
            connect_settings(std::string("host=10.1.2.3 sslmode=") + weak, "k");
            FAIL() << weak << " must be refused for a host off this machine";
        } catch (const StoreError& e) {
            EXPECT_NE(std::string(e.what()).find("verify-full"), std::string::npos) << e.what();
        }
    }
    // A hostaddr off the machine counts, whatever the host name says.
    EXPECT_FALSE(connect_settings("host=localhost hostaddr=10.1.2.3", "k").loopback_only);
}

TEST(PostgresDsn, SessionsAreReadWriteSoThatAPromotedStandbyIsFound) {
    auto several = connect_settings("postgresql://kh@127.0.0.1:5432,127.0.0.2:5433/keyholder", "k");
    EXPECT_EQ(value_of(several, "target_session_attrs"), "read-write");
    EXPECT_EQ(value_of(several, "connect_timeout"), "5");
    EXPECT_EQ(value_of(several, "client_encoding"), "UTF8");
    EXPECT_EQ(value_of(connect_settings("host=/tmp target_session_attrs=primary", "k"), "target_session_attrs"),
              "primary");
    EXPECT_THROW(connect_settings("host=/tmp target_session_attrs=any", "k"), StoreError);
    EXPECT_THROW(connect_settings("host=/tmp target_session_attrs=standby", "k"), StoreError);
}

TEST(PostgresDsn, NoMessageCarriesThePassword) {
    EXPECT_EQ(Location::postgresql("host=h password=s3cr3t dbname=k").describe(),
              "postgresql host=h password=*** dbname=k");
    EXPECT_EQ(Location::postgresql("host=h password='a b\\' c' dbname=k").describe(),
              "postgresql host=h password=*** dbname=k");
    EXPECT_EQ(Location::postgresql("postgresql://kh:s3cr3t@db1:5432/k").describe(),
              "postgresql postgresql://kh:***@db1:5432/k");
    try {
        connect_settings("host=h password=s3cr3t dbname", "described");
        FAIL();
    } catch (const StoreError& e) {
        EXPECT_EQ(std::string(e.what()).find("s3cr3t"), std::string::npos) << e.what();
    }
    auto& server = PostgresSandbox::shared();
    const std::string wrong = "host=127.0.0.1 port=" + std::to_string(server.port()) +
                              " user=keyholder password=Wr0ng-S3cret dbname=postgres";
    try {
        Connection::open(Location::postgresql(wrong));
        FAIL() << "a wrong password must not connect";
    } catch (const StoreError& e) {
        const std::string message = e.what();
        EXPECT_EQ(message.find("Wr0ng-S3cret"), std::string::npos) << message;
        EXPECT_NE(message.find("password authentication failed"), std::string::npos) << message;
    }
}

TEST(PostgresTls, VerifiedTlsToTheServerAndARefusalForAnotherCa) {
    auto& server = PostgresSandbox::shared();
    const std::string base = server.create_database();
    auto verified =
        Connection::open(Location::postgresql(base + " sslmode=verify-full sslrootcert=" + server.ca_file().string()));
    auto ssl = verified.prepare("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
    ASSERT_TRUE(ssl.step());
    EXPECT_EQ(ssl.column_int64(0), 1);
    // A CA that did not sign the server's certificate: refused, whatever else is right.
    keyholder::testing::TempDir other;
    const auto other_ca = other / "other-ca.crt";
    ASSERT_EQ(std::system(("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=other -keyout " +
                           (other / "k").string() + " -out " + other_ca.string() + " 2>/dev/null")
                              .c_str()),
              0);
    EXPECT_THROW(Connection::open(Location::postgresql(base + " sslmode=verify-full sslrootcert=" + other_ca.string())),
                 StoreError);
}

// A long result streams (one row at a time from the server, so that a report or the
// audit chain never sits in memory whole); another statement on the same session
// meanwhile gets it (the rest of the rows are read in first), and a statement left in
// the middle of its rows leaves the session clean.
TEST(PostgresSession, LongResultsStreamAndGiveWayToAnotherStatement) {
    auto& server = PostgresSandbox::shared();
    auto db = Connection::open(Location::postgresql(server.create_database()));
    db.exec_script("CREATE TABLE n(v BIGINT); INSERT INTO n SELECT generate_series(1, 5000)");
    auto rows = db.prepare("SELECT v FROM n ORDER BY v");
    int64_t expected = 1;
    for (; expected <= 10; ++expected) {
        ASSERT_TRUE(rows.step());
        EXPECT_EQ(rows.column_int64(0), expected);
    }
    {
        auto count = db.prepare("SELECT count(*) FROM n WHERE v > ?");
        count.bind(1, 4000);
        ASSERT_TRUE(count.step());
        EXPECT_EQ(count.column_int64(0), 1000);
        Transaction tx(db); // a write in the middle, too
        db.prepare("INSERT INTO n(v) VALUES (0)").run();
        EXPECT_EQ(db.changes(), 1);
        tx.commit();
    }
    for (; rows.step(); ++expected)
        ASSERT_EQ(rows.column_int64(0), expected);
    EXPECT_EQ(expected, 5001) << "every row, in order, as of the statement's start";
    EXPECT_TRUE(rows.step()) << "stepped past its end, it runs again";
    EXPECT_EQ(rows.column_int64(0), 0);
    {
        auto left = db.prepare("SELECT v FROM n");
        ASSERT_TRUE(left.step());
    } // destroyed in the middle of its rows
    auto after = db.prepare("SELECT count(*) FROM n");
    ASSERT_TRUE(after.step());
    EXPECT_EQ(after.column_int64(0), 5001);
    EXPECT_THROW(db.prepare("SELECT v / 0 FROM n").run(), StoreError) << "an error in the stream is an error";
    after.reset();
    ASSERT_TRUE(after.step()) << "and the session goes on after it";
    EXPECT_EQ(after.column_int64(0), 5001);
}

// A commit that returned is durable: the server is killed (SIGKILL, as a power cut
// would stop it) the moment the last commit returns, and after its restart every
// committed row is there. (Writers commit without waiting for the disk and then wait
// for a flush that covers them; a flush transaction that wrote no WAL record was no
// flush at all, and this test lost the schema then.)
TEST(PostgresSession, ACommitThatReturnedSurvivesACrashOfTheServer) {
    PostgresSandbox server; // its own: this test kills it
    const Location location = Location::postgresql(server.create_database());
    {
        auto opened = open_store(location);
        Connection& db = opened.connection;
        db.exec_script("CREATE TABLE durable(n BIGINT)");
        for (int n = 1; n <= 200; ++n) {
            Transaction tx(db);
            db.prepare("INSERT INTO durable(n) VALUES (?)").bind(1, n).run();
            tx.commit();
        }
        server.kill();
    }
    server.start();
    auto db = Connection::open(location);
    auto count = db.prepare("SELECT count(*), coalesce(max(n), 0) FROM durable");
    ASSERT_TRUE(count.step());
    EXPECT_EQ(count.column_int64(0), 200);
    EXPECT_EQ(count.column_int64(1), 200);
    EXPECT_EQ(current_schema_version(db), latest_schema_version(Backend::postgresql));
}

// The server restarts (a failover, maintenance): a session outside a transaction
// reconnects at its next statement; inside one the transaction fails and nothing
// of it is kept.
TEST(PostgresSession, ComesBackAfterTheServerRestartedButNeverInsideATransaction) {
    PostgresSandbox server; // its own: this test stops it
    auto opened = open_store(Location::postgresql(server.create_database()));
    Connection& db = opened.connection;
    {
        Transaction tx(db);
        db.prepare("INSERT INTO policies(name, definition, updated_at) VALUES ('before', '{}', 1)").run();
        tx.commit();
    }
    auto cached_count = [&] {
        auto s = db.cached("SELECT count(*) FROM policies");
        s->step();
        return s->column_int64(0);
    };
    EXPECT_EQ(cached_count(), 1);
    {
        Transaction tx(db);
        db.prepare("INSERT INTO policies(name, definition, updated_at) VALUES ('lost', '{}', 1)").run();
        server.kill();
        server.start();
        EXPECT_THROW(db.prepare("INSERT INTO policies(name, definition, updated_at) VALUES ('x', '{}', 1)").run(),
                     StoreError);
        EXPECT_THROW(tx.commit(), StoreError);
    }
    EXPECT_FALSE(db.in_transaction());
    EXPECT_EQ(cached_count(), 1) << "reconnected, its prepared statements made again, the lost transaction gone";
    server.stop();
    EXPECT_THROW(cached_count(), StoreError) << "no server: an error, not a hang";
    server.start();
    EXPECT_EQ(cached_count(), 1);
}

// Answers within a bound, or none: a session waits for the server's next answer
// at most answer_timeout (never less than busy_timeout + 2 s), then the store
// throws, ends the backend (from a session of its own, best effort) and drops the
// session. The bounds asserted here are generous: they tell "answered" from "hung".
ConnectionOptions quick_to_give_up() {
    ConnectionOptions options;
    options.busy_timeout = std::chrono::milliseconds(500);
    options.answer_timeout = std::chrono::milliseconds(2500);
    return options;
}

void write_policy(Connection& db, const std::string& name) {
    Transaction tx(db);
    db.prepare("INSERT INTO policies(name, definition, updated_at) VALUES (?, '{}', 1)").bind(1, name).run();
    tx.commit();
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST(PostgresAnswers, AFrozenServerIsAStoreErrorInBoundedTimeAndTheSessionComesBack) {
    PostgresSandbox server; // its own: this test freezes it
    auto opened = open_store(Location::postgresql(server.create_database()), quick_to_give_up());
    Connection& db = opened.connection;
    auto write = [&](const std::string& name) { write_policy(db, name); };
    write("before");
    std::string message;
    double waited = 0;
    {
        server.pause();
        auto resume = gsl::finally([&] { server.resume(); });
        const auto start = std::chrono::steady_clock::now();
        try {
            write("frozen");
        } catch (const StoreError& error) {
            message = error.what();
        }
        waited = seconds_since(start);
    }
    EXPECT_NE(message.find("no answer within 2500 ms ([store] answer_timeout)"), std::string::npos) << message;
    EXPECT_GE(waited, 2.4);
    EXPECT_LT(waited, 20.0) << "a hung server must not hang the caller";
    EXPECT_FALSE(db.in_transaction());
    write("after"); // a new session
    auto names = db.prepare("SELECT string_agg(name, ',' ORDER BY name) FROM policies");
    ASSERT_TRUE(names.step());
    EXPECT_EQ(names.column_text(0), "after,before");
}

// A synchronous standby that dies makes every commit on the primary wait for it. A
// durable commit is then a StoreError ("not confirmed": the primary has it, the
// standby may not) in bounded time, its waiting backend is ended, and commits are
// confirmed again once a standby is back.
TEST(PostgresAnswers, ADeadSynchronousStandbyMakesADurableCommitAnErrorNotAHang) {
    PostgresSandbox primary;
    PostgresSandbox standby(&primary, "standby1");
    primary.make_synchronous("standby1");
    auto opened = open_store(Location::postgresql(primary.create_database()), quick_to_give_up());
    Connection& db = opened.connection;
    auto write = [&](const std::string& name) { write_policy(db, name); };
    write("confirmed");
    standby.stop();
    std::string message;
    const auto start = std::chrono::steady_clock::now();
    try {
        write("unconfirmed");
    } catch (const StoreError& error) {
        message = error.what();
    }
    const double waited = seconds_since(start);
    EXPECT_NE(message.find("is not confirmed"), std::string::npos) << message;
    EXPECT_NE(message.find("answer_timeout"), std::string::npos) << message;
    EXPECT_LT(waited, 20.0) << "a dead standby must not hang the caller";
    EXPECT_EQ(primary.sql("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'"), "0")
        << "the backend that waited for the standby was ended";
    standby.start(); // a new copy of the primary, under the same name: synchronous again
    write("confirmed again");
    auto names = db.prepare("SELECT string_agg(name, ',' ORDER BY name) FROM policies");
    ASSERT_TRUE(names.step());
    // The unconfirmed commit was made on the primary (the error says it may have been).
    EXPECT_EQ(names.column_text(0), "confirmed,confirmed again,unconfirmed");
}

// The scheduler's leadership: one node at a time; a leader whose session ends is
// replaced at the next ask; a leader that stays connected but stops renewing (a hung
// or frozen process) is ended by the next node that asks once its session has been
// idle for stale_after, and one that keeps renewing is never ended.
TEST(PostgresLeadership, OneLeadsAndAnotherTakesOverWhenItsSessionEnds) {
    const Location location = Location::postgresql(PostgresSandbox::shared().create_database());
    auto first = std::make_unique<Leadership>(location, ConnectionOptions{});
    Leadership second(location, ConnectionOptions{});
    ASSERT_TRUE(first->renew()) << first->why();
    EXPECT_FALSE(second.renew());
    EXPECT_NE(second.why().find("another node leads"), std::string::npos) << second.why();
    EXPECT_TRUE(first->renew()) << "still its session's";
    first.reset(); // its session ends (a node killed)
    bool took = false;
    for (int attempt = 0; attempt < 50 && !took; ++attempt) {
        took = second.renew();
        if (!took) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_TRUE(took) << second.why();
}

TEST(PostgresLeadership, ALeaderThatStopsRenewingIsEndedAndReplaced) {
    const Location location = Location::postgresql(PostgresSandbox::shared().create_database());
    const auto stale_after = std::chrono::seconds(2);
    Leadership leader(location, ConnectionOptions{}, stale_after);
    Leadership other(location, ConnectionOptions{}, stale_after);
    ASSERT_TRUE(leader.renew()) << leader.why();
    // A leader that renews (every half second here) is never ended.
    for (int tick = 0; tick < 8; ++tick) {
        EXPECT_FALSE(other.renew()) << "tick " << tick << ": " << other.why();
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        ASSERT_TRUE(leader.renew()) << leader.why();
    }
    // It stops renewing; its session stays open.
    const auto stopped = std::chrono::steady_clock::now();
    bool took = false;
    while (!took && seconds_since(stopped) < 15) {
        took = other.renew();
        if (!took) std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    ASSERT_TRUE(took) << other.why();
    EXPECT_GE(seconds_since(stopped), 1.9) << "not before it was stale";
    EXPECT_NE(other.why().find("ended the previous leader's session"), std::string::npos) << other.why();
    EXPECT_FALSE(leader.renew()) << "it learns at its next renew that it lost the lock";
    EXPECT_NE(leader.why().find("terminating connection due to administrator command"), std::string::npos)
        << leader.why();
    EXPECT_FALSE(leader.renew()) << "on a new session";
    EXPECT_NE(leader.why().find("another node leads"), std::string::npos) << leader.why();
    EXPECT_TRUE(other.renew());
}

// A node that hangs inside a write transaction (it holds the writers' lock) does not
// stop the writers of the other nodes for longer than writer_stall_limit: the server
// ends its transaction and session; its commit, when it wakes, fails.
TEST(PostgresAnswers, AWriterThatStallsInsideItsTransactionLosesItAndTheLock) {
    const Location location = Location::postgresql(PostgresSandbox::shared().create_database());
    ConnectionOptions options;
    options.writer_stall_limit = std::chrono::milliseconds(1500);
    options.busy_timeout = std::chrono::milliseconds(8000);
    options.answer_timeout = std::chrono::milliseconds(12000);
    auto opened = open_store(location, options);
    Connection other = Connection::open(location, options);
    Connection& stalled = opened.connection;
    Transaction hung(stalled);
    stalled.prepare("INSERT INTO policies(name, definition, updated_at) VALUES ('stalled', '{}', 1)").run();
    // It sends nothing more; the other node's writer waits for the lock meanwhile.
    const auto start = std::chrono::steady_clock::now();
    write_policy(other, "other node");
    const double waited = seconds_since(start);
    EXPECT_GE(waited, 1.0) << "it waited for the lock";
    EXPECT_LT(waited, 7.0) << "not for the whole busy_timeout: the stalled transaction was ended";
    EXPECT_THROW(hung.commit(), StoreError);
    auto names = other.prepare("SELECT string_agg(name, ',') FROM policies");
    ASSERT_TRUE(names.step());
    EXPECT_EQ(names.column_text(0), "other node");
    write_policy(stalled, "stalled, then again"); // its connection comes back on a new session
}

} // namespace
