#include "keyholder/notify/outbox_worker.h"

#include "keyholder/config/duration.h"
#include "keyholder/schedule/backoff.h"

#include <Poco/DateTimeFormatter.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Logger.h>
#include <Poco/Timestamp.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "keyholder/store/checkouts.h"
#include "keyholder/store/outbox.h"

namespace keyholder::notify {
namespace {

Poco::Logger& log() { return Poco::Logger::get("keyholder.notify"); }

/// kRowsPerPass: due rows rendered and sent per pass (the worker runs passes back to
/// back while rows are due).
constexpr int kRowsPerPass = 50;
/// kClaimSeconds: how long a claimed row is this sender's; longer than a pass of
/// kRowsPerPass mails takes with every SMTP timeout running out.
constexpr int64_t kClaimSeconds = 600;

std::string when(int64_t t) {
    return Poco::DateTimeFormatter::format(Poco::Timestamp::fromEpochTime(static_cast<std::time_t>(t)),
                                           "%Y-%m-%d %H:%M UTC");
}

// attachment_of: the file a notification carries (scheduled report exports).
std::string attachment_of(const store::OutboxRow& row) {
    try {
        Poco::JSON::Parser parser;
        auto payload = parser.parse(row.payload).extract<Poco::JSON::Object::Ptr>();
        return payload->optValue<std::string>("attachment", "");
    } catch (const std::exception&) {
        return {};
    }
}

} // namespace

std::string approval_link(const std::string& public_url, const std::string& token) {
    std::string base = public_url;
    while (!base.empty() && base.back() == '/')
        base.pop_back();
    return base + "/approve/" + token;
}

OutboxWorker::OutboxWorker(const config::Config& config, store::Connection& store, Mailer& mailer,
                           const Templates& templates, const core::LinkSigner& links, const core::Clock& clock,
                           std::function<void(const std::string&)> on_result)
    : config_(config), store_(store), mailer_(mailer), templates_(templates), links_(links), clock_(clock),
      on_result_(std::move(on_result)) {}

std::map<std::string, std::string> OutboxWorker::values_for(const store::OutboxRow& row) {
    std::map<std::string, std::string> v;
    v["service_name"] = config_.service.name;
    Poco::JSON::Object::Ptr payload;
    try {
        Poco::JSON::Parser parser;
        payload = parser.parse(row.payload).extract<Poco::JSON::Object::Ptr>();
    } catch (const std::exception&) {
        payload = new Poco::JSON::Object;
    }
    auto text = [&](const std::string& key) {
        return payload->has(key) && !payload->isNull(key) ? payload->get(key).convert<std::string>() : std::string();
    };
    v["recipient_display"] = text("recipient_display");
    v["by"] = text("by");
    v["end_reason"] = text("reason");
    std::replace(v["end_reason"].begin(), v["end_reason"].end(), '_', ' ');
    v["stage"] = text("stage");
    for (const char* key : {"schedule", "report", "rows", "sha256", "window"})
        v[key] = text(key);
    if (!row.request_id) return v;
    auto request = store::find_request(store_, *row.request_id);
    if (!request) return v;
    v["request_id"] = std::to_string(request->id);
    v["entry"] = request->entry_name;
    auto entry = config_.entries.find(request->entry_name);
    v["entry_display"] = entry != config_.entries.end() && !entry->second.display_name.empty()
                             ? entry->second.display_name
                             : request->entry_name;
    if (entry != config_.entries.end())
        v["stages"] = std::to_string(config_.policies.at(entry->second.policy).stages.size());
    v["requester_name"] = request->requester_name;
    v["requester_display"] = request->requester_display.empty() ? request->requester_name : request->requester_display;
    v["reason"] = request->reason;
    v["ticket"] = request->ticket.value_or("-");
    v["duration"] = config::format_duration(std::chrono::seconds(request->duration_s));
    v["window"] = request->start_at ? when(*request->start_at) + " to " + when(*request->start_at + request->duration_s)
                                    : v["duration"] + " from approval";
    // An extension is more time on a window, not a window of its own.
    if (request->extends_checkout_id)
        if (auto extended = store::find_checkout(store_, *request->extends_checkout_id))
            v["window"] = request->state == store::RequestState::pending
                              ? "extends request " + std::to_string(extended->request_id) + " by " + v["duration"] +
                                    " to " + when(extended->ends_at + request->duration_s) + " (it ends " +
                                    when(extended->ends_at) + " now)"
                              : "extends request " + std::to_string(extended->request_id) + " by " + v["duration"] +
                                    " (it ends " + when(extended->ends_at) + ")";
    v["deadline"] = when(request->deadline_at);
    // An approver may have granted a shorter window than asked: say so.
    v["grant_note"] = "";
    if (payload->has("granted_s")) {
        const auto granted = payload->getValue<int64_t>("granted_s");
        if (granted < request->duration_s)
            v["grant_note"] = " It was approved for " + config::format_duration(std::chrono::seconds(granted)) +
                              " of the " + v["duration"] + " asked.";
    }
    std::string decided;
    for (const auto& a : store::approvals_of(store_, request->id))
        decided += (decided.empty() ? "" : "; ") + a.approver_name + " " +
                   (a.decision == "approve" ? "approved" : "denied") + " (stage " + std::to_string(a.stage) + ")";
    v["approvals_so_far"] = decided.empty() ? "none yet" : decided;
    // An extension's window is the check-out it extends (now ending later).
    auto checkout = request->extends_checkout_id ? store::find_checkout(store_, *request->extends_checkout_id)
                                                 : store::checkout_of_request(store_, request->id);
    if (checkout) {
        v["starts_at"] = when(checkout->starts_at);
        v["ends_at"] = when(checkout->ends_at);
    } else if (payload->has("starts_at")) {
        v["starts_at"] = when(payload->getValue<int64_t>("starts_at"));
        v["ends_at"] = when(payload->getValue<int64_t>("ends_at"));
    }
    if (row.kind == "approval_needed") {
        // A link for this recipient and request, expiring with it; the nonce comes from
        // the row's Message-ID, so a re-send carries the same link.
        core::LinkClaims claims;
        claims.request_id = request->id;
        claims.approver_id = text("recipient_id");
        claims.expires_at = request->deadline_at;
        claims.nonce = links_.nonce_for(row.message_id);
        const std::string page = approval_link(config_.http.public_url, links_.issue(claims));
        v["page_url"] = page;
        v["approve_url"] = page + "?decision=approve";
        v["deny_url"] = page + "?decision=deny";
    }
    return v;
}

int64_t OutboxWorker::release_claims() {
    store::Transaction tx(store_);
    const int64_t released = store::release_notification_claims(tx);
    tx.commit();
    if (released > 0)
        log().warning("%s notification(s) claimed by a stopped process will be sent now", std::to_string(released));
    return released;
}

OutboxPass OutboxWorker::run_due() {
    OutboxPass pass;
    const int64_t now = clock_.now();
    // The mailer may keep its SMTP sessions for the whole pass; they close at its end.
    struct FinishBatch {
        Mailer& mailer;
        ~FinishBatch() { mailer.finish_batch(); }
    } finish{mailer_};
    auto count = [&](const char* result) {
        if (on_result_) on_result_(result);
    };
    auto fail = [&](const store::OutboxRow& row, const std::string& why) {
        store::Transaction tx(store_);
        store::mark_notification_failed(tx, row.id, row.attempts + 1, why);
        tx.commit();
        ++pass.failed;
        count("failed");
    };

    // Render every due row first (reads on this thread's connection), then send them
    // all, marking each row as soon as its mail is answered.
    std::vector<store::OutboxRow> rows;
    std::vector<Mail> mails;
    std::vector<store::OutboxRow> due;
    {
        // Claimed first (several nodes share the outbox): a row this pass does not
        // finish (a crash) is sent again once its claim ends, as after a restart.
        store::Transaction tx(store_, store::Locking::rows);
        due = store::claim_due_notifications(tx, now, now + kClaimSeconds, kRowsPerPass);
        tx.commit();
    }
    for (auto& row : due) {
        if (!templates_.has(row.kind)) {
            fail(row, "no template for " + row.kind);
            log().error("notification %s (%s): no template %s.txt; marked failed", std::to_string(row.id), row.kind,
                        row.kind);
            continue;
        }
        const RenderedMail rendered = templates_.render(row.kind, values_for(row));
        if (!rendered.missing.empty()) {
            std::string names;
            for (const auto& name : rendered.missing)
                names += (names.empty() ? "" : ", ") + name;
            log().warning("notification %s (%s): no value for %s; sent with them empty", std::to_string(row.id),
                          row.kind, names);
            ++pass.incomplete;
        }
        Mail mail{config_.smtp.from, row.recipient, rendered.subject,  row.message_id, rendered.text,
                  rendered.html,     now,           attachment_of(row)};
        if (!mail.attachment.empty() && !std::filesystem::exists(mail.attachment)) {
            fail(row, "attachment gone: " + mail.attachment);
            log().error("mail %s to %s: its attachment %s is gone; marked failed", row.kind, row.recipient,
                        mail.attachment);
            continue;
        }
        rows.push_back(std::move(row));
        mails.push_back(std::move(mail));
    }

    mailer_.deliver_all(mails, [&](size_t i, const Delivery& delivery) {
        const store::OutboxRow& row = rows[i];
        const int attempts = row.attempts + 1;
        const int64_t retry_in = schedule::backoff(attempts, config_.smtp.retry_initial, config_.smtp.retry_max);
        store::Transaction tx(store_);
        switch (delivery.result) {
        case Delivery::Result::sent:
            store::mark_notification_sent(tx, row.id, clock_.now());
            ++pass.sent;
            break;
        case Delivery::Result::retry:
            store::mark_notification_retry(tx, row.id, attempts, now + retry_in, delivery.detail);
            ++pass.retried;
            break;
        case Delivery::Result::permanent:
            store::mark_notification_failed(tx, row.id, attempts, delivery.detail);
            ++pass.failed;
            break;
        }
        tx.commit();
        if (delivery.result == Delivery::Result::retry)
            log().warning("mail %s to %s not delivered (attempt %d, next in %ss): %s", row.kind, row.recipient,
                          attempts, std::to_string(retry_in), delivery.detail);
        else if (delivery.result == Delivery::Result::permanent)
            log().error("mail %s to %s refused for good: %s", row.kind, row.recipient, delivery.detail);
        else
            log().debug("mail %s to %s: %s", row.kind, row.recipient, delivery.detail);
        count(delivery.result == Delivery::Result::sent    ? "sent"
              : delivery.result == Delivery::Result::retry ? "retry"
                                                           : "failed");
    });
    pass.next_due = store::next_notification_due(store_);
    return pass;
}

} // namespace keyholder::notify
