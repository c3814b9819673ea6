// Reports: every report over a fixture database compared with golden CSV files
// (tests/golden/*.csv; regenerate with KEYHOLDER_UPDATE_GOLDEN=1 and review the
// diff), filters, and hostile cell content: quotes, commas, newlines, formula
// prefixes, non-ASCII and invalid UTF-8 stored in the database.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "keyholder/reports/csv.h"
#include "keyholder/reports/report_writer.h"
#include "keyholder/store/audit.h"
#include "keyholder/store/checkouts.h"
#include "keyholder/store/records.h"
#include "keyholder/store/store.h"
#include "support/berlin_time.h"
#include "support/store_backends.h"
#include "support/temp_dir.h"

namespace {

using namespace keyholder;
using keyholder::testing::TempDir;

const std::filesystem::path kGolden = std::filesystem::path(KEYHOLDER_SOURCE_DIR) / "tests/golden";
constexpr int64_t kT = 1'793'523'600; // 2026-11-01T09:00:00Z

TEST(Csv, CellsAreQuotedNeutralisedAndValidUtf8) {
    EXPECT_EQ(reports::csv_cell("plain"), "plain");
    EXPECT_EQ(reports::csv_cell("a,b"), "\"a,b\"");
    EXPECT_EQ(reports::csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
    EXPECT_EQ(reports::csv_cell("two\r\nlines"), "\"two\r\nlines\"");
    for (const std::string formula : {"=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"})
        EXPECT_EQ(reports::csv_cell(formula).find('\''), formula[0] == '\r' ? 1U : 0U) << formula;
    EXPECT_EQ(reports::csv_cell("=HYPERLINK(\"http://x\")"), "\"'=HYPERLINK(\"\"http://x\"\")\"");
    EXPECT_EQ(reports::csv_cell("Zoë"), "Zoë");
    EXPECT_EQ(reports::csv_cell("bad\xff\xfe byte"), "bad\xEF\xBF\xBD\xEF\xBF\xBD byte");
    EXPECT_EQ(reports::csv_cell("\xC0\xAF overlong"), "\xEF\xBF\xBD\xEF\xBF\xBD overlong");
    EXPECT_EQ(reports::csv_cell("cut \xE2\x82"), "cut \xEF\xBF\xBD\xEF\xBF\xBD");
    std::ostringstream out;
    reports::CsvWriter csv(out, true);
    csv.row(std::vector<std::optional<std::string>>{"a", std::nullopt, "c"});
    EXPECT_EQ(out.str(), "\xEF\xBB\xBF"
                         "a,,c\r\n");
}

class Reports : public ::testing::TestWithParam<store::Backend> {
protected:
    void SetUp() override {
        opened_ = std::make_unique<store::OpenedStore>(
            store::open_store(keyholder::testing::fresh_location(GetParam(), dir_)));
        auto& db = opened_->connection;
        store::Transaction tx(db);
        const int64_t policy = store::upsert_policy(tx, "tier0", "{}", kT);
        const int64_t entry =
            store::upsert_entry(tx, {"domain-admin", "Domain Admin", policy, "password", "da", {}}, kT);
        store::NewRequest hostile{entry, "S-1-5-21-1-2-3-1104", "bob", "Zoë \"Bob\" Ünïcode",
                                  // A byte that is not UTF-8 (SQLite keeps it; PostgreSQL cannot, so
                                  // there it is the replacement character the report writes for it).
                                  GetParam() == store::Backend::sqlite
                                      ? "=cmd|' /C calc'!A0, then \"fix\"\nline two \xff"
                                      : "=cmd|' /C calc'!A0, then \"fix\"\nline two \xEF\xBF\xBD",
                                  "+SUM(1)", kT, std::nullopt, 7200, kT + 3600, std::nullopt};
        const int64_t first = store::insert_request(tx, hostile);
        // carol grants 1 h of the 2 h asked.
        store::insert_approval(
            tx, {0, first, 1, "S-1-5-21-1-2-3-1105", "carol", "approve", "-ok, go", "link", kT + 60, 3600});
        store::change_request_state(tx, first, store::RequestState::pending, store::RequestState::active, std::nullopt,
                                    kT + 60);
        store::CheckoutRow checkout;
        checkout.request_id = first;
        checkout.entry_id = entry;
        checkout.holder_sid = hostile.requester_sid;
        checkout.holder_name = "bob";
        checkout.starts_at = kT + 60;
        checkout.ends_at = kT + 60 + 3600;
        checkout.state = store::CheckoutState::active;
        const int64_t c = store::insert_checkout(tx, checkout);
        store::count_retrieval(tx, c);
        store::count_retrieval(tx, c);
        store::end_checkout(tx, c, store::EndReason::checked_in, kT + 1800);
        store::change_request_state(tx, first, store::RequestState::active, store::RequestState::ended);
        auto claim = store::claim_takeback(tx, c, kT + 1800, kT + 2100);
        store::finish_takeback(tx, *claim, store::Progress::done, std::nullopt, std::nullopt);
        const int64_t second =
            store::insert_request(tx, {entry, "S-1-5-21-1-2-3-1106", "dave", "Dave Admin", "audit", std::nullopt,
                                       kT + 86400, kT + 90000, 3600, kT + 90000, std::nullopt});
        store::insert_approval(
            tx, {0, second, 1, "S-1-5-21-1-2-3-1107", "alice", "deny", "@later", "api", kT + 86460, std::nullopt});
        store::change_request_state(tx, second, store::RequestState::pending, store::RequestState::denied, std::nullopt,
                                    kT + 86460);
        const int64_t third =
            store::insert_request(tx, {entry, "S-1-5-21-1-2-3-1104", "bob", "Bob", "pending one", "CHG-1",
                                       kT + 2 * 86400, std::nullopt, 600, kT + 3 * 86400, std::nullopt});
        store::CheckoutRow active = checkout;
        active.request_id = third;
        active.starts_at = kT + 2 * 86400;
        active.ends_at = kT + 2 * 86400 + 600;
        store::insert_checkout(tx, active);
        store::append_audit_event(tx, {kT, "system", "service.started", "service", R"({"version":"test"})"});
        store::append_audit_event(
            tx, {kT + 60, "S-1-5-21-1-2-3-1105", "request.approval", "request:1", R"({"comment":"=1+1"})"});
        tx.commit();
    }

    std::string csv(const std::string& report, const store::ReportFilter& filter = {}) {
        std::ostringstream out;
        reports::write_report(opened_->connection, report, filter, out);
        return out.str();
    }

    void expect_golden(const std::string& name, const std::string& actual) {
        const auto file = kGolden / name;
        if (std::getenv("KEYHOLDER_UPDATE_GOLDEN")) {
            std::ofstream(file, std::ios::binary) << actual;
            return;
        }
        std::ifstream in(file, std::ios::binary);
        ASSERT_TRUE(in) << "missing " << file << " (KEYHOLDER_UPDATE_GOLDEN=1 writes it)";
        std::string expected((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        EXPECT_EQ(actual, expected) << name;
    }

    TempDir dir_;
    std::unique_ptr<store::OpenedStore> opened_;
};

TEST_P(Reports, EveryReportMatchesItsGoldenFile) {
    for (const auto& name : store::report_names()) {
        expect_golden(name + ".csv", csv(name)); // audit hashes are deterministic for fixed content
    }
}

TEST_P(Reports, FiltersSelectRows) {
    auto count = [](const std::string& text) { // records end in CRLF; a bare LF inside a cell does not count
        int64_t n = -1;
        for (size_t at = text.find("\r\n"); at != std::string::npos; at = text.find("\r\n", at + 2))
            ++n;
        return n;
    };
    EXPECT_EQ(count(csv("checkout-requests")), 3);
    store::ReportFilter window;
    window.from = kT;
    window.to = kT + 86400;
    EXPECT_EQ(count(csv("checkout-requests", window)), 1);
    store::ReportFilter by_requester;
    by_requester.requester = "S-1-5-21-1-2-3-1104";
    EXPECT_EQ(count(csv("checkout-requests", by_requester)), 2);
    store::ReportFilter by_state;
    by_state.state = "denied";
    EXPECT_EQ(count(csv("checkout-requests", by_state)), 1);
    EXPECT_EQ(count(csv("approvals", by_state)), 1);
    store::ReportFilter by_entry;
    by_entry.entry = "other";
    EXPECT_EQ(count(csv("checkout-requests", by_entry)), 0);
    EXPECT_EQ(count(csv("active-checkouts")), 1);
}

TEST_P(Reports, LocalTimeCarriesTheOffset) {
    {
        keyholder::testing::BerlinTime zone;
        if (!zone.active()) GTEST_SKIP() << "local time is not Europe/Berlin here (see support/berlin_time.h)";
        EXPECT_EQ(reports::format_time(kT, true), "2026-11-01T10:00:00+01:00");
        EXPECT_EQ(reports::format_time(1'785'661'200, true), "2026-08-02T11:00:00+02:00"); // summer time
    }
    EXPECT_EQ(reports::format_time(kT, false), "2026-11-01T09:00:00Z");
}

INSTANTIATE_TEST_SUITE_P(Engines, Reports, ::testing::ValuesIn(keyholder::testing::store_backends()),
                         keyholder::testing::engine_name);

} // namespace
