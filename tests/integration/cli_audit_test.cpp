// keyholder audit verify: exit 0 and the head hash on an intact chain; exit 1 and
// the first bad event named after a change, a removal or a swap done with raw SQL.
// keyholder store copy: a SQLite store onto PostgreSQL, its chain verified there,
// and the refusals (a non-empty target, a password on the command line).
#include <gtest/gtest.h>

#include <poll.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <thread>

#include "keyholder/store/audit.h"
#include "keyholder/store/store.h"
#include "support/child_process.h"
#include "support/postgres.h"
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

// keyholder backup while another connection keeps appending: the copy is one committed
// state (its chain verifies, its events are a prefix of the source's), private, and
// an existing file is never overwritten.
TEST_F(AuditVerifyCommand, BackupWhileWritesGoOnIsOneCommittedStateAndPrivate) {
    {
        // Enough pages that the copy takes many steps (256 pages each).
        auto opened = open_store(db_);
        Transaction tx(opened.connection);
        for (int i = 0; i < 20000; ++i)
            append_audit_event(tx, {3000 + i, "system", "checkout.ended", "checkout:" + std::to_string(i),
                                    "{\"padding\":\"" + std::string(200, 'x') + "\"}"});
        tx.commit();
    }
    std::atomic<bool> stop{false};
    std::atomic<int> written{0};
    std::thread writer([&] {
        auto opened = open_store(db_);
        while (!stop) {
            Transaction tx(opened.connection);
            append_audit_event(tx, {9000, "system", "checkout.ended", "checkout:w", "{}"});
            tx.commit();
            ++written;
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    });
    const auto out = dir_.path() / "copy.db";
    auto backup = run(kCli, {"backup", "--db", db_.string(), out.string()});
    stop = true;
    writer.join();
    ASSERT_EQ(backup.status, 0) << backup.out << backup.err;
    EXPECT_NE(backup.out.find("(chain verified)"), std::string::npos) << backup.out;
    EXPECT_NE(backup.out.find("back up master_key_file and link_key_file apart"), std::string::npos);
    EXPECT_GT(written.load(), 0);
    EXPECT_EQ(std::filesystem::status(out).permissions() & std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    auto copied = run(kCli, {"audit", "verify", "--db", out.string()});
    EXPECT_EQ(copied.status, 0) << copied.out;
    // A prefix of the source: the copy's head is the source's event of the same number.
    Connection copy = Connection::open(out);
    auto count = copy.prepare("SELECT count(*), max(hash) FILTER (WHERE seq = (SELECT max(seq) FROM audit_events)) "
                              "FROM audit_events");
    ASSERT_TRUE(count.step());
    const int64_t events = count.column_int64(0);
    EXPECT_GE(events, 20005);
    Connection source = Connection::open(db_);
    auto same = source.prepare("SELECT hash FROM audit_events WHERE seq = ?");
    same.bind(1, events);
    ASSERT_TRUE(same.step());
    EXPECT_EQ(same.column_text(0), count.column_text(1));

    auto again = run(kCli, {"backup", "--db", db_.string(), out.string()});
    EXPECT_EQ(again.status, 3);
    EXPECT_NE(again.err.find("never overwrites"), std::string::npos) << again.err;
    EXPECT_EQ(run(kCli, {"backup", "--db", db_.string()}).status, 2);
}

// Ctrl-C at a password prompt: the terminal gets its echo back (a shell would otherwise
// be left typing blind).
TEST(KeyholderCli, CtrlCAtThePasswordPromptLeavesEchoOn) {
    int master = -1;
    int slave = -1;
    ASSERT_EQ(::openpty(&master, &slave, nullptr, nullptr, nullptr), 0);
    termios before{};
    ASSERT_EQ(::tcgetattr(slave, &before), 0);
    ASSERT_TRUE(before.c_lflag & ECHO);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        ::setsid();
        ::ioctl(slave, TIOCSCTTY, 0);
        ::dup2(slave, 0);
        ::dup2(slave, 1);
        ::dup2(slave, 2);
        ::execl(kCli.c_str(), "keyholder", "whoami", "--server", "http://127.0.0.1:1", "--user", "bob", nullptr);
        ::_exit(127);
    }
    std::string seen;
    for (int i = 0; i < 200 && seen.find("password for bob: ") == std::string::npos; ++i) {
        pollfd ready{master, POLLIN, 0};
        if (::poll(&ready, 1, 50) == 1) {
            char buffer[256];
            const ssize_t n = ::read(master, buffer, sizeof buffer);
            if (n > 0) seen.append(buffer, static_cast<size_t>(n));
        }
    }
    ASSERT_NE(seen.find("password for bob: "), std::string::npos) << seen;
    termios prompting{};
    ASSERT_EQ(::tcgetattr(slave, &prompting), 0);
    EXPECT_FALSE(prompting.c_lflag & ECHO) << "the password is not echoed";
    ASSERT_EQ(::write(master, "\x03", 1), 1); // Ctrl-C
    int status = 0;
    for (int i = 0; i < 200 && ::waitpid(pid, &status, WNOHANG) == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT) << status;
    termios after{};
    ASSERT_EQ(::tcgetattr(slave, &after), 0);
    EXPECT_TRUE(after.c_lflag & ECHO) << "echo is back on after Ctrl-C";
    ::close(master);
    ::close(slave);
}

TEST(KeyholderCli, UsageErrorsExitTwo) {
    EXPECT_EQ(run(kCli, {}).status, 2);
    EXPECT_EQ(run(kCli, {"frobnicate"}).status, 2);
    EXPECT_EQ(run(kCli, {"audit", "verify", "--bogus", "x"}).status, 2);
    auto help = run(kCli, {"audit", "verify", "--help"});
    EXPECT_EQ(help.status, 0);
    EXPECT_NE(help.out.find("head hash"), std::string::npos);
}

TEST_F(AuditVerifyCommand, StoreCopyMovesTheStoreOntoPostgresqlWithItsChain) {
    auto& server = PostgresSandbox::shared();
    const std::string dsn = server.create_database();
    const std::string without_password = dsn.substr(0, dsn.find(" password=")) + dsn.substr(dsn.find(" dbname="));
    const std::map<std::string, std::string> env{{"PGPASSWORD", server.password()}};
    const std::string head = verify().out.substr(verify().out.find("head hash "));
    auto copied =
        run(kCli, {"store", "copy", "--from", "sqlite:" + db_.string(), "--to", "postgresql:" + without_password}, env);
    EXPECT_EQ(copied.status, 0) << copied.out << copied.err;
    EXPECT_NE(copied.out.find("audit_events: 5 rows"), std::string::npos) << copied.out;
    EXPECT_NE(copied.out.find("5 audit events, chain verified on the target"), std::string::npos) << copied.out;
    auto there = run(kCli, {"audit", "verify", "--db", "postgresql:" + without_password}, env);
    EXPECT_EQ(there.status, 0) << there.out << there.err;
    EXPECT_NE(there.out.find(head), std::string::npos) << "the same head: " << there.out;
    // Not into a store with rows; nothing written there.
    auto again =
        run(kCli, {"store", "copy", "--from", "sqlite:" + db_.string(), "--to", "postgresql:" + without_password}, env);
    EXPECT_EQ(again.status, 3) << again.out;
    EXPECT_NE(again.err.find("is not empty"), std::string::npos) << again.err;
    EXPECT_EQ(run(kCli, {"audit", "verify", "--db", "postgresql:" + without_password}, env).out, there.out);
    // A password on the command line is refused, and not repeated.
    auto inline_password =
        run(kCli, {"store", "copy", "--from", "sqlite:" + db_.string(), "--to", "postgresql:" + dsn});
    EXPECT_EQ(inline_password.status, 2);
    EXPECT_EQ((inline_password.out + inline_password.err).find(server.password()), std::string::npos);
    // No password at all: libpq's refusal, named.
    auto none = run(kCli, {"audit", "verify", "--db", "postgresql:" + without_password});
    EXPECT_EQ(none.status, 3);
    EXPECT_NE(none.err.find("password"), std::string::npos) << none.err;
}

} // namespace
