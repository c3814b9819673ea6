// report_export_bench: a 1,000,000-row checkout-requests export — rows/s and peak
// RSS growth of keyholder's streamed CSV writer, next to `sqlite3 -csv` running the
// same joined query over the same database in the same run. Targets: >= 1.0x the
// CLI's rows/s, RSS growth under 32 MB. Each export runs in its own process (this
// program re-executed with --export) so its memory is measured alone.
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "keyholder/reports/report_writer.h"
#include "keyholder/store/records.h"
#include "keyholder/store/reports.h"
#include "keyholder/store/store.h"
#include "sqlite/connection.h" // sqlite_handle (store/src)

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kRows = 1'000'000;

long rss_kb(const char* field) {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind(field, 0) == 0) return std::atol(line.c_str() + std::strlen(field));
    return 0;
}

void generate(const std::filesystem::path& file) {
    using namespace keyholder::store;
    auto opened = open_store(file);
    Transaction tx(opened.connection);
    const int64_t policy = upsert_policy(tx, "tier0", "{}", 1'800'000'000);
    const int64_t entry =
        upsert_entry(tx, {"domain-admin", "Domain Admin", policy, "password", "da", {}}, 1'800'000'000);
    sqlite3* db = keyholder::store::detail::sqlite_handle(opened.connection); // bulk load on the raw handle
    sqlite3_stmt* request = nullptr;
    sqlite3_stmt* approval = nullptr;
    sqlite3_stmt* checkout = nullptr;
    sqlite3_prepare_v2(db,
                       "INSERT INTO requests(id, entry_id, requester_sid, requester_name, requester_display, reason, "
                       "ticket, requested_at, duration_s, state, stage, deadline_at, decided_at) VALUES "
                       "(?, ?, 'S-1-5-21-3623811015-3361044348-30300820-1104', 'bob', 'Bob Operator', "
                       "'patch night, \"urgent\"', 'CHG-' || ?, ?, 7200, 'ended', 1, ?, ?)",
                       -1, &request, nullptr);
    sqlite3_prepare_v2(
        db,
        "INSERT INTO approvals(request_id, stage, approver_sid, approver_name, decision, via, decided_at) "
        "VALUES (?, 1, 'S-1-5-21-3623811015-3361044348-30300820-1105', 'carol', 'approve', 'link', ?)",
        -1, &approval, nullptr);
    sqlite3_prepare_v2(
        db,
        "INSERT INTO checkouts(request_id, entry_id, holder_sid, holder_name, starts_at, ends_at, state, "
        "ended_at, end_reason, takeback_state, retrievals) VALUES (?, ?, 'S-1-5-21-1104', 'bob', ?, ?, "
        "'ended', ?, 'checked_in', 'done', 1)",
        -1, &checkout, nullptr);
    for (int i = 1; i <= kRows; ++i) {
        const int64_t t = 1'700'000'000 + i * 60LL;
        sqlite3_bind_int(request, 1, i);
        sqlite3_bind_int64(request, 2, entry);
        sqlite3_bind_int(request, 3, i);
        sqlite3_bind_int64(request, 4, t);
        sqlite3_bind_int64(request, 5, t + 3600);
        sqlite3_bind_int64(request, 6, t + 60);
        if (sqlite3_step(request) != SQLITE_DONE) std::abort();
        sqlite3_reset(request);
        sqlite3_bind_int(approval, 1, i);
        sqlite3_bind_int64(approval, 2, t + 60);
        if (sqlite3_step(approval) != SQLITE_DONE) std::abort();
        sqlite3_reset(approval);
        sqlite3_bind_int(checkout, 1, i);
        sqlite3_bind_int64(checkout, 2, entry);
        sqlite3_bind_int64(checkout, 3, t + 60);
        sqlite3_bind_int64(checkout, 4, t + 7260);
        sqlite3_bind_int64(checkout, 5, t + 1800);
        if (sqlite3_step(checkout) != SQLITE_DONE) std::abort();
        sqlite3_reset(checkout);
    }
    sqlite3_finalize(request);
    sqlite3_finalize(approval);
    sqlite3_finalize(checkout);
    tx.commit();
}

// export_once: in this (child) process; prints "rows seconds rss_growth_kb".
int export_once(const std::filesystem::path& db_file, const std::filesystem::path& out_file) {
    auto db = keyholder::store::Connection::open(db_file);
    const long before = rss_kb("VmRSS:");
    static char buffer[1 << 20]; // large writes, as the scheduled exports and the API stream use
    std::ofstream out;
    out.rdbuf()->pubsetbuf(buffer, sizeof buffer);
    out.open(out_file, std::ios::binary);
    const auto start = Clock::now();
    const int64_t rows = keyholder::reports::write_report(db, "checkout-requests", {}, out);
    out.close();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("%lld %f %ld\n", static_cast<long long>(rows), seconds, rss_kb("VmHWM:") - before);
    return 0;
}

struct Measured {
    double seconds = 0;
    long rss_growth_kb = 0;
    long long rows = 0;
};

Measured run_child(const std::string& command) {
    Measured m;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (!pipe) std::abort();
    char line[256] = {};
    if (std::fgets(line, sizeof line, pipe)) std::sscanf(line, "%lld %lf %ld", &m.rows, &m.seconds, &m.rss_growth_kb);
    ::pclose(pipe);
    return m;
}

} // namespace

int main(int argc, char** argv) {
    if (argc == 4 && std::string(argv[1]) == "--export") return export_once(argv[2], argv[3]);
    char pattern[] = "/tmp/keyholder-report-bench-XXXXXX";
    const std::filesystem::path dir = ::mkdtemp(pattern);
    const auto db = dir / "k.db";
    auto start = Clock::now();
    generate(db);
    std::printf("generated %d requests (+ approvals, check-outs) in %.1f s\n", kRows,
                std::chrono::duration<double>(Clock::now() - start).count());
    // The same joined query for the sqlite3 shell: parameters as NULL (no filter).
    std::string sql = keyholder::store::report_sql("checkout-requests");
    for (const char* p : {"?1", "?2", "?3", "?4", "?5", "?6"})
        for (size_t at = sql.find(p); at != std::string::npos; at = sql.find(p))
            sql.replace(at, 2, "NULL");
    std::ofstream(dir / "query.sql") << sql << ";\n";
    const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
    double ours_best = 1e9, cli_best = 1e9;
    long rss = 0;
    long long rows = 0;
    for (int round = 0; round < 3; ++round) {
        const auto cli_start = Clock::now();
        const std::string cli =
            "sqlite3 -csv " + db.string() + " < " + (dir / "query.sql").string() + " > " + (dir / "cli.csv").string();
        if (std::system(cli.c_str()) != 0) std::abort();
        cli_best = std::min(cli_best, std::chrono::duration<double>(Clock::now() - cli_start).count());
        auto ours = run_child(self + " --export " + db.string() + " " + (dir / "ours.csv").string());
        ours_best = std::min(ours_best, ours.seconds);
        rss = std::max(rss, ours.rss_growth_kb);
        rows = ours.rows;
    }
    std::printf("keyholder checkout-requests export: %lld rows in %.2f s = %.0f rows/s, peak RSS growth %.1f MB\n",
                rows, ours_best, static_cast<double>(rows) / ours_best, static_cast<double>(rss) / 1024.0);
    std::printf("sqlite3 -csv, same joined query:    %d rows in %.2f s = %.0f rows/s\n", kRows, cli_best,
                kRows / cli_best);
    std::printf("ratio %.2fx (best of 3; target >= 1.0x, RSS growth < 32 MB)\n", cli_best / ours_best);
    std::filesystem::remove_all(dir);
    return 0;
}
