// postgres_bench: durable request creation on PostgreSQL — one transaction holding
// the request row, its audit event (the hash chain, appended under the writers'
// advisory lock) and its outbox row — from 8 clients, on one node (one process) and
// on two nodes (two processes, 4 clients each, on the same database), next to bare
// libpq single-row INSERTs with synchronous_commit = on from 8 clients, measured in
// the same run against the same server (the one scripts/bench starts;
// KEYHOLDER_BENCH_PG is its connection string). Target: >= 0.5x of the baseline.
// Both nodes share this machine's two cores and its one disk with the server: two
// nodes show that the chain stays one under interleaved writers, not added capacity.
//
// Rounds alternate (bare, one node, two nodes, the references) so that a noisy
// neighbour hurts all; each figure is the median round.
//
// Two references, raw libpq on keyholder's schema (the same rows, the same indexes),
// say what the target asks of this machine:
//  - the content alone: the three rows in one statement and one round trip, with no
//    chain and no lock (a design keyholder cannot use: its audit events must form
//    one chain);
//  - the best single chain found: the request and outbox rows first, then, in one
//    pipeline, the chained append (a server-side function that takes the writers'
//    lock, reads the head and hashes as keyholder does; its chain is verified
//    below), COMMIT without waiting for the disk, and the flush that makes it durable.
#include <libpq-fe.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "keyholder/store/audit.h"
#include "keyholder/store/connection.h"
#include "keyholder/store/records.h"
#include "keyholder/store/store.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace keyholder::store;
constexpr int kClients = 8;
constexpr auto kRound = std::chrono::milliseconds(2500);

std::string base_dsn() {
    const char* dsn = std::getenv("KEYHOLDER_BENCH_PG");
    if (dsn == nullptr) {
        std::fprintf(stderr, "postgres_bench: run it through scripts/bench (KEYHOLDER_BENCH_PG is not set)\n");
        std::exit(2);
    }
    return dsn;
}

void must(PGresult* result, const char* what) {
    const auto status = PQresultStatus(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        std::fprintf(stderr, "%s: %s\n", what, PQresultErrorMessage(result));
        std::exit(1);
    }
    PQclear(result);
}

std::string make_database(const std::string& name) {
    PGconn* admin = PQconnectdb((base_dsn() + " dbname=postgres").c_str());
    PQsetNoticeProcessor(
        admin, [](void*, const char*) {}, nullptr); // "does not exist, skipping"
    must(PQexec(admin, ("DROP DATABASE IF EXISTS " + name).c_str()), "drop database");
    must(PQexec(admin, ("CREATE DATABASE " + name).c_str()), "create database");
    PQfinish(admin);
    return base_dsn() + " dbname=" + name;
}

// Baseline: `clients` sessions, one tiny row per commit, synchronous_commit = on.
double bare_round(const std::string& dsn, int clients = kClients) {
    std::atomic<bool> stop{false};
    std::atomic<long> commits{0};
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c)
        threads.emplace_back([&, c] {
            PGconn* conn = PQconnectdb(dsn.c_str());
            must(PQexec(conn, "SET synchronous_commit = on"), "set");
            must(PQprepare(conn, "insert", "INSERT INTO t(v) VALUES ($1)", 1, nullptr), "prepare");
            for (long n = 0; !stop; ++n) {
                const std::string value = std::to_string(c * 100000000L + n);
                const char* values[] = {value.c_str()};
                must(PQexecPrepared(conn, "insert", 1, values, nullptr, nullptr, 0), "insert");
                ++commits;
            }
            PQfinish(conn);
        });
    const auto start = Clock::now();
    std::this_thread::sleep_for(kRound);
    stop = true;
    for (auto& t : threads)
        t.join();
    return static_cast<double>(commits) / std::chrono::duration<double>(Clock::now() - start).count();
}

// clients: `count` threads, each with its own connection, creating requests for `for_how_long`.
long keyholder_clients(const std::string& dsn, int64_t entry_id, int count, int node,
                       std::chrono::milliseconds for_how_long) {
    std::atomic<bool> stop{false};
    std::atomic<long> commits{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < count; ++c)
        clients.emplace_back([&, c] {
            auto db = Connection::open(Location::postgresql(dsn));
            for (long n = 0; !stop; ++n) {
                Transaction tx(db);
                NewRequest request;
                request.entry_id = entry_id;
                request.requester_sid = "S-1-5-21-3623811015-3361044348-30300820-1104";
                request.requester_name = "bob";
                request.requester_display = "Bob Operator";
                request.reason =
                    "node " + std::to_string(node) + " client " + std::to_string(c) + " n " + std::to_string(n);
                request.ticket = "INC0012345";
                request.requested_at = 1'800'000'000 + n;
                request.duration_s = 7200;
                request.deadline_at = request.requested_at + 86400;
                const int64_t id = insert_request(tx, request);
                append_audit_event(tx,
                                   {request.requested_at, request.requester_sid, "request.created",
                                    "request:" + std::to_string(id), R"({"entry":"domain-admin","duration":7200})"});
                enqueue_notification(tx,
                                     {request.requested_at, "approval_needed", "alice@example.com", id,
                                      R"({"approver":"alice"})", "<req-" + std::to_string(id) + "-alice@keyholder>"});
                tx.commit();
                ++commits;
            }
        });
    std::this_thread::sleep_for(for_how_long);
    stop = true;
    for (auto& t : clients)
        t.join();
    return commits;
}

double one_node_round(const std::string& dsn, int64_t entry_id, int clients = kClients) {
    const auto start = Clock::now();
    const long commits = keyholder_clients(dsn, entry_id, clients, 0, kRound);
    return static_cast<double>(commits) / std::chrono::duration<double>(Clock::now() - start).count();
}

// two_nodes_round: two processes (forked before either starts a thread), 4 clients each.
double two_nodes_round(const std::string& dsn, int64_t entry_id) {
    int pipes[2][2];
    pid_t children[2];
    const auto start = Clock::now();
    for (int node = 0; node < 2; ++node) {
        if (pipe(pipes[node]) != 0) std::abort();
        children[node] = fork();
        if (children[node] == 0) {
            const long commits = keyholder_clients(dsn, entry_id, kClients / 2, node + 1, kRound);
            if (write(pipes[node][1], &commits, sizeof commits) != sizeof commits) _exit(1);
            _exit(0);
        }
        close(pipes[node][1]);
    }
    long total = 0;
    for (int node = 0; node < 2; ++node) {
        long commits = 0;
        if (read(pipes[node][0], &commits, sizeof commits) != sizeof commits) std::abort();
        total += commits;
        close(pipes[node][0]);
        int status = 0;
        waitpid(children[node], &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) std::abort();
    }
    return static_cast<double>(total) / std::chrono::duration<double>(Clock::now() - start).count();
}

// Reference: raw libpq sessions on a database with keyholder's schema.
const char* kReferenceSchema = R"(
CREATE TABLE audit_unchained (LIKE audit_events);
CREATE FUNCTION reference_field(v text) RETURNS text LANGUAGE sql IMMUTABLE
    AS $$ SELECT octet_length(v)::text || ':' || v || ';' $$;
CREATE FUNCTION reference_append(p_at bigint, p_actor text, p_action text, p_subject text, p_details text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE s bigint; p text;
BEGIN
    PERFORM pg_advisory_xact_lock(4242);
    SELECT a.seq, a.hash INTO s, p FROM audit_events a ORDER BY a.seq DESC LIMIT 1;
    IF NOT FOUND THEN s := 0; p := repeat('0', 64); END IF;
    s := s + 1;
    INSERT INTO audit_events VALUES (s, p_at, p_actor, p_action, p_subject, p_details, p,
        encode(sha256(convert_to(reference_field('keyholder-audit-v1') || reference_field(p) ||
            reference_field(s::text) || reference_field(p_at::text) || reference_field(p_actor) ||
            reference_field(p_action) || reference_field(p_subject) || reference_field(p_details), 'UTF8')), 'hex'));
    RETURN s;
END $$;
)";

class ReferenceSession {
public:
    explicit ReferenceSession(const std::string& dsn) : conn_(PQconnectdb(dsn.c_str())) {
        if (PQstatus(conn_) != CONNECTION_OK) {
            std::fprintf(stderr, "reference session: %s\n", PQerrorMessage(conn_));
            std::exit(1);
        }
        prepare("request",
                "INSERT INTO requests(entry_id, requester_sid, requester_name, requester_display, reason, ticket, "
                "requested_at, duration_s, state, deadline_at) VALUES ($1, 'S-1-5-21-3623811015-3361044348-30300820-"
                "1104', 'bob', 'Bob Operator', $2, 'INC0012345', $3::bigint, 7200, 'pending', $3::bigint + 86400) "
                "RETURNING id");
        prepare("outbox", "INSERT INTO outbox(created_at, kind, recipient, request_id, payload, message_id, "
                          "next_attempt_at) VALUES ($1::bigint, 'approval_needed', 'alice@example.com', $2::bigint, "
                          "'{\"approver\":\"alice\"}', '<req-' || $2::bigint || '-alice@keyholder>', $1::bigint) "
                          "RETURNING id");
        prepare("append", "SELECT reference_append($1, 'S-1-5-21-3623811015-3361044348-30300820-1104', "
                          "'request.created', 'request:' || $2, '{\"entry\":\"domain-admin\",\"duration\":7200}')");
        prepare(
            "all_three",
            "WITH r AS (INSERT INTO requests(entry_id, requester_sid, requester_name, requester_display, reason, "
            "ticket, requested_at, duration_s, state, deadline_at) VALUES ($1, 'S-1-5-21-3623811015-3361044348-"
            "30300820-1104', 'bob', 'Bob Operator', $2, 'INC0012345', $3::bigint, 7200, 'pending', $3::bigint + 86400) "
            "RETURNING id), o AS (INSERT INTO outbox(created_at, kind, recipient, request_id, payload, message_id, "
            "next_attempt_at) SELECT $3::bigint, 'approval_needed', 'alice@example.com', id, "
            "'{\"approver\":\"alice\"}', "
            "'<req-' || id || '-alice@keyholder>', $3::bigint FROM r), a AS (INSERT INTO audit_unchained SELECT id, "
            "$3::bigint, "
            "'S-1-5-21-3623811015-3361044348-30300820-1104', 'request.created', 'request:' || id, "
            "'{\"entry\":\"domain-admin\",\"duration\":7200}', repeat('0', 64), repeat('0', 64) FROM r) "
            "SELECT id FROM r");
    }
    ReferenceSession(const ReferenceSession&) = delete;
    ReferenceSession& operator=(const ReferenceSession&) = delete;
    ~ReferenceSession() { PQfinish(conn_); }

    // content_only: the three rows, one statement, synchronous_commit = on.
    void content_only(const std::string& entry, const std::string& reason, const std::string& at) {
        const char* values[] = {entry.c_str(), reason.c_str(), at.c_str()};
        must(PQexecPrepared(conn_, "all_three", 3, values, nullptr, nullptr, 0), "all three rows");
    }
    // one_chain: [BEGIN, async commit, request] then [outbox, append, COMMIT, flush].
    void one_chain(const std::string& entry, const std::string& reason, const std::string& at) {
        PQenterPipelineMode(conn_);
        send_text("BEGIN");
        send_text("SET LOCAL synchronous_commit = off");
        const char* request[] = {entry.c_str(), reason.c_str(), at.c_str()};
        send("request", 3, request);
        PQsendFlushRequest(conn_);
        take("begin");
        take("set");
        const std::string id = take("request");
        const char* outbox[] = {at.c_str(), id.c_str()};
        send("outbox", 2, outbox);
        send("append", 2, outbox);
        send_text("COMMIT");
        send_text("SELECT pg_logical_emit_message(true, 'reference', 'flush')");
        PQpipelineSync(conn_);
        for (const char* what : {"outbox", "append", "commit", "flush"})
            take(what);
        PGresult* sync = PQgetResult(conn_);
        if (PQresultStatus(sync) != PGRES_PIPELINE_SYNC) fail_send("pipeline sync");
        PQclear(sync);
        PQexitPipelineMode(conn_);
    }

private:
    void prepare(const char* name, const char* sql) { must(PQprepare(conn_, name, sql, 0, nullptr), name); }
    void send(const char* name, int count, const char* const* values) {
        if (PQsendQueryPrepared(conn_, name, count, values, nullptr, nullptr, 0) != 1) fail_send(name);
    }
    void send_text(const char* sql) {
        if (PQsendQueryParams(conn_, sql, 0, nullptr, nullptr, nullptr, nullptr, 0) != 1) fail_send(sql);
    }
    [[noreturn]] void fail_send(const char* what) {
        std::fprintf(stderr, "reference %s: %s\n", what, PQerrorMessage(conn_));
        std::exit(1);
    }
    // take: one pipelined result (its first value, if any) and the NULL that ends it.
    std::string take(const char* what) {
        PGresult* result = PQgetResult(conn_);
        std::string value;
        if (PQresultStatus(result) == PGRES_TUPLES_OK && PQntuples(result) > 0) value = PQgetvalue(result, 0, 0);
        must(result, what);
        if (PGresult* extra = PQgetResult(conn_)) {
            std::fprintf(stderr, "reference %s: more than one result\n", what);
            PQclear(extra);
            std::exit(1);
        }
        return value;
    }
    PGconn* conn_;
};

enum class Reference { content_only, one_chain };

double reference_round(const std::string& dsn, int64_t entry_id, Reference shape) {
    std::atomic<bool> stop{false};
    std::atomic<long> commits{0};
    std::vector<std::thread> threads;
    const auto start = Clock::now();
    for (int c = 0; c < kClients; ++c)
        threads.emplace_back([&, c] {
            ReferenceSession session(dsn);
            const std::string entry = std::to_string(entry_id);
            for (long n = 0; !stop; ++n) {
                const std::string reason = "reference client " + std::to_string(c) + " n " + std::to_string(n);
                const std::string at = std::to_string(1'800'000'000 + n);
                if (shape == Reference::content_only)
                    session.content_only(entry, reason, at);
                else
                    session.one_chain(entry, reason, at);
                ++commits;
            }
        });
    std::this_thread::sleep_for(kRound);
    stop = true;
    for (auto& t : threads)
        t.join();
    return static_cast<double>(commits) / std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

} // namespace

int main() {
    const int rounds = 5;
    const std::string bare_dsn = make_database("bench_bare");
    {
        PGconn* conn = PQconnectdb(bare_dsn.c_str());
        must(PQexec(conn, "CREATE TABLE t(id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, v BIGINT)"),
             "create table");
        PQfinish(conn);
    }
    const std::string dsn = make_database("bench_keyholder");
    int64_t entry_id = 0;
    {
        auto opened = open_store(Location::postgresql(dsn));
        Transaction tx(opened.connection);
        const int64_t policy = upsert_policy(tx, "tier0", "{}", 1);
        entry_id = upsert_entry(tx, {"domain-admin", "Domain Admin", policy, "password", "da-1", std::nullopt}, 1);
        tx.commit();
    }
    const std::string reference_dsn = make_database("bench_reference");
    int64_t reference_entry = 0;
    {
        auto opened = open_store(Location::postgresql(reference_dsn));
        Transaction tx(opened.connection);
        const int64_t policy = upsert_policy(tx, "tier0", "{}", 1);
        reference_entry =
            upsert_entry(tx, {"domain-admin", "Domain Admin", policy, "password", "da-1", std::nullopt}, 1);
        tx.commit();
        PGconn* conn = PQconnectdb(reference_dsn.c_str());
        must(PQexec(conn, kReferenceSchema), "reference schema");
        PQfinish(conn);
    }
    std::vector<double> base, one, two, base_alone, one_alone, content, best_chain;
    for (int r = 0; r < rounds; ++r) {
        base.push_back(bare_round(bare_dsn));
        one.push_back(one_node_round(dsn, entry_id));
        two.push_back(two_nodes_round(dsn, entry_id));
        base_alone.push_back(bare_round(bare_dsn, 1));
        one_alone.push_back(one_node_round(dsn, entry_id, 1));
        content.push_back(reference_round(reference_dsn, reference_entry, Reference::content_only));
        best_chain.push_back(reference_round(reference_dsn, reference_entry, Reference::one_chain));
    }
    auto db = Connection::open(Location::postgresql(dsn));
    const auto chain = verify_audit_chain(db);
    if (!chain.ok()) {
        std::fprintf(stderr, "audit chain broken after the benchmark: %s\n", chain.message.c_str());
        return 1;
    }
    auto reference_db = Connection::open(Location::postgresql(reference_dsn));
    const auto reference_chain = verify_audit_chain(reference_db);
    if (!reference_chain.ok()) {
        std::fprintf(stderr, "the reference's chain is broken: %s\n", reference_chain.message.c_str());
        return 1;
    }
    const double b = median(base), k1 = median(one), k2 = median(two);
    std::printf("postgres: durable request creation (request + audit event + outbox row, synchronous_commit = on), "
                "%d clients\n",
                kClients);
    std::printf("  baseline  bare libpq single-row INSERTs     : %8.0f commits/s (median of %d rounds x %.1f s)\n", b,
                rounds, std::chrono::duration<double>(kRound).count());
    std::printf("  keyholder, one node (8 clients)            : %8.0f commits/s  ratio %.2f (target >= 0.5)\n", k1,
                k1 / b);
    std::printf("  keyholder, two nodes (2 processes x 4)     : %8.0f commits/s  ratio %.2f (target >= 0.5)\n", k2,
                k2 / b);
    // One client each: no waiting for the lock, one commit at a time on both sides: how
    // much one request creation costs next to one single-row INSERT.
    const double b1 = median(base_alone), k1_alone = median(one_alone);
    std::printf("  one client: bare %8.0f commits/s, keyholder %8.0f commits/s  ratio %.2f\n", b1, k1_alone,
                k1_alone / b1);
    const double floor = median(content), best = median(best_chain);
    std::printf("  reference: the three rows in one statement, no chain, no lock : %8.0f commits/s  ratio %.2f\n",
                floor, floor / b);
    std::printf("  reference: the best single chain found (raw libpq, pipelined) : %8.0f commits/s  ratio %.2f "
                "(%lld events, verified)\n",
                best, best / b, static_cast<long long>(reference_chain.events));
    std::printf("  audit chain after both: %lld events, verified\n", static_cast<long long>(chain.events));
    return 0;
}
