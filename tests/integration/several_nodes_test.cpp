// Several keyholderd nodes on one PostgreSQL (a real server started by the test) and
// the real Samba AD DC: a request made on node A is approved on node B through the
// link A mailed, and a portal session started on A is valid on B; when the leader is
// killed with SIGKILL the other node takes over, ends a check-out that falls due 2 s
// later within 5 s of its end and takes it back in AD once; a leader that hangs
// (SIGSTOP) is ended after 10 s and replaced the same way; and a node killed under
// POST load from 8 clients spread over both nodes loses and duplicates no
// acknowledged request, with one audit chain that verifies.
#include <gtest/gtest.h>

#include <gsl/util>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPBasicCredentials.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <atomic>
#include <csignal>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include "keyholder/config/config.h"
#include "keyholder/core/directory_settings.h"
#include "keyholder/directory/directory.h"
#include "keyholder/store/audit.h"
#include "keyholder/store/checkouts.h"
#include "keyholder/store/connection.h"
#include "support/child_process.h"
#include "support/http_get.h"
#include "support/mailbox.h"
#include "support/postgres.h"
#include "support/samba_dc.h"
#include "support/slapd.h"
#include "support/temp_dir.h"

namespace {

using namespace keyholder::testing;
using namespace std::chrono_literals;
namespace store = keyholder::store;

const std::map<std::string, std::string> kLogin{
    {"alice", "Alice-Pa55word!"}, {"bob", "Bob-Pa55word!"}, {"carol", "Carol-Pa55word!"}, {"dave", "Dave-Pa55word!"}};

std::string json_text(const std::string& body, const std::string& key) {
    try {
        auto object = Poco::JSON::Parser().parse(body).extract<Poco::JSON::Object::Ptr>();
        return object->has(key) ? object->get(key).toString() : "";
    } catch (const Poco::Exception&) {
        return "";
    }
}

class SeveralNodes : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        SambaDc::shared();
        server_ = new PostgresSandbox();
    }
    static void TearDownTestSuite() {
        delete server_;
        server_ = nullptr;
    }

    void SetUp() override {
        dsn_ = server_->create_database();
        // The nodes share the key files (as an administrator copies them to every
        // node): a link signed by one verifies on the other, a secret sealed by one
        // opens on the other. And one mail pickup folder, to count every mail once.
        std::filesystem::create_directories(dir_ / "keys");
        dir_.write("keys/pg.password", server_->password());
        dir_.write("keys/ldap.password", SambaDc::kServicePassword);
        public_url_ = "http://127.0.0.1:" + std::to_string(free_loopback_port()); // the load balancer's
        for (int i = 0; i < 2; ++i) {
            Node& node = nodes_[i];
            node.name = i == 0 ? "a" : "b";
            node.port = free_loopback_port();
            node.url = "http://127.0.0.1:" + std::to_string(node.port);
            node.config = write_config(node);
        }
    }

    void TearDown() override {
        for (auto& node : nodes_)
            if (node.process) {
                node.process->signal(SIGTERM);
                node.process->wait_for(5s);
            }
    }

    struct Node {
        std::string name;
        int port = 0;
        std::string url;
        std::filesystem::path config;
        std::unique_ptr<ChildProcess> process;
        int starts = 0;
    };

    std::filesystem::path write_config(const Node& node) {
        SambaDc& dc = SambaDc::shared();
        const std::string data = (dir_ / node.name).string();
        const std::string dsn = dsn_.substr(0, dsn_.find(" password=")) + dsn_.substr(dsn_.find(" dbname="));
        return dir_.write(
            node.name + ".ini",
            "[service]\ndata_dir = " + data + "\nadmin_groups = Keyholder Admins\nmaster_key_file = " +
                (dir_ / "keys/master.key").string() + "\nlink_key_file = " + (dir_ / "keys/link.key").string() +
                "\n[http]\nlisten = 127.0.0.1:" + std::to_string(node.port) + "\npublic_url = " + public_url_ +
                "\n[store]\nbackend = postgresql\nbusy_timeout = 1s\nanswer_timeout = 3s\ndsn = " + dsn +
                "\npassword_file = " + (dir_ / "keys/pg.password").string() + "\n[smtp]\npickup_dir = " +
                (dir_ / "mail").string() + "\n[ldap]\nuris = " + dc.ldaps_uri() + "\nbase_dn = " + SambaDc::kBaseDn +
                "\nca_file = " + dc.ca_file().string() + "\nbind_dn = " + SambaDc::kServiceUpn +
                "\nbind_password_file = " + (dir_ / "keys/ldap.password").string() +
                "\nnetbios_domain = KEYHOLDER\n"
                "[policy.tier0]\nrequester_groups = Tier0 Operators\nstage1_approvers = Team Leads\n"
                "max_duration = 4h\nexclusive = false\n"
                "[entry.server-admins]\npolicy = tier0\nrelease = group\ngroup = Server Admins\n");
    }

    void start(int i) {
        Node& node = nodes_[i];
        const auto logs = dir_ / ("logs-" + node.name + "-" + std::to_string(++node.starts));
        std::filesystem::create_directories(logs);
        node.process = std::make_unique<ChildProcess>(KEYHOLDERD_PATH,
                                                      std::vector<std::string>{"--config", node.config.string()}, logs);
        int status = 0;
        for (int n = 0; n < 400 && status != 200; ++n) {
            status = http_get(node.url + "/readyz").status;
            if (status != 200) std::this_thread::sleep_for(50ms);
        }
        ASSERT_EQ(status, 200) << node.process->err();
    }

    void kill(int i) {
        nodes_[i].process->signal(SIGKILL);
        EXPECT_TRUE(nodes_[i].process->wait_for(5s));
        nodes_[i].process.reset();
    }

    std::string role(int i) { return json_text(http_get(nodes_[i].url + "/readyz").body, "scheduler"); }

    HttpAnswer api(int node, const std::string& user, const std::string& method, const std::string& path,
                   const std::string& body = {}, std::vector<std::pair<std::string, std::string>> headers = {}) {
        HttpCall c;
        c.method = method;
        c.url = nodes_[node].url + path;
        c.body = body;
        c.headers = std::move(headers);
        if (!user.empty()) {
            c.basic_user = user;
            c.basic_password = kLogin.at(user);
        }
        return http_call(c);
    }

    store::Connection db() { return store::Connection::open(store::Location::postgresql(dsn_)); }

    /// taken_back: the check-out once it has ended and been taken back, or as it is
    /// when `patience` runs out.
    static std::optional<store::CheckoutRow> taken_back(store::Connection& connection, int64_t checkout_id,
                                                        std::chrono::milliseconds patience) {
        std::optional<store::CheckoutRow> row;
        const auto until = std::chrono::steady_clock::now() + patience;
        do {
            row = store::find_checkout(connection, checkout_id);
            if (row && row->state == store::CheckoutState::ended && row->takeback_state == store::Progress::done) break;
            std::this_thread::sleep_for(100ms);
        } while (std::chrono::steady_clock::now() < until);
        return row;
    }

    /// Load: 8 clients POSTing requests, spread over both nodes; a client whose node
    /// does not answer goes to the other. `acknowledged` gets the reasons answered 201.
    struct Load {
        std::mutex mutex;
        std::set<std::string> acknowledged;
        int attempts = 0;
        /// first_201_after: when the first request sent after `since` was answered 201.
        std::optional<std::chrono::steady_clock::time_point> first_201_after;
        std::optional<std::chrono::steady_clock::time_point> since;
        int after_since = 0; ///< requests sent after `since` and answered 201
        std::atomic<bool> stop{false};
        std::vector<std::thread> clients;
    };
    void start_load(Load& load, const std::string& tag) {
        for (int c = 0; c < 8; ++c)
            load.clients.emplace_back([&, tag, c] {
                int node = c % 2;
                for (int n = 0; !load.stop; ++n) {
                    try {
                        Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(nodes_[node].port));
                        session.setTimeout(Poco::Timespan(10, 0));
                        for (; !load.stop; ++n) {
                            const std::string reason = tag + " c" + std::to_string(c) + " n" + std::to_string(n);
                            const std::string body =
                                R"({"entry":"server-admins","reason":")" + reason + R"(","duration":"30m"})";
                            Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, "/api/v1/requests",
                                                           Poco::Net::HTTPMessage::HTTP_1_1);
                            request.setContentType("application/json");
                            request.setContentLength(static_cast<std::streamsize>(body.size()));
                            request.setKeepAlive(true);
                            Poco::Net::HTTPBasicCredentials("bob", kLogin.at("bob")).authenticate(request);
                            const auto sent = std::chrono::steady_clock::now();
                            {
                                std::lock_guard lock(load.mutex);
                                ++load.attempts;
                            }
                            session.sendRequest(request) << body;
                            Poco::Net::HTTPResponse response;
                            std::istream& in = session.receiveResponse(response);
                            std::string answer;
                            Poco::StreamCopier::copyToString(in, answer);
                            if (response.getStatus() == 201) {
                                std::lock_guard lock(load.mutex);
                                load.acknowledged.insert(reason);
                                if (load.since && sent >= *load.since) {
                                    ++load.after_since;
                                    if (!load.first_201_after) load.first_201_after = std::chrono::steady_clock::now();
                                }
                            } else if (response.getStatus() == 503) {
                                std::this_thread::sleep_for(20ms); // the store is away: unknown, try again
                            } else {
                                ADD_FAILURE() << response.getStatus() << " " << answer;
                                return;
                            }
                        }
                    } catch (const Poco::Exception&) {
                        // Its node was killed mid-request: that one is unknown. On to the other.
                        node = 1 - node;
                        std::this_thread::sleep_for(20ms);
                    }
                }
            });
    }
    static void stop_load(Load& load) {
        load.stop = true;
        for (auto& t : load.clients)
            t.join();
        load.clients.clear();
        load.stop = false;
    }
    /// check_nothing_lost: every acknowledged request stored once, one verified chain.
    void check_nothing_lost(Load& load, const char* what) {
        auto connection = db();
        std::map<std::string, int> stored;
        auto rows = connection.prepare("SELECT reason FROM requests");
        while (rows.step())
            ++stored[rows.column_text(0)];
        int lost = 0;
        int duplicated = 0;
        for (const auto& reason : load.acknowledged)
            if (stored.count(reason) == 0) ++lost;
        for (const auto& [reason, count] : stored)
            if (count > 1) ++duplicated;
        std::printf("%s: %d attempts, %zu acknowledged, %zu stored, %d lost, %d duplicated\n", what, load.attempts,
                    load.acknowledged.size(), stored.size(), lost, duplicated);
        EXPECT_GT(load.acknowledged.size(), 30U) << "the load did not run";
        EXPECT_EQ(lost, 0) << "acknowledged requests lost";
        EXPECT_EQ(duplicated, 0);
        const auto chain = store::verify_audit_chain(connection);
        EXPECT_TRUE(chain.ok()) << chain.message;
    }

    static inline PostgresSandbox* server_ = nullptr;
    TempDir dir_;
    std::string dsn_;
    std::string public_url_;
    Node nodes_[2];
};

TEST_F(SeveralNodes, ARequestOnAIsApprovedOnBThroughTheLinkAMailed) {
    start(0);
    EXPECT_EQ(role(0), "leader");
    auto created =
        api(0, "bob", "POST", "/api/v1/requests", R"({"entry":"server-admins","reason":"two nodes","duration":"1h"})");
    ASSERT_EQ(created.status, 201) << created.body;
    const std::string id = json_text(created.body, "id");
    // A mails carol (a Team Lead) her link.
    std::vector<ReceivedMail> mails;
    std::string link;
    for (int n = 0; n < 200 && link.empty(); ++n) {
        mails = read_mailbox(dir_ / "mail");
        for (const auto& mail : mails)
            if (mail.to.find("carol") != std::string::npos) link = link_in(mail.text, "/approve/");
        if (link.empty()) std::this_thread::sleep_for(100ms);
    }
    ASSERT_FALSE(link.empty()) << "no approval mail to carol from node A";
    ASSERT_EQ(link.rfind(public_url_ + "/approve/", 0), 0U) << link;
    // Now B starts, and carol follows A's link on B (the load balancer sent her there).
    start(1);
    EXPECT_EQ(role(1), "follower") << "A leads; one leader at a time";
    EXPECT_EQ(role(0), "leader");
    // /metrics says it too.
    EXPECT_NE(http_get(nodes_[0].url + "/metrics").body.find("\nkeyholder_scheduler_leader 1\n"), std::string::npos);
    EXPECT_NE(http_get(nodes_[1].url + "/metrics").body.find("\nkeyholder_scheduler_leader 0\n"), std::string::npos);
    const std::string path = link.substr(public_url_.size());
    HttpCall page;
    page.url = nodes_[1].url + path.substr(0, path.find('?'));
    page.basic_user = "carol";
    page.basic_password = kLogin.at("carol");
    auto shown = http_call(page);
    ASSERT_EQ(shown.status, 200) << shown.body;
    std::smatch key;
    ASSERT_TRUE(std::regex_search(shown.body, key, std::regex(R"(name="form_key" value="([^"]+)\")"))) << shown.body;
    std::string form_key;
    Poco::URI::encode(key[1].str(), "+/=&", form_key);
    HttpCall decide = page;
    decide.method = "POST";
    decide.body = "form_key=" + form_key + "&decision=approve&comment=from+node+B";
    decide.content_type = "application/x-www-form-urlencoded";
    decide.headers = {{"Origin", public_url_}};
    auto decided = http_call(decide);
    EXPECT_EQ(decided.status, 200) << decided.body;
    // Both nodes see it active; the link is used up on both.
    for (int node = 0; node < 2; ++node) {
        auto request = api(node, "bob", "GET", "/api/v1/requests/" + id);
        EXPECT_EQ(json_text(request.body, "state"), "active") << request.body;
        HttpCall again = decide;
        again.url = nodes_[node].url + path.substr(0, path.find('?'));
        EXPECT_EQ(http_call(again).status, 410) << "a link works once, whichever node it reaches";
    }
    // A portal session started on A is valid on B (sessions live in the store).
    auto login = api(0, "", "POST", "/api/v1/session", R"({"username":"bob","password":"Bob-Pa55word!"})");
    ASSERT_EQ(login.status, 201) << login.body;
    const std::string set_cookie = login.header("Set-Cookie");
    const std::string cookie = set_cookie.substr(0, set_cookie.find(';'));
    auto me = api(1, "", "GET", "/api/v1/me", "", {{"Cookie", cookie}, {"X-Keyholder-Client", "portal"}});
    EXPECT_EQ(me.status, 200) << me.body;
    EXPECT_EQ(json_text(me.body, "name"), "bob");
    // Every mail once: two approval mails (alice, carol), whatever node sent them.
    std::this_thread::sleep_for(1500ms); // B's outbox worker had its passes
    std::map<std::string, int> approval_mails;
    for (const auto& mail : read_mailbox(dir_ / "mail"))
        if (mail.text.find("/approve/") != std::string::npos) ++approval_mails[mail.to];
    EXPECT_EQ(approval_mails.size(), 2U);
    for (const auto& [to, count] : approval_mails)
        EXPECT_EQ(count, 1) << to << " was mailed " << count << " times";
}

TEST_F(SeveralNodes, WhenTheLeaderIsKilledTheOtherEndsAndTakesBackOnce) {
    start(0);
    start(1);
    ASSERT_EQ(role(0), "leader");
    ASSERT_EQ(role(1), "follower");
    auto created =
        api(1, "bob", "POST", "/api/v1/requests", R"({"entry":"server-admins","reason":"failover","duration":"6s"})");
    ASSERT_EQ(created.status, 201) << created.body;
    const std::string id = json_text(created.body, "id");
    auto approved = api(1, "alice", "POST", "/api/v1/requests/" + id + "/approve", "{}");
    ASSERT_EQ(approved.status, 200) << approved.body;
    auto connection = db();
    auto checkout = store::checkout_of_request(connection, std::stoll(id));
    ASSERT_TRUE(checkout);
    // Released in AD (by B, which took the approval).
    auto config = keyholder::config::load_config(nodes_[1].config);
    ASSERT_TRUE(config) << config.error().front().to_string();
    keyholder::directory::Directory directory(keyholder::core::directory_settings(config->ldap));
    auto bob = directory.find_user("bob");
    ASSERT_TRUE(bob);
    EXPECT_TRUE(*directory.is_member(*bob, "Server Admins"));

    // The leader dies 2 s before the window ends.
    const auto end = std::chrono::system_clock::from_time_t(static_cast<std::time_t>(checkout->ends_at));
    std::this_thread::sleep_until(end - 2s);
    kill(0);
    auto ended = taken_back(connection, checkout->id, 15s);
    const auto seen = std::chrono::system_clock::now();
    ASSERT_TRUE(ended);
    ASSERT_EQ(store::to_text(ended->state), "ended");
    EXPECT_EQ(store::to_text(ended->takeback_state), "done") << ended->takeback_error.value_or("");
    ASSERT_TRUE(ended->ended_at);
    const int64_t lag = *ended->ended_at - checkout->ends_at;
    std::printf("leader killed 2 s before the end; the other node ended it %lld s after its end "
                "(taken back %.1f s after it)\n",
                static_cast<long long>(lag), std::chrono::duration<double>(seen - end).count());
    EXPECT_LE(lag, 5) << "ended within 5 s of its end by the node that took over";
    EXPECT_LE(seen - end, 6s);
    EXPECT_EQ(role(1), "leader");
    // Taken back once: one take-back event, and the membership is gone in AD.
    auto events =
        connection.prepare("SELECT count(*) FROM audit_events WHERE action = 'checkout.taken_back' AND subject = ?");
    events.bind(1, "checkout:" + std::to_string(checkout->id));
    ASSERT_TRUE(events.step());
    EXPECT_EQ(events.column_int64(0), 1);
    directory.invalidate_all();
    EXPECT_FALSE(*directory.is_member(*bob, "Server Admins")) << "taken back in AD";
    EXPECT_TRUE(store::verify_audit_chain(connection).ok());
}

// A leader that hangs (SIGSTOP: its kernel keeps its connections open, so its lock's
// session lives on) is ended by the other node once that session has been idle for
// 10 s; the other node ends the check-out and takes it back once; the hung node,
// resumed, finds it lost the lock and follows.
TEST_F(SeveralNodes, WhenTheLeaderHangsTheOtherEndsItsSessionAndTakesOver) {
    start(0);
    start(1);
    ASSERT_EQ(role(0), "leader");
    auto created =
        api(1, "bob", "POST", "/api/v1/requests", R"({"entry":"server-admins","reason":"hang","duration":"6s"})");
    ASSERT_EQ(created.status, 201) << created.body;
    const std::string id = json_text(created.body, "id");
    ASSERT_EQ(api(1, "alice", "POST", "/api/v1/requests/" + id + "/approve", "{}").status, 200);
    auto connection = db();
    auto checkout = store::checkout_of_request(connection, std::stoll(id));
    ASSERT_TRUE(checkout);
    const auto end = std::chrono::system_clock::from_time_t(static_cast<std::time_t>(checkout->ends_at));
    std::this_thread::sleep_until(end - 2s);
    nodes_[0].process->signal(SIGSTOP);
    auto resume = gsl::finally([&] { nodes_[0].process->signal(SIGCONT); });
    auto ended = taken_back(connection, checkout->id, 25s);
    ASSERT_TRUE(ended && ended->ended_at);
    EXPECT_EQ(store::to_text(ended->takeback_state), "done") << ended->takeback_error.value_or("");
    const int64_t lag = *ended->ended_at - checkout->ends_at;
    std::printf("leader frozen 2 s before the end; the other node ended it %lld s after its end\n",
                static_cast<long long>(lag));
    EXPECT_LE(lag, 15) << "the hung leader's session is ended after 10 s idle, then the other node leads";
    EXPECT_EQ(role(1), "leader");
    nodes_[0].process->signal(SIGCONT);
    std::string first_role;
    for (int n = 0; n < 50; ++n) {
        first_role = role(0);
        if (first_role == "follower") break;
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_EQ(first_role, "follower") << "resumed, it learns it lost the lock";
    EXPECT_EQ(role(1), "leader");
    auto events =
        connection.prepare("SELECT count(*) FROM audit_events WHERE action = 'checkout.taken_back' AND subject = ?");
    events.bind(1, "checkout:" + std::to_string(checkout->id));
    ASSERT_TRUE(events.step());
    EXPECT_EQ(events.column_int64(0), 1) << "taken back once";
    EXPECT_TRUE(store::verify_audit_chain(connection).ok());
}

// The store hangs (SIGSTOP of the PostgreSQL server: connections open, no answers):
// each node answers 503 in bounded time ([store] answer_timeout = 3 s here) instead
// of hanging; probes behind a waiting one answer after 2 s instead of queueing; the
// process stays alive (/healthz); once the server answers again, so do the nodes.
TEST_F(SeveralNodes, WhenTheStoreHangsTheNodesAnswer503InBoundedTimeAndComeBack) {
    start(0);
    start(1);
    server_->pause();
    auto resume = gsl::finally([&] { server_->resume(); });
    const auto frozen = std::chrono::steady_clock::now();
    std::vector<std::thread> probes;
    std::vector<int> statuses(4, 0);
    std::vector<double> took(4, 0);
    for (int p = 0; p < 4; ++p)
        probes.emplace_back([&, p] {
            const auto sent = std::chrono::steady_clock::now();
            statuses[static_cast<size_t>(p)] = http_get(nodes_[0].url + "/readyz").status;
            took[static_cast<size_t>(p)] =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - sent).count();
        });
    auto created = api(1, "bob", "POST", "/api/v1/requests", R"({"entry":"server-admins","reason":"hung store"})");
    const double post_took = std::chrono::duration<double>(std::chrono::steady_clock::now() - frozen).count();
    for (auto& probe : probes)
        probe.join();
    EXPECT_EQ(created.status, 503) << created.body;
    EXPECT_NE(created.body.find("\"error\""), std::string::npos) << created.body;
    EXPECT_LT(post_took, 20.0) << "answered, not hung";
    for (int p = 0; p < 4; ++p) {
        EXPECT_EQ(statuses[static_cast<size_t>(p)], 503) << "probe " << p;
        EXPECT_LT(took[static_cast<size_t>(p)], 20.0) << "probe " << p;
    }
    EXPECT_EQ(http_get(nodes_[0].url + "/healthz").status, 200) << "the process lives";
    // Metrics: answered, without the gauges read from the store.
    const auto scraped = std::chrono::steady_clock::now();
    auto metrics = http_get(nodes_[1].url + "/metrics");
    const double scrape_took = std::chrono::duration<double>(std::chrono::steady_clock::now() - scraped).count();
    EXPECT_EQ(metrics.status, 200);
    EXPECT_NE(metrics.body.find("keyholder_up 1"), std::string::npos) << metrics.body.substr(0, 400);
    EXPECT_EQ(metrics.body.find("keyholder_requests_pending "), std::string::npos) << "not read from a hung store";
    EXPECT_LT(scrape_took, 60.0);
    std::printf("store frozen: POST answered 503 after %.1f s; /readyz probes after %.1f %.1f %.1f %.1f s; "
                "/metrics after %.1f s\n",
                post_took, took[0], took[1], took[2], took[3], scrape_took);
    server_->resume();
    int ready = 0;
    for (int n = 0; n < 200 && ready != 200; ++n) {
        ready = http_get(nodes_[0].url + "/readyz").status;
        if (ready != 200) std::this_thread::sleep_for(100ms);
    }
    EXPECT_EQ(ready, 200);
    auto after = api(1, "bob", "POST", "/api/v1/requests", R"({"entry":"server-admins","reason":"store is back"})");
    EXPECT_EQ(after.status, 201) << after.body;
}

TEST_F(SeveralNodes, ANodeKilledUnderLoadLosesAndDuplicatesNothingAcknowledged) {
    start(0);
    start(1);
    constexpr int kRounds = 3;
    std::mt19937 random(std::random_device{}());
    Load load;
    for (int round = 0; round < kRounds; ++round) {
        start_load(load, "load r" + std::to_string(round));
        std::this_thread::sleep_for(std::chrono::milliseconds(700 + random() % 1300));
        const int victim = round % 2;
        kill(victim);
        std::this_thread::sleep_for(500ms); // the load goes on against the other node alone
        stop_load(load);
        start(victim);
    }
    check_nothing_lost(load, "3 rounds of kill -9 over two nodes");
    // And the command an auditor runs agrees (password from the environment).
    const std::string without_password = dsn_.substr(0, dsn_.find(" password=")) + dsn_.substr(dsn_.find(" dbname="));
    auto verified = run(KEYHOLDER_CLI_PATH, {"audit", "verify", "--db", "postgresql:" + without_password},
                        {{"PGPASSWORD", server_->password()}});
    EXPECT_EQ(verified.status, 0) << verified.out << verified.err;
    EXPECT_NE(verified.out.find("audit chain intact"), std::string::npos) << verified.out;
    // Both nodes wrote into the one chain: every start of either is in it.
    auto connection = db();
    auto starts = connection.prepare("SELECT count(*) FROM audit_events WHERE action = 'service.started'");
    ASSERT_TRUE(starts.step());
    EXPECT_EQ(starts.column_int64(0), 2 + kRounds);
}

// A primary with a synchronous streaming standby: the primary is killed under load
// and the standby promoted; both nodes find it (several hosts in the DSN,
// target_session_attrs=read-write) and carry on. Nothing acknowledged is lost: a
// commit was acknowledged only once the standby had it.
TEST_F(SeveralNodes, BothNodesCarryOnOnAPromotedSynchronousStandby) {
    PostgresSandbox primary;
    primary.sql("CREATE DATABASE keyholder");
    PostgresSandbox standby(&primary, "standby1");
    primary.make_synchronous("standby1");
    dsn_ = "host=127.0.0.1,127.0.0.1 port=" + std::to_string(primary.port()) + "," + std::to_string(standby.port()) +
           " user=keyholder password=" + primary.password() + " dbname=keyholder";
    for (auto& node : nodes_)
        node.config = write_config(node);
    start(0);
    start(1);
    Load load;
    start_load(load, "failover");
    std::this_thread::sleep_for(1500ms);
    primary.kill();
    // From here on only the promoted standby can take a write.
    const size_t before = [&] {
        std::lock_guard lock(load.mutex);
        load.since = std::chrono::steady_clock::now();
        return load.acknowledged.size();
    }();
    standby.promote();
    // Writes resume on the promoted standby: wait for 50 acknowledged after the kill.
    for (int n = 0; n < 300; ++n) {
        {
            std::lock_guard lock(load.mutex);
            if (load.after_since >= 50) break;
        }
        std::this_thread::sleep_for(100ms);
    }
    stop_load(load);
    ASSERT_TRUE(load.first_201_after) << "no write succeeded after the promotion";
    const double resumed = std::chrono::duration<double>(*load.first_201_after - *load.since).count();
    std::printf("primary killed and standby promoted: writes succeeded again after %.2f s (%zu acknowledged before, "
                "%zu in all)\n",
                resumed, before, load.acknowledged.size());
    EXPECT_GE(load.after_since, 50) << "both nodes carried on on the promoted standby";
    check_nothing_lost(load, "primary killed, standby promoted");
    for (int node = 0; node < 2; ++node) {
        auto ready = http_get(nodes_[node].url + "/readyz");
        EXPECT_EQ(ready.status, 200) << ready.body << "\n" << nodes_[node].process->err().substr(0, 3000);
    }
}

} // namespace
