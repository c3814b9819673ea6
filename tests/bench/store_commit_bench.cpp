// store_commit_bench: durable single-request commits per second — one transaction
// holding the request row, its audit event (hash chain) and its outbox row, as a
// check-out request will commit it — next to bare SQLite single-row commits at the
// same durability (WAL, synchronous=FULL), measured in the same run on the same disk.
//
// The two are interleaved in rounds so that a noisy neighbour hurts both alike;
// the figure is the median round.
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "keyholder/store/audit.h"
#include "keyholder/store/connection.h"
#include "keyholder/store/records.h"
#include "keyholder/store/store.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace keyholder::store;

double per_second(int n, Clock::duration took) { return n / std::chrono::duration<double>(took).count(); }

// Baseline: the same engine, the same pragmas, one tiny row per commit.
double bare_sqlite_round(sqlite3* db, int commits, int& counter) {
    sqlite3_stmt* insert = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO t(v) VALUES (?)", -1, &insert, nullptr);
    auto start = Clock::now();
    for (int i = 0; i < commits; ++i) {
        sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
        sqlite3_bind_int(insert, 1, ++counter);
        if (sqlite3_step(insert) != SQLITE_DONE) std::abort();
        sqlite3_reset(insert);
        if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) std::abort();
    }
    auto took = Clock::now() - start;
    sqlite3_finalize(insert);
    return per_second(commits, took);
}

double keyholder_round(Connection& db, int64_t entry_id, int commits, int& counter) {
    auto start = Clock::now();
    for (int i = 0; i < commits; ++i) {
        ++counter;
        Transaction tx(db);
        NewRequest request;
        request.entry_id = entry_id;
        request.requester_sid = "S-1-5-21-3623811015-3361044348-30300820-1104";
        request.requester_name = "bob";
        request.requester_display = "Bob Operator";
        request.reason = "patch night for INC0012345";
        request.ticket = "INC0012345";
        request.requested_at = 1'800'000'000 + counter;
        request.duration_s = 7200;
        request.deadline_at = request.requested_at + 86400;
        int64_t id = insert_request(tx, request);
        append_audit_event(tx, {request.requested_at, request.requester_sid, "request.created",
                                "request:" + std::to_string(id), R"({"entry":"domain-admin","duration":7200})"});
        enqueue_notification(tx, {request.requested_at, "approval_needed", "alice@example.com", id,
                                  R"({"approver":"alice"})", "<req-" + std::to_string(id) + "-alice@keyholder>"});
        tx.commit();
    }
    return per_second(commits, Clock::now() - start);
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

} // namespace

int main(int argc, char** argv) {
    const int rounds = 7;
    const int commits = argc > 1 ? std::atoi(argv[1]) : 300;
    auto dir = std::filesystem::temp_directory_path() / ("keyholder-bench-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);

    sqlite3* bare = nullptr;
    sqlite3_open((dir / "bare.db").c_str(), &bare);
    sqlite3_exec(bare,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
                 "CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER)",
                 nullptr, nullptr, nullptr);

    ConnectionOptions full; // the service's default: WAL + synchronous=FULL
    auto opened = open_store(dir / "keyholder.db", full);
    int64_t entry_id = 0;
    {
        Transaction tx(opened.connection);
        int64_t policy = upsert_policy(tx, "tier0", "{}", 1);
        entry_id = upsert_entry(tx, {"domain-admin", "Domain Admin", policy, "password", "da-1", std::nullopt}, 1);
        tx.commit();
    }

    std::vector<double> base, ours;
    int bare_counter = 0, our_counter = 0;
    for (int r = 0; r < rounds; ++r) {
        base.push_back(bare_sqlite_round(bare, commits, bare_counter));
        ours.push_back(keyholder_round(opened.connection, entry_id, commits, our_counter));
    }
    sqlite3_close(bare);
    if (!verify_audit_chain(opened.connection).ok()) {
        std::fprintf(stderr, "audit chain broken after the benchmark\n");
        return 1;
    }
    std::filesystem::remove_all(dir);

    const double b = median(base), k = median(ours);
    std::printf("store_commit: durable request commits (request + audit event + outbox row, WAL, synchronous=FULL)\n");
    std::printf("  baseline  bare SQLite single-row commits : %10.0f commits/s (median of %d rounds x %d)\n", b, rounds,
                commits);
    std::printf("  keyholder request commits                : %10.0f commits/s\n", k);
    std::printf("  ratio keyholder / baseline               : %10.2f\n", k / b);
    return 0;
}
