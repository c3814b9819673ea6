// Durability under kill -9: keyholderd takes request creations from 8 clients over
// keep-alive connections and is killed with SIGKILL at a random moment, round after
// round (5 rounds here, KEYHOLDER_FAULT_ROUNDS=20 for more). Every request that was
// acknowledged with a 201 is in the store after the restart, none is there twice,
// and the audit chain verifies.
#include <gtest/gtest.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPBasicCredentials.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

#include <atomic>
#include <csignal>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include "keyholder/store/audit.h"
#include "keyholder/store/connection.h"
#include "support/child_process.h"
#include "support/http_get.h"
#include "support/slapd.h"
#include "support/temp_dir.h"

namespace {

using namespace keyholder::testing;
using namespace std::chrono_literals;

const std::filesystem::path kSource = KEYHOLDER_SOURCE_DIR;
constexpr int kClients = 8;

int rounds() {
    const char* wanted = std::getenv("KEYHOLDER_FAULT_ROUNDS");
    return wanted != nullptr ? std::max(1, std::atoi(wanted)) : 5;
}

TEST(KillNine, AcknowledgedRequestsSurviveAndNoneIsDuplicated) {
    SlapdSandbox slapd({kSource / "config/demo-directory.ldif"});
    TempDir dir;
    const int port = free_loopback_port();
    dir.write("data/ldap.password", "demo-service-password");
    auto config = dir.write(
        "keyholder.ini", "[service]\ndata_dir = data\nadmin_groups = cn=keyholder-admins,ou=groups,dc=demo,dc=test\n"
                         "[http]\nlisten = 127.0.0.1:" +
                             std::to_string(port) + "\n[ldap]\nuris = " + slapd.ldap_uri() +
                             "\nbase_dn = dc=demo,dc=test\nflavour = openldap\n"
                             "bind_dn = cn=keyholder,ou=services,dc=demo,dc=test\nbind_password_file = ldap.password\n"
                             "[policy.standard]\nrequester_groups = cn=operators,ou=groups,dc=demo,dc=test\n"
                             "stage1_approvers = cn=team-leads,ou=groups,dc=demo,dc=test\nexclusive = false\n"
                             "[entry.jit]\npolicy = standard\nrelease = group\n"
                             "group = cn=team-leads,ou=groups,dc=demo,dc=test\n");
    std::mt19937 random(std::random_device{}());
    std::mutex mutex;
    std::set<std::string> acknowledged; // reasons answered 201
    int attempts = 0;
    for (int round = 0; round < rounds(); ++round) {
        const auto logs = dir.path() / ("round-" + std::to_string(round));
        std::filesystem::create_directories(logs);
        ChildProcess daemon(KEYHOLDERD_PATH, {"--config", config.string()}, logs);
        ASSERT_FALSE(daemon.wait_for_output("keyholderd: ready", 30s).empty()) << daemon.err();
        std::atomic<bool> stop{false};
        std::vector<std::thread> clients;
        for (int c = 0; c < kClients; ++c)
            clients.emplace_back([&, c] {
                for (int n = 0; !stop; ++n) {
                    try {
                        Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
                        session.setTimeout(Poco::Timespan(5, 0));
                        for (; !stop; ++n) {
                            const std::string reason =
                                "kill9 r" + std::to_string(round) + " c" + std::to_string(c) + " n" + std::to_string(n);
                            const std::string body = R"({"entry":"jit","reason":")" + reason + R"(","duration":"30m"})";
                            Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, "/api/v1/requests",
                                                           Poco::Net::HTTPMessage::HTTP_1_1);
                            request.setContentType("application/json");
                            request.setContentLength(static_cast<std::streamsize>(body.size()));
                            request.setKeepAlive(true);
                            Poco::Net::HTTPBasicCredentials("bob", "bob-demo-password").authenticate(request);
                            {
                                std::lock_guard lock(mutex);
                                ++attempts;
                            }
                            session.sendRequest(request) << body;
                            Poco::Net::HTTPResponse response;
                            std::istream& in = session.receiveResponse(response);
                            std::string answer;
                            Poco::StreamCopier::copyToString(in, answer);
                            if (response.getStatus() == 201) {
                                std::lock_guard lock(mutex);
                                acknowledged.insert(reason);
                            } else {
                                ADD_FAILURE() << response.getStatus() << " " << answer;
                                return;
                            }
                        }
                    } catch (const Poco::Exception&) {
                        // killed mid-request: this one is unknown, neither acknowledged nor lost
                        std::this_thread::sleep_for(20ms);
                    }
                }
            });
        std::this_thread::sleep_for(std::chrono::milliseconds(500 + random() % 1500));
        daemon.signal(SIGKILL);
        EXPECT_TRUE(daemon.wait_for(5s));
        stop = true;
        for (auto& t : clients)
            t.join();
    }
    // The state after the last kill, as a restarted service finds it.
    auto db = keyholder::store::Connection::open(dir.path() / "data/keyholder.db");
    std::map<std::string, int> stored;
    auto rows = db.prepare("SELECT reason FROM requests");
    while (rows.step())
        ++stored[rows.column_text(0)];
    int lost = 0;
    int duplicated = 0;
    for (const auto& reason : acknowledged)
        if (stored.count(reason) == 0) ++lost;
    for (const auto& [reason, count] : stored)
        if (count > 1) ++duplicated;
    std::printf("%d rounds: %d attempts, %zu acknowledged, %zu stored, %d lost, %d duplicated\n", rounds(), attempts,
                acknowledged.size(), stored.size(), lost, duplicated);
    EXPECT_GT(acknowledged.size(), static_cast<size_t>(rounds() * 10)) << "the load did not run";
    EXPECT_EQ(lost, 0) << "acknowledged requests lost";
    EXPECT_EQ(duplicated, 0);
    const auto chain = keyholder::store::verify_audit_chain(db);
    EXPECT_TRUE(chain.ok()) << chain.message;
    // And it starts again on that file.
    ChildProcess restarted(KEYHOLDERD_PATH, {"--config", config.string()}, dir.path());
    EXPECT_FALSE(restarted.wait_for_output("keyholderd: ready", 30s).empty()) << restarted.err();
    restarted.signal(SIGTERM);
    EXPECT_EQ(restarted.wait_for(5s), 0);
}

} // namespace
