// enforcement_lag_bench: how late does keyholder end a check-out? 100,000 active
// check-outs end within one minute; the scheduler (real clock, deadline-driven) ends
// them and commits each end state with its audit event. Reported: the lag from each
// end time to the commit of its end state (p50, p99, max) — target p99 <= 1 s — and
// the catch-up rate for 100,000 overdue check-outs next to bare SQLite batched
// UPDATEs of the same number of rows at the same durability, in the same run.
// The directory is a no-op here (take-backs always succeed): this measures the
// store and the scheduler, not a DC.
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <unistd.h>

#include "keyholder/config/config.h"
#include "keyholder/core/catalog.h"
#include "keyholder/core/checkout_service.h"
#include "keyholder/core/scheduler.h"
#include "keyholder/store/store.h"

namespace {

using namespace keyholder;

class NoDirectory : public core::Authority {
protected:
    core::DirResult<core::Principal> find(std::string_view who, core::Freshness) override {
        return core::Principal{std::string(who), "holder", "Holder", "", "CN=holder", true};
    }
    core::DirResult<bool> member_of_any(const core::Principal&, const std::vector<std::string>&,
                                        core::Freshness) override {
        return true;
    }
    core::DirResult<std::optional<core::Principal>> manager(const core::Principal&, core::Freshness) override {
        return std::optional<core::Principal>{};
    }
    core::DirResult<std::vector<core::Principal>> members(const std::vector<std::string>&) override {
        return std::vector<core::Principal>{};
    }
    core::DirResult<void> write_enabled(const std::string&, bool) override { return {}; }
    core::DirResult<void> write_password(const std::string&, const std::string&) override { return {}; }
    core::DirResult<void> write_member(const std::string&, const core::Principal&, bool) override { return {}; }
};

// n active check-outs of entry 1, the i-th ending at first_end + i * spread / n.
void seed(store::Connection& db, int n, int64_t started, int64_t first_end, int spread) {
    store::Transaction tx(db);
    auto request =
        db.prepare("INSERT INTO requests(entry_id, requester_sid, requester_name, reason, requested_at, "
                   "duration_s, state, deadline_at) VALUES (1, ?, 'holder', 'bench', ?, 60, 'active', ?) RETURNING id");
    auto checkout =
        db.prepare("INSERT INTO checkouts(request_id, entry_id, holder_sid, holder_name, starts_at, ends_at, "
                   "state) VALUES (?, 1, ?, 'holder', ?, ?, 'active')");
    for (int i = 0; i < n; ++i) {
        const std::string sid = "S-1-5-21-1-2-3-" + std::to_string(100000 + i);
        request.reset();
        request.bind(1, sid).bind(2, started).bind(3, started + 3600).step();
        const int64_t request_id = request.column_int64(0);
        checkout.reset();
        checkout.bind(1, request_id)
            .bind(2, sid)
            .bind(3, started)
            .bind(4, first_end + static_cast<int64_t>(i) * spread / n)
            .run();
    }
    tx.commit();
}

int64_t count(store::Connection& db, const char* sql) {
    auto s = db.prepare(sql);
    s.step();
    return s.column_int64(0);
}

double percentile(std::vector<int64_t> v, double p) {
    std::sort(v.begin(), v.end());
    return static_cast<double>(v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))]);
}

} // namespace

int main(int argc, char** argv) {
    const int n = argc > 1 ? std::atoi(argv[1]) : 100000;
    auto dir = std::filesystem::temp_directory_path() / ("keyholder-lag-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir / "data");
    {
        std::ofstream(dir / "data/ldap.password") << "x";
        std::filesystem::permissions(dir / "data/ldap.password",
                                     std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
        std::ofstream(dir / "k.ini")
            << "[service]\ndata_dir = data\nadmin_groups = A\n"
               "[ldap]\nuris = ldaps://dc\nbase_dn = dc=x\nbind_dn = cn=s\n"
               "bind_password_file = ldap.password\n"
               "[policy.p]\nrequester_groups = Ops\nstage1_approvers = Leads\nexclusive = false\n"
               "[entry.jit]\npolicy = p\nrelease = group\ngroup = G\n";
    }
    auto config = config::load_config(dir / "k.ini");
    if (!config) {
        std::fprintf(stderr, "%s\n", config.error().front().to_string().c_str());
        return 1;
    }
    core::SystemClock clock;
    NoDirectory authority;

    // 1. Catch-up rate: n overdue check-outs, ended as fast as possible.
    double ours_rate = 0;
    {
        auto opened = store::open_store(dir / "catchup.db");
        core::record_service_start(opened.connection, *config, clock, "bench");
        seed(opened.connection, n, clock.now() - 7200, clock.now() - 3600, 60);
        core::CheckoutService service(*config, opened.connection, authority, clock);
        auto start = std::chrono::steady_clock::now();
        int ended = 0;
        while (ended < n)
            ended += service.run_due().ended;
        ours_rate = n / std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    // Baseline: bare SQLite, the same rows ended by batched UPDATEs of 500, same durability.
    double bare_rate = 0;
    {
        auto opened = store::open_store(dir / "bare.db");
        core::record_service_start(opened.connection, *config, clock, "bench");
        seed(opened.connection, n, clock.now() - 7200, clock.now() - 3600, 60);
        auto& db = opened.connection;
        auto start = std::chrono::steady_clock::now();
        for (int done = 0; done < n;) {
            store::Transaction tx(db);
            auto update = db.prepare("UPDATE checkouts SET state = 'ended', ended_at = ?1, end_reason = 'expired' "
                                     "WHERE id IN (SELECT id FROM checkouts WHERE state = 'active' LIMIT 500)");
            update.bind(1, clock.now()).run();
            done += static_cast<int>(db.changes());
            tx.commit();
        }
        bare_rate = n / std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }

    // 2. Paced: n check-outs ending within one minute, the scheduler on the real clock.
    std::vector<int64_t> lags;
    {
        auto opened = store::open_store(dir / "paced.db");
        core::record_service_start(opened.connection, *config, clock, "bench");
        const int64_t first_end = clock.now() + 3;
        seed(opened.connection, n, clock.now(), first_end, 60);
        core::CheckoutService service(*config, opened.connection, authority, clock);
        std::mutex mutex;
        std::atomic<int> ended{0};
        core::Scheduler scheduler(
            [&] {
                auto pass = service.run_due();
                std::lock_guard lock(mutex);
                for (size_t i = 0; i < pass.ended_checkouts.size(); ++i)
                    lags.push_back(pass.ended_committed_ms[i] - pass.ended_checkouts[i].second * 1000);
                ended += pass.ended;
                return pass;
            },
            clock);
        scheduler.start();
        while (ended < n)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        scheduler.stop();
        if (count(opened.connection, "SELECT count(*) FROM checkouts WHERE state = 'active'") != 0) {
            std::fprintf(stderr, "check-outs left active\n");
            return 1;
        }
    }
    std::filesystem::remove_all(dir);

    std::printf("enforcement_lag: %d check-outs ending within 60 s (WAL, synchronous=FULL, no-op directory)\n", n);
    std::printf(
        "  lag end time -> end state committed : p50 %6.0f ms  p99 %6.0f ms  max %6.0f ms  (target p99 <= 1000)\n",
        percentile(lags, 0.50), percentile(lags, 0.99), percentile(lags, 1.0));
    std::printf("  catch-up, %d overdue              : %8.0f ends/s (each with its audit event)\n", n, ours_rate);
    std::printf("  baseline bare SQLite batched UPDATE  : %8.0f rows/s  (ratio %.2f)\n", bare_rate,
                ours_rate / bare_rate);
    return 0;
}
