// failover_bench: how long the scheduler is away when its leader dies. Two keyholderd
// nodes on one PostgreSQL (scripts/bench's, KEYHOLDER_BENCH_PG) and the Samba DC
// (KEYHOLDER_BENCH_DC). Each round: a check-out is approved; before its end the
// leader is frozen (SIGSTOP: it keeps its session and its lock, and does nothing);
// once the end is due the leader is killed (SIGKILL); the figure is the time from
// the kill to the end committed by the node that took over (the store polled every
// 10 ms). 10 rounds, p50 and max; target <= 5 s. Its baseline, measured in the same
// run: the same time with the leader alive (a due end committed by a leader that was
// never stopped), i.e. the scheduler's own lag.
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPBasicCredentials.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "keyholder/store/checkouts.h"
#include "keyholder/store/connection.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    ::close(fd);
    return ntohs(address.sin_port);
}

struct Answer {
    int status = 0;
    std::string body;
};

Answer call(int port, const std::string& method, const std::string& path, const std::string& user,
            const std::string& password, const std::string& body = {}) {
    try {
        Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
        session.setTimeout(Poco::Timespan(10, 0));
        Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
        if (!user.empty()) Poco::Net::HTTPBasicCredentials(user, password).authenticate(request);
        if (!body.empty()) {
            request.setContentType("application/json");
            request.setContentLength(static_cast<std::streamsize>(body.size()));
        }
        session.sendRequest(request) << body;
        Poco::Net::HTTPResponse response;
        Answer answer;
        Poco::StreamCopier::copyToString(session.receiveResponse(response), answer.body);
        answer.status = response.getStatus();
        return answer;
    } catch (const Poco::Exception&) {
        return {};
    }
}

std::string field(const std::string& body, const std::string& key) {
    try {
        auto object = Poco::JSON::Parser().parse(body).extract<Poco::JSON::Object::Ptr>();
        return object->has(key) ? object->get(key).toString() : "";
    } catch (const Poco::Exception&) {
        return "";
    }
}

struct Node {
    int port = 0;
    fs::path config;
    pid_t pid = -1;
};

void start(Node& node, const fs::path& logs) {
    node.pid = fork();
    if (node.pid == 0) {
        const int out = ::open(logs.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(out, 1);
        dup2(out, 2);
        execl(KEYHOLDERD_PATH, KEYHOLDERD_PATH, "--config", node.config.c_str(), nullptr);
        _exit(127);
    }
    for (int n = 0; n < 600; ++n) {
        if (call(node.port, "GET", "/readyz", "", "").status == 200) return;
        std::this_thread::sleep_for(50ms);
    }
    std::fprintf(stderr, "failover_bench: a node did not become ready (see %s)\n", logs.c_str());
    std::exit(1);
}

void kill_node(Node& node) {
    ::kill(node.pid, SIGKILL);
    waitpid(node.pid, nullptr, 0);
    node.pid = -1;
}

double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5)];
}

} // namespace

int main() {
    const char* pg = std::getenv("KEYHOLDER_BENCH_PG");
    const char* dc = std::getenv("KEYHOLDER_BENCH_DC");
    if (pg == nullptr || dc == nullptr) {
        std::fprintf(stderr, "failover_bench: run it through scripts/bench (KEYHOLDER_BENCH_PG, KEYHOLDER_BENCH_DC)\n");
        return 2;
    }
    const std::string base = pg;
    {
        PGconn* admin = PQconnectdb((base + " dbname=postgres").c_str());
        PQclear(PQexec(admin, "DROP DATABASE IF EXISTS bench_failover"));
        PQclear(PQexec(admin, "CREATE DATABASE bench_failover"));
        PQfinish(admin);
    }
    const std::string dsn = base + " dbname=bench_failover";
    const std::string password =
        base.substr(base.find("password=") + 9, base.find(' ', base.find("password=")) - base.find("password=") - 9);
    const fs::path dir = fs::temp_directory_path() / ("keyholder-failover-bench-" + std::to_string(::getpid()));
    fs::create_directories(dir / "keys");
    auto write_private = [&](const fs::path& file, const std::string& text) {
        std::ofstream(file) << text;
        fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);
    };
    write_private(dir / "keys/pg.password", password);
    write_private(dir / "keys/ldap.password", "Svc-Keyh0lder-Pa55!");
    Node nodes[2];
    for (int i = 0; i < 2; ++i) {
        nodes[i].port = free_port();
        nodes[i].config = dir / ("node" + std::to_string(i) + ".ini");
        const std::string without_password = base.substr(0, base.find(" password=")) + " dbname=bench_failover";
        std::ofstream(nodes[i].config)
            << "[service]\ndata_dir = " << (dir / ("node" + std::to_string(i))).string()
            << "\nadmin_groups = Keyholder Admins\nmaster_key_file = " << (dir / "keys/master.key").string()
            << "\nlink_key_file = " << (dir / "keys/link.key").string()
            << "\n[http]\nlisten = 127.0.0.1:" << nodes[i].port
            << "\n[store]\nbackend = postgresql\ndsn = " << without_password
            << "\npassword_file = " << (dir / "keys/pg.password").string()
            << "\n[smtp]\npickup_dir = " << (dir / "mail").string()
            << "\n[ldap]\nuris = ldaps://127.0.0.2\nbase_dn = DC=keyholder,DC=test\nca_file = " << dc
            << "/tls/ca.crt\nbind_dn = svc-keyholder@keyholder.test\nbind_password_file = "
            << (dir / "keys/ldap.password").string()
            << "\nnetbios_domain = KEYHOLDER\n[policy.tier0]\nrequester_groups = Tier0 Operators\n"
               "stage1_approvers = Team Leads\nmax_duration = 4h\nexclusive = false\n"
               "[entry.server-admins]\npolicy = tier0\nrelease = group\ngroup = Server Admins\n";
    }
    start(nodes[0], dir / "node0.log"); // the first to start leads
    start(nodes[1], dir / "node1.log");
    auto db = keyholder::store::Connection::open(keyholder::store::Location::postgresql(dsn));

    // one_round: a check-out ending 3 s from its approval; `freeze` the leader before
    // its end and kill it once due. Answers the seconds from the kill (or the end)
    // to the end committed.
    auto one_round = [&](bool freeze) -> double {
        const int leader = field(call(nodes[0].port, "GET", "/readyz", "", "").body, "scheduler") == "leader" ? 0 : 1;
        const int follower = 1 - leader;
        auto created = call(nodes[follower].port, "POST", "/api/v1/requests", "bob", "Bob-Pa55word!",
                            R"({"entry":"server-admins","reason":"failover bench","duration":"3s"})");
        const std::string id = field(created.body, "id");
        if (created.status != 201 ||
            call(nodes[follower].port, "POST", "/api/v1/requests/" + id + "/approve", "alice", "Alice-Pa55word!", "{}")
                    .status != 200) {
            std::fprintf(stderr, "failover_bench: cannot make a check-out: %d %s\n", created.status,
                         created.body.c_str());
            std::exit(1);
        }
        const auto checkout = keyholder::store::checkout_of_request(db, std::stoll(id));
        const auto due = std::chrono::system_clock::from_time_t(static_cast<std::time_t>(checkout->ends_at));
        if (freeze) {
            std::this_thread::sleep_until(due - 1s);
            ::kill(nodes[leader].pid, SIGSTOP);
            std::this_thread::sleep_until(due + 200ms);
        } else {
            std::this_thread::sleep_until(due);
        }
        const auto from = Clock::now();
        if (freeze) kill_node(nodes[leader]);
        for (;;) {
            auto row = keyholder::store::find_checkout(db, checkout->id);
            if (row && row->state == keyholder::store::CheckoutState::ended) break;
            if (Clock::now() - from > 30s) {
                std::fprintf(stderr, "failover_bench: the check-out was not ended within 30 s\n");
                std::exit(1);
            }
            std::this_thread::sleep_for(10ms);
        }
        const double took = std::chrono::duration<double>(Clock::now() - from).count();
        if (freeze) start(nodes[leader], dir / ("node" + std::to_string(leader) + ".log")); // back, as a follower
        return took;
    };
    std::vector<double> failover, baseline;
    for (int round = 0; round < 10; ++round) {
        baseline.push_back(one_round(false));
        failover.push_back(one_round(true));
    }
    for (auto& node : nodes)
        if (node.pid > 0) {
            ::kill(node.pid, SIGTERM);
            waitpid(node.pid, nullptr, 0);
        }
    fs::remove_all(dir);
    std::printf("failover: leader frozen before a due end, then killed; time to the end committed by the other node\n");
    std::printf("  baseline  the leader alive: due end -> committed    : p50 %.2f s  max %.2f s (10 rounds)\n",
                percentile(baseline, 0.5), percentile(baseline, 1.0));
    std::printf("  keyholder leader killed -> end committed by the other: p50 %.2f s  max %.2f s (target <= 5 s)\n",
                percentile(failover, 0.5), percentile(failover, 1.0));
    return 0;
}
