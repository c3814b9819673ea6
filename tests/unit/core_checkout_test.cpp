// The check-out rules with an injected clock and an in-memory directory: every
// transition and every refusal, on a real SQLite file.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include "keyholder/config/config.h"
#include "keyholder/core/catalog.h"
#include "keyholder/core/checkout_service.h"
#include "keyholder/core/links.h"
#include "keyholder/notify/mailer.h"
#include "keyholder/notify/outbox_worker.h"
#include "keyholder/notify/templates.h"
#include "keyholder/store/audit.h"
#include "keyholder/store/checkouts.h"
#include "keyholder/store/copy.h"
#include "keyholder/store/error.h"
#include "keyholder/store/outbox.h"
#include "keyholder/store/reports.h"
#include "keyholder/store/secrets.h"
#include "keyholder/store/sessions.h"
#include "keyholder/store/store.h"
#include "support/store_backends.h"
#include "support/temp_dir.h"

namespace {

using namespace keyholder;
using core::CoreError;
using core::Decision;
using keyholder::testing::TempDir;
using namespace std::chrono_literals;

// FakeAuthority: users and groups in memory; can play "directory down" and
// "writes fail"; records every write it was asked for. `cache` plays a warm
// directory cache: cached lookups are answered from `cached_users` (what the
// directory said when warm() was called), whether or not the DC is `down`; live
// ones read `users`, or fail while it is down.
class FakeAuthority : public core::Authority {
public:
    struct User {
        core::Principal principal;
        std::set<std::string> groups;
        std::string manager;
    };
    std::map<std::string, User> users; // by name
    std::map<std::string, User> cached_users;
    bool down = false;
    bool cache = false;
    bool writes_fail = false;
    bool removals_fail = false; ///< only group removals (a group entry's take-back) fail
    std::chrono::milliseconds write_delay{0};
    std::vector<std::string> writes;
    std::atomic<int> live_lookups{0};

    void add(const std::string& name, std::set<std::string> groups, std::string manager = "", bool enabled = true) {
        users[name] = {{"S-1-5-21-1-2-3-" + std::to_string(1000 + users.size()), name, "User " + name,
                        name + "@example.test", "CN=" + name, enabled},
                       std::move(groups),
                       std::move(manager)};
    }
    /// warm: what a cache filled now would answer from later.
    void warm() { cached_users = users; }
    directory::DirectoryError outage() const {
        return {directory::DirectoryError::Kind::unavailable, -1, "Can't contact LDAP server", "", "ldaps://dc1"};
    }
    // view: the users a lookup of this freshness sees, or nothing (an outage).
    const std::map<std::string, User>* view(core::Freshness freshness) {
        if (freshness == core::Freshness::live) ++live_lookups;
        if (cache && freshness == core::Freshness::cached) return &cached_users;
        return down ? nullptr : &users;
    }

protected:
    core::DirResult<core::Principal> find(std::string_view who, core::Freshness freshness) override {
        const auto* seen = view(freshness);
        if (seen == nullptr) return std::unexpected(outage());
        for (const auto& [name, u] : *seen)
            if (name == who || u.principal.id == who) return u.principal;
        return std::unexpected(
            directory::DirectoryError{directory::DirectoryError::Kind::not_found, 0, "no such user", "", ""});
    }
    core::DirResult<bool> member_of_any(const core::Principal& who, const std::vector<std::string>& groups,
                                        core::Freshness freshness) override {
        const auto* seen = view(freshness);
        if (seen == nullptr) return std::unexpected(outage());
        for (const auto& g : groups)
            if (seen->at(who.name).groups.count(g)) return true;
        return false;
    }
    core::DirResult<std::optional<core::Principal>> manager(const core::Principal& who,
                                                            core::Freshness freshness) override {
        const auto* seen = view(freshness);
        if (seen == nullptr) return std::unexpected(outage());
        const auto& m = seen->at(who.name).manager;
        if (m.empty()) return std::optional<core::Principal>{};
        return std::optional<core::Principal>{seen->at(m).principal};
    }
    core::DirResult<std::vector<core::Principal>> members(const std::vector<std::string>& groups) override {
        const auto* seen = view(core::Freshness::cached);
        if (seen == nullptr) return std::unexpected(outage());
        std::vector<core::Principal> out;
        for (const auto& [name, u] : *seen)
            for (const auto& g : groups)
                if (u.groups.count(g)) {
                    out.push_back(u.principal);
                    break;
                }
        return out;
    }
    core::DirResult<void> write(const std::string& what) {
        if (down || writes_fail) return std::unexpected(outage());
        if (write_delay.count() > 0) std::this_thread::sleep_for(write_delay); // widens races
        std::lock_guard lock(writes_mutex);
        writes.push_back(what);
        return {};
    }
    core::DirResult<void> write_enabled(const std::string& account, bool enabled) override {
        return write((enabled ? "enable " : "disable ") + account);
    }
    core::DirResult<void> write_password(const std::string& account, const std::string& password) override {
        {
            std::lock_guard lock(writes_mutex);
            last_password = password;
        }
        return write("reset " + account);
    }
    core::DirResult<void> write_member(const std::string& group, const core::Principal& who, bool add) override {
        if (!add && removals_fail) return std::unexpected(outage());
        return write((add ? "add " : "remove ") + who.name + (add ? " to " : " from ") + group);
    }

public:
    std::mutex writes_mutex;
    std::string last_password;
};

constexpr int64_t kStart = 1'800'000'000;

// RecordingMailer: keeps every mail the outbox worker sends.
struct RecordingMailer : notify::Mailer {
    std::vector<notify::Mail> mails;
    notify::Delivery deliver(const notify::Mail& mail) override {
        mails.push_back(mail);
        return {notify::Delivery::Result::sent, "recorded"};
    }
    [[nodiscard]] std::string describe() const override { return "recording"; }
};

// postgresql_json: SQLite's json_extract(col, '$.key') = value in PostgreSQL's terms.
std::string postgresql_json(const std::string& sql) {
    static const std::regex text(R"(json_extract\((\w+), '\$\.(\w+)'\) = '([^']*)')");
    static const std::regex number(R"(json_extract\((\w+), '\$\.(\w+)'\) = (-?[0-9]+))");
    std::string out = std::regex_replace(sql, text, "($1::jsonb -> '$2') = '\"$3\"'::jsonb");
    return std::regex_replace(out, number, "($1::jsonb -> '$2') = '$3'::jsonb");
}

class CoreCheckout : public ::testing::TestWithParam<store::Backend> {
protected:
    void SetUp() override {
        dir_.write("data/ldap.password", "pw");
        auto file = dir_.write("k.ini", R"([service]
data_dir = data
admin_groups = Admins
[ldap]
uris = ldaps://dc1
base_dn = dc=x
bind_dn = cn=s
bind_password_file = ldap.password
[policy.single]
requester_groups = Ops
stage1_approvers = Leads
request_ttl = 8h
max_duration = 4h
max_extension = 1h
ticket_pattern = INC[0-9]{4}
[policy.two-stage]
requester_groups = Ops
stage1_approvers = manager
stage2_approvers = Security
stage2_approvals = 2
exclusive = false
[entry.jit]
policy = single
release = group
group = Server Admins
[entry.breakglass]
policy = two-stage
release = enable
account = da-breakglass
[entry.vaulted]
policy = single
release = password
account = da-vaulted
)");
        auto loaded = config::load_config(file);
        ASSERT_TRUE(loaded) << loaded.error().front().to_string();
        config_ = std::make_unique<config::Config>(std::move(*loaded));
        opened_ = std::make_unique<store::OpenedStore>(
            store::open_store(keyholder::testing::fresh_location(GetParam(), dir_)));
        core::record_service_start(db(), *config_, clock_, "test");
        authority_.add("alice", {"Leads"});
        authority_.add("bob", {"Ops"}, "alice");
        authority_.add("carol", {"Leads", "Security"});
        authority_.add("dave", {"Admins", "Security"});
        authority_.add("erin", {"Security"});
        authority_.add("lead-op", {"Ops", "Leads"}); // in both the requester and approver groups
        authority_.add("frank", {"Leads"}, "", false);
        auto vault = core::SecretVault::open(dir_ / "data/master.key");
        ASSERT_TRUE(vault) << vault.error();
        vault_ = std::make_unique<core::SecretVault>(std::move(*vault));
        service_ = std::make_unique<core::CheckoutService>(*config_, db(), authority_, clock_, vault_.get());
    }
    store::Connection& db() { return opened_->connection; }
    // send_outbox: one pass of the outbox worker with the built-in templates.
    notify::OutboxPass send_outbox(notify::Mailer& mailer) {
        const auto links = core::LinkSigner(std::vector<unsigned char>(32, 7));
        const auto templates = notify::Templates::builtin();
        notify::OutboxWorker worker(*config_, db(), mailer, templates, links, clock_);
        return worker.run_due();
    }
    int64_t count(const std::string& sql) {
        auto s = db().prepare(db().backend() == store::Backend::postgresql ? postgresql_json(sql) : sql);
        s.step();
        return s.column_int64(0);
    }
    core::NewCheckoutRequest jit(const std::string& who = "bob") {
        return {who, "jit", "patching web01", std::string("INC1234"), 1h, std::nullopt};
    }
    std::string state(int64_t request) {
        return std::string(store::to_text(store::find_request(db(), request)->state));
    }
    int64_t approvals_for(int64_t request) {
        auto s = db().prepare("SELECT count(*) FROM approvals WHERE request_id = ?");
        s.bind(1, request);
        s.step();
        return s.column_int64(0);
    }

    TempDir dir_;
    std::unique_ptr<config::Config> config_;
    std::unique_ptr<store::OpenedStore> opened_;
    core::ManualClock clock_{kStart};
    FakeAuthority authority_;
    std::unique_ptr<core::SecretVault> vault_;
    std::unique_ptr<core::CheckoutService> service_;
};

TEST_P(CoreCheckout, RequestIsRecordedWithAuditAndApproverMailsNeverToTheRequester) {
    auto id = service_->request(jit("lead-op")); // lead-op is in Leads too
    ASSERT_TRUE(id) << id.error().message;
    EXPECT_EQ(state(*id), "pending");
    auto request = store::find_request(db(), *id);
    EXPECT_EQ(request->deadline_at, kStart + 8 * 3600);
    EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE action = 'request.created'"), 1);
    EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE kind = 'approval_needed'"), 2); // alice, carol; not frank
    EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE recipient = 'lead-op@example.test'"), 0);
    EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE recipient = 'frank@example.test'"), 0) << "disabled";
}

TEST_P(CoreCheckout, RequestRefusals) {
    auto expect = [&](core::NewCheckoutRequest r, CoreError::Kind kind, const std::string& code) {
        auto result = service_->request(r);
        ASSERT_FALSE(result) << code;
        EXPECT_EQ(result.error().kind, kind) << result.error().message;
        EXPECT_EQ(result.error().code, code) << result.error().message;
    };
    auto r = jit("alice");
    expect(r, CoreError::Kind::forbidden, "not_a_requester");
    r = jit("nobody");
    expect(r, CoreError::Kind::forbidden, "unknown_user");
    r = jit();
    r.reason = "  ";
    expect(r, CoreError::Kind::invalid, "reason_required");
    r = jit();
    r.ticket = "CHG1234";
    expect(r, CoreError::Kind::invalid, "ticket_mismatch");
    r = jit();
    r.ticket.reset();
    expect(r, CoreError::Kind::invalid, "ticket_required");
    r = jit();
    r.duration = 5h;
    expect(r, CoreError::Kind::invalid, "bad_duration");
    EXPECT_EQ(service_->request(r).error().message,
              "the duration must be more than 0 and at most 4h (the policy's max_duration)");
    r = jit();
    r.start = kStart - 3600;
    expect(r, CoreError::Kind::invalid, "start_in_past");
    r = jit();
    r.start = kStart + 30 * 86400;
    expect(r, CoreError::Kind::invalid, "start_too_far");
    r = jit();
    r.entry = "nope";
    expect(r, CoreError::Kind::not_found, "no_such_entry");
    authority_.users["bob"].principal.enabled = false;
    expect(jit(), CoreError::Kind::forbidden, "account_disabled");
    EXPECT_EQ(count("SELECT count(*) FROM requests"), 0);
}

TEST_P(CoreCheckout, DirectoryDownMeansNoAndNothingIsRecorded) {
    const auto events = count("SELECT count(*) FROM audit_events");
    authority_.down = true;
    auto id = service_->request(jit());
    ASSERT_FALSE(id);
    EXPECT_EQ(id.error().kind, CoreError::Kind::unavailable);
    authority_.down = false;
    auto ok = service_->request(jit());
    ASSERT_TRUE(ok);
    authority_.down = true;
    auto decided = service_->decide(*ok, "alice", Decision::approve);
    ASSERT_FALSE(decided);
    EXPECT_EQ(decided.error().kind, CoreError::Kind::unavailable);
    EXPECT_EQ(state(*ok), "pending");
    EXPECT_EQ(count("SELECT count(*) FROM approvals"), 0);
    EXPECT_EQ(count("SELECT count(*) FROM audit_events"), events + 1); // only the request itself
}

// A warm directory cache never says yes: with the DC down, every grant (a request,
// a decision, a credential read, an extension, a revocation) is answered
// "unavailable" and records nothing, although the cache still knows everyone.
TEST_P(CoreCheckout, AWarmCacheNeverGrantsWhileTheDirectoryIsDown) {
    ASSERT_TRUE(core::store_secret(db(), *vault_, *config_, "vaulted", "local:root", "Initial-Pa55word!", clock_));
    auto pending = service_->request(jit());
    auto vaulted = service_->request({"bob", "vaulted", "work", std::string("INC1111"), 1h, std::nullopt});
    ASSERT_TRUE(pending && vaulted);
    ASSERT_EQ(service_->decide(*vaulted, "alice", Decision::approve), "active");
    const auto checkout = store::checkout_of_request(db(), *vaulted);
    authority_.warm();
    authority_.cache = true;
    authority_.down = true;
    const std::string rows =
        "SELECT (SELECT count(*) FROM requests) || '/' || (SELECT count(*) FROM approvals) || "
        "'/' || (SELECT count(*) FROM checkouts) || '/' || (SELECT count(*) FROM audit_events) "
        "|| '/' || (SELECT count(*) FROM outbox) || '/' || (SELECT sum(retrievals) FROM checkouts)";
    auto snapshot = [&] {
        auto q = db().prepare(rows);
        q.step();
        return q.column_text(0);
    };
    const std::string before = snapshot();
    auto expect_unavailable = [&](const auto& outcome, const char* what) {
        ASSERT_FALSE(outcome) << what << " was granted from the cache";
        EXPECT_EQ(outcome.error().kind, CoreError::Kind::unavailable) << what << ": " << outcome.error().message;
    };
    expect_unavailable(service_->request(jit()), "a request");
    expect_unavailable(service_->decide(*pending, "alice", Decision::approve), "an approval");
    expect_unavailable(service_->decide(*pending, "alice", Decision::deny), "a denial");
    expect_unavailable(service_->credential(checkout->id, "bob"), "a credential read");
    expect_unavailable(service_->extend(checkout->id, "bob", 10min, "more"), "an extension");
    expect_unavailable(service_->revoke(checkout->id, "dave", "suspicious"), "a revocation");
    EXPECT_EQ(snapshot(), before) << "nothing recorded";
    EXPECT_EQ(state(*pending), "pending");
    authority_.down = false; // the DC is back: served again
    EXPECT_EQ(service_->decide(*pending, "alice", Decision::approve), "active");
}

// Eligibility changes in AD count at the next decision, whatever the cache says: an
// approver taken out of the approver group, or disabled, is refused at once (the
// cache may still list them: lists and visibility may be stale, decisions not).
TEST_P(CoreCheckout, AnApproverRemovedOrDisabledIsRefusedAtTheNextDecision) {
    auto id = service_->request(jit());
    ASSERT_TRUE(id);
    authority_.warm();
    authority_.cache = true;
    authority_.users["alice"].groups.clear();
    authority_.users["carol"].principal.enabled = false;
    auto removed = service_->decide(*id, "alice", Decision::approve);
    ASSERT_FALSE(removed);
    EXPECT_EQ(removed.error().code, "not_an_approver");
    auto disabled = service_->decide(*id, "carol", Decision::approve);
    ASSERT_FALSE(disabled);
    EXPECT_EQ(disabled.error().code, "account_disabled");
    EXPECT_EQ(service_->may_decide(*id, "alice"), true) << "the cached view (what lists show) is stale";
    EXPECT_EQ(service_->may_decide(*id, "alice", core::Freshness::live), false);
    EXPECT_EQ(approvals_for(*id), 0);
    EXPECT_EQ(state(*id), "pending");
}

// The release is a grant too: a holder disabled in AD after the approval gets
// nothing released (the release fails and is retried while the window lasts).
TEST_P(CoreCheckout, TheReleaseReadsTheHolderLive) {
    auto id = service_->request(jit());
    authority_.warm();
    authority_.cache = true;
    authority_.users["bob"].principal.enabled = false;
    ASSERT_EQ(service_->decide(*id, "alice", Decision::approve), "active");
    auto checkout = store::checkout_of_request(db(), *id);
    EXPECT_EQ(store::to_text(checkout->release_state), "failed");
    EXPECT_TRUE(authority_.writes.empty()) << "nothing released to a disabled holder";
    authority_.users["bob"].principal.enabled = true;
    clock_.advance(15s);
    service_->run_due();
    EXPECT_EQ(store::to_text(store::find_checkout(db(), checkout->id)->release_state), "done");
    EXPECT_EQ(authority_.writes.back(), "add bob to Server Admins");
}

// A seal that fails (no random nonce) stores nothing: not a secret set by an
// administrator, not the password a rotation would set in AD (and AD is not asked).
TEST_P(CoreCheckout, AFailingSealStoresNothing) {
    auto broken = core::SecretVault::open(dir_ / "data/master.key", [](unsigned char*, size_t) { return false; });
    ASSERT_TRUE(broken) << broken.error();
    const auto events = count("SELECT count(*) FROM audit_events");
    auto set = core::store_secret(db(), *broken, *config_, "vaulted", "local:root", "Initial-Pa55word!", clock_);
    ASSERT_FALSE(set);
    EXPECT_EQ(set.error().code, "seal_failed");
    EXPECT_EQ(count("SELECT count(*) FROM secrets"), 0);
    EXPECT_EQ(count("SELECT count(*) FROM audit_events"), events);

    ASSERT_TRUE(core::store_secret(db(), *vault_, *config_, "vaulted", "local:root", "Initial-Pa55word!", clock_));
    core::CheckoutService rotating(*config_, db(), authority_, clock_, &*broken);
    auto id = rotating.request({"bob", "vaulted", "work", std::string("INC1111"), 1h, std::nullopt});
    ASSERT_EQ(rotating.decide(*id, "alice", Decision::approve), "active");
    auto checkout = store::checkout_of_request(db(), *id);
    clock_.set(checkout->ends_at);
    auto pass = rotating.run_due();
    EXPECT_EQ(pass.takeback_failures, 1);
    auto failed = store::find_checkout(db(), checkout->id);
    EXPECT_NE(failed->takeback_error.value_or("").find("cannot seal"), std::string::npos)
        << failed->takeback_error.value_or("");
    EXPECT_EQ(count("SELECT count(*) FROM secrets WHERE pending_ciphertext IS NOT NULL"), 0);
    EXPECT_EQ(count("SELECT version FROM secrets"), 1);
    EXPECT_TRUE(authority_.last_password.empty()) << "AD was not asked to set a password nobody could read";
}

// One validation for every way text arrives (the API, the approval page's form, the
// CLI): a comment or reason with a NUL or a bare CR is refused and nothing is
// recorded; CRLF is kept as LF; a ticket is one line.
TEST_P(CoreCheckout, TextFromEveryEntryPointFollowsOneRule) {
    auto id = service_->request(jit());
    ASSERT_TRUE(id);
    auto nul = service_->decide(*id, "alice", Decision::approve, std::string("a\0b", 3), "link");
    ASSERT_FALSE(nul);
    EXPECT_EQ(nul.error().code, "control_characters");
    auto cr = service_->decide(*id, "alice", Decision::approve, std::string("a\rb"), "link");
    ASSERT_FALSE(cr);
    EXPECT_EQ(approvals_for(*id), 0);
    auto bad_ticket = jit();
    bad_ticket.ticket = "INC1234\nBcc: x@example.com";
    auto refused = service_->request(bad_ticket);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, "line_break");
    auto long_reason = jit();
    long_reason.reason.clear();
    for (int i = 0; i < 2001; ++i)
        long_reason.reason += "\xc3\xa9";
    EXPECT_EQ(service_->request(long_reason).error().code, "reason_too_long");
    long_reason.reason.resize(long_reason.reason.size() - 2); // 2,000 characters, 4,000 bytes
    EXPECT_TRUE(service_->request(long_reason));
    ASSERT_TRUE(service_->decide(*id, "alice", Decision::approve, std::string("line one\r\nline two"), "link"));
    EXPECT_EQ(store::approvals_of(db(), *id).front().comment, "line one\nline two");
}

// Every notice kind the rules queue, rendered by the outbox worker with the shipped
// templates: no placeholder is left without a value (the extension mail once said
// "from " and "The window is\n to ;").
// An approver may grant a shorter window than asked: recorded with the decision,
// audited, applied to the window, and told to the requester.
TEST_P(CoreCheckout, AnApproverMayGrantAShorterWindowThanAsked) {
    auto id = service_->request(jit()); // 1 h asked
    ASSERT_TRUE(id);
    const int64_t before = approvals_for(*id);
    auto longer = service_->decide(*id, "alice", Decision::approve, std::nullopt, "api", std::nullopt, 2h);
    ASSERT_FALSE(longer);
    EXPECT_EQ(longer.error().kind, CoreError::Kind::invalid);
    EXPECT_EQ(longer.error().code, "bad_grant");
    auto zero = service_->decide(*id, "alice", Decision::approve, std::nullopt, "api", std::nullopt, 0s);
    ASSERT_FALSE(zero);
    EXPECT_EQ(zero.error().code, "bad_grant");
    auto deny = service_->decide(*id, "alice", Decision::deny, std::nullopt, "api", std::nullopt, 10min);
    ASSERT_FALSE(deny);
    EXPECT_EQ(deny.error().code, "bad_grant");
    EXPECT_EQ(approvals_for(*id), before) << "a refused decision records nothing";
    EXPECT_EQ(state(*id), "pending");

    ASSERT_EQ(service_->decide(*id, "alice", Decision::approve, std::string("20 minutes is enough"), "api",
                               std::nullopt, 20min),
              "active");
    auto checkout = store::checkout_of_request(db(), *id);
    ASSERT_TRUE(checkout);
    EXPECT_EQ(checkout->ends_at - checkout->starts_at, 1200);
    EXPECT_EQ(store::approvals_of(db(), *id).at(0).granted_s, 1200);
    EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE action = 'request.approval' AND "
                    "json_extract(details, '$.granted_s') = 1200 AND json_extract(details, '$.asked_s') = 3600"),
              1);
    EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE action = 'request.approved' AND "
                    "json_extract(details, '$.window_s') = 1200"),
              1);

    // The requester's mail says so.
    RecordingMailer mailer;
    EXPECT_EQ(send_outbox(mailer).incomplete, 0);
    bool told = false;
    for (const auto& mail : mailer.mails)
        if (mail.subject.find("is yours until") != std::string::npos)
            told = mail.text.find("It was approved for 20m of the 1h asked.") != std::string::npos;
    EXPECT_TRUE(told) << "the window_started mail names the shorter window";
}

// With several approvals the window is the shortest any of them granted; an extension
// may be shortened too.
TEST_P(CoreCheckout, TheShortestGrantOfAllApprovalsSetsTheWindow) {
    core::NewCheckoutRequest r{"bob", "breakglass", "outage", std::string("INC1234"), 1h, std::nullopt};
    auto id = service_->request(r);
    ASSERT_TRUE(id) << id.error().message;
    ASSERT_EQ(service_->decide(*id, "alice", Decision::approve, std::nullopt, "api", std::nullopt, 45min),
              "pending"); // stage 1 (bob's manager)
    ASSERT_EQ(service_->decide(*id, "carol", Decision::approve), "pending");
    ASSERT_EQ(service_->decide(*id, "dave", Decision::approve, std::nullopt, "api", std::nullopt, 50min), "active");
    auto checkout = store::checkout_of_request(db(), *id);
    ASSERT_TRUE(checkout);
    EXPECT_EQ(checkout->ends_at - checkout->starts_at, 45 * 60);

    auto plain = service_->request(jit());
    ASSERT_EQ(service_->decide(*plain, "alice", Decision::approve), "active");
    auto held = store::checkout_of_request(db(), *plain);
    auto extension = service_->extend(held->id, "bob", 30min, "more work");
    ASSERT_TRUE(extension);
    ASSERT_EQ(service_->decide(*extension, "carol", Decision::approve, std::nullopt, "api", std::nullopt, 10min),
              "approved");
    EXPECT_EQ(store::find_checkout(db(), held->id)->ends_at, held->ends_at + 600);
}

TEST_P(CoreCheckout, EveryNoticeKindRendersEveryField) {
    auto id = service_->request(jit());
    ASSERT_EQ(service_->decide(*id, "alice", Decision::approve), "active"); // window_started
    auto checkout = store::checkout_of_request(db(), *id);
    auto extension = service_->extend(checkout->id, "bob", 30min, "more work"); // approval_needed (extension)
    ASSERT_TRUE(extension);
    ASSERT_EQ(service_->decide(*extension, "carol", Decision::approve), "approved"); // extension_approved
    clock_.set(checkout->ends_at + 1800 - 300);
    service_->run_due(); // window_ending_soon
    clock_.set(checkout->ends_at + 1800);
    service_->run_due(); // window_ended
    authority_.add("olga", {"Ops"});
    auto denied = service_->request(jit("olga"));
    ASSERT_EQ(service_->decide(*denied, "alice", Decision::deny), "denied"); // request_denied
    auto later = jit("olga");
    later.start = clock_.now() + 3600;
    auto scheduled = service_->request(later);
    ASSERT_EQ(service_->decide(*scheduled, "alice", Decision::approve), "approved"); // request_approved
    authority_.add("pia", {"Ops"});
    auto lapsing = service_->request(jit("pia"));
    ASSERT_TRUE(lapsing);
    clock_.advance(9h);
    service_->run_due(); // request_lapsed (and the scheduled window starts)

    RecordingMailer mailer;
    const auto pass = send_outbox(mailer);
    EXPECT_EQ(pass.incomplete, 0) << "a mail was sent with an empty placeholder (the log names it)";
    EXPECT_EQ(pass.failed, 0);
    std::set<std::string> kinds;
    auto rows = db().prepare("SELECT DISTINCT kind FROM outbox");
    while (rows.step())
        kinds.insert(rows.column_text(0));
    for (const char* kind : {"approval_needed", "window_started", "extension_approved", "window_ending_soon",
                             "window_ended", "request_denied", "request_approved", "request_lapsed"})
        EXPECT_EQ(kinds.count(kind), 1U) << kind << " was not queued";
    for (const auto& mail : mailer.mails) {
        EXPECT_EQ(mail.subject.find("  "), std::string::npos) << mail.subject;
        EXPECT_EQ(mail.subject.back() == ' ', false) << mail.subject;
        EXPECT_EQ(mail.text.find(" to ;"), std::string::npos) << mail.text;
    }
}

TEST_P(CoreCheckout, ApprovalStartsTheWindowAndReleasesAfterTheCommit) {
    auto id = service_->request(jit());
    clock_.advance(10min);
    auto decided = service_->decide(*id, "alice", Decision::approve, "ok");
    ASSERT_TRUE(decided) << decided.error().message;
    EXPECT_EQ(*decided, "active");
    auto checkout = store::checkout_of_request(db(), *id);
    ASSERT_TRUE(checkout);
    EXPECT_EQ(store::to_text(checkout->state), "active");
    EXPECT_EQ(checkout->starts_at, kStart + 600); // the clock starts with the last approval
    EXPECT_EQ(checkout->ends_at, kStart + 600 + 3600);
    EXPECT_EQ(authority_.writes, (std::vector<std::string>{"add bob to Server Admins"}));
    EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE action = 'checkout.released'"), 1);
    EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE kind = 'window_started' AND recipient = 'bob@example.test'"), 1);
}

TEST_P(CoreCheckout, FailedReleaseIsRetriedWhileTheWindowLasts) {
    auto id = service_->request(jit());
    authority_.writes_fail = true; // the DC refuses the group add
    ASSERT_EQ(service_->decide(*id, "alice", Decision::approve), "active") << "the approval stands";
    auto checkout = store::checkout_of_request(db(), *id);
    EXPECT_EQ(store::to_text(checkout->release_state), "failed");
    EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE action = 'checkout.release_failed'"), 1);
    auto pass = service_->run_due();
    EXPECT_EQ(pass.next_due, kStart + 15) << "retry after the backoff";
    authority_.writes_fail = false;
    clock_.advance(15s);
    service_->run_due();
    EXPECT_EQ(store::to_text(store::find_checkout(db(), checkout->id)->release_state), "done");
    EXPECT_EQ(authority_.writes, (std::vector<std::string>{"add bob to Server Admins"}));
    clock_.set(checkout->ends_at);
    service_->run_due();
    EXPECT_EQ(authority_.writes.back(), "remove bob from Server Admins");
}

TEST_P(CoreCheckout, HolderIsToldTenMinutesBeforeTheEndAndAtTheEnd) {
    auto id = service_->request(jit());
    service_->decide(*id, "alice", Decision::approve);
    auto checkout = store::checkout_of_request(db(), *id);
    auto pass = service_->run_due();
    EXPECT_EQ(pass.next_due, checkout->ends_at - 600);
    clock_.set(checkout->ends_at - 600);
    EXPECT_EQ(service_->run_due().ending_notices, 1);
    EXPECT_EQ(service_->run_due().ending_notices, 0) << "once";
    EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE kind = 'window_ending_soon' AND recipient = 'bob@example.test'"),
              1);
    clock_.set(checkout->ends_at);
    service_->run_due();
    EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE kind = 'window_ended' AND recipient = 'bob@example.test'"), 1);
}

TEST_P(CoreCheckout, AnEntryShowsWhoCanApproveIt) {
    auto stages = service_->entry_approvers("breakglass", "bob");
    ASSERT_TRUE(stages) << stages.error().message;
    ASSERT_EQ(stages->size(), 2U);
    ASSERT_EQ((*stages)[0].size(), 1U);
    EXPECT_EQ((*stages)[0][0].name, "alice"); // bob's manager
    std::set<std::string> security;
    for (const auto& p : (*stages)[1])
        security.insert(p.name);
    EXPECT_EQ(security, (std::set<std::string>{"carol", "dave", "erin"}));
    auto self = service_->entry_approvers("jit", "lead-op");
    ASSERT_TRUE(self);
    for (const auto& p : (*self)[0])
        EXPECT_NE(p.name, "lead-op") << "never the requester";
}

TEST_P(CoreCheckout, DecisionRefusals) {
    auto id = service_->request(jit("lead-op"));
    auto self = service_->decide(*id, "lead-op", Decision::approve);
    ASSERT_FALSE(self);
    EXPECT_EQ(self.error().code, "self_approval") << "even though lead-op is in Leads";
    auto outsider = service_->decide(*id, "erin", Decision::approve);
    ASSERT_FALSE(outsider);
    EXPECT_EQ(outsider.error().code, "not_an_approver");
    auto disabled = service_->decide(*id, "frank", Decision::approve);
    ASSERT_FALSE(disabled);
    EXPECT_EQ(disabled.error().code, "account_disabled");
    // Eligibility is checked at decision time: alice leaves Leads before deciding.
    authority_.users["alice"].groups.erase("Leads");
    auto moved = service_->decide(*id, "alice", Decision::approve);
    ASSERT_FALSE(moved);
    EXPECT_EQ(moved.error().code, "not_an_approver");
    EXPECT_EQ(count("SELECT count(*) FROM approvals"), 0);
    ASSERT_TRUE(service_->decide(*id, "carol", Decision::deny, "not tonight"));
    EXPECT_EQ(state(*id), "denied");
    auto late = service_->decide(*id, "carol", Decision::approve);
    ASSERT_FALSE(late);
    EXPECT_EQ(late.error().kind, CoreError::Kind::conflict);
    EXPECT_TRUE(authority_.writes.empty()) << "nothing released";
}

TEST_P(CoreCheckout, TwoStagesDistinctPeopleManagerFirst) {
    auto id = service_->request({"bob", "breakglass", "outage", std::nullopt, 2h, std::nullopt});
    ASSERT_TRUE(id) << id.error().message;
    // Stage 1 is bob's manager (alice); carol is not bob's manager.
    auto not_manager = service_->decide(*id, "carol", Decision::approve);
    ASSERT_FALSE(not_manager);
    EXPECT_EQ(not_manager.error().code, "not_an_approver");
    ASSERT_EQ(service_->decide(*id, "alice", Decision::approve), "pending");
    EXPECT_EQ(store::find_request(db(), *id)->stage, 2);
    EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE kind = 'approval_needed' AND payload LIKE '%\"stage\":2%'"), 3);
    // Stage 2 needs two distinct Security members; one person never counts twice.
    ASSERT_EQ(service_->decide(*id, "carol", Decision::approve), "pending");
    auto twice = service_->decide(*id, "carol", Decision::approve);
    ASSERT_FALSE(twice);
    EXPECT_EQ(twice.error().code, "already_decided");
    EXPECT_TRUE(authority_.writes.empty());
    ASSERT_EQ(service_->decide(*id, "dave", Decision::approve), "active");
    EXPECT_EQ(authority_.writes, (std::vector<std::string>{"enable da-breakglass"}));
}

// The next stage's "your decision" mail goes only to people who may still decide:
// a stage-1 approver who is also in the stage-2 group is not asked again.
TEST_P(CoreCheckout, TheNextStageIsMailedOnlyToThoseWhoMayStillDecide) {
    authority_.users["alice"].groups.insert("Security"); // bob's manager, and a Security member
    auto id = service_->request({"bob", "breakglass", "outage", std::nullopt, 2h, std::nullopt});
    ASSERT_TRUE(id) << id.error().message;
    ASSERT_EQ(service_->decide(*id, "alice", Decision::approve), "pending");
    EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE kind = 'approval_needed' AND payload LIKE '%\"stage\":2%'"), 3)
        << "carol, dave, erin";
    EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE kind = 'approval_needed' AND payload LIKE '%\"stage\":2%' "
                    "AND recipient = 'alice@example.test'"),
              0);
}

// The requester may send a request to one approver of stage 1 (as Devolutions lets
// them): only that one is mailed; the others may still decide. Someone who cannot
// approve stage 1 is refused and nothing is recorded.
TEST_P(CoreCheckout, ARequestCanBeSentToOneChosenApprover) {
    const int64_t before = count("SELECT count(*) FROM requests");
    auto wrong = jit();
    wrong.send_to = "erin"; // Security, not Leads
    auto refused = service_->request(wrong);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().kind, CoreError::Kind::invalid);
    EXPECT_EQ(refused.error().code, "not_an_approver");
    EXPECT_EQ(count("SELECT count(*) FROM requests"), before);
    auto chosen = jit();
    chosen.send_to = "carol";
    auto id = service_->request(chosen);
    ASSERT_TRUE(id) << id.error().message;
    EXPECT_EQ(
        count("SELECT count(*) FROM outbox WHERE kind = 'approval_needed' AND request_id = " + std::to_string(*id)), 1);
    EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE kind = 'approval_needed' AND request_id = " +
                    std::to_string(*id) + " AND recipient = 'carol@example.test'"),
              1);
    EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE action = 'request.created' AND "
                    "json_extract(details, '$.sent_to') = 'carol'"),
              1);
    EXPECT_EQ(service_->decide(*id, "alice", Decision::approve), "active") << "alice may still decide";
}

TEST_P(CoreCheckout, ScheduledWindowStartsAtItsStart) {
    auto r = jit();
    r.start = kStart + 2 * 3600;
    auto id = service_->request(r);
    ASSERT_TRUE(id);
    EXPECT_EQ(store::find_request(db(), *id)->deadline_at, kStart + 2 * 3600) << "must be decided before it starts";
    ASSERT_EQ(service_->decide(*id, "alice", Decision::approve), "approved");
    EXPECT_TRUE(authority_.writes.empty());
    auto checkout = store::checkout_of_request(db(), *id);
    EXPECT_EQ(store::to_text(checkout->state), "scheduled");
    EXPECT_EQ(checkout->starts_at, kStart + 2 * 3600);
    auto pass = service_->run_due();
    EXPECT_EQ(pass.started, 0);
    EXPECT_EQ(pass.next_due, kStart + 2 * 3600);
    clock_.set(kStart + 2 * 3600);
    pass = service_->run_due();
    EXPECT_EQ(pass.started, 1);
    EXPECT_EQ(state(*id), "active");
    EXPECT_EQ(authority_.writes.size(), 1U);
}

TEST_P(CoreCheckout, UnansweredRequestLapses) {
    auto id = service_->request(jit());
    clock_.set(kStart + 8 * 3600 - 1);
    EXPECT_EQ(service_->run_due().lapsed, 0);
    clock_.set(kStart + 8 * 3600);
    EXPECT_EQ(service_->run_due().lapsed, 1);
    EXPECT_EQ(state(*id), "lapsed");
    EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE kind = 'request_lapsed' AND recipient = 'bob@example.test'"), 1);
    EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE action = 'request.lapsed'"), 1);
}

TEST_P(CoreCheckout, WindowEndsAndAccessIsTakenBack) {
    auto id = service_->request(jit());
    service_->decide(*id, "alice", Decision::approve);
    auto checkout = store::checkout_of_request(db(), *id);
    clock_.set(checkout->ends_at);
    auto pass = service_->run_due();
    EXPECT_EQ(pass.ended, 1);
    EXPECT_EQ(pass.taken_back, 1);
    auto ended = store::find_checkout(db(), checkout->id);
    EXPECT_EQ(store::to_text(ended->state), "ended");
    EXPECT_EQ(ended->end_reason, store::parse_end_reason("expired"));
    EXPECT_EQ(store::to_text(ended->takeback_state), "done");
    EXPECT_EQ(state(*id), "ended");
    EXPECT_EQ(authority_.writes.back(), "remove bob from Server Admins");
}

// A claim whose runner died (the process was killed mid take-back) holds the
// take-back only until its lease ends; then a scheduler pass takes it over. A
// restarted service drops such claims at once (recover()).
TEST_P(CoreCheckout, AnAbandonedTakebackClaimExpiresWithItsLease) {
    auto id = service_->request(jit());
    service_->decide(*id, "alice", Decision::approve);
    auto checkout = store::checkout_of_request(db(), *id);
    clock_.set(checkout->ends_at);
    {
        store::Transaction tx(db());
        ASSERT_TRUE(store::end_checkout(tx, checkout->id, store::EndReason::expired, clock_.now()));
        ASSERT_TRUE(store::claim_takeback(tx, checkout->id, clock_.now(), clock_.now() + 300)); // and then it died
        EXPECT_FALSE(store::claim_takeback(tx, checkout->id, clock_.now(), clock_.now() + 300)) << "claimed once";
        tx.commit();
    }
    authority_.writes.clear();
    EXPECT_EQ(service_->run_due().taken_back, 0) << "the lease still runs";
    EXPECT_TRUE(authority_.writes.empty());
    clock_.advance(301s);
    EXPECT_EQ(service_->run_due().taken_back, 1) << "the lease ran out: taken over";
    EXPECT_EQ(store::to_text(store::find_checkout(db(), checkout->id)->takeback_state), "done");

    auto second = service_->request(jit());
    service_->decide(*second, "carol", Decision::approve);
    auto other = store::checkout_of_request(db(), *second);
    clock_.set(other->ends_at);
    {
        store::Transaction tx(db());
        store::end_checkout(tx, other->id, store::EndReason::expired, clock_.now());
        store::claim_takeback(tx, other->id, clock_.now(), clock_.now() + 300);
        tx.commit();
    }
    EXPECT_EQ(service_->recover(), 1);
    EXPECT_EQ(service_->run_due().taken_back, 1) << "after a restart at once";
}

TEST_P(CoreCheckout, FailedTakeBackIsRetriedWithBackoffAndBlocksTheEntry) {
    auto id = service_->request(jit());
    service_->decide(*id, "alice", Decision::approve);
    auto checkout = store::checkout_of_request(db(), *id);
    authority_.writes_fail = true;
    clock_.set(checkout->ends_at);
    auto pass = service_->run_due();
    EXPECT_EQ(pass.takeback_failures, 1);
    auto failed = store::find_checkout(db(), checkout->id);
    EXPECT_EQ(store::to_text(failed->takeback_state), "failed");
    EXPECT_EQ(failed->takeback_next_at, checkout->ends_at + 30);
    auto blocked = service_->request(jit());
    ASSERT_FALSE(blocked);
    EXPECT_EQ(blocked.error().code, "takeback_pending");
    clock_.advance(30s);
    pass = service_->run_due();
    EXPECT_EQ(pass.takeback_failures, 1);
    EXPECT_EQ(store::find_checkout(db(), checkout->id)->takeback_next_at, checkout->ends_at + 30 + 60) << "backoff";
    authority_.writes_fail = false;
    clock_.advance(60s);
    pass = service_->run_due();
    EXPECT_EQ(pass.taken_back, 1);
    EXPECT_EQ(store::to_text(store::find_checkout(db(), checkout->id)->takeback_state), "done");
    EXPECT_TRUE(service_->request(jit())) << "the entry is free again";
    EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE action = 'checkout.takeback_failed'"), 2);
}

// Requests asked while the entry was still held, for windows after it: nothing was
// pending then. When that check-out ends and its take-back fails, nothing of the
// entry is approved or released until the take-back succeeds: the earlier holder
// may still be in the group (or know the password).
TEST_P(CoreCheckout, AnUnfinishedTakeBackHoldsBackApprovalsAndReleasesAskedForBeforeIt) {
    auto first = service_->request(jit());
    ASSERT_EQ(service_->decide(*first, "alice", Decision::approve), "active");
    const auto held = *store::checkout_of_request(db(), *first);
    auto later = jit();
    later.start = held.ends_at + 7200;
    auto waiting = service_->request(later);
    auto soon = jit("lead-op");
    soon.start = held.ends_at + 600;
    auto scheduled = service_->request(soon);
    ASSERT_TRUE(waiting && scheduled);
    ASSERT_EQ(service_->decide(*scheduled, "alice", Decision::approve), "approved");
    const auto next = *store::checkout_of_request(db(), *scheduled);

    authority_.writes_fail = true;
    clock_.set(held.ends_at);
    EXPECT_EQ(service_->run_due().takeback_failures, 1);
    auto refused = service_->decide(*waiting, "alice", Decision::approve);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, "takeback_pending");
    EXPECT_EQ(state(*waiting), "pending");
    EXPECT_EQ(approvals_for(*waiting), 0) << "nothing recorded";

    authority_.writes_fail = false;
    authority_.removals_fail = true; // only the take-back still fails
    authority_.writes.clear();
    clock_.set(next.starts_at);
    service_->run_due();
    for (const auto& write : authority_.writes)
        EXPECT_EQ(write.find("add "), std::string::npos) << "released while the take-back is unfinished: " << write;
    EXPECT_GE(count("SELECT count(*) FROM audit_events WHERE action = 'checkout.release_failed' AND details LIKE "
                    "'%take-back of an earlier check-out of jit has not succeeded yet%'"),
              1);
    EXPECT_NE(store::find_checkout(db(), next.id)->release_state, store::Progress::done);

    authority_.removals_fail = false;
    for (int pass = 0; pass < 6; ++pass) {
        clock_.advance(5min);
        service_->run_due();
    }
    EXPECT_EQ(store::find_checkout(db(), held.id)->takeback_state, store::Progress::done);
    EXPECT_EQ(store::find_checkout(db(), next.id)->release_state, store::Progress::done) << "released after it";
}

// A password entry: while the password the earlier holder knew is not rotated (its
// take-back failed), the next holder cannot read it; after the rotation they read the
// new one.
TEST_P(CoreCheckout, APasswordIsNotHandedOnBeforeTheEarlierHoldersTakeBackRotatedIt) {
    ASSERT_TRUE(core::store_secret(db(), *vault_, *config_, "vaulted", "local:root", "Initial-Pa55word!", clock_));
    auto first = service_->request({"bob", "vaulted", "work", std::string("INC1111"), 1h, std::nullopt});
    ASSERT_EQ(service_->decide(*first, "alice", Decision::approve), "active");
    const auto held = *store::checkout_of_request(db(), *first);
    ASSERT_TRUE(service_->credential(held.id, "bob"));
    auto soon = service_->request(
        {"lead-op", "vaulted", "work", std::string("INC2222"), 1h, std::optional<int64_t>(held.ends_at + 600)});
    ASSERT_TRUE(soon);
    ASSERT_EQ(service_->decide(*soon, "alice", Decision::approve), "approved");
    const auto next = *store::checkout_of_request(db(), *soon);
    authority_.writes_fail = true; // the rotation fails
    clock_.set(held.ends_at);
    EXPECT_EQ(service_->run_due().takeback_failures, 1);
    clock_.set(next.starts_at);
    service_->run_due();
    auto refused = service_->credential(next.id, "lead-op");
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, "takeback_pending");
    authority_.writes_fail = false;
    for (int pass = 0; pass < 6; ++pass) {
        clock_.advance(5min);
        service_->run_due();
    }
    auto secret = service_->credential(next.id, "lead-op");
    ASSERT_TRUE(secret) << secret.error().message;
    EXPECT_NE(*secret, "Initial-Pa55word!") << "the rotated password";
}

TEST_P(CoreCheckout, CheckInRevokeAndCancel) {
    auto id = service_->request(jit());
    service_->decide(*id, "alice", Decision::approve);
    auto checkout = store::checkout_of_request(db(), *id);
    auto stranger = service_->check_in(checkout->id, "carol");
    ASSERT_FALSE(stranger);
    EXPECT_EQ(stranger.error().code, "not_yours");
    ASSERT_TRUE(service_->check_in(checkout->id, "bob"));
    EXPECT_EQ(store::find_checkout(db(), checkout->id)->end_reason, store::parse_end_reason("checked_in"));
    EXPECT_EQ(authority_.writes.back(), "remove bob from Server Admins");
    EXPECT_FALSE(service_->check_in(checkout->id, "bob")) << "already ended";

    auto second = service_->request(jit());
    service_->decide(*second, "carol", Decision::approve);
    auto active = store::checkout_of_request(db(), *second);
    auto not_admin = service_->revoke(active->id, "alice", "suspicious");
    ASSERT_FALSE(not_admin);
    EXPECT_EQ(not_admin.error().code, "not_an_admin");
    EXPECT_FALSE(service_->revoke(active->id, "dave", " ")) << "a reason is required";
    ASSERT_TRUE(service_->revoke(active->id, "dave", "suspicious activity"));
    EXPECT_EQ(store::find_checkout(db(), active->id)->end_reason, store::parse_end_reason("revoked"));

    auto third = service_->request(jit());
    EXPECT_FALSE(service_->cancel(*third, "carol")) << "only the requester cancels";
    ASSERT_TRUE(service_->cancel(*third, "bob"));
    EXPECT_EQ(state(*third), "cancelled");
    EXPECT_FALSE(service_->decide(*third, "alice", Decision::approve));
}

TEST_P(CoreCheckout, ExtensionIsItsOwnApprovedRequest) {
    auto id = service_->request(jit());
    service_->decide(*id, "alice", Decision::approve);
    auto checkout = store::checkout_of_request(db(), *id);
    auto too_long = service_->extend(checkout->id, "bob", 2h, "more work");
    ASSERT_FALSE(too_long);
    EXPECT_EQ(too_long.error().code, "extension_too_long");
    // In the configuration's units, not seconds.
    EXPECT_EQ(too_long.error().message, "the policy allows 1h of extensions in total (1h left)");
    auto ext = service_->extend(checkout->id, "bob", 30min, "more work");
    ASSERT_TRUE(ext) << ext.error().message;
    EXPECT_EQ(store::find_checkout(db(), checkout->id)->ends_at, checkout->ends_at) << "not before approval";
    // The approvers read it as more time on request N's window, not as a window of its own.
    RecordingMailer mailer;
    EXPECT_EQ(send_outbox(mailer).incomplete, 0);
    const std::string extends = "extends request " + std::to_string(*id) + " by 30m to ";
    int told = 0;
    for (const auto& mail : mailer.mails)
        if (mail.text.find("Request " + std::to_string(*ext)) != std::string::npos ||
            mail.text.find("(request " + std::to_string(*ext) + ")") != std::string::npos)
            told +=
                mail.text.find(extends) != std::string::npos && mail.text.find("from approval") == std::string::npos;
    EXPECT_GE(told, 1) << "the approval mail of the extension says what it extends";
    ASSERT_EQ(service_->decide(*ext, "carol", Decision::approve), "approved");
    EXPECT_EQ(store::find_checkout(db(), checkout->id)->ends_at, checkout->ends_at + 1800);
    EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE action = 'checkout.extended'"), 1);
    auto over = service_->extend(checkout->id, "bob", 31min, "even more");
    ASSERT_FALSE(over) << "30 + 31 minutes is more than the 1h allowed";
}

TEST_P(CoreCheckout, ExtensionsEndWithTheirCheckOut) {
    auto id = service_->request(jit());
    service_->decide(*id, "alice", Decision::approve);
    auto checkout = store::checkout_of_request(db(), *id);
    auto granted = service_->extend(checkout->id, "bob", 20min, "more work");
    ASSERT_TRUE(granted);
    ASSERT_EQ(service_->decide(*granted, "carol", Decision::approve), "approved");
    auto waiting = service_->extend(checkout->id, "bob", 10min, "a little more");
    ASSERT_TRUE(waiting);
    ASSERT_TRUE(service_->revoke(checkout->id, "dave", "incident over"));
    // Not "approved" for good: the granted one ended with the check-out, the waiting
    // one can no longer be granted.
    EXPECT_EQ(store::find_request(db(), *granted)->state, store::RequestState::ended);
    EXPECT_EQ(store::find_request(db(), *waiting)->state, store::RequestState::lapsed);
    auto late = service_->decide(*waiting, "carol", Decision::approve);
    ASSERT_FALSE(late);
    EXPECT_EQ(late.error().code, "not_pending");
}

// [store] retention: requests over for longer than it leave the database with what
// belongs only to them; what still runs (or waits for a take-back or mail) stays; the
// audit chain keeps every event and records the prune.
TEST_P(CoreCheckout, RetentionPrunesWhatIsOverAndKeepsTheChain) {
    auto old_checked_in = service_->request(jit());
    ASSERT_EQ(service_->decide(*old_checked_in, "alice", Decision::approve), "active");
    ASSERT_TRUE(service_->check_in(store::checkout_of_request(db(), *old_checked_in)->id, "bob"));
    authority_.add("olga", {"Ops"});
    auto old_cancelled = service_->request(jit("olga"));
    ASSERT_TRUE(service_->cancel(*old_cancelled, "olga"));
    clock_.advance(std::chrono::hours(24 * 10));
    auto recent = service_->request(jit());
    ASSERT_TRUE(service_->cancel(*recent, "bob"));
    auto running = service_->request(jit());
    ASSERT_EQ(service_->decide(*running, "alice", Decision::approve), "active");
    auto running_checkout = store::checkout_of_request(db(), *running);
    auto more = service_->extend(running_checkout->id, "bob", 20min, "more work");
    ASSERT_TRUE(more);
    RecordingMailer mailer;
    send_outbox(mailer); // mail still waiting would keep its request
    const int64_t events_before = count("SELECT count(*) FROM audit_events");

    EXPECT_EQ(service_->prune_history(), 0) << "no retention configured: kept for good";
    config_->store.retention = std::chrono::hours(24 * 7);
    EXPECT_EQ(service_->prune_history(), 2);
    EXPECT_FALSE(store::find_request(db(), *old_checked_in));
    EXPECT_FALSE(store::find_request(db(), *old_cancelled));
    EXPECT_TRUE(store::find_request(db(), *recent)) << "over 7 days ago only";
    EXPECT_TRUE(store::find_request(db(), *running));
    EXPECT_TRUE(store::find_request(db(), *more));
    EXPECT_EQ(count("SELECT count(*) FROM checkouts"), 1);
    EXPECT_EQ(count("SELECT count(*) FROM approvals WHERE request_id IN (" + std::to_string(*old_checked_in) + ")"), 0);
    EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE request_id IN (" + std::to_string(*old_checked_in) + ", " +
                    std::to_string(*old_cancelled) + ")"),
              0);
    // Every event is still there, one more names the prune, and the chain verifies.
    EXPECT_EQ(count("SELECT count(*) FROM audit_events"), events_before + 1);
    EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE action = 'history.pruned' AND "
                    "json_extract(details, '$.requests') = 2 AND json_extract(details, '$.checkouts') = 1"),
              1);
    EXPECT_EQ(
        count("SELECT count(*) FROM audit_events WHERE subject = 'request:" + std::to_string(*old_checked_in) + "'"), 3)
        << "created, approval, approved";
    EXPECT_TRUE(store::verify_audit_chain(db()).ok());
    EXPECT_EQ(service_->prune_history(), 0) << "nothing more is old enough";
    // The scheduler prunes by itself, once an hour.
    auto pass = service_->run_due();
    ASSERT_TRUE(pass.next_due);
    EXPECT_LE(*pass.next_due, clock_.now() + 3600);
}

TEST_P(CoreCheckout, ExclusiveEntryHasOneHolder) {
    auto first = service_->request(jit());
    authority_.add("olga", {"Ops"});
    auto second = service_->request(jit("olga"));
    ASSERT_TRUE(first && second);
    ASSERT_EQ(service_->decide(*first, "alice", Decision::approve), "active");
    auto busy = service_->decide(*second, "carol", Decision::approve);
    ASSERT_FALSE(busy);
    EXPECT_EQ(busy.error().code, "entry_busy");
    EXPECT_EQ(count("SELECT count(*) FROM checkouts"), 1);
    const auto outbox = count("SELECT count(*) FROM outbox");
    const auto events = count("SELECT count(*) FROM audit_events");
    auto third = service_->request(jit("olga"));
    ASSERT_FALSE(third);
    EXPECT_EQ(third.error().code, "entry_busy");
    // Refused inside the write transaction: nothing of it stays.
    EXPECT_EQ(count("SELECT count(*) FROM requests"), 2);
    EXPECT_EQ(count("SELECT count(*) FROM outbox"), outbox);
    EXPECT_EQ(count("SELECT count(*) FROM audit_events"), events);
    // The next request (after the holder checks in) is written normally.
    service_->check_in(store::checkout_of_request(db(), *first)->id, "bob");
    auto fourth = service_->request(jit("olga"));
    ASSERT_TRUE(fourth) << fourth.error().message;
    EXPECT_EQ(count("SELECT count(*) FROM requests"), 3);
}

TEST_P(CoreCheckout, EveryTransitionLeavesAnIntactAuditChain) {
    auto id = service_->request(jit());
    service_->decide(*id, "alice", Decision::approve);
    clock_.advance(2h);
    service_->run_due();
    auto result = store::verify_audit_chain(db());
    EXPECT_TRUE(result.ok()) << result.message;
    EXPECT_GE(result.events, 7);
}

TEST_P(CoreCheckout, PasswordEntryRevealsTheSecretToTheHolderOnlyAndRotatesIt) {
    core::NewCheckoutRequest r{"bob", "vaulted", "db migration", std::string("INC4321"), 1h, std::nullopt};
    auto missing = service_->request(r);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, "no_secret");
    const std::string initial = "Initial-Vaulted-Pa55!";
    ASSERT_EQ(core::store_secret(db(), *vault_, *config_, "vaulted", "local:root", initial, clock_), 1);
    EXPECT_EQ(count(store::dialect(db(), "SELECT count(*) FROM secrets WHERE instr(ciphertext, 'Initial') > 0",
                                   "SELECT count(*) FROM secrets WHERE position('Initial'::bytea in ciphertext) > 0")),
              0)
        << "encrypted at rest";
    auto id = service_->request(r);
    ASSERT_TRUE(id) << id.error().message;
    ASSERT_EQ(service_->decide(*id, "alice", Decision::approve), "active");
    auto checkout = store::checkout_of_request(db(), *id);
    EXPECT_FALSE(service_->credential(checkout->id, "carol")) << "only the holder";
    auto secret = service_->credential(checkout->id, "bob");
    ASSERT_TRUE(secret) << secret.error().message;
    EXPECT_EQ(*secret, initial);
    EXPECT_EQ(store::find_checkout(db(), checkout->id)->retrievals, 1);
    EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE action = 'secret.retrieved'"), 1);

    clock_.set(checkout->ends_at);
    auto pass = service_->run_due();
    EXPECT_EQ(pass.taken_back, 1);
    EXPECT_FALSE(service_->credential(checkout->id, "bob")) << "not after the window";
    ASSERT_FALSE(authority_.last_password.empty());
    EXPECT_NE(authority_.last_password, initial);
    EXPECT_EQ(count("SELECT version FROM secrets"), 2);
    // The next holder gets the rotated password.
    auto next = service_->request(r);
    ASSERT_TRUE(next);
    service_->decide(*next, "alice", Decision::approve);
    EXPECT_EQ(service_->credential(store::checkout_of_request(db(), *next)->id, "bob"), authority_.last_password);
    // No secret in any audit event or mail.
    for (const auto& value : {initial, authority_.last_password}) {
        auto s = db().prepare("SELECT count(*) FROM audit_events WHERE details LIKE '%' || ? || '%'");
        s.bind(1, value);
        s.step();
        EXPECT_EQ(s.column_int64(0), 0);
        auto m = db().prepare("SELECT count(*) FROM outbox WHERE payload LIKE '%' || ? || '%'");
        m.bind(1, value);
        m.step();
        EXPECT_EQ(m.column_int64(0), 0);
    }
}

TEST_P(CoreCheckout, InterruptedRotationConvergesOnRetry) {
    ASSERT_TRUE(core::store_secret(db(), *vault_, *config_, "vaulted", "local:root", "Initial-Pa55word!", clock_));
    auto id = service_->request({"bob", "vaulted", "work", std::string("INC1111"), 1h, std::nullopt});
    service_->decide(*id, "alice", Decision::approve);
    auto checkout = store::checkout_of_request(db(), *id);
    authority_.writes_fail = true; // the DC refuses the reset
    clock_.set(checkout->ends_at);
    service_->run_due();
    const std::string attempted = authority_.last_password;
    ASSERT_FALSE(attempted.empty());
    EXPECT_EQ(store::to_text(store::find_checkout(db(), checkout->id)->takeback_state), "failed");
    EXPECT_EQ(count("SELECT version FROM secrets"), 1) << "not promoted before AD took it";
    authority_.writes_fail = false;
    clock_.advance(1min);
    service_->run_due();
    EXPECT_EQ(authority_.last_password, attempted) << "the retry sets the same pending password";
    EXPECT_EQ(store::to_text(store::find_checkout(db(), checkout->id)->takeback_state), "done");
    EXPECT_EQ(count("SELECT version FROM secrets"), 2);
    EXPECT_EQ(count("SELECT count(*) FROM secrets WHERE pending_ciphertext IS NOT NULL"), 0);
}

// Races between two service instances on two connections to the same file, as two
// HTTP workers would be: whatever the interleaving, nothing is released without its
// approval committed, and an exclusive entry never has two holders.
class CoreCheckoutRaces : public CoreCheckout {
protected:
    void SetUp() override {
        CoreCheckout::SetUp();
        second_db_ = std::make_unique<store::Connection>(store::Connection::open(db().location()));
        second_ = std::make_unique<core::CheckoutService>(*config_, *second_db_, authority_, clock_, vault_.get());
    }
    template <typename A, typename B> void race(A a, B b) {
        std::thread first(a);
        std::thread second(b);
        first.join();
        second.join();
    }
    std::unique_ptr<store::Connection> second_db_;
    std::unique_ptr<core::CheckoutService> second_;
};

// A check-in takes the access back on its own thread while a scheduler pass runs on
// another connection: the take-back is claimed once, so AD sees one password reset,
// the audit trail one take-back, and the stored password is the one AD has.
TEST_P(CoreCheckoutRaces, CheckInRacingASchedulerPassTakesBackOnce) {
    ASSERT_TRUE(core::store_secret(db(), *vault_, *config_, "vaulted", "local:root", "Initial-Pa55word!", clock_));
    authority_.write_delay = std::chrono::milliseconds(2);
    for (int round = 0; round < 10; ++round) {
        auto id = service_->request({"bob", "vaulted", "work", std::string("INC1111"), 1h, std::nullopt});
        ASSERT_TRUE(id) << id.error().message;
        ASSERT_EQ(service_->decide(*id, "alice", Decision::approve), "active");
        const auto checkout = store::checkout_of_request(db(), *id);
        authority_.writes.clear();
        std::atomic<bool> checked_in{false};
        race(
            [&] {
                EXPECT_TRUE(service_->check_in(checkout->id, "bob"));
                checked_in = true;
            },
            [&] {
                while (!checked_in)
                    second_->run_due();
                second_->run_due();
            });
        EXPECT_EQ(std::count(authority_.writes.begin(), authority_.writes.end(), "reset da-vaulted"), 1)
            << "round " << round;
        EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE action = 'checkout.taken_back' AND subject = "
                        "'checkout:" +
                        std::to_string(checkout->id) + "'"),
                  1);
        EXPECT_EQ(store::to_text(store::find_checkout(db(), checkout->id)->takeback_state), "done");
        auto stored = store::find_secret(db(), checkout->entry_id);
        auto plain = vault_->unseal({stored->key_id, stored->nonce, stored->ciphertext}, "vaulted");
        ASSERT_TRUE(plain);
        EXPECT_EQ(*plain, authority_.last_password) << "the store and AD agree";
        clock_.advance(1min);
    }
}

TEST_P(CoreCheckoutRaces, ApprovalRacingACancel) {
    for (int round = 0; round < 25; ++round) {
        authority_.writes.clear();
        auto id = service_->request(jit());
        ASSERT_TRUE(id);
        core::Outcome<std::string> approved = std::string();
        core::Outcome<void> cancelled;
        race([&] { approved = service_->decide(*id, "alice", Decision::approve); },
             [&] { cancelled = second_->cancel(*id, "bob"); });
        const std::string final_state = state(*id);
        ASSERT_NE(approved.has_value(), cancelled.has_value()) << "exactly one wins (round " << round << ")";
        if (cancelled) {
            EXPECT_EQ(final_state, "cancelled");
            EXPECT_TRUE(authority_.writes.empty()) << "released although cancelled";
            EXPECT_FALSE(store::checkout_of_request(db(), *id));
        } else {
            EXPECT_EQ(final_state, "active");
            EXPECT_EQ(authority_.writes.size(), 1U);
            service_->check_in(store::checkout_of_request(db(), *id)->id, "bob");
        }
    }
}

TEST_P(CoreCheckoutRaces, DenyRacingAnApproval) {
    for (int round = 0; round < 25; ++round) {
        authority_.writes.clear();
        auto id = service_->request(jit());
        ASSERT_TRUE(id);
        core::Outcome<std::string> approve = std::string(), deny = std::string();
        race([&] { approve = service_->decide(*id, "alice", Decision::approve); },
             [&] { deny = second_->decide(*id, "carol", Decision::deny); });
        ASSERT_NE(approve.has_value(), deny.has_value()) << "exactly one decision lands (round " << round << ")";
        if (deny) {
            EXPECT_EQ(state(*id), "denied");
            EXPECT_TRUE(authority_.writes.empty());
        } else {
            EXPECT_EQ(state(*id), "active");
            service_->check_in(store::checkout_of_request(db(), *id)->id, "bob");
        }
        EXPECT_EQ(approvals_for(*id), 1);
    }
}

TEST_P(CoreCheckoutRaces, TwoRequestsRacingForAnExclusiveEntry) {
    authority_.add("olga", {"Ops"});
    for (int round = 0; round < 20; ++round) {
        authority_.writes.clear();
        auto mine = service_->request(jit("bob"));
        auto theirs = service_->request(jit("olga"));
        ASSERT_TRUE(mine && theirs);
        core::Outcome<std::string> a = std::string(), b = std::string();
        race([&] { a = service_->decide(*mine, "alice", Decision::approve); },
             [&] { b = second_->decide(*theirs, "carol", Decision::approve); });
        ASSERT_NE(a.has_value(), b.has_value()) << "one holder at a time (round " << round << ")";
        EXPECT_EQ(count("SELECT count(*) FROM checkouts WHERE state = 'active'"), 1);
        EXPECT_EQ(authority_.writes.size(), 1U);
        const auto& loser = a ? b : a;
        EXPECT_EQ(loser.error().code, "entry_busy");
        auto winner = store::checkout_of_request(db(), a ? *mine : *theirs);
        service_->check_in(winner->id, a ? "bob" : "olga");
        service_->cancel(a ? *theirs : *mine, a ? "olga" : "bob");
    }
}

TEST(GeneratedPassword, MeetsAdComplexity) {
    std::set<std::string> seen;
    for (int i = 0; i < 200; ++i) {
        auto p = core::generate_password();
        EXPECT_EQ(p.size(), 24U);
        EXPECT_TRUE(std::any_of(p.begin(), p.end(), ::isupper)) << p;
        EXPECT_TRUE(std::any_of(p.begin(), p.end(), ::islower)) << p;
        EXPECT_TRUE(std::any_of(p.begin(), p.end(), ::isdigit)) << p;
        EXPECT_TRUE(std::any_of(p.begin(), p.end(), [](char c) {
            return !std::isalnum(static_cast<unsigned char>(c));
        })) << p;
        seen.insert(p);
    }
    EXPECT_EQ(seen.size(), 200U);
}

// No directory call while the store's writer lock is held: a debug build aborts.
TEST(AuthorityDeathTest, ADirectoryCallUnderTheWriterLockAborts) {
#ifdef NDEBUG
    GTEST_SKIP() << "a debug-build assertion";
#endif
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    TempDir dir;
    auto opened = store::open_store(dir / "k.db");
    FakeAuthority authority;
    authority.add("bob", {"Ops"});
    EXPECT_TRUE(authority.resolve("bob")) << "outside a transaction: fine";
    EXPECT_DEATH(
        {
            store::Transaction tx(opened.connection);
            (void)authority.resolve("bob");
        },
        "writer lock");
    {
        store::Transaction tx(opened.connection);
        EXPECT_TRUE(store::holds_writer_lock());
        tx.commit();
    }
    EXPECT_FALSE(store::holds_writer_lock());
}

// dump: every row of every table, as the engine gives it back (compared engine with
// engine: a store copied to the other engine and back again is row for row the one
// it started from).
std::vector<std::string> dump(store::Connection& db) {
    std::vector<std::string> lines;
    for (const char* table : {"policies", "entries", "requests", "checkouts", "approvals", "secrets", "audit_events",
                              "outbox", "link_tokens", "report_runs", "portal_sessions"}) {
        auto rows = db.prepare(std::string("SELECT * FROM ") + table + " ORDER BY 1");
        while (rows.step()) {
            std::string line = table;
            for (int c = 0; c < rows.column_count(); ++c)
                line += "|" + (rows.is_null(c) ? std::string("NULL") : std::string(*rows.column_view(c)));
            lines.push_back(line);
        }
    }
    return lines;
}

// A store in use (a check-out with an approved extension, a stored and a retrieved
// secret, mail, a used link nonce, a report run, a portal session) is copied to the
// other engine and back: the audit chain verifies on each with the same head, the
// secret opens, the new rows continue the ids, and a non-empty target is refused.
TEST_P(CoreCheckout, AStoreInUseCopiesToTheOtherEngineAndBackRowForRow) {
    ASSERT_EQ(core::store_secret(db(), *vault_, *config_, "vaulted", "local:root", "Copied-Pa55!", clock_), 1);
    auto id = service_->request(jit());
    ASSERT_TRUE(id);
    service_->decide(*id, "alice", Decision::approve);
    auto checkout = store::checkout_of_request(db(), *id);
    auto extension = service_->extend(checkout->id, "bob", 30min, "more work");
    ASSERT_TRUE(extension) << extension.error().message;
    ASSERT_EQ(service_->decide(*extension, "carol", Decision::approve), "approved");
    auto vaulted = service_->request({"bob", "vaulted", "db work", std::string("INC4321"), 1h, std::nullopt});
    ASSERT_TRUE(vaulted);
    service_->decide(*vaulted, "alice", Decision::approve);
    EXPECT_EQ(service_->credential(store::checkout_of_request(db(), *vaulted)->id, "bob"), "Copied-Pa55!");
    RecordingMailer mailer;
    send_outbox(mailer);
    {
        store::Transaction tx(db());
        ASSERT_TRUE(store::use_link_nonce(tx, "nonce-1", *id, "S-1-5-21-1-2-3-alice", kStart));
        store::begin_report_run(tx, std::string("weekly"), "audit", kStart - 86400, kStart, kStart, kStart, 1);
        store::insert_session(
            tx, {"hash-1", "S-1-bob", "bob", "Bob", "password", "csrf", kStart, kStart, kStart + 3600}, kStart);
        tx.commit();
    }
    const auto original = dump(db());
    const auto head = store::verify_audit_chain(db()).head_hash;

    TempDir other_dir;
    const store::Backend other =
        GetParam() == store::Backend::sqlite ? keyholder::testing::store_backends().back() : store::Backend::sqlite;
    auto there = store::Connection::open(keyholder::testing::fresh_location(other, other_dir, "there.db"));
    auto copied = store::copy_store(db(), there);
    EXPECT_EQ(copied.head_hash, head);
    EXPECT_EQ(copied.rows.at("requests"), 3);
    EXPECT_EQ(copied.rows.at("secrets"), 1);
    EXPECT_TRUE(store::verify_audit_chain(there).ok());
    auto sealed = store::find_secret(there, *store::entry_id_by_name(there, "vaulted"));
    ASSERT_TRUE(sealed);
    EXPECT_EQ(vault_->unseal({sealed->key_id, sealed->nonce, sealed->ciphertext}, "vaulted").value_or(""),
              "Copied-Pa55!");
    EXPECT_EQ(store::find_checkout(there, checkout->id)->ends_at, checkout->ends_at + 1800);
    EXPECT_EQ(store::find_request(there, *extension)->extends_checkout_id, checkout->id);
    // Not again into a store that has rows; nothing changes there.
    EXPECT_THROW(store::copy_store(db(), there), store::StoreError);
    EXPECT_EQ(store::verify_audit_chain(there).events, copied.events);

    // And back into a new store of this engine: the same rows.
    TempDir back_dir;
    auto back = store::Connection::open(keyholder::testing::fresh_location(GetParam(), back_dir, "back.db"));
    EXPECT_EQ(store::copy_store(there, back).head_hash, head);
    EXPECT_EQ(dump(back), original);
    // The copy goes on where the original stopped: it knows jit is checked out, and a
    // service on it numbers new rows after the copied ones.
    core::CheckoutService on_copy(*config_, there, authority_, clock_, vault_.get());
    auto taken = on_copy.request(jit("lead-op"));
    ASSERT_FALSE(taken);
    EXPECT_EQ(taken.error().message, "jit is checked out in that window");
    auto next = on_copy.request({"bob", "breakglass", "after the move", std::nullopt, 1h, std::nullopt});
    ASSERT_TRUE(next) << next.error().message;
    EXPECT_GT(*next, *vaulted);
    EXPECT_TRUE(store::verify_audit_chain(there).ok());
}

INSTANTIATE_TEST_SUITE_P(Engines, CoreCheckout, ::testing::ValuesIn(keyholder::testing::store_backends()),
                         keyholder::testing::engine_name);

INSTANTIATE_TEST_SUITE_P(Engines, CoreCheckoutRaces, ::testing::ValuesIn(keyholder::testing::store_backends()),
                         keyholder::testing::engine_name);

} // namespace
