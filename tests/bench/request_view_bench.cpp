// request_view_bench: the check-out requests view over 1,000,000 requests (20 entries,
// 2,000 requesters, 50 approvers, every state): the first page of 50 rows for every
// filter, and a later keyset page, next to a bare SQLite query of the same page of
// the requests table alone (no joins, no decisions) in the same run.
// Target: <= 100 ms per first page for every filter.
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "keyholder/store/records.h"
#include "keyholder/store/request_view.h"
#include "keyholder/store/store.h"
#include "sqlite/connection.h" // sqlite_handle (store/src)

namespace {

using Clock = std::chrono::steady_clock;
using keyholder::store::RequestViewQuery;
constexpr int kRows = 1'000'000;
constexpr int64_t kStart = 1'700'000'000;
const char* const kStates[] = {"ended", "ended", "ended", "denied", "lapsed", "cancelled", "active", "pending"};

void generate(const std::filesystem::path& file) {
    using namespace keyholder::store;
    auto opened = open_store(file);
    Transaction tx(opened.connection);
    const int64_t policy = upsert_policy(tx, "tier0", "{}", kStart);
    std::vector<int64_t> entries;
    for (int e = 0; e < 20; ++e)
        entries.push_back(upsert_entry(tx,
                                       {"entry-" + std::to_string(e),
                                        "Entry " + std::to_string(e),
                                        policy,
                                        "password",
                                        "acct" + std::to_string(e),
                                        {}},
                                       kStart));
    sqlite3* db = keyholder::store::detail::sqlite_handle(opened.connection); // bulk load on the raw handle
    sqlite3_stmt *request = nullptr, *approval = nullptr, *checkout = nullptr;
    sqlite3_prepare_v2(db,
                       "INSERT INTO requests(id, entry_id, requester_sid, requester_name, requester_display, reason, "
                       "ticket, requested_at, duration_s, state, stage, deadline_at, decided_at) VALUES "
                       "(?1, ?2, 'S-1-5-21-1-2-3-' || ?3, 'user' || ?3, 'User ' || ?3, 'maintenance', 'CHG-' || ?1, "
                       "?4, 7200, ?5, 1, ?4 + 3600, ?4 + 60)",
                       -1, &request, nullptr);
    sqlite3_prepare_v2(db,
                       "INSERT INTO approvals(request_id, stage, approver_sid, approver_name, decision, via, "
                       "decided_at) VALUES (?1, 1, 'S-1-5-21-1-2-3-9' || ?2, 'lead' || ?2, ?3, 'link', ?4)",
                       -1, &approval, nullptr);
    sqlite3_prepare_v2(db,
                       "INSERT INTO checkouts(request_id, entry_id, holder_sid, holder_name, starts_at, ends_at, "
                       "state, ended_at, end_reason, takeback_state, retrievals) VALUES (?1, ?2, 'S', 'u', ?3, ?3 + "
                       "7200, ?4, CASE WHEN ?4 = 'ended' THEN ?3 + 1800 END, CASE WHEN ?4 = 'ended' THEN "
                       "'checked_in' END, CASE WHEN ?4 = 'ended' THEN 'done' ELSE 'pending' END, 1)",
                       -1, &checkout, nullptr);
    for (int i = 1; i <= kRows; ++i) {
        const int64_t t = kStart + i * 30LL;
        const std::string state = kStates[i % 8];
        sqlite3_bind_int(request, 1, i);
        sqlite3_bind_int64(request, 2, entries[static_cast<size_t>(i % 20)]);
        sqlite3_bind_int(request, 3, i % 2000);
        sqlite3_bind_int64(request, 4, t);
        sqlite3_bind_text(request, 5, state.c_str(), -1, SQLITE_TRANSIENT);
        if (sqlite3_step(request) != SQLITE_DONE) std::abort();
        sqlite3_reset(request);
        if (state != "pending" && state != "lapsed" && state != "cancelled") {
            sqlite3_bind_int(approval, 1, i);
            sqlite3_bind_int(approval, 2, i % 50);
            sqlite3_bind_text(approval, 3, state == "denied" ? "deny" : "approve", -1, SQLITE_STATIC);
            sqlite3_bind_int64(approval, 4, t + 60);
            if (sqlite3_step(approval) != SQLITE_DONE) std::abort();
            sqlite3_reset(approval);
        }
        if (state == "ended" || state == "active") {
            sqlite3_bind_int(checkout, 1, i);
            sqlite3_bind_int64(checkout, 2, entries[static_cast<size_t>(i % 20)]);
            sqlite3_bind_int64(checkout, 3, t + 60);
            sqlite3_bind_text(checkout, 4, state.c_str(), -1, SQLITE_TRANSIENT);
            if (sqlite3_step(checkout) != SQLITE_DONE) std::abort();
            sqlite3_reset(checkout);
        }
    }
    sqlite3_finalize(request);
    sqlite3_finalize(approval);
    sqlite3_finalize(checkout);
    tx.commit();
    opened.connection.exec_script("ANALYZE;");
}

// median_ms: the median of 7 runs of `page`.
double median_ms(const std::function<size_t()>& page, size_t& rows) {
    std::vector<double> times;
    for (int i = 0; i < 7; ++i) {
        const auto start = Clock::now();
        rows = page();
        times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    }
    std::sort(times.begin(), times.end());
    return times[3];
}

// bare_page: the same filter over the requests table alone, as a bare SQLite query.
size_t bare_page(sqlite3* db, const std::string& where) {
    sqlite3_stmt* s = nullptr;
    const std::string sql = "SELECT * FROM requests r" + where + " ORDER BY r.requested_at DESC, r.id DESC LIMIT 50";
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) std::abort();
    size_t n = 0;
    while (sqlite3_step(s) == SQLITE_ROW)
        ++n;
    sqlite3_finalize(s);
    return n;
}

} // namespace

int main() {
    char pattern[] = "/tmp/keyholder-view-bench-XXXXXX";
    const std::filesystem::path dir = ::mkdtemp(pattern);
    const auto file = dir / "k.db";
    const auto generated = Clock::now();
    generate(file);
    std::printf("generated %d requests (+ approvals, check-outs) in %.1f s\n", kRows,
                std::chrono::duration<double>(Clock::now() - generated).count());
    auto db = keyholder::store::Connection::open(file);
    struct Case {
        const char* name;
        RequestViewQuery query;
        std::string bare_where;
    };
    const int64_t mid = kStart + kRows * 15LL;
    std::vector<Case> cases;
    auto q = [](auto set) {
        RequestViewQuery query;
        set(query);
        return query;
    };
    cases.push_back({"no filter", {}, ""});
    cases.push_back(
        {"time range (one day)", q([&](auto& x) {
             x.from = mid;
             x.to = mid + 86400;
         }),
         " WHERE r.requested_at >= " + std::to_string(mid) + " AND r.requested_at < " + std::to_string(mid + 86400)});
    cases.push_back({"entry", q([](auto& x) { x.entry = "entry-7"; }),
                     " WHERE r.entry_id = (SELECT id FROM entries WHERE name = 'entry-7')"});
    cases.push_back(
        {"requester (name)", q([](auto& x) { x.requester_name = "user42"; }), " WHERE r.requester_name = 'user42'"});
    cases.push_back({"requester (SID)", q([](auto& x) { x.requester_sid = "S-1-5-21-1-2-3-42"; }),
                     " WHERE r.requester_sid = 'S-1-5-21-1-2-3-42'"});
    cases.push_back({"approver", q([](auto& x) { x.approver_name = "lead7"; }),
                     " WHERE r.id IN (SELECT request_id FROM approvals WHERE approver_name = 'lead7')"});
    cases.push_back({"state (pending)", q([](auto& x) { x.state = "pending"; }), " WHERE r.state = 'pending'"});
    cases.push_back({"state (active)", q([](auto& x) { x.state = "active"; }), " WHERE r.state = 'active'"});
    cases.push_back({"entry + state", q([](auto& x) {
                         x.entry = "entry-3";
                         x.state = "denied";
                     }),
                     " WHERE r.entry_id = (SELECT id FROM entries WHERE name = 'entry-3') AND r.state = 'denied'"});
    cases.push_back({"approver + time range", q([&](auto& x) {
                         x.approver_name = "lead7";
                         x.from = mid;
                         x.to = mid + 86400;
                     }),
                     " WHERE r.id IN (SELECT request_id FROM approvals WHERE approver_name = 'lead7') AND "
                     "r.requested_at >= " +
                         std::to_string(mid) + " AND r.requested_at < " + std::to_string(mid + 86400)});
    cases.push_back(
        {"requester + entry (none match)", q([](auto& x) {
             x.requester_name = "user42";
             x.entry = "entry-3";
         }),
         " WHERE r.requester_name = 'user42' AND r.entry_id = (SELECT id FROM entries WHERE name = 'entry-3')"});
    // Sorted by a text column (not read off an index: the filtered rows are sorted).
    struct SortCase {
        const char* name;
        RequestViewQuery query;
    };
    std::vector<SortCase> sorts;
    sorts.push_back({"by requester, no filter", q([](auto& x) {
                         x.sort = RequestViewQuery::Sort::requester;
                         x.descending = false;
                     })});
    sorts.push_back({"by requester, one day", q([&](auto& x) {
                         x.sort = RequestViewQuery::Sort::requester;
                         x.descending = false;
                         x.from = mid;
                         x.to = mid + 86400;
                     })});
    sorts.push_back({"by state, an entry", q([](auto& x) {
                         x.sort = RequestViewQuery::Sort::state;
                         x.entry = "entry-7";
                     })});
    double worst = 0;
    std::printf("%-32s %10s %10s %8s %6s\n", "first page of 50", "view ms", "bare ms", "ratio", "rows");
    for (auto& c : cases) {
        size_t rows = 0, bare_rows = 0;
        const double ours = median_ms([&] { return keyholder::store::query_request_view(db, c.query).size(); }, rows);
        const double bare =
            median_ms([&] { return bare_page(keyholder::store::detail::sqlite_handle(db), c.bare_where); }, bare_rows);
        worst = std::max(worst, ours);
        std::printf("%-32s %10.2f %10.2f %7.2fx %6zu%s\n", c.name, ours, bare, ours / bare, rows,
                    rows == bare_rows ? "" : "  (row counts differ!)");
    }
    for (auto& c : sorts) {
        size_t rows = 0;
        const double ours = median_ms([&] { return keyholder::store::query_request_view(db, c.query).size(); }, rows);
        std::printf("%-32s %10.2f %21s %6zu  (sort, not a filter)\n", c.name, ours, "", rows);
    }
    // A later page: the 100th, by keyset from the 99th page's last row.
    RequestViewQuery paged;
    for (int page = 0; page < 99; ++page) {
        auto rows = keyholder::store::query_request_view(db, paged);
        paged.after = {rows.back().requested_at, rows.back().request_id};
    }
    size_t rows = 0;
    const double later = median_ms([&] { return keyholder::store::query_request_view(db, paged).size(); }, rows);
    std::printf("%-32s %10.2f %21s %6zu\n", "the 100th page (keyset)", later, "", rows);
    std::printf("slowest first page: %.2f ms (target <= 100 ms)\n", worst);
    std::filesystem::remove_all(dir);
    return worst <= 100.0 ? 0 : 1;
}
