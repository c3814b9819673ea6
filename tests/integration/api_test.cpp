// The JSON API v1 in-process against a real OpenLDAP directory (slapd) and a real
// SQLite file: sign-on (Basic by LDAP bind, cache, disabled, hostile names, the
// failure limiter), every route through the full check-out flow, visibility rules,
// hostile bodies that change nothing, limits, TLS, /metrics — and every answer's
// status is checked against the OpenAPI document the server publishes.
#include <gtest/gtest.h>

#include <Poco/AutoPtr.h>
#include <Poco/Base64Encoder.h>
#include <Poco/Channel.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>

#include "keyholder/api/api.h"
#include "keyholder/api/sessions.h"
#include "keyholder/auth/sign_on.h"
#include "keyholder/config/config.h"
#include "keyholder/core/authority.h"
#include "keyholder/core/catalog.h"
#include "keyholder/core/directory_settings.h"
#include "keyholder/core/vault.h"
#include "keyholder/directory/directory.h"
#include "keyholder/http/json.h"
#include "keyholder/http/server.h"
#include "keyholder/store/audit.h"
#include "keyholder/store/checkouts.h"
#include "keyholder/store/store.h"
#include "support/child_process.h"
#include "support/http_get.h"
#include "support/slapd.h"
#include "support/temp_dir.h"

namespace {

using namespace keyholder;
using keyholder::testing::HttpAnswer;
using keyholder::testing::HttpCall;
using keyholder::testing::SlapdSandbox;
using keyholder::testing::TempDir;
using Poco::JSON::Object;

const std::filesystem::path kSource = KEYHOLDER_SOURCE_DIR;
const std::map<std::string, std::string> kPasswords{{"alice", "alice-demo-password"}, {"bob", "bob-demo-password"},
                                                    {"carol", "carol-demo-password"}, {"dave", "dave-demo-password"},
                                                    {"erin", "erin-demo-password"},   {"frank", "frank-demo-password"}};

// erin audits; frank is locked (ppolicy): disabled for keyholder.
std::filesystem::path extra_ldif(const TempDir& dir) {
    return dir.write("extra.ldif", R"(dn: uid=erin,ou=people,dc=demo,dc=test
objectClass: inetOrgPerson
uid: erin
cn: Erin Auditor
sn: Auditor
displayName: Erin Auditor
mail: erin@demo.test
userPassword: erin-demo-password

dn: uid=frank,ou=people,dc=demo,dc=test
objectClass: inetOrgPerson
objectClass: pwdPolicy
uid: frank
cn: Frank Former
sn: Former
mail: frank@demo.test
userPassword: frank-demo-password
pwdAttribute: userPassword
pwdAccountLockedTime: 000001010000Z

dn: cn=auditors,ou=groups,dc=demo,dc=test
changetype: modify
add: member
member: uid=erin,ou=people,dc=demo,dc=test

dn: cn=operators,ou=groups,dc=demo,dc=test
changetype: modify
add: member
member: uid=frank,ou=people,dc=demo,dc=test

)",
                     0644);
}

class Api : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new TempDir;
        slapd_ = new SlapdSandbox({kSource / "config/demo-directory.ldif", extra_ldif(*dir_)});
        dir_->write("data/ldap.password", "demo-service-password");
        auto file = dir_->write(
            "keyholder.ini",
            "[service]\ndata_dir = data\nadmin_groups = keyholder-admins\nauditor_groups = auditors\n"
            "[http]\nlisten = 127.0.0.1:0\npublic_url = http://127.0.0.1:1\nmax_body_bytes = 65536\n"
            "max_header_fields = 40\nthreads = 8\n"
            "[auth]\nfailed_signon_limit = 1000\n"
            "[ldap]\nuris = " +
                slapd_->ldap_uri() +
                "\nbase_dn = dc=demo,dc=test\nflavour = openldap\nbind_dn = cn=keyholder,ou=services,dc=demo,dc=test\n"
                "bind_password_file = ldap.password\n"
                "[policy.standard]\nrequester_groups = operators\nstage1_approvers = team-leads\n"
                "default_duration = 1h\nmax_duration = 4h\nmax_extension = 1h\nticket_pattern = CHG-[0-9]+\n"
                "[entry.demo-admin]\ndisplay_name = Demo Admin\npolicy = standard\nrelease = password\n"
                "account = demo-admin\nrotate_password = false\n"
                "[entry.spare]\ndisplay_name = Spare\npolicy = standard\nrelease = password\naccount = demo-admin\n"
                "rotate_password = false\n");
        auto loaded = config::load_config(file);
        ASSERT_TRUE(loaded) << loaded.error().front().to_string();
        config_ = new config::Config(std::move(*loaded));
        {
            auto store = store::open_store(config_->store.file);
            core::record_service_start(store.connection, *config_, clock_, "test");
        }
        directory_ = new directory::Directory(core::directory_settings(config_->ldap));
        authority_ = new core::DirectoryAuthority(*directory_);
        vault_ = new core::SecretVault(std::move(*core::SecretVault::open(config_->service.master_key_file)));
        pool_ = new api::CorePool(*config_, *authority_, clock_, vault_, 8);
        metrics_ = new http::Metrics;
        context_ = new api::ApiContext{*config_, *pool_, *authority_, clock_, vault_, metrics_, {}};
        router_ = new http::Router;
        api::add_api_routes(*router_, *context_);
        // The sign-on clock can be moved ahead (session expiry) without touching the core's.
        sign_on_ = new auth::SignOn(config_->auth, *directory_, metrics_, [] { return clock_.now() + time_shift_; });
        sessions_ = new api::StoreSessions(*pool_);
        sign_on_->use_sessions(*sessions_);
        api::add_session_routes(*router_, *context_, *sign_on_);
        server_ = new http::Server(config_->http, {}, router_, sign_on_, metrics_);
        server_->start();
        Poco::JSON::Parser parser;
        openapi_ = parser.parse(api::openapi_document()).extract<Object::Ptr>();
    }
    static void TearDownTestSuite() {
        delete server_;
        delete sign_on_;
        delete sessions_;
        delete router_;
        delete context_;
        delete metrics_;
        delete pool_;
        delete vault_;
        delete authority_;
        delete directory_;
        delete config_;
        delete slapd_;
        delete dir_;
    }

    // call: one request as `user` (empty: anonymous); the status must be documented
    // for `pattern` in the OpenAPI document (a route's own or the shared error codes).
    static HttpAnswer call(const std::string& user, const std::string& method, const std::string& pattern,
                           const std::string& path, const std::string& body = {},
                           std::vector<std::pair<std::string, std::string>> headers = {},
                           const std::string& content_type = "application/json") {
        HttpCall c;
        c.method = method;
        c.url = server_->url() + path;
        c.body = body;
        c.content_type = content_type;
        c.headers = std::move(headers);
        if (!user.empty()) {
            c.basic_user = user;
            auto known = kPasswords.find(user);
            c.basic_password = known == kPasswords.end() ? "x" : known->second;
        }
        HttpAnswer answer = http_call(c);
        EXPECT_TRUE(documented(method, pattern, answer.status))
            << method << " " << pattern << " answered " << answer.status << " (not in openapi.json): " << answer.body;
        if (answer.status >= 400) {
            auto error = parse(answer.body);
            EXPECT_TRUE(error && error->has("error")) << "error body shape: " << answer.body;
        }
        return answer;
    }

    static bool documented(const std::string& method, const std::string& pattern, int status) {
        if (status == 404 || status == 405 || status == 431 || status == 500) return true; // server-wide
        auto paths = openapi_->getObject("paths");
        if (!paths->has(pattern)) return false;
        auto op = paths->getObject(pattern)->getObject(Poco::toLower(method));
        return op && op->getObject("responses")->has(std::to_string(status));
    }

    static Object::Ptr parse(const std::string& body) {
        try {
            Poco::JSON::Parser parser;
            return parser.parse(body).extract<Object::Ptr>();
        } catch (const std::exception&) {
            return nullptr;
        }
    }
    static std::string code(const HttpAnswer& answer) {
        auto o = parse(answer.body);
        return o && o->has("error") ? o->getObject("error")->getValue<std::string>("code") : "";
    }
    static int64_t count_rows(const std::string& table) {
        auto db = store::Connection::open(config_->store.file);
        auto s = db.prepare("SELECT count(*) FROM " + table);
        s.step();
        return s.column_int64(0);
    }
    static int64_t new_request(const std::string& entry = "demo-admin") {
        auto answer = call("bob", "POST", "/api/v1/requests", "/api/v1/requests",
                           R"({"entry":")" + entry + R"(","reason":"patch night","ticket":"CHG-42","duration":"30m"})");
        EXPECT_EQ(answer.status, 201) << answer.body;
        auto o = parse(answer.body);
        return o ? o->getValue<int64_t>("id") : 0;
    }
    static void ensure_secret(const std::string& entry) {
        auto answer = call("dave", "POST", "/api/v1/entries/{name}/secret", "/api/v1/entries/" + entry + "/secret",
                           R"({"secret":"initial-demo-admin-password"})");
        ASSERT_EQ(answer.status, 200) << answer.body;
    }

    static inline core::SystemClock clock_;
    static inline TempDir* dir_ = nullptr;
    static inline SlapdSandbox* slapd_ = nullptr;
    static inline config::Config* config_ = nullptr;
    static inline directory::Directory* directory_ = nullptr;
    static inline core::DirectoryAuthority* authority_ = nullptr;
    static inline core::SecretVault* vault_ = nullptr;
    static inline api::CorePool* pool_ = nullptr;
    static inline http::Metrics* metrics_ = nullptr;
    static inline api::ApiContext* context_ = nullptr;
    static inline http::Router* router_ = nullptr;
    static inline auth::SignOn* sign_on_ = nullptr;
    static inline api::StoreSessions* sessions_ = nullptr;
    static inline std::atomic<int64_t> time_shift_{0};
    static inline http::Server* server_ = nullptr;
    static inline Object::Ptr openapi_;
};

TEST_F(Api, SignOnChallengesAndRefuses) {
    auto anonymous = call("", "GET", "/api/v1/me", "/api/v1/me");
    EXPECT_EQ(anonymous.status, 401);
    EXPECT_NE(anonymous.header("WWW-Authenticate").find("Basic"), std::string::npos);
    EXPECT_EQ(call("nobody", "GET", "/api/v1/me", "/api/v1/me").status, 401);
    HttpCall wrong;
    wrong.url = server_->url() + "/api/v1/me";
    wrong.basic_user = "bob";
    wrong.basic_password = "not-his-password";
    EXPECT_EQ(http_call(wrong).status, 401);
    auto disabled = call("frank", "GET", "/api/v1/me", "/api/v1/me");
    EXPECT_EQ(disabled.status, 403);
    EXPECT_EQ(code(disabled), "account_disabled");
    auto bob = call("bob", "GET", "/api/v1/me", "/api/v1/me");
    ASSERT_EQ(bob.status, 200) << bob.body;
    auto me = parse(bob.body);
    EXPECT_EQ(me->getValue<std::string>("name"), "bob");
    EXPECT_EQ(me->getValue<std::string>("signed_on_with"), "basic");
    EXPECT_EQ(me->getValue<std::string>("id").rfind("uuid:", 0), 0U);
    // Roles tell the truth: dave may request nothing (not in operators), carol approves.
    auto roles_of = [&](const std::string& user) {
        std::vector<std::string> roles;
        auto list = parse(call(user, "GET", "/api/v1/me", "/api/v1/me").body)->getArray("roles");
        for (size_t i = 0; i < list->size(); ++i)
            roles.push_back(list->getElement<std::string>(static_cast<unsigned>(i)));
        return roles;
    };
    EXPECT_EQ(roles_of("bob"), (std::vector<std::string>{"requester"}));
    EXPECT_EQ(roles_of("carol"), (std::vector<std::string>{"approver"}));
    EXPECT_EQ(roles_of("dave"), (std::vector<std::string>{"auditor", "admin"}));
    // A garbage Authorization header is a 401, not a crash.
    EXPECT_EQ(call("", "GET", "/api/v1/me", "/api/v1/me", "", {{"Authorization", "Basic !!!notbase64"}}).status, 401);
    EXPECT_EQ(call("", "GET", "/api/v1/me", "/api/v1/me", "", {{"Authorization", "Bearer abc"}}).status, 401);
}

TEST_F(Api, HostileNamesInEveryIdentityFieldFindNobody) {
    const int64_t before = count_rows("requests");
    for (const std::string name : {"*", "bob)(|(uid=*", "*)(objectClass=*", "bob\\2a", "a*", "dave)(uid=dave",
                                   "cn=keyholder,ou=services,dc=demo,dc=test", "bob\\", "(", "uid=bob"}) {
        HttpCall c;
        c.url = server_->url() + "/api/v1/me";
        c.basic_user = name;
        c.basic_password = "bob-demo-password";
        EXPECT_EQ(http_call(c).status, 401) << name;
        c.basic_password = "demo-service-password";
        EXPECT_EQ(http_call(c).status, 401) << name;
    }
    // Filter characters in the entry name and the path.
    auto answer = call("bob", "POST", "/api/v1/requests", "/api/v1/requests",
                       R"({"entry":"*)(uid=*","reason":"x","ticket":"CHG-1"})");
    EXPECT_EQ(answer.status, 404);
    EXPECT_EQ(call("bob", "GET", "/api/v1/requests/{id}", "/api/v1/requests/1*").status, 400);
    EXPECT_EQ(count_rows("requests"), before);
}

TEST_F(Api, BasicCredentialsAreCachedAsASaltedHashOnly) {
    const double binds_before = metrics_->value("keyholder_signon_failures_total", "method=\"basic\"");
    for (int i = 0; i < 5; ++i)
        ASSERT_EQ(call("carol", "GET", "/api/v1/me", "/api/v1/me").status, 200);
    // A wrong password for a cached user is still refused (the cache compares hashes).
    HttpCall wrong;
    wrong.url = server_->url() + "/api/v1/me";
    wrong.basic_user = "carol";
    wrong.basic_password = "carol-demo-passworx";
    EXPECT_EQ(http_call(wrong).status, 401);
    EXPECT_EQ(metrics_->value("keyholder_signon_failures_total", "method=\"basic\""), binds_before + 1);
    EXPECT_EQ(call("carol", "GET", "/api/v1/me", "/api/v1/me").status, 200);
}

TEST_F(Api, EntriesShowWhoCanApprove) {
    auto answer = call("bob", "GET", "/api/v1/entries", "/api/v1/entries");
    ASSERT_EQ(answer.status, 200) << answer.body;
    auto entries = parse(answer.body)->getArray("entries");
    ASSERT_EQ(entries->size(), 2U);
    auto first = entries->getObject(0);
    EXPECT_EQ(first->getValue<std::string>("name"), "demo-admin");
    auto approvers = first->getArray("stages")->getObject(0)->getArray("approvers");
    std::set<std::string> names;
    for (size_t i = 0; i < approvers->size(); ++i)
        names.insert(approvers->getObject(static_cast<unsigned>(i))->getValue<std::string>("name"));
    EXPECT_EQ(names, (std::set<std::string>{"alice", "carol"}));
    // carol is no operator: nothing to request; all=true is for auditors.
    EXPECT_EQ(parse(call("carol", "GET", "/api/v1/entries", "/api/v1/entries").body)->getArray("entries")->size(), 0U);
    EXPECT_EQ(call("carol", "GET", "/api/v1/entries", "/api/v1/entries?all=true").status, 403);
    EXPECT_EQ(
        parse(call("erin", "GET", "/api/v1/entries", "/api/v1/entries?all=true").body)->getArray("entries")->size(),
        2U);
}

TEST_F(Api, TheCreatedAnswerIsWhatAReadReturns) {
    // The 201 is built from the row as committed, not read back: it must match a read.
    ensure_secret("demo-admin");
    auto created = call("bob", "POST", "/api/v1/requests", "/api/v1/requests",
                        R"({"entry":"demo-admin","reason":"für die Nacht","ticket":"CHG-7","duration":"45m"})");
    ASSERT_EQ(created.status, 201) << created.body;
    const auto id = parse(created.body)->getValue<int64_t>("id");
    auto read = call("bob", "GET", "/api/v1/requests/{id}", "/api/v1/requests/" + std::to_string(id));
    ASSERT_EQ(read.status, 200) << read.body;
    EXPECT_EQ(created.body, read.body);
    auto o = parse(created.body);
    EXPECT_EQ(o->getValue<std::string>("state"), "pending");
    EXPECT_EQ(o->getValue<int>("approvals_needed"), 1);
    EXPECT_EQ(o->getArray("decisions")->size(), 0U);
    EXPECT_TRUE(o->isNull("checkout"));
}

TEST_F(Api, TheWholeCheckoutFlow) {
    ensure_secret("demo-admin");
    const int64_t id = new_request();
    // Nobody approves their own request, even through the API.
    auto self =
        call("bob", "POST", "/api/v1/requests/{id}/approve", "/api/v1/requests/" + std::to_string(id) + "/approve");
    EXPECT_EQ(self.status, 403);
    EXPECT_EQ(code(self), "self_approval");
    // dave is an admin but no approver.
    EXPECT_EQ(
        call("dave", "POST", "/api/v1/requests/{id}/approve", "/api/v1/requests/" + std::to_string(id) + "/approve")
            .status,
        403);
    // carol sees it among those she may decide; bob does not.
    auto approvable = parse(call("carol", "GET", "/api/v1/requests", "/api/v1/requests?approvable=true").body);
    bool listed = false;
    for (size_t i = 0; i < approvable->getArray("requests")->size(); ++i)
        listed = listed ||
                 approvable->getArray("requests")->getObject(static_cast<unsigned>(i))->getValue<int64_t>("id") == id;
    EXPECT_TRUE(listed);
    EXPECT_EQ(parse(call("bob", "GET", "/api/v1/requests", "/api/v1/requests?approvable=true").body)
                  ->getArray("requests")
                  ->size(),
              0U);
    // Before approval there is no credential to read.
    auto approved = call("carol", "POST", "/api/v1/requests/{id}/approve",
                         "/api/v1/requests/" + std::to_string(id) + "/approve", R"({"comment":"go ahead"})");
    ASSERT_EQ(approved.status, 200) << approved.body;
    auto request = parse(approved.body);
    EXPECT_EQ(request->getValue<std::string>("state"), "active");
    auto decision = request->getArray("decisions")->getObject(0);
    EXPECT_EQ(decision->getValue<std::string>("comment"), "go ahead");
    // Every person carries the directory's display name, as the requester does.
    EXPECT_EQ(decision->getObject("approver")->getValue<std::string>("display_name"), "Carol Lead");
    EXPECT_EQ(decision->getObject("approver")->getValue<std::string>("name"), "carol");
    EXPECT_EQ(request->getObject("requester")->getValue<std::string>("display_name"), "Bob Operator");
    EXPECT_EQ(request->getObject("checkout")->getObject("holder")->getValue<std::string>("display_name"),
              "Bob Operator");
    const int64_t checkout = request->getObject("checkout")->getValue<int64_t>("id");
    const std::string cpath = "/api/v1/checkouts/" + std::to_string(checkout);
    // A second decision on a decided request is a conflict.
    EXPECT_EQ(
        call("alice", "POST", "/api/v1/requests/{id}/approve", "/api/v1/requests/" + std::to_string(id) + "/approve")
            .status,
        409);
    // Only the holder reads the credential; every read is counted.
    auto credential = call("bob", "GET", "/api/v1/checkouts/{id}/credential", cpath + "/credential");
    ASSERT_EQ(credential.status, 200) << credential.body;
    EXPECT_EQ(parse(credential.body)->getValue<std::string>("password"), "initial-demo-admin-password");
    EXPECT_EQ(call("carol", "GET", "/api/v1/checkouts/{id}/credential", cpath + "/credential").status, 404);
    EXPECT_EQ(call("dave", "GET", "/api/v1/checkouts/{id}/credential", cpath + "/credential").status, 404);
    // Visibility: requester, decider and auditors see it; alice (not decided, no longer pending) does not.
    const std::string rpath = "/api/v1/requests/" + std::to_string(id);
    EXPECT_EQ(call("bob", "GET", "/api/v1/requests/{id}", rpath).status, 200);
    EXPECT_EQ(call("carol", "GET", "/api/v1/requests/{id}", rpath).status, 200);
    EXPECT_EQ(call("erin", "GET", "/api/v1/requests/{id}", rpath).status, 200);
    EXPECT_EQ(call("alice", "GET", "/api/v1/requests/{id}", rpath).status, 404);
    EXPECT_EQ(call("alice", "GET", "/api/v1/checkouts/{id}", cpath).status, 404);
    EXPECT_EQ(call("erin", "GET", "/api/v1/checkouts/{id}", cpath).status, 200);
    // The entry is exclusive: a second request conflicts while the window lasts.
    auto busy = call("bob", "POST", "/api/v1/requests", "/api/v1/requests",
                     R"({"entry":"demo-admin","reason":"again","ticket":"CHG-43"})");
    EXPECT_EQ(busy.status, 409);
    EXPECT_EQ(code(busy), "entry_busy");
    // An extension is its own request.
    auto extension = call("bob", "POST", "/api/v1/checkouts/{id}/extend", cpath + "/extend",
                          R"({"by":"15m","reason":"not done yet"})");
    ASSERT_EQ(extension.status, 201) << extension.body;
    EXPECT_EQ(parse(extension.body)->getValue<int64_t>("extends_checkout"), checkout);
    // Check-in ends the window; the take-back state is shown.
    auto checkin = call("bob", "POST", "/api/v1/checkouts/{id}/checkin", cpath + "/checkin");
    ASSERT_EQ(checkin.status, 200) << checkin.body;
    auto ended = parse(checkin.body);
    EXPECT_EQ(ended->getValue<std::string>("state"), "ended");
    EXPECT_EQ(ended->getValue<std::string>("end_reason"), "checked_in");
    EXPECT_EQ(ended->getValue<int>("credential_retrievals"), 1);
    EXPECT_TRUE(ended->has("takeback_state"));
    EXPECT_EQ(call("bob", "GET", "/api/v1/checkouts/{id}/credential", cpath + "/credential").status, 409);
    EXPECT_EQ(call("bob", "POST", "/api/v1/checkouts/{id}/checkin", cpath + "/checkin").status, 409);
    // Mine lists it; mine=false is for auditors.
    auto mine = parse(call("bob", "GET", "/api/v1/requests", "/api/v1/requests?state=ended").body);
    EXPECT_GE(mine->getArray("requests")->size(), 1U);
    EXPECT_EQ(call("bob", "GET", "/api/v1/requests", "/api/v1/requests?mine=false").status, 403);
    EXPECT_EQ(call("erin", "GET", "/api/v1/requests", "/api/v1/requests?mine=false").status, 200);
    auto db = store::Connection::open(config_->store.file);
    EXPECT_TRUE(store::verify_audit_chain(db).ok());
}

// An approver grants a shorter window than asked; the answer, the decision and the
// check-out show it. A grant longer than asked, or on a denial, is a 400.
TEST_F(Api, AnApprovalMayGrantAShorterWindow) {
    ensure_secret("spare");
    const int64_t id = new_request("spare"); // 30 m asked
    const std::string path = "/api/v1/requests/" + std::to_string(id);
    auto longer = call("carol", "POST", "/api/v1/requests/{id}/approve", path + "/approve", R"({"duration":"1h"})");
    EXPECT_EQ(longer.status, 400);
    EXPECT_EQ(code(longer), "bad_grant");
    auto on_deny = call("carol", "POST", "/api/v1/requests/{id}/deny", path + "/deny", R"({"duration":"10m"})");
    EXPECT_EQ(on_deny.status, 400);
    EXPECT_EQ(code(on_deny), "unknown_field");
    EXPECT_EQ(parse(call("bob", "GET", "/api/v1/requests/{id}", path).body)->getValue<std::string>("state"), "pending");
    auto approved = call("carol", "POST", "/api/v1/requests/{id}/approve", path + "/approve",
                         R"({"duration":"10m","comment":"ten minutes will do"})");
    ASSERT_EQ(approved.status, 200) << approved.body;
    auto request = parse(approved.body);
    EXPECT_EQ(request->getArray("decisions")->getObject(0)->getValue<int64_t>("granted_duration_seconds"), 600);
    EXPECT_EQ(request->getValue<int64_t>("duration_seconds"), 1800) << "what was asked stays as asked";
    auto checkout = request->getObject("checkout");
    const auto starts = http::parse_iso8601(checkout->getValue<std::string>("starts_at"));
    const auto ends = http::parse_iso8601(checkout->getValue<std::string>("ends_at"));
    ASSERT_TRUE(starts && ends);
    EXPECT_EQ(*ends - *starts, 600);
    const std::string cpath = "/api/v1/checkouts/" + std::to_string(checkout->getValue<int64_t>("id"));
    EXPECT_EQ(call("bob", "POST", "/api/v1/checkouts/{id}/checkin", cpath + "/checkin").status, 200); // free again
}

// Portal sessions: the login form sets an HttpOnly, SameSite=Strict cookie (a new id
// every time, only its hash stored); a change needs the session's CSRF token and a
// same-origin request; sign-out, idleness and the absolute lifetime end it.
TEST_F(Api, PortalSessionsCookieCsrfSignOutAndExpiry) {
    struct ResetShift {
        ~ResetShift() { time_shift_ = 0; }
    } reset_shift;
    auto login = [&](const std::string& user, const std::string& password) {
        return call("", "POST", "/api/v1/session", "/api/v1/session",
                    R"({"username":")" + user + R"(","password":")" + password + R"("})");
    };
    auto cookie_of = [](const HttpAnswer& answer) {
        const std::string set = answer.header("Set-Cookie");
        const size_t eq = set.find('='), semi = set.find(';');
        return set.substr(eq + 1, semi - eq - 1);
    };
    auto as = [&](const std::string& cookie, const std::string& method, const std::string& pattern,
                  const std::string& path, const std::string& body = {},
                  std::vector<std::pair<std::string, std::string>> headers = {}) {
        headers.emplace_back("Cookie", "other=1; keyholder_session=" + cookie);
        headers.emplace_back("X-Keyholder-Client", "portal");
        return call("", method, pattern, path, body, std::move(headers));
    };

    auto wrong = login("bob", "not-his-password");
    EXPECT_EQ(wrong.status, 401);
    EXPECT_EQ(wrong.header("WWW-Authenticate"), "") << "the login form never triggers a browser dialog";
    EXPECT_EQ(wrong.header("Set-Cookie"), "");

    auto started = login("bob", kPasswords.at("bob"));
    ASSERT_EQ(started.status, 201) << started.body;
    const std::string set_cookie = started.header("Set-Cookie");
    EXPECT_EQ(set_cookie.rfind("keyholder_session=", 0), 0U) << set_cookie;
    for (const char* attribute : {"; Path=/", "; HttpOnly", "; SameSite=Strict", "; Max-Age=36000"})
        EXPECT_NE(set_cookie.find(attribute), std::string::npos) << attribute << " in " << set_cookie;
    EXPECT_EQ(set_cookie.find("Secure"), std::string::npos) << "plain HTTP on loopback: no Secure";
    const std::string cookie = cookie_of(started);
    EXPECT_EQ(cookie.size(), 43U) << "256 bits, base64url";
    const std::string csrf = parse(started.body)->getValue<std::string>("csrf_token");
    EXPECT_NE(cookie_of(login("bob", kPasswords.at("bob"))), cookie) << "a new id at every sign-on";
    {
        // Only the hash of the id is stored.
        auto db = store::Connection::open(config_->store.file);
        auto rows = db.prepare("SELECT count(*) FROM portal_sessions WHERE id_hash = ? OR id_hash LIKE ?");
        rows.bind(1, cookie).bind(2, "%" + cookie + "%");
        rows.step();
        EXPECT_EQ(rows.column_int64(0), 0);
        EXPECT_GE(count_rows("portal_sessions"), 2);
    }

    auto me = as(cookie, "GET", "/api/v1/me", "/api/v1/me");
    ASSERT_EQ(me.status, 200) << me.body;
    EXPECT_EQ(parse(me.body)->getValue<std::string>("name"), "bob");
    EXPECT_EQ(parse(me.body)->getValue<std::string>("signed_on_with"), "session");
    EXPECT_EQ(parse(as(cookie, "GET", "/api/v1/session", "/api/v1/session").body)->getValue<std::string>("csrf_token"),
              csrf);

    // A change without the token, with a wrong one, or from another site changes nothing.
    const int64_t before = count_rows("requests");
    const std::string body = R"({"entry":"demo-admin","reason":"from the portal","ticket":"CHG-9"})";
    auto no_token = as(cookie, "POST", "/api/v1/requests", "/api/v1/requests", body);
    EXPECT_EQ(no_token.status, 403);
    EXPECT_EQ(code(no_token), "csrf_token");
    EXPECT_EQ(as(cookie, "POST", "/api/v1/requests", "/api/v1/requests", body, {{"X-CSRF-Token", csrf + "x"}}).status,
              403);
    auto cross = as(cookie, "POST", "/api/v1/requests", "/api/v1/requests", body,
                    {{"X-CSRF-Token", csrf}, {"Origin", "https://evil.example"}});
    EXPECT_EQ(cross.status, 403);
    EXPECT_EQ(code(cross), "cross_site");
    EXPECT_EQ(count_rows("requests"), before);
    // The listening address itself is the portal's own origin (public_url names another).
    auto created = as(cookie, "POST", "/api/v1/requests", "/api/v1/requests", body,
                      {{"X-CSRF-Token", csrf}, {"Origin", "http://127.0.0.1:" + std::to_string(server_->port())}});
    ASSERT_EQ(created.status, 201) << created.body;
    const std::string id = std::to_string(parse(created.body)->getValue<int64_t>("id"));
    EXPECT_EQ(as(cookie, "POST", "/api/v1/requests/{id}/cancel", "/api/v1/requests/" + id + "/cancel", "{}",
                 {{"X-CSRF-Token", csrf}})
                  .status,
              200);

    // Sign-out ends it in the store: the same cookie signs nobody on.
    auto out = as(cookie, "DELETE", "/api/v1/session", "/api/v1/session", "", {{"X-CSRF-Token", csrf}});
    ASSERT_EQ(out.status, 200) << out.body;
    EXPECT_NE(out.header("Set-Cookie").find("keyholder_session=;"), std::string::npos) << out.header("Set-Cookie");
    auto after = as(cookie, "GET", "/api/v1/me", "/api/v1/me");
    EXPECT_EQ(after.status, 401);
    EXPECT_EQ(code(after), "session_ended");
    EXPECT_EQ(after.header("WWW-Authenticate"), "") << "the portal gets no challenge";

    // Idle for longer than session_idle_timeout (30 m): ended.
    const std::string idle = cookie_of(login("bob", kPasswords.at("bob")));
    time_shift_ += 1801;
    EXPECT_EQ(as(idle, "GET", "/api/v1/me", "/api/v1/me").status, 401);
    // Used every 25 minutes, it still ends at session_lifetime (10 h).
    const std::string busy = cookie_of(login("bob", kPasswords.at("bob")));
    int served = 0;
    for (int minutes = 25; minutes <= 11 * 60; minutes += 25) {
        time_shift_ += 25 * 60;
        if (as(busy, "GET", "/api/v1/me", "/api/v1/me").status != 200) break;
        ++served;
    }
    EXPECT_EQ(served, 23) << "600 minutes / 25: served until the lifetime ran out";
}

// request_ids_in_csv: the first column of every data row (RFC 4180, quoted fields may
// hold commas, quotes and line breaks).
std::set<int64_t> request_ids_in_csv(const std::string& csv) {
    std::set<int64_t> ids;
    std::string field;
    int column = 0;
    bool quoted = false, header = true;
    for (size_t i = 0; i < csv.size(); ++i) {
        const char c = csv[i];
        if (quoted) {
            if (c == '"' && i + 1 < csv.size() && csv[i + 1] == '"') {
                field += '"';
                ++i;
            } else if (c == '"') {
                quoted = false;
            } else {
                field += c;
            }
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',' || c == '\n') {
            if (column == 0 && !header) ids.insert(std::stoll(field));
            field.clear();
            column = c == ',' ? column + 1 : 0;
            if (c == '\n') header = false;
        } else if (c != '\r') {
            field += c;
        }
    }
    return ids;
}

// The auditors' check-out requests view: filters and keyset pages on the server, the
// actual end and the credential reads; the CSV with the same filters has exactly the
// same requests.
TEST_F(Api, TheCheckoutRequestsViewFiltersPagesAndMatchesTheCsv) {
    ensure_secret("spare");
    std::vector<int64_t> carols;
    for (int i = 0; i < 3; ++i) {
        const int64_t id = new_request("spare");
        auto approved = parse(call("carol", "POST", "/api/v1/requests/{id}/approve",
                                   "/api/v1/requests/" + std::to_string(id) + "/approve")
                                  .body);
        const std::string cpath = "/api/v1/checkouts/" + approved->getObject("checkout")->getValue<std::string>("id");
        if (i == 0) {
            EXPECT_EQ(call("bob", "GET", "/api/v1/checkouts/{id}/credential", cpath + "/credential").status, 200);
        }
        EXPECT_EQ(call("bob", "POST", "/api/v1/checkouts/{id}/checkin", cpath + "/checkin").status, 200);
        carols.push_back(id);
    }
    const int64_t denied = new_request("spare");
    EXPECT_EQ(
        call("alice", "POST", "/api/v1/requests/{id}/deny", "/api/v1/requests/" + std::to_string(denied) + "/deny")
            .status,
        200);

    EXPECT_EQ(call("bob", "GET", "/api/v1/checkout-requests", "/api/v1/checkout-requests").status, 403);
    for (const std::string bad :
         {"?sort=reason", "?limit=0", "?limit=201", "?after=12", "?state=done", "?colour=red", "?from=yesterday"})
        EXPECT_EQ(call("dave", "GET", "/api/v1/checkout-requests", "/api/v1/checkout-requests" + bad).status, 400)
            << bad;

    // carol's decisions, two to a page, newest first.
    std::vector<int64_t> seen;
    std::string next;
    int actual_ends = 0;
    int reads = 0;
    for (int page = 0; page < 50; ++page) {
        auto answer = call("dave", "GET", "/api/v1/checkout-requests",
                           "/api/v1/checkout-requests?approver=carol&limit=2" + (next.empty() ? "" : "&after=" + next));
        ASSERT_EQ(answer.status, 200) << answer.body;
        auto o = parse(answer.body);
        auto rows = o->getArray("rows");
        EXPECT_LE(rows->size(), 2U);
        for (size_t i = 0; i < rows->size(); ++i) {
            auto row = rows->getObject(static_cast<unsigned>(i));
            seen.push_back(row->getValue<int64_t>("request_id"));
            bool carol = false;
            auto decisions = row->getArray("decisions");
            for (size_t d = 0; d < decisions->size(); ++d)
                carol = carol ||
                        decisions->getObject(static_cast<unsigned>(d))->getValue<std::string>("approver") == "carol";
            EXPECT_TRUE(carol) << "row " << seen.back() << " was not decided by carol";
            if (std::find(carols.begin(), carols.end(), seen.back()) != carols.end()) {
                EXPECT_EQ(row->getValue<std::string>("end_reason"), "checked_in");
                actual_ends += row->isNull("actual_end") ? 0 : 1;
                reads += row->getValue<int>("credential_retrievals");
            }
        }
        if (o->isNull("next")) break;
        next = o->getValue<std::string>("next");
    }
    for (int64_t id : carols)
        EXPECT_NE(std::find(seen.begin(), seen.end(), id), seen.end()) << "request " << id << " missing";
    EXPECT_TRUE(std::is_sorted(seen.rbegin(), seen.rend())) << "newest first, no row twice";
    EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), seen.size());
    EXPECT_EQ(actual_ends, 3) << "each check-in has its actual end";
    EXPECT_EQ(reads, 1);

    // The same filters on the CSV: exactly the same requests.
    auto csv = call("dave", "GET", "/api/v1/reports/{file}", "/api/v1/reports/checkout-requests.csv?approver=carol");
    ASSERT_EQ(csv.status, 200);
    EXPECT_EQ(request_ids_in_csv(csv.body), std::set<int64_t>(seen.begin(), seen.end()));
    EXPECT_NE(csv.body.find("actual_end"), std::string::npos);
    auto denials = parse(call("dave", "GET", "/api/v1/checkout-requests",
                              "/api/v1/checkout-requests?state=denied&entry=spare&approver=alice")
                             .body);
    bool found = false;
    for (size_t i = 0; i < denials->getArray("rows")->size(); ++i)
        found =
            found ||
            denials->getArray("rows")->getObject(static_cast<unsigned>(i))->getValue<int64_t>("request_id") == denied;
    EXPECT_TRUE(found);
    auto denial_csv = call("dave", "GET", "/api/v1/reports/{file}",
                           "/api/v1/reports/checkout-requests.csv?state=denied&entry=spare&approver=alice");
    EXPECT_EQ(request_ids_in_csv(denial_csv.body).count(denied), 1U);
    EXPECT_EQ(call("dave", "GET", "/api/v1/reports/{file}", "/api/v1/reports/audit.csv?approver=carol").status, 400);
    // Take-backs not done: every one listed is an ended check-out with that state.
    auto undone = call("dave", "GET", "/api/v1/checkout-requests", "/api/v1/checkout-requests?takeback=pending");
    ASSERT_EQ(undone.status, 200) << undone.body;
    auto undone_rows = parse(undone.body)->getArray("rows");
    for (size_t i = 0; i < undone_rows->size(); ++i)
        EXPECT_EQ(undone_rows->getObject(static_cast<unsigned>(i))->getValue<std::string>("takeback"), "pending");
    auto first = parse(call("dave", "GET", "/api/v1/checkout-requests",
                            "/api/v1/checkout-requests?approver=carol&limit=1&sort=-id")
                           .body)
                     ->getArray("rows")
                     ->getObject(0);
    EXPECT_EQ(first->getValue<int64_t>("request_id"), carols.back()) << "-id: the newest first";
    EXPECT_FALSE(first->isNull("checkout_id"));
    // Sorted by requester (text keyset), one to a page: every row once, in order.
    std::vector<std::pair<std::string, int64_t>> by_requester;
    std::string cursor;
    for (int page = 0; page < 500; ++page) {
        auto o =
            parse(call("dave", "GET", "/api/v1/checkout-requests",
                       "/api/v1/checkout-requests?sort=requester&limit=1" + (cursor.empty() ? "" : "&after=" + cursor))
                      .body);
        ASSERT_TRUE(o);
        auto rows = o->getArray("rows");
        for (size_t i = 0; i < rows->size(); ++i) {
            auto row = rows->getObject(static_cast<unsigned>(i));
            by_requester.emplace_back(row->getObject("requester")->getValue<std::string>("name"),
                                      row->getValue<int64_t>("request_id"));
        }
        if (o->isNull("next")) break;
        cursor = o->getValue<std::string>("next");
    }
    EXPECT_TRUE(std::is_sorted(by_requester.begin(), by_requester.end()));
    EXPECT_EQ(static_cast<int64_t>(by_requester.size()), count_rows("requests"));
    EXPECT_EQ(
        call("dave", "GET", "/api/v1/checkout-requests", "/api/v1/checkout-requests?sort=requester&after=!!.3").status,
        400);

    // The audit trail: auditors only; pages newest first; the chain verifies.
    EXPECT_EQ(call("bob", "GET", "/api/v1/audit", "/api/v1/audit").status, 403);
    EXPECT_EQ(call("dave", "GET", "/api/v1/audit", "/api/v1/audit?limit=0").status, 400);
    auto trail = parse(call("dave", "GET", "/api/v1/audit", "/api/v1/audit?limit=3").body);
    auto events = trail->getArray("events");
    ASSERT_EQ(events->size(), 3U);
    EXPECT_GT(events->getObject(0)->getValue<int64_t>("seq"), events->getObject(2)->getValue<int64_t>("seq"));
    auto older = parse(
        call("dave", "GET", "/api/v1/audit", "/api/v1/audit?limit=3&before=" + trail->getValue<std::string>("next"))
            .body);
    EXPECT_EQ(older->getArray("events")->getObject(0)->getValue<int64_t>("seq"),
              events->getObject(2)->getValue<int64_t>("seq") - 1);
    auto verified = parse(call("dave", "GET", "/api/v1/audit/verification", "/api/v1/audit/verification").body);
    EXPECT_TRUE(verified->getValue<bool>("intact")) << verified->getValue<std::string>("message");
    EXPECT_EQ(verified->getValue<std::string>("head_hash"), events->getObject(0)->getValue<std::string>("hash"));
}

// A GET answer carries an ETag; asking again with it answers 304 and no body while the
// answer is the same, and 200 with a new ETag once it changed (the portal polls so).
TEST_F(Api, GetAnswersCarryAnETagAndAnswer304WhileUnchanged) {
    HttpCall c;
    c.url = server_->url() + "/api/v1/requests";
    c.basic_user = "bob";
    c.basic_password = kPasswords.at("bob");
    auto first = http_call(c);
    ASSERT_EQ(first.status, 200);
    const std::string etag = first.header("ETag");
    ASSERT_EQ(etag.size(), 34U) << etag;
    c.headers = {{"If-None-Match", etag}};
    auto same = http_call(c);
    EXPECT_EQ(same.status, 304);
    EXPECT_EQ(same.body, "");
    new_request("spare"); // bob's list changes
    auto changed = http_call(c);
    EXPECT_EQ(changed.status, 200);
    EXPECT_NE(changed.header("ETag"), etag);
    auto mine = parse(changed.body)->getArray("requests");
    const auto id = mine->getObject(0)->getValue<int64_t>("id");
    EXPECT_EQ(call("bob", "POST", "/api/v1/requests/{id}/cancel", "/api/v1/requests/" + std::to_string(id) + "/cancel")
                  .status,
              200);
}

TEST_F(Api, DenyCancelAndRevoke) {
    ensure_secret("spare");
    const int64_t denied = new_request("spare");
    auto deny = call("alice", "POST", "/api/v1/requests/{id}/deny",
                     "/api/v1/requests/" + std::to_string(denied) + "/deny", R"({"comment":"not tonight"})");
    ASSERT_EQ(deny.status, 200) << deny.body;
    EXPECT_EQ(parse(deny.body)->getValue<std::string>("state"), "denied");

    const int64_t cancelled = new_request("spare");
    EXPECT_EQ(call("carol", "POST", "/api/v1/requests/{id}/cancel",
                   "/api/v1/requests/" + std::to_string(cancelled) + "/cancel")
                  .status,
              403);
    auto cancel = call("bob", "POST", "/api/v1/requests/{id}/cancel",
                       "/api/v1/requests/" + std::to_string(cancelled) + "/cancel");
    ASSERT_EQ(cancel.status, 200) << cancel.body;
    EXPECT_EQ(parse(cancel.body)->getValue<std::string>("state"), "cancelled");

    const int64_t revoked = new_request("spare");
    auto approved = parse(call("alice", "POST", "/api/v1/requests/{id}/approve",
                               "/api/v1/requests/" + std::to_string(revoked) + "/approve")
                              .body);
    const int64_t checkout = approved->getObject("checkout")->getValue<int64_t>("id");
    const std::string path = "/api/v1/checkouts/" + std::to_string(checkout) + "/revoke";
    EXPECT_EQ(call("bob", "POST", "/api/v1/checkouts/{id}/revoke", path, R"({"reason":"mine"})").status, 403);
    EXPECT_EQ(call("dave", "POST", "/api/v1/checkouts/{id}/revoke", path, "{}").status, 400); // reason required
    auto revoke = call("dave", "POST", "/api/v1/checkouts/{id}/revoke", path, R"({"reason":"incident 7"})");
    ASSERT_EQ(revoke.status, 200) << revoke.body;
    EXPECT_EQ(parse(revoke.body)->getValue<std::string>("end_reason"), "revoked");
    EXPECT_EQ(call("bob", "POST", "/api/v1/entries/{name}/secret", "/api/v1/entries/spare/secret", R"({"secret":"x"})")
                  .status,
              403);
}

TEST_F(Api, HostileBodiesChangeNothing) {
    const int64_t requests = count_rows("requests");
    const int64_t events = count_rows("audit_events");
    const std::string p = "/api/v1/requests";
    struct Case {
        std::string body;
        std::string code;
    };
    for (const Case& c : std::vector<Case>{
             {"{", "bad_json"},
             {"[1,2]", "not_an_object"},
             {R"({"entry":"demo-admin","reason":"x","ticket":"CHG-1","admin":true})", "unknown_field"},
             {R"({"entry":"demo-admin","reason":"x","ticket":"CHG-1","approver":"dave"})", "not_an_approver"},
             {R"({"entry":42,"reason":"x"})", "wrong_type"},
             {R"({"entry":"demo-admin","reason":["x"]})", "wrong_type"},
             {R"({"entry":"demo-admin","reason":"x","duration":true})", "wrong_type"},
             {R"({"entry":"demo-admin","reason":"x","duration":"forever"})", "bad_duration"},
             {R"({"entry":"demo-admin","reason":"x","start":"tomorrow"})", "bad_timestamp"},
             {R"({"entry":"demo-admin","reason":"x","start":"2026-11-24T09:00:00"})", "bad_timestamp"},
             {"{\"entry\":\"demo-admin\",\"reason\":\"\xff\xfe\"}", "invalid_utf8"},
             {"{\"entry\":\"demo-admin\",\"reason\":\"\xc0\xaf\"}", "invalid_utf8"},
             {R"({"entry":"demo-admin","reason":"a\u0000b","ticket":"CHG-1"})", "control_characters"},
             {R"({"reason":"x"})", "missing_field"},
             {R"({"entry":"demo-admin","reason":"x","ticket":"JIRA-1"})", "ticket_mismatch"},
             {R"({"entry":"demo-admin","reason":"   ","ticket":"CHG-1"})", "reason_required"},
             {R"({"entry":"demo-admin","reason":"x","ticket":"CHG-1","duration":"5h"})", "bad_duration"},
         }) {
        auto answer = call("bob", "POST", p, p, c.body);
        EXPECT_EQ(answer.status, 400) << c.body << " -> " << answer.body;
        EXPECT_EQ(code(answer), c.code) << c.body << " -> " << answer.body;
    }
    // 10 MB body: 413 before it is read.
    auto huge = call("bob", "POST", p, p, std::string(10 * 1024 * 1024, 'x'));
    EXPECT_EQ(huge.status, 413);
    // Wrong media type: 415 (a cross-site form cannot send application/json).
    auto form = call("bob", "POST", p, p, "entry=demo-admin&reason=x", {}, "application/x-www-form-urlencoded");
    EXPECT_EQ(form.status, 415);
    auto text = call("bob", "POST", p, p, R"({"entry":"demo-admin"})", {}, "text/plain");
    EXPECT_EQ(text.status, 415);
    // A browser on another site: 403, whatever it sends.
    auto cross = call("bob", "POST", p, p, R"({"entry":"demo-admin","reason":"x","ticket":"CHG-1"})",
                      {{"Origin", "https://evil.example"}});
    EXPECT_EQ(cross.status, 403);
    EXPECT_EQ(code(cross), "cross_site");
    EXPECT_EQ(call("bob", "POST", p, p, R"({"entry":"demo-admin","reason":"x","ticket":"CHG-1"})", {{"Origin", "null"}})
                  .status,
              403);
    EXPECT_EQ(call("bob", "POST", p, p, R"({"entry":"demo-admin","reason":"x","ticket":"CHG-1"})",
                   {{"Sec-Fetch-Site", "cross-site"}})
                  .status,
              403);
    EXPECT_EQ(count_rows("requests"), requests);
    EXPECT_EQ(count_rows("audit_events"), events);
}

// A store that cannot write (here a trigger that aborts every new request row, as
// an I/O error or a full disk would) answers 503 with the JSON error body, and
// leaves nothing behind; the next request after the fault works again.
TEST_F(Api, AStoreFailureAnswers503AndRecordsNothing) {
    auto counts = [&] {
        return std::to_string(count_rows("requests")) + "/" + std::to_string(count_rows("audit_events")) + "/" +
               std::to_string(count_rows("outbox"));
    };
    {
        auto db = store::Connection::open(config_->store.file);
        db.exec_script("CREATE TRIGGER inject_failure BEFORE INSERT ON requests "
                       "BEGIN SELECT RAISE(ABORT, 'injected store failure'); END");
    }
    const std::string before = counts();
    auto failed = call("bob", "POST", "/api/v1/requests", "/api/v1/requests",
                       R"({"entry":"demo-admin","reason":"patch night","ticket":"CHG-42","duration":"30m"})");
    {
        auto db = store::Connection::open(config_->store.file);
        db.exec_script("DROP TRIGGER inject_failure");
    }
    EXPECT_EQ(failed.status, 503) << failed.body;
    EXPECT_EQ(code(failed), "store_unavailable") << failed.body;
    EXPECT_EQ(failed.body.find("injected"), std::string::npos) << "the cause goes to the log, not to the caller";
    EXPECT_EQ(counts(), before);
    EXPECT_EQ(call("bob", "GET", "/api/v1/me", "/api/v1/me").status, 200);
}

// LogCapture: every keyholder log line while it lives.
class LogCapture : public Poco::Channel {
public:
    void log(const Poco::Message& message) override {
        std::lock_guard lock(mutex_);
        lines_.push_back(message.getText());
    }
    std::vector<std::string> lines() {
        std::lock_guard lock(mutex_);
        return lines_;
    }

private:
    std::mutex mutex_;
    std::vector<std::string> lines_;
};

// One set of text rules for every field (keyholder/text/text.h): single-line fields
// take no line breaks of any kind, lengths count characters, a key given twice or a
// null is refused, Basic credentials with control characters or padded names sign
// nobody on; what is echoed is escaped, and every log line is one line.
TEST_F(Api, OneSetOfTextRulesAndOneLinePerLogEvent) {
    Poco::AutoPtr<LogCapture> capture(new LogCapture);
    Poco::Channel::Ptr before = Poco::Logger::get("keyholder.http").getChannel();
    Poco::Logger::setChannel("keyholder", Poco::Channel::Ptr(capture)); // shared, not handed over
    const std::string p = "/api/v1/requests";
    std::string accents, too_many;
    for (int i = 0; i < 2000; ++i)
        accents += "\xc3\xa9"; // é
    too_many = accents + "\xc3\xa9";
    struct Case {
        std::string body;
        std::string code;
    };
    for (const Case& c : std::vector<Case>{
             {R"({"entry":"nonexistent","entry":"demo-admin","reason":"x","ticket":"CHG-1"})", "duplicate_field"},
             {R"({"entry":"demo-admin","reason":"x","ticket":"T1\r\nBcc: x@example.com"})", "line_break"},
             {R"({"entry":"demo-admin","reason":"x","ticket":"CHG-1\u2028"})", "line_break"},
             {R"({"entry":"demo-admin","reason":"x","ticket":"CHG-1\u0085"})", "line_break"},
             {R"({"entry":"demo-admin\nFAKE Error line","reason":"x","ticket":"CHG-1"})", "line_break"},
             {R"({"entry":"demo-admin","reason":"a\rb","ticket":"CHG-1"})", "control_characters"},
             {R"({"entry":"demo-admin","reason":"a\u0001b","ticket":"CHG-1"})", "control_characters"},
             {"{\"entry\":\"demo-admin\",\"reason\":\"" + too_many + "\",\"ticket\":\"CHG-1\"}", "too_long"},
             {R"({"entry":"demo-admin","reason":"x","ticket":"CHG-1","duration":null})", "wrong_type"},
             {R"({"entry":"demo-admin","reason":"x","ticket":"CHG-1","duration":"1h1h"})", "bad_duration"},
             {"{\"x\\r\\nFAKE\":1}", "unknown_field"},
         }) {
        auto answer = call("bob", "POST", p, p, c.body);
        EXPECT_EQ(answer.status, 400) << c.body << " -> " << answer.body;
        EXPECT_EQ(code(answer), c.code) << c.body << " -> " << answer.body;
    }
    // 2,000 characters of two bytes each are 2,000, not 4,000: not too long.
    auto long_ok =
        call("bob", "POST", p, p, "{\"entry\":\"demo-admin\",\"reason\":\"" + accents + "\",\"ticket\":\"CHG-1\"}");
    EXPECT_NE(code(long_ok), "too_long") << long_ok.body;
    // A multi-line reason keeps its line breaks (CRLF becomes LF).
    auto multi = call("bob", "POST", p, p, R"({"entry":"spare","reason":"line one\r\nline two","ticket":"CHG-2"})");
    if (multi.status == 201) {
        EXPECT_EQ(parse(multi.body)->getValue<std::string>("reason"), "line one\nline two");
    }
    // Echoed input is escaped, whole (not cut at the NUL).
    auto nul = call("bob", "GET", "/api/v1/requests/{id}", "/api/v1/requests/%00abc");
    EXPECT_EQ(nul.status, 400);
    EXPECT_NE(nul.body.find("\\\\0abc"), std::string::npos) << nul.body;
    // Basic credentials: a NUL and junk after the password, or a padded name, sign nobody on.
    for (const std::string& credentials :
         {std::string("bob:bob-demo-password\0junk", 26), std::string(" bob:bob-demo-password"),
          std::string("bob :bob-demo-password")}) {
        HttpCall c;
        c.url = server_->url() + "/api/v1/me";
        std::ostringstream encoded;
        {
            Poco::Base64Encoder encoder(encoded);
            encoder << credentials;
        }
        c.headers.emplace_back("Authorization", "Basic " + encoded.str());
        EXPECT_EQ(http_call(c).status, 401) << credentials;
    }
    Poco::Logger::setChannel("keyholder", before);
    bool created_line = false;
    for (const auto& line : capture->lines()) {
        EXPECT_EQ(line.find_first_of("\r\n"), std::string::npos) << "a log line was split: " << line;
        if (std::regex_search(line, std::regex("^request [0-9]+: bob asks for "))) created_line = true;
    }
    EXPECT_TRUE(created_line || (long_ok.status != 201 && multi.status != 201)) << "log lines carry the request id";
}

TEST_F(Api, RoutingAndHeaderLimits) {
    auto missing = call("bob", "GET", "", "/api/v1/nothing");
    EXPECT_EQ(missing.status, 404);
    auto wrong_method = call("bob", "DELETE", "", "/api/v1/requests/1");
    EXPECT_EQ(wrong_method.status, 405);
    EXPECT_EQ(wrong_method.header("Allow"), "GET, HEAD");
    std::vector<std::pair<std::string, std::string>> many;
    for (int i = 0; i < 50; ++i)
        many.emplace_back("X-Filler-" + std::to_string(i), "1");
    EXPECT_EQ(call("bob", "GET", "/api/v1/me", "/api/v1/me", "", many).status, 431);
    EXPECT_EQ(call("bob", "GET", "/api/v1/requests", "/api/v1/requests?state=pending&state=active").status, 400);
    EXPECT_EQ(call("bob", "GET", "/api/v1/requests", "/api/v1/requests?limit=100000").status, 400);
    EXPECT_EQ(call("bob", "GET", "/api/v1/requests", "/api/v1/requests?sort=evil").status, 400);
}

// raw_exchange: sends `bytes` on a fresh connection and returns all it answers
// (the connection is closed after these answers).
std::string raw_exchange(uint16_t port, const std::string& bytes) {
    Poco::Net::StreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", port));
    socket.setReceiveTimeout(Poco::Timespan(10, 0));
    socket.sendBytes(bytes.data(), static_cast<int>(bytes.size()));
    std::string answer;
    char buffer[4096];
    try {
        for (int n; (n = socket.receiveBytes(buffer, sizeof buffer)) > 0;)
            answer.append(buffer, static_cast<size_t>(n));
    } catch (const Poco::Exception&) {}
    return answer;
}

// What Poco's own parser used to answer with a bare 400 (or nothing) gets the status
// that fits and the JSON error body.
TEST_F(Api, ProtocolErrorsGetTheRightStatusAndTheJsonBody) {
    std::string many = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < 101; ++i)
        many += "X-F" + std::to_string(i) + ": v\r\n";
    struct Case {
        std::string bytes;
        std::string status_line;
        std::string code;
    };
    for (const Case& c : std::vector<Case>{
             {many + "\r\n", "HTTP/1.1 431", "header_fields_too_large"},
             {"GET /healthz HTTP/1.1\r\nX-Big: " + std::string(9000, 'v') + "\r\n\r\n", "HTTP/1.1 431",
              "header_fields_too_large"},
             {"GET /healthz HTTP/1.1\r\n" + std::string(300, 'N') + ": v\r\n\r\n", "HTTP/1.1 431",
              "header_fields_too_large"},
             {"GET /" + std::string(20000, 'a') + " HTTP/1.1\r\n\r\n", "HTTP/1.1 414", "uri_too_long"},
             {"POST /api/v1/requests HTTP/1.1\r\nContent-Type: application/json\r\n"
              "Content-Length: 18446744073709551617\r\n\r\n",
              "HTTP/1.1 413", "body_too_large"},
             {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "HTTP/1.1 505", "http_version_not_supported"},
             {"POST /api/v1/requests HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
              "HTTP/1.1 400", "bad_request"},
         }) {
        const std::string answer = raw_exchange(server_->port(), c.bytes);
        EXPECT_EQ(answer.rfind(c.status_line, 0), 0U) << c.bytes.substr(0, 60) << " -> " << answer.substr(0, 200);
        const auto body = answer.find("\r\n\r\n");
        ASSERT_NE(body, std::string::npos) << answer;
        auto error = parse(answer.substr(body + 4));
        ASSERT_TRUE(error && error->has("error")) << answer;
        EXPECT_EQ(error->getObject("error")->getValue<std::string>("code"), c.code) << answer;
    }
}

TEST_F(Api, OpenApiDocumentIsServedAndEveryPathIsRouted) {
    auto answer = call("", "GET", "/api/v1/openapi.json", "/api/v1/openapi.json");
    ASSERT_EQ(answer.status, 200);
    auto served = parse(answer.body);
    ASSERT_TRUE(served);
    EXPECT_EQ(served->getValue<std::string>("openapi"), "3.0.3");
    // The served document is the one in the repository.
    std::ifstream in(kSource / "service/api/openapi.json");
    std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(answer.body, file);
    // Every documented path and method has a route (never 404 / 405).
    auto paths = served->getObject("paths");
    for (const auto& [pattern, value] : *paths) {
        std::string path = pattern;
        for (const std::string param : {"{id}", "{name}"})
            if (auto at = path.find(param); at != std::string::npos) path.replace(at, param.size(), "1");
        for (const auto& [method, op] : *paths->getObject(pattern)) {
            HttpCall c;
            c.method = Poco::toUpper(method);
            c.url = server_->url() + path;
            const int status = http_call(c).status;
            EXPECT_NE(status, 404) << method << " " << pattern;
            EXPECT_NE(status, 405) << method << " " << pattern;
            EXPECT_NE(status, 0) << method << " " << pattern;
        }
    }
}

TEST_F(Api, MetricsCountRequestsAndShowState) {
    call("bob", "GET", "/api/v1/me", "/api/v1/me");
    metrics_->gauge("keyholder_requests_pending", "Requests waiting for a decision", [] {
        auto db = store::Connection::open(config_->store.file);
        return static_cast<double>(store::state_counts(db).pending_requests);
    });
    auto answer = call("", "GET", "/metrics", "/metrics");
    ASSERT_EQ(answer.status, 200);
    EXPECT_NE(answer.content_type.find("text/plain"), std::string::npos);
    EXPECT_NE(answer.body.find("keyholder_http_requests_total{route=\"/api/v1/me\",method=\"GET\",status=\"200\"}"),
              std::string::npos)
        << answer.body;
    EXPECT_NE(answer.body.find("keyholder_http_request_duration_seconds_bucket{route=\"/api/v1/me\",le=\"+Inf\"}"),
              std::string::npos);
    EXPECT_NE(answer.body.find("# TYPE keyholder_requests_pending gauge"), std::string::npos);
    EXPECT_NE(answer.body.find("keyholder_signon_failures_total"), std::string::npos);
}

TEST_F(Api, ReportsStreamCsvToAuditorsOnly) {
    auto answer =
        call("erin", "GET", "/api/v1/reports/{file}", "/api/v1/reports/checkout-requests.csv?from=2020-01-01");
    ASSERT_EQ(answer.status, 200) << answer.body;
    EXPECT_EQ(answer.content_type, "text/csv; charset=utf-8");
    EXPECT_EQ(answer.header("Transfer-Encoding"), "chunked");
    EXPECT_EQ(answer.body.rfind("request_id,entry,requester,", 0), 0U) << answer.body;
    EXPECT_NE(answer.body.find("\r\n"), std::string::npos);
    EXPECT_EQ(call("erin", "GET", "/api/v1/reports/{file}", "/api/v1/reports/audit.csv").status, 200);
    EXPECT_EQ(call("bob", "GET", "/api/v1/reports/{file}", "/api/v1/reports/audit.csv").status, 403);
    EXPECT_EQ(call("erin", "GET", "/api/v1/reports/{file}", "/api/v1/reports/secrets.csv").status, 404);
    EXPECT_EQ(call("erin", "GET", "/api/v1/reports/{file}", "/api/v1/reports/audit.csv?from=yesterday").status, 400);
    EXPECT_EQ(call("erin", "GET", "/api/v1/reports/{file}", "/api/v1/reports/audit.csv?evil=1").status, 400);
    auto bom = call("dave", "GET", "/api/v1/reports/{file}", "/api/v1/reports/approvals.csv?bom=true");
    EXPECT_EQ(bom.body.rfind("\xEF\xBB\xBF", 0), 0U);
}

// A separate endpoint with a failure limit of 3, so other tests' failures do not count.
TEST_F(Api, FloodsOfFailedSignOnsGet429) {
    config::AuthSection strict = config_->auth;
    strict.failed_signon_limit = 3;
    auth::SignOn sign_on(strict, *directory_, nullptr);
    config::HttpSection http = config_->http;
    http::Server server(http, {}, router_, &sign_on, nullptr);
    server.start();
    HttpCall c;
    c.url = server.url() + "/api/v1/me";
    c.basic_user = "bob";
    c.basic_password = "guess";
    for (int i = 0; i < 3; ++i)
        EXPECT_EQ(http_call(c).status, 401);
    auto limited = http_call(c);
    EXPECT_EQ(limited.status, 429);
    EXPECT_FALSE(limited.header("Retry-After").empty());
    c.basic_password = "bob-demo-password"; // even the right password waits
    EXPECT_EQ(http_call(c).status, 429);
}

TEST_F(Api, TlsEndpointRefusesOldProtocolsAndServesBasic) {
    config::HttpSection https = config_->http;
    https.tls_cert_file = slapd_->dir() / "server.crt";
    https.tls_key_file = slapd_->dir() / "server.key";
    http::Server server(https, {}, router_, sign_on_, nullptr);
    server.start();
    ASSERT_EQ(server.url().rfind("https://", 0), 0U);
    // More connections than workers (8) that never finish their TLS handshake (one
    // sends nothing, one half a ClientHello): a handshake waits in the reactor, so the
    // signed-on request below is still answered at once.
    std::vector<Poco::Net::StreamSocket> stalled;
    for (int i = 0; i < 20; ++i) {
        stalled.emplace_back(Poco::Net::SocketAddress("127.0.0.1", server.port()));
        if (i % 2 == 1) stalled.back().sendBytes("\x16\x03\x01\x02\x00", 5); // a record header, no body
    }
    HttpCall c;
    c.url = server.url() + "/api/v1/me";
    c.ca_file = slapd_->ca_file().string();
    c.basic_user = "bob";
    c.basic_password = "bob-demo-password";
    const auto started = std::chrono::steady_clock::now();
    auto answer = http_call(c);
    EXPECT_EQ(answer.status, 200) << answer.body;
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2))
        << "waited behind stalled handshakes";
    EXPECT_FALSE(answer.header("Strict-Transport-Security").empty());
    // TLS 1.1 is refused.
    auto old = keyholder::testing::run(
        "/bin/sh", {"-c", "echo | openssl s_client -tls1_1 -connect " + server.url().substr(8) + " 2>&1"});
    EXPECT_EQ(old.out.find("BEGIN CERTIFICATE"), std::string::npos) << old.out;
}

// The directory stops answering while every cache is warm (bob's and carol's Basic
// credentials, approver lists): a new request and a decision are answered 503 with
// the JSON error body, and nothing is recorded. Last in this file: it stops the
// suite's directory.
TEST_F(Api, ADirectoryOutageAnswers503ForEveryGrantAndRecordsNothing) {
    ensure_secret("spare");
    const int64_t pending = new_request("spare");
    ASSERT_GT(pending, 0);
    ASSERT_EQ(call("carol", "GET", "/api/v1/requests/{id}", "/api/v1/requests/" + std::to_string(pending)).status,
              200); // carol signed on and her view cached
    auto counts = [&] {
        return std::to_string(count_rows("requests")) + "/" + std::to_string(count_rows("approvals")) + "/" +
               std::to_string(count_rows("checkouts")) + "/" + std::to_string(count_rows("audit_events")) + "/" +
               std::to_string(count_rows("outbox"));
    };
    slapd_->stop();
    const std::string before = counts();
    auto request = call("bob", "POST", "/api/v1/requests", "/api/v1/requests",
                        R"({"entry":"spare","reason":"outage","ticket":"CHG-7","duration":"30m"})");
    EXPECT_EQ(request.status, 503) << request.body;
    EXPECT_EQ(code(request), "directory_unavailable") << request.body;
    auto approve = call("carol", "POST", "/api/v1/requests/{id}/approve",
                        "/api/v1/requests/" + std::to_string(pending) + "/approve", R"({"comment":"ok"})");
    EXPECT_EQ(approve.status, 503) << approve.body;
    EXPECT_EQ(code(approve), "directory_unavailable") << approve.body;
    EXPECT_EQ(counts(), before) << "nothing recorded";
}

} // namespace
