// Approval links (sign, verify, tamper, expire), mail templates (escaping, header
// injection) and the outbox worker with a scripted mailer on a real SQLite file and
// an injected clock: retries with backoff, permanent failures, each row sent once.
#include <gtest/gtest.h>

#include "keyholder/config/config.h"
#include "keyholder/core/clock.h"
#include "keyholder/core/links.h"
#include "keyholder/notify/outbox_worker.h"
#include "keyholder/notify/templates.h"
#include "keyholder/platform/files.h"
#include "keyholder/store/outbox.h"
#include "keyholder/store/records.h"
#include "keyholder/store/store.h"
#include "parallel_mailer.h"
#include "support/store_backends.h"
#include "support/temp_dir.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

namespace {

using namespace keyholder;
using keyholder::testing::TempDir;

constexpr int64_t kNow = 1'800'000'000;

core::LinkSigner signer(unsigned char fill = 7) { return core::LinkSigner(std::vector<unsigned char>(32, fill)); }

core::LinkClaims claims() {
    return {42, "S-1-5-21-1-2-3-1105", kNow + 3600, signer().nonce_for("<approval_needed.42.x@keyholder>")};
}

TEST(Links, RoundTripAndDeterministicNonce) {
    const auto token = signer().issue(claims());
    auto verified = signer().verify(token, kNow);
    ASSERT_TRUE(verified) << core::to_string(verified.error());
    EXPECT_EQ(verified->request_id, 42);
    EXPECT_EQ(verified->approver_id, "S-1-5-21-1-2-3-1105");
    EXPECT_EQ(verified->expires_at, kNow + 3600);
    EXPECT_EQ(verified->nonce.size(), 32U);
    EXPECT_EQ(signer().nonce_for("a"), signer().nonce_for("a"));
    EXPECT_NE(signer().nonce_for("a"), signer().nonce_for("b"));
    EXPECT_EQ(token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."),
              std::string::npos); // URL-safe as it is
}

TEST(Links, EveryChangedCharacterIsRefused) {
    const auto token = signer().issue(claims());
    for (size_t i = 0; i < token.size(); ++i) {
        if (token[i] == '.') continue;
        std::string forged = token;
        forged[i] = forged[i] == 'A' ? 'B' : 'A';
        auto verified = signer().verify(forged, kNow);
        EXPECT_FALSE(verified) << "changed at " << i;
    }
    EXPECT_FALSE(signer().verify(token + "A", kNow));
    EXPECT_EQ(signer().verify(token.substr(0, token.find('.')), kNow).error(), core::LinkError::malformed);
    EXPECT_EQ(signer().verify("", kNow).error(), core::LinkError::malformed);
    EXPECT_EQ(signer().verify(std::string(5000, 'A') + ".A", kNow).error(), core::LinkError::malformed);
    EXPECT_EQ(signer(8).verify(token, kNow).error(), core::LinkError::bad_signature); // another service's key
}

TEST(Links, ForeignClaimsCannotBeGrafted) {
    // Another approver's (or request's) payload with this token's signature: refused.
    auto other = claims();
    other.approver_id = "S-1-5-21-1-2-3-1106";
    const auto mine = signer().issue(claims());
    const auto theirs = signer().issue(other);
    const std::string spliced = theirs.substr(0, theirs.find('.')) + mine.substr(mine.find('.'));
    EXPECT_EQ(signer().verify(spliced, kNow).error(), core::LinkError::bad_signature);
}

TEST(Links, ExpireWithTheRequest) {
    const auto token = signer().issue(claims());
    EXPECT_TRUE(signer().verify(token, kNow + 3599));
    EXPECT_EQ(signer().verify(token, kNow + 3600).error(), core::LinkError::expired);
}

TEST(Links, FormKeyBelongsToOneToken) {
    auto other = claims();
    other.request_id = 43;
    const auto a = signer().issue(claims());
    const auto b = signer().issue(other);
    EXPECT_EQ(signer().form_key(a), signer().form_key(a));
    EXPECT_NE(signer().form_key(a), signer().form_key(b));
    EXPECT_TRUE(core::LinkSigner::same("abc", "abc"));
    EXPECT_FALSE(core::LinkSigner::same("abc", "abd"));
    EXPECT_FALSE(core::LinkSigner::same("abc", "abcd"));
}

TEST(Links, KeyFileIsCreatedPrivateAndReused) {
    TempDir dir;
    auto first = core::LinkSigner::open(dir / "keys/link.key");
    ASSERT_TRUE(first) << first.error();
    EXPECT_EQ(keyholder::platform::not_private(dir / "keys/link.key"), std::nullopt);
    auto second = core::LinkSigner::open(dir / "keys/link.key");
    ASSERT_TRUE(second);
    EXPECT_TRUE(second->verify(first->issue(claims()), kNow));
}

TEST(Templates, HtmlIsEscapedAndSubjectsStayOneLine) {
    auto templates = notify::Templates::from_files(
        {{"t.txt", "Subject: [{{service}}] {{who}} asks\nHi {{who}}: {{missing}}."}, {"t.html", "<p>{{who}}</p>"}});
    ASSERT_TRUE(templates) << templates.error();
    auto mail = templates->render("t", {{"service", "kh"}, {"who", "Eve <b>&\"'\r\nBcc: x@evil"}});
    EXPECT_EQ(mail.subject.find('\n'), std::string::npos);
    EXPECT_EQ(mail.subject.find('\r'), std::string::npos);
    EXPECT_EQ(mail.subject.rfind("[kh] Eve", 0), 0U);
    EXPECT_EQ(mail.text, "Hi Eve <b>&\"'\r\nBcc: x@evil: ."); // text as written, unknown placeholders empty
    EXPECT_EQ(mail.html, "<p>Eve &lt;b&gt;&amp;&quot;&#39;\r\nBcc: x@evil</p>");
    EXPECT_FALSE(notify::Templates::from_files({{"bad.txt", "no subject line"}}));
}

TEST(Templates, BuiltInSetCoversEveryNotice) {
    const auto builtin = notify::Templates::builtin();
    for (const char* kind : {"approval_needed", "request_denied", "request_approved", "extension_approved",
                             "window_started", "request_lapsed", "window_ending_soon", "window_ended", "report_ready"})
        EXPECT_TRUE(builtin.has(kind)) << kind;
    const std::string mail =
        builtin.render("approval_needed", {{"approve_url", "https://k/approve/T?decision=approve"}}).text;
    EXPECT_NE(mail.find("https://k/approve/T?decision=approve"), std::string::npos);
}

// ScriptedMailer: answers from a script, records what it was given.
class ScriptedMailer : public notify::Mailer {
public:
    std::vector<notify::Delivery::Result> script;
    std::vector<notify::Mail> delivered;
    notify::Delivery deliver(const notify::Mail& mail) override {
        auto result = script.empty() ? notify::Delivery::Result::sent : script.front();
        if (!script.empty()) script.erase(script.begin());
        if (result == notify::Delivery::Result::sent) delivered.push_back(mail);
        return {result, result == notify::Delivery::Result::permanent ? "550 no such user" : "connection refused"};
    }
    [[nodiscard]] std::string describe() const override { return "scripted"; }
};

class Outbox : public ::testing::TestWithParam<store::Backend> {
protected:
    void SetUp() override {
        dir_.write("data/ldap.password", "pw");
        auto file = dir_.write("k.ini", "[service]\ndata_dir = data\nadmin_groups = A\n"
                                        "[ldap]\nuris = ldaps://dc1\nbase_dn = dc=x\nbind_dn = cn=s\n"
                                        "bind_password_file = ldap.password\n"
                                        "[smtp]\nretry_initial = 30s\nretry_max = 2m\n"
                                        "[policy.p]\nrequester_groups = Ops\nstage1_approvers = Leads\n"
                                        "[entry.e]\npolicy = p\nrelease = group\ngroup = G\n");
        auto loaded = config::load_config(file);
        ASSERT_TRUE(loaded) << loaded.error().front().to_string();
        config_ = std::make_unique<config::Config>(std::move(*loaded));
        opened_ = std::make_unique<store::OpenedStore>(
            store::open_store(keyholder::testing::fresh_location(GetParam(), dir_)));
        store::Transaction tx(opened_->connection);
        store::enqueue_notification(tx, {kNow, "request_lapsed", "bob@example.com", std::nullopt,
                                         R"({"recipient_display":"Bob"})", "<lapsed.1.a@keyholder>"});
        tx.commit();
    }
    notify::OutboxPass pass() {
        notify::OutboxWorker worker(*config_, opened_->connection, mailer_, templates_, links_, clock_);
        return worker.run_due();
    }
    store::OutboxRow row() { return *store::find_notification(opened_->connection, 1); }

    TempDir dir_;
    std::unique_ptr<config::Config> config_;
    std::unique_ptr<store::OpenedStore> opened_;
    core::ManualClock clock_{kNow};
    ScriptedMailer mailer_;
    notify::Templates templates_ = notify::Templates::builtin();
    core::LinkSigner links_ = signer();
};

TEST_P(Outbox, RetriesWithBackoffUntilAcceptedThenNeverAgain) {
    using R = notify::Delivery::Result;
    mailer_.script = {R::retry, R::retry, R::retry, R::retry};
    EXPECT_EQ(pass().retried, 1);
    EXPECT_EQ(row().next_attempt_at, kNow + 30);
    EXPECT_EQ(pass().retried, 0); // not due yet
    clock_.advance(std::chrono::seconds(30));
    EXPECT_EQ(pass().retried, 1);
    EXPECT_EQ(row().next_attempt_at, kNow + 30 + 60); // doubled
    clock_.advance(std::chrono::seconds(60));
    pass();
    EXPECT_EQ(row().next_attempt_at, kNow + 90 + 120);
    clock_.advance(std::chrono::seconds(120));
    auto fourth = pass();
    EXPECT_EQ(row().next_attempt_at, kNow + 210 + 120); // capped at retry_max
    EXPECT_EQ(fourth.next_due, kNow + 330);
    clock_.advance(std::chrono::seconds(120));
    EXPECT_EQ(pass().sent, 1);
    EXPECT_EQ(row().state, "sent");
    EXPECT_EQ(row().attempts, 5);
    clock_.advance(std::chrono::hours(5));
    EXPECT_EQ(pass().sent, 0); // sent means done
    ASSERT_EQ(mailer_.delivered.size(), 1U);
    EXPECT_EQ(mailer_.delivered[0].message_id, "<lapsed.1.a@keyholder>"); // fixed at insert
    EXPECT_EQ(mailer_.delivered[0].to, "bob@example.com");
    EXPECT_NE(mailer_.delivered[0].text.find("Hello Bob"), std::string::npos);
}

TEST_P(Outbox, PermanentRefusalIsFinal) {
    mailer_.script = {notify::Delivery::Result::permanent};
    EXPECT_EQ(pass().failed, 1);
    EXPECT_EQ(row().state, "failed");
    EXPECT_EQ(row().last_error, "550 no such user");
    clock_.advance(std::chrono::hours(2));
    EXPECT_EQ(pass().failed + pass().sent, 0);
    EXPECT_FALSE(pass().next_due);
}

TEST_P(Outbox, PickupFolderWritesOneFilePerMessageAtomically) {
    config::SmtpSection smtp;
    smtp.pickup_dir = dir_ / "pickup";
    auto pickup = notify::make_mailer(smtp);
    notify::Mail mail{"k@x", "bob@example.com", "Grüße", "<m.1@keyholder>", "text", "<p>html</p>", kNow, ""};
    ASSERT_EQ(pickup->deliver(mail).result, notify::Delivery::Result::sent);
    ASSERT_EQ(pickup->deliver(mail).result, notify::Delivery::Result::sent); // the same message again: one file
    std::vector<std::filesystem::path> files;
    for (const auto& f : std::filesystem::directory_iterator(dir_ / "pickup"))
        files.push_back(f.path());
    ASSERT_EQ(files.size(), 1U);
    EXPECT_EQ(files[0].extension(), ".eml");
    const std::string text = notify::mime_text(mail);
    EXPECT_NE(text.find("Message-ID: <m.1@keyholder>"), std::string::npos);
    EXPECT_NE(text.find("=?UTF-8?"), std::string::npos); // the non-ASCII subject is encoded
    EXPECT_NE(text.find("multipart/alternative"), std::string::npos);
}

// LaneMailer: one session of a ParallelMailer; notes the threads it ran on and how
// many of its kind were sending at once.
struct Lanes {
    std::mutex mutex;
    std::set<std::thread::id> threads;
    std::multiset<std::string> sent; // Message-IDs
    std::atomic<int> busy{0};
    std::atomic<int> most_busy{0};
};

class LaneMailer : public notify::Mailer {
public:
    explicit LaneMailer(Lanes& lanes) : lanes_(lanes) {}
    notify::Delivery deliver(const notify::Mail& mail) override {
        const int now_busy = ++lanes_.busy;
        for (int seen = lanes_.most_busy; now_busy > seen && !lanes_.most_busy.compare_exchange_weak(seen, now_busy);) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5)); // a server's round trips
        {
            const std::lock_guard lock(lanes_.mutex);
            lanes_.threads.insert(std::this_thread::get_id());
            lanes_.sent.insert(mail.message_id);
        }
        --lanes_.busy;
        return {notify::Delivery::Result::sent, "accepted"};
    }
    [[nodiscard]] std::string describe() const override { return "lane"; }

private:
    Lanes& lanes_;
};

std::unique_ptr<notify::Mailer> parallel(Lanes& lanes, int count) {
    std::vector<std::unique_ptr<notify::Mailer>> sessions;
    for (int i = 0; i < count; ++i)
        sessions.push_back(std::make_unique<LaneMailer>(lanes));
    return std::make_unique<notify::detail::ParallelMailer>(std::move(sessions));
}

// A backlog goes out over several sessions at once; each row is marked on the worker's
// thread right after its mail was answered, and each mail is sent once.
TEST_P(Outbox, ABacklogIsSentOverSeveralSessionsAtOnceEachMailOnce) {
    {
        store::Transaction tx(opened_->connection);
        for (int i = 2; i <= 40; ++i)
            store::enqueue_notification(tx, {kNow, "request_lapsed", "bob@example.com", std::nullopt,
                                             R"({"recipient_display":"Bob"})",
                                             "<lapsed." + std::to_string(i) + ".a@keyholder>"});
        tx.commit();
    }
    Lanes lanes;
    auto mailer = parallel(lanes, 4);
    std::vector<std::thread::id> marked_on;
    notify::OutboxWorker worker(*config_, opened_->connection, *mailer, templates_, links_, clock_,
                                [&](const std::string& result) {
                                    EXPECT_EQ(result, "sent");
                                    marked_on.push_back(std::this_thread::get_id());
                                });
    EXPECT_EQ(worker.run_due().sent, 40);
    EXPECT_EQ(lanes.sent.size(), 40U);
    EXPECT_EQ(std::set<std::string>(lanes.sent.begin(), lanes.sent.end()).size(), 40U) << "a mail sent twice";
    EXPECT_EQ(lanes.threads.size(), 4U);
    EXPECT_GT(lanes.most_busy.load(), 1);
    EXPECT_EQ(std::set<std::thread::id>(marked_on.begin(), marked_on.end()),
              std::set<std::thread::id>{std::this_thread::get_id()});
    for (int id = 1; id <= 40; ++id)
        EXPECT_EQ(store::find_notification(opened_->connection, id)->state, "sent") << id;
    EXPECT_EQ(worker.run_due().sent, 0);
}

// Two senders (two nodes: their own connections, threads and mailers) on one outbox:
// each row is claimed by one of them and sent once; a row claimed by a sender that
// died is sent by the other once the claim ends.
TEST_P(Outbox, TwoSendersOnOneOutboxSendEachMailOnce) {
    {
        store::Transaction tx(opened_->connection);
        for (int i = 2; i <= 120; ++i)
            store::enqueue_notification(tx, {kNow, "request_lapsed", "bob@example.com", std::nullopt,
                                             R"({"recipient_display":"Bob"})",
                                             "<lapsed." + std::to_string(i) + ".a@keyholder>"});
        tx.commit();
    }
    struct SlowMailer : ScriptedMailer {
        notify::Delivery deliver(const notify::Mail& mail) override {
            std::this_thread::sleep_for(std::chrono::milliseconds(1)); // an SMTP round trip
            return ScriptedMailer::deliver(mail);
        }
    };
    SlowMailer mailers[2];
    std::vector<std::thread> senders;
    for (int node = 0; node < 2; ++node)
        senders.emplace_back([&, node] {
            auto connection = store::Connection::open(opened_->connection.location());
            notify::OutboxWorker worker(*config_, connection, mailers[node], templates_, links_, clock_);
            while (worker.run_due().sent > 0) {}
        });
    for (auto& sender : senders)
        sender.join();
    std::multiset<std::string> sent;
    for (const auto& mailer : mailers)
        for (const auto& mail : mailer.delivered)
            sent.insert(mail.message_id);
    EXPECT_EQ(sent.size(), 120U);
    EXPECT_EQ(std::set<std::string>(sent.begin(), sent.end()).size(), 120U) << "a mail sent twice";
    EXPECT_GT(mailers[0].delivered.size(), 0U);
    EXPECT_GT(mailers[1].delivered.size(), 0U) << "both senders had a share";
    // A sender claims a row and dies before sending it: the other sends it once the claim ends.
    {
        store::Transaction tx(opened_->connection);
        store::enqueue_notification(tx, {kNow, "request_lapsed", "bob@example.com", std::nullopt,
                                         R"({"recipient_display":"Bob"})", "<lapsed.orphan@keyholder>"});
        tx.commit();
        store::Transaction claim(opened_->connection, store::Locking::rows);
        ASSERT_EQ(store::claim_due_notifications(claim, clock_.now(), clock_.now() + 600).size(), 1U);
        claim.commit();
    }
    EXPECT_EQ(pass().sent, 0) << "claimed by a sender that may still be at it";
    EXPECT_EQ(store::next_notification_due(opened_->connection), clock_.now() + 600);
    clock_.advance(std::chrono::seconds(601));
    EXPECT_EQ(pass().sent, 1);
    EXPECT_EQ(mailer_.delivered.back().message_id, "<lapsed.orphan@keyholder>");
}

// When marking a row fails (the store is gone), no further mail begins; the error
// reaches the worker's caller and the mails not begun stay queued.
TEST(ParallelMailer, AFailureToMarkARowStopsTheMailsNotYetBegun) {
    Lanes lanes;
    auto mailer = parallel(lanes, 2);
    std::vector<notify::Mail> mails(30);
    for (size_t i = 0; i < mails.size(); ++i)
        mails[i].message_id = "<m." + std::to_string(i) + "@x>";
    int answered = 0;
    EXPECT_THROW(mailer->deliver_all(mails,
                                     [&](size_t, const notify::Delivery&) {
                                         if (++answered == 3) throw std::runtime_error("disk I/O error");
                                     }),
                 std::runtime_error);
    // The three answered, those waiting in the queue and one in flight per session
    // (each takes 5 ms: all 30 would take 75 ms).
    EXPECT_LT(lanes.sent.size(), mails.size());
    EXPECT_EQ(lanes.busy.load(), 0) << "every sender has stopped";
}

INSTANTIATE_TEST_SUITE_P(Engines, Outbox, ::testing::ValuesIn(keyholder::testing::store_backends()),
                         keyholder::testing::engine_name);

} // namespace
