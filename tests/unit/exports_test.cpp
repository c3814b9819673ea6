// Scheduled exports with an injected clock on a real SQLite file and real folders:
// a run missed while the service was down runs once at start; files are complete
// with a SHA-256 sidecar and a report_runs row; a failed run leaves no partial file,
// is recorded and retried; a restart does not run a finished export again.
#include <gtest/gtest.h>

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>

#include <fstream>

#include "keyholder/config/config.h"
#include "keyholder/core/clock.h"
#include "keyholder/core/links.h"
#include "keyholder/notify/mailer.h"
#include "keyholder/notify/outbox_worker.h"
#include "keyholder/notify/templates.h"
#include "keyholder/platform/files.h"
#include "keyholder/reports/exports.h"
#include "keyholder/store/audit.h"
#include "keyholder/store/outbox.h"
#include "keyholder/store/records.h"
#include "keyholder/store/reports.h"
#include "keyholder/store/store.h"
#include "support/store_backends.h"
#include "support/temp_dir.h"
#include "support/utc.h"

namespace {

using keyholder::testing::utc;

using namespace keyholder;
using keyholder::testing::TempDir;

std::string read(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class Exports : public ::testing::TestWithParam<store::Backend> {
protected:
    void SetUp() override {
        dir_.write("data/ldap.password", "pw");
        std::filesystem::create_directories(dir_ / "out");
        auto file = dir_.write("k.ini", "[service]\ndata_dir = data\nadmin_groups = A\n"
                                        "[ldap]\nuris = ldaps://dc1\nbase_dn = dc=x\nbind_dn = cn=s\n"
                                        "bind_password_file = ldap.password\n"
                                        "[policy.p]\nrequester_groups = Ops\nstage1_approvers = Leads\n"
                                        "[entry.e]\npolicy = p\nrelease = group\ngroup = G\n"
                                        "[report.weekly]\nreport = checkout-requests\nschedule = 0 6 * * mon\n"
                                        "window = previous week\nmail_to = auditor@example.com\noutput_dir = " +
                                            (dir_ / "out").string() + "\n");
        auto loaded = config::load_config(file);
        ASSERT_TRUE(loaded) << loaded.error().front().to_string();
        config_ = std::make_unique<config::Config>(std::move(*loaded));
        opened_ = std::make_unique<store::OpenedStore>(
            store::open_store(keyholder::testing::fresh_location(GetParam(), dir_)));
        store::Transaction tx(opened_->connection);
        store::append_audit_event(tx, {utc(2026, 11, 2, 5, 0), "system", "service.started", "service", "{}"});
        const int64_t policy = store::upsert_policy(tx, "p", "{}", utc(2026, 11, 2, 5, 0));
        const int64_t entry = store::upsert_entry(tx, {"e", "E", policy, "group", {}, "G"}, utc(2026, 11, 2, 5, 0));
        for (int day : {3, 10, 11}) // Tue 3rd (week 1), Tue 10th and Wed 11th (week 2)
            store::insert_request(tx, {entry, "S-1-5-21-1-2-3-1104", "bob", "Bob", "r", std::nullopt,
                                       utc(2026, 11, day, 12, 0), std::nullopt, 60, utc(2026, 11, day, 20, 0),
                                       std::nullopt});
        tx.commit();
    }
    std::vector<std::string> files() {
        std::vector<std::string> names;
        for (const auto& f : std::filesystem::directory_iterator(dir_ / "out"))
            names.push_back(f.path().filename().string());
        std::sort(names.begin(), names.end());
        return names;
    }
    int64_t runs(const std::string& state) {
        auto s = opened_->connection.prepare("SELECT count(*) FROM report_runs WHERE state = ?");
        s.bind(1, state);
        s.step();
        return s.column_int64(0);
    }

    TempDir dir_;
    std::unique_ptr<config::Config> config_;
    std::unique_ptr<store::OpenedStore> opened_;
};

TEST_P(Exports, MissedRunRunsOnceAtStartWithSidecar) {
    core::ManualClock clock(utc(2026, 11, 18, 10, 0)); // down since the 2nd: missed the 9th and the 16th
    std::vector<reports::ExportRun> results;
    reports::ExportScheduler exports(*config_, opened_->connection, clock,
                                     [&](const reports::ExportRun& r) { results.push_back(r); });
    EXPECT_EQ(exports.next_due(), utc(2026, 11, 16, 6, 0)); // only the latest missed one
    EXPECT_EQ(exports.run_due(), utc(2026, 11, 23, 6, 0));
    ASSERT_EQ(results.size(), 1U);
    EXPECT_TRUE(results[0].ok) << results[0].error;
    EXPECT_EQ(results[0].rows, 2); // the 10th and the 11th: previous week of Mon 16th
    EXPECT_EQ(files(), (std::vector<std::string>{"weekly-20261116-0600.csv", "weekly-20261116-0600.csv.sha256"}));
    const std::string csv = read(dir_ / "out/weekly-20261116-0600.csv");
    Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
    sha.update(csv);
    const std::string hex = Poco::DigestEngine::digestToHex(sha.digest());
    EXPECT_EQ(read(dir_ / "out/weekly-20261116-0600.csv.sha256"), hex + "  weekly-20261116-0600.csv\n");
    EXPECT_EQ(runs("succeeded"), 1);
    EXPECT_EQ(exports.run_due(), utc(2026, 11, 23, 6, 0)); // nothing more now
    EXPECT_EQ(results.size(), 1U);
    // mail_to: the file goes out attached, through the outbox.
    auto due = store::due_notifications(opened_->connection, clock.now());
    ASSERT_EQ(due.size(), 1U);
    EXPECT_EQ(due[0].kind, "report_ready");
    EXPECT_EQ(due[0].recipient, "auditor@example.com");
    config::SmtpSection pickup;
    pickup.pickup_dir = dir_ / "pickup";
    auto mailer = notify::make_mailer(pickup);
    auto templates = notify::Templates::builtin();
    core::LinkSigner links(std::vector<unsigned char>(32, 1));
    notify::OutboxWorker worker(*config_, opened_->connection, *mailer, templates, links, clock);
    EXPECT_EQ(worker.run_due().sent, 1);
    std::string mail;
    for (const auto& f : std::filesystem::directory_iterator(dir_ / "pickup"))
        mail = read(f.path());
    EXPECT_NE(mail.find("Subject: [keyholder] Report weekly: 2 rows"), std::string::npos) << mail;
    EXPECT_NE(mail.find("filename=weekly-20261116-0600.csv"), std::string::npos) << mail;
    std::string unfolded; // quoted-printable soft line breaks removed
    for (size_t i = 0; i < mail.size(); ++i) {
        if (mail.compare(i, 3, "=\r\n") == 0) {
            i += 2;
            continue;
        }
        unfolded += mail[i];
    }
    EXPECT_NE(unfolded.find(hex), std::string::npos) << mail;
    // A restart does not run it again.
    reports::ExportScheduler again(*config_, opened_->connection, clock);
    EXPECT_EQ(again.next_due(), utc(2026, 11, 23, 6, 0));
}

// Two nodes (two schedulers, their own connections, built before either ran): a due
// time is exported once. The second finds the run claimed (running, within its lease)
// or succeeded, writes nothing and says so; a run whose runner died (its lease over)
// is run again.
TEST_P(Exports, TwoSchedulersExportADueTimeOnce) {
    core::ManualClock clock(utc(2026, 11, 16, 6, 0));
    auto second_connection = store::Connection::open(opened_->connection.location());
    std::vector<reports::ExportRun> first_results, second_results;
    reports::ExportScheduler first(*config_, opened_->connection, clock,
                                   [&](const reports::ExportRun& r) { first_results.push_back(r); });
    reports::ExportScheduler second(*config_, second_connection, clock,
                                    [&](const reports::ExportRun& r) { second_results.push_back(r); });
    {
        // A run another node began a minute ago and is still on.
        store::Transaction tx(second_connection);
        ASSERT_GT(store::begin_report_run(tx, std::string("weekly"), "checkout-requests", 0, 1, utc(2026, 11, 16, 6, 0),
                                          clock.now() - 60, 1),
                  0);
        tx.commit();
    }
    EXPECT_EQ(first.run_due(), clock.now() + 60) << "claimed by another runner: asked again in a minute";
    EXPECT_TRUE(first_results.empty()) << "not run, not counted";
    EXPECT_TRUE(files().empty());
    clock.advance(std::chrono::seconds(store::kReportRunLeaseSeconds + 60)); // that runner died
    first.run_due();
    ASSERT_EQ(first_results.size(), 1U);
    EXPECT_TRUE(first_results[0].ok) << first_results[0].error;
    EXPECT_EQ(files().size(), 2U);
    second.run_due(); // the other node, after a change of leader: done already
    EXPECT_TRUE(second_results.empty());
    EXPECT_EQ(runs("succeeded"), 1);
    EXPECT_EQ(files().size(), 2U);
}

TEST_P(Exports, AMissingOutputFolderIsMadePrivate) {
    std::filesystem::remove_all(dir_ / "out");
    core::ManualClock clock(utc(2026, 11, 16, 6, 0) - 30);
    std::vector<reports::ExportRun> results;
    reports::ExportScheduler exports(*config_, opened_->connection, clock,
                                     [&](const reports::ExportRun& r) { results.push_back(r); });
    exports.run_due();
    ASSERT_EQ(results.size(), 1U);
    EXPECT_TRUE(results[0].ok) << results[0].error;
    EXPECT_EQ(keyholder::platform::not_private(dir_ / "out"), std::nullopt);
    EXPECT_EQ(files(), (std::vector<std::string>{"weekly-20261109-0600.csv", "weekly-20261109-0600.csv.sha256"}));
}

TEST_P(Exports, FailedRunLeavesNoFileAndIsRetried) {
    // A file where the output folder should be: the folder cannot be made.
    std::filesystem::remove_all(dir_ / "out");
    std::ofstream(dir_ / "out") << "not a folder";
    core::ManualClock clock(utc(2026, 11, 16, 6, 0) - 30); // the run of the 9th is owed
    std::vector<reports::ExportRun> results;
    reports::ExportScheduler exports(*config_, opened_->connection, clock,
                                     [&](const reports::ExportRun& r) { results.push_back(r); });
    // It fails, and as the next run (06:00) comes before the retry would, that one
    // takes over.
    EXPECT_EQ(exports.run_due(), utc(2026, 11, 16, 6, 0));
    ASSERT_EQ(results.size(), 1U);
    EXPECT_FALSE(results[0].ok);
    EXPECT_EQ(results[0].due_at, utc(2026, 11, 9, 6, 0));
    EXPECT_NE(results[0].error.find("cannot create the output folder"), std::string::npos) << results[0].error;
    EXPECT_EQ(runs("failed"), 1);
    // A folder where the CSV should go: the rename fails, nothing is left but that folder.
    std::filesystem::remove(dir_ / "out");
    std::filesystem::create_directories(dir_ / "out/weekly-20261116-0600.csv");
    clock.advance(std::chrono::seconds(30));
    EXPECT_EQ(exports.run_due(), utc(2026, 11, 16, 6, 1)); // retried in a minute
    EXPECT_FALSE(results.back().ok);
    EXPECT_EQ(files(), (std::vector<std::string>{"weekly-20261116-0600.csv"})); // no temporary, no sidecar
    std::filesystem::remove(dir_ / "out/weekly-20261116-0600.csv");
    clock.advance(std::chrono::seconds(60));
    EXPECT_EQ(exports.run_due(), utc(2026, 11, 23, 6, 0));
    EXPECT_TRUE(results.back().ok) << results.back().error;
    EXPECT_EQ(files(), (std::vector<std::string>{"weekly-20261116-0600.csv", "weekly-20261116-0600.csv.sha256"}));
    EXPECT_EQ(runs("failed"), 2);
    EXPECT_EQ(runs("succeeded"), 1);
    auto attempt = opened_->connection.prepare("SELECT max(attempt) FROM report_runs WHERE state = 'succeeded'");
    attempt.step();
    EXPECT_EQ(attempt.column_int64(0), 2);
}

INSTANTIATE_TEST_SUITE_P(Engines, Exports, ::testing::ValuesIn(keyholder::testing::store_backends()),
                         keyholder::testing::engine_name);

} // namespace
