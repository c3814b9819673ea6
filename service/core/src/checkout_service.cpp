// The check-out rules (see checkout_service.h).
#include "keyholder/core/checkout_service.h"

#include <Poco/JSON/Object.h>
#include <Poco/Logger.h>
#include <Poco/RandomStream.h>
#include <openssl/rand.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <regex>
#include <set>

#include "keyholder/json/writer.h"
#include "keyholder/schedule/backoff.h"
#include "keyholder/store/audit.h"
#include "keyholder/store/checkouts.h"
#include "keyholder/store/outbox.h"
#include "keyholder/store/records.h"
#include "keyholder/store/secrets.h"

namespace keyholder::core {
namespace {

using Kind = CoreError::Kind;
using DirKind = directory::DirectoryError::Kind;

CoreError error(Kind kind, std::string code, std::string message) {
    return CoreError{kind, std::move(code), std::move(message)};
}

CoreError from_directory(const directory::DirectoryError& e, const std::string& who) {
    if (e.kind == DirKind::not_found)
        return error(Kind::forbidden, "unknown_user", "no such user in the directory: " + who);
    return error(Kind::unavailable, "directory_unavailable",
                 "the directory did not answer (" + e.message + "); nothing was recorded, try again later");
}

std::string json(std::initializer_list<std::pair<const char*, Poco::Dynamic::Var>> fields) {
    Poco::JSON::Object object(Poco::JSON_PRESERVE_KEY_ORDER);
    for (const auto& [k, v] : fields)
        object.set(k, v);
    return json::text(object);
}

void audit(store::Transaction& tx, int64_t at, const std::string& actor, const std::string& action,
           const std::string& subject, const std::string& details) {
    store::append_audit_event(tx, {at, actor, action, subject, details});
}

using Fields = std::initializer_list<std::pair<const char*, Poco::Dynamic::Var>>;

// Notice: a notification built before the write lock is taken (the payload, plus
// the recipient whom approval links are bound to, and the random part of the
// Message-ID), so that the transaction only inserts it. The Message-ID is fixed
// at insert, so a re-send after a crash is the same message.
struct Notice {
    std::string kind;
    std::string to_mail;
    std::string payload;
    std::string tag;
};

// message_tag: the unique part of a Message-ID: 64 random bits drawn once per process
// (so a restarted or reinstalled service never repeats one) and a counter. It need
// not be unpredictable: approval-link nonces are HMACs of the Message-ID.
std::string message_tag() {
    static const std::string process = [] {
        unsigned char random[8];
        if (RAND_bytes(random, sizeof random) != 1) throw std::runtime_error("RAND_bytes failed");
        std::string hex;
        for (unsigned char c : random) {
            static constexpr char kHex[] = "0123456789abcdef";
            hex += kHex[c >> 4];
            hex += kHex[c & 15];
        }
        return hex;
    }();
    static std::atomic<uint64_t> counter{0};
    return process + "." + std::to_string(++counter);
}

// prepare_notice: nothing when the directory has no mail address for `to`.
std::optional<Notice> prepare_notice(const std::string& kind, const Principal& to, Fields fields) {
    if (to.mail.empty()) {
        Poco::Logger::get("keyholder.core").warning("no mail address for %s: %s notice not queued", to.name, kind);
        return std::nullopt;
    }
    Poco::JSON::Object payload(Poco::JSON_PRESERVE_KEY_ORDER);
    for (const auto& [key, value] : fields)
        payload.set(key, value);
    payload.set("recipient_id", to.id);
    payload.set("recipient_name", to.name);
    payload.set("recipient_display", to.display_name.empty() ? to.name : to.display_name);
    return Notice{kind, to.mail, json::text(payload), message_tag()};
}

void enqueue(store::Transaction& tx, int64_t now, const std::optional<Notice>& notice, int64_t request_id) {
    if (!notice) return;
    store::enqueue_notification(
        tx, {now, notice->kind, notice->to_mail, request_id, notice->payload,
             "<" + notice->kind + "." + std::to_string(request_id) + "." + notice->tag + "@keyholder>"});
}

// notify: prepare_notice and enqueue in one step, where the lock is held anyway.
void notify(store::Transaction& tx, int64_t now, const std::string& kind, const Principal& to, int64_t request_id,
            Fields fields) {
    enqueue(tx, now, prepare_notice(kind, to, fields), request_id);
}

Poco::Logger& log() { return Poco::Logger::get("keyholder.core"); }

} // namespace

std::string generate_password(size_t length) {
    static const std::string upper = "ABCDEFGHJKLMNPQRSTUVWXYZ";
    static const std::string lower = "abcdefghijkmnopqrstuvwxyz";
    static const std::string digits = "23456789";
    static const std::string symbols = "!#%+-.:=?@_~";
    const std::string all = upper + lower + digits + symbols;
    length = std::max<size_t>(length, 16);
    Poco::RandomInputStream random;
    auto pick = [&](const std::string& from) {
        // Rejection sampling: no modulo bias.
        const unsigned limit = 256 - (256 % from.size());
        while (true) {
            unsigned char c = static_cast<unsigned char>(random.get());
            if (c < limit) return from[c % from.size()];
        }
    };
    std::string password;
    for (const auto* set : {&upper, &lower, &digits, &symbols})
        password += pick(*set);
    while (password.size() < length)
        password += pick(all);
    // Shuffle so the four guaranteed classes are not always first.
    for (size_t i = password.size() - 1; i > 0; --i) {
        size_t j = static_cast<unsigned char>(random.get()) % (i + 1);
        std::swap(password[i], password[j]);
    }
    return password;
}

CheckoutService::CheckoutService(const config::Config& config, store::Connection& store, Authority& authority,
                                 const Clock& clock, const SecretVault* vault)
    : config_(config), store_(store), authority_(authority), clock_(clock), vault_(vault) {}

namespace {

SealedSecret to_sealed(const store::StoredSecret& s) { return SealedSecret{s.key_id, s.nonce, s.ciphertext}; }

store::StoredSecret to_stored(const SealedSecret& s, int64_t at, const std::string& by) {
    return store::StoredSecret{s.key_id, s.nonce, s.ciphertext, 0, at, by};
}

} // namespace

Outcome<int> store_secret(store::Connection& db, const SecretVault& vault, const config::Config& config,
                          const std::string& entry_name, const std::string& actor, std::string_view secret,
                          const Clock& clock) {
    auto entry = config.entries.find(entry_name);
    if (entry == config.entries.end())
        return std::unexpected(error(Kind::not_found, "no_such_entry", "no entry named '" + entry_name + "'"));
    if (!entry->second.releases(config::ReleaseKind::password))
        return std::unexpected(
            error(Kind::invalid, "not_a_password_entry", entry_name + " does not release a password"));
    if (secret.empty() || secret.size() > 1024)
        return std::unexpected(error(Kind::invalid, "bad_secret", "a secret is 1 to 1024 bytes"));
    auto entry_id = store::entry_id_by_name(db, entry_name);
    if (!entry_id)
        return std::unexpected(
            error(Kind::not_found, "no_such_entry",
                  entry_name + " is not in the store yet: start keyholderd once with this configuration"));
    const int64_t now = clock.now();
    store::Transaction tx(db);
    store::put_secret(tx, *entry_id, to_stored(vault.seal(secret, entry_name), now, actor));
    const int version = store::find_secret(db, *entry_id)->version;
    audit(tx, now, actor, "secret.set", "entry:" + entry_name,
          json({{"version", version}, {"key_id", vault.key_id()}}));
    tx.commit();
    return version;
}

// holder_of: the check-out and its holder, when `holder_name` is that holder.
Outcome<std::pair<store::CheckoutRow, Principal>>
CheckoutService::holder_of(int64_t checkout_id, std::string_view holder_name, const std::string& what) {
    auto checkout = store::find_checkout(store_, checkout_id);
    if (!checkout) return std::unexpected(error(Kind::not_found, "no_such_checkout", "no such check-out"));
    auto holder = authority_.resolve(holder_name);
    if (!holder) return std::unexpected(from_directory(holder.error(), std::string(holder_name)));
    if (holder->id != checkout->holder_sid)
        return std::unexpected(error(Kind::forbidden, "not_yours", "only the holder may " + what));
    return std::make_pair(std::move(*checkout), std::move(*holder));
}

Outcome<std::string> CheckoutService::credential(int64_t checkout_id, std::string_view holder_name) {
    const int64_t now = clock_.now();
    auto owned = holder_of(checkout_id, holder_name, "read the credential");
    if (!owned) return std::unexpected(owned.error());
    const store::CheckoutRow* checkout = &owned->first;
    const Principal* holder = &owned->second;
    if (checkout->state != "active" || now >= checkout->ends_at)
        return std::unexpected(
            error(Kind::conflict, "not_active", "the credential is only readable during the window"));
    const config::Entry& entry = config_.entries.at(checkout->entry_name);
    if (!entry.releases(config::ReleaseKind::password))
        return std::unexpected(
            error(Kind::invalid, "not_a_password_entry", entry.name + " does not release a password"));
    auto stored = store::find_secret(store_, checkout->entry_id);
    if (!stored || stored->version == 0 || vault_ == nullptr)
        return std::unexpected(error(Kind::conflict, "no_secret", "no secret is stored for " + entry.name));
    auto plain = vault_->unseal(to_sealed(*stored), entry.name);
    if (!plain) return std::unexpected(error(Kind::conflict, "secret_unavailable", plain.error()));
    store::Transaction tx(store_);
    store::count_retrieval(tx, checkout_id);
    audit(tx, now, holder->id, "secret.retrieved", "checkout:" + std::to_string(checkout_id),
          json({{"entry", entry.name}, {"version", stored->version}}));
    tx.commit(); // the retrieval is on record before the value leaves
    return std::move(*plain);
}

// Rotation that converges: the new password is sealed and stored as pending first,
// then set in the directory, then promoted. A retry reuses the pending password, so a
// failure between the two steps never leaves AD with a password nobody knows.
std::optional<std::string> CheckoutService::rotate_stored_password(const store::CheckoutRow& checkout,
                                                                   const config::Entry& entry) {
    if (vault_ == nullptr) return "no vault to store the rotated password in";
    std::string password;
    if (auto pending = store::find_pending_secret(store_, checkout.entry_id)) {
        auto plain = vault_->unseal(to_sealed(*pending), entry.name);
        if (!plain) return "pending secret unreadable: " + plain.error();
        password = std::move(*plain);
    } else {
        password = generate_password();
        store::Transaction tx(store_);
        store::put_pending_secret(tx, checkout.entry_id,
                                  to_stored(vault_->seal(password, entry.name), clock_.now(), "rotation"));
        tx.commit();
    }
    if (auto r = authority_.reset_password(entry.account, password); !r) return "rotate: " + r.error().to_string();
    store::Transaction tx(store_);
    store::promote_pending_secret(tx, checkout.entry_id, "rotation", clock_.now());
    audit(tx, clock_.now(), "system", "secret.rotated", "entry:" + entry.name,
          json({{"checkout", checkout.id}, {"version", store::find_secret(store_, checkout.entry_id)->version}}));
    tx.commit();
    return std::nullopt;
}

// Who may approve `stage` (1-based) of a request by `requester`: enabled members of
// the stage's groups, and the requester's manager when the stage says so; never the
// requester.
static Outcome<std::vector<Principal>> stage_approvers(Authority& authority, const config::Policy& policy, int stage,
                                                       const Principal& requester) {
    const auto& s = policy.stages.at(static_cast<size_t>(stage - 1));
    std::vector<Principal> out;
    std::set<std::string> seen{requester.id};
    auto members = authority.members_of_any(s.approver_groups);
    if (!members) return std::unexpected(from_directory(members.error(), "approver groups"));
    if (s.requester_manager) {
        auto manager = authority.manager_of(requester);
        if (!manager) return std::unexpected(from_directory(manager.error(), requester.name));
        if (*manager) members->push_back(**manager);
    }
    for (auto& p : *members)
        if (p.enabled && seen.insert(p.id).second) out.push_back(std::move(p));
    return out;
}

Outcome<int64_t> CheckoutService::request(const NewCheckoutRequest& in) {
    auto row = request_row(in);
    if (!row) return std::unexpected(row.error());
    return row->id;
}

Outcome<store::RequestRow> CheckoutService::request_row(const NewCheckoutRequest& in) {
    const int64_t now = clock_.now();
    auto entry_it = config_.entries.find(in.entry);
    if (entry_it == config_.entries.end())
        return std::unexpected(error(Kind::not_found, "no_such_entry", "no entry named '" + in.entry + "'"));
    const config::Entry& entry = entry_it->second;
    const config::Policy& policy = config_.policies.at(entry.policy);

    auto requester = authority_.resolve(in.requester);
    if (!requester) return std::unexpected(from_directory(requester.error(), in.requester));
    if (!requester->enabled)
        return std::unexpected(error(Kind::forbidden, "account_disabled", requester->name + " is disabled"));
    auto allowed = authority_.in_any(*requester, policy.requester_groups);
    if (!allowed) return std::unexpected(from_directory(allowed.error(), requester->name));
    if (!*allowed)
        return std::unexpected(error(Kind::forbidden, "not_a_requester",
                                     requester->name + " is not in a group that may request " + entry.name));

    if (policy.reason_required && in.reason.find_first_not_of(" \t\r\n") == std::string::npos)
        return std::unexpected(error(Kind::invalid, "reason_required", "a reason is required"));
    if (in.reason.size() > 2000)
        return std::unexpected(error(Kind::invalid, "reason_too_long", "reason is over 2000 bytes"));
    if (policy.ticket_pattern) {
        if (!in.ticket || in.ticket->empty())
            return std::unexpected(error(Kind::invalid, "ticket_required", "a ticket is required"));
        if (!std::regex_match(*in.ticket, std::regex(*policy.ticket_pattern)))
            return std::unexpected(error(Kind::invalid, "ticket_mismatch",
                                         "ticket '" + *in.ticket + "' does not match " + *policy.ticket_pattern));
    }
    const auto duration = in.duration.value_or(policy.default_duration);
    if (duration.count() <= 0 || duration > policy.max_duration)
        return std::unexpected(
            error(Kind::invalid, "bad_duration",
                  "duration must be between 1s and " + std::to_string(policy.max_duration.count()) + "s"));
    if (in.start) {
        if (*in.start < now - 60)
            return std::unexpected(error(Kind::invalid, "start_in_past", "the start lies in the past"));
        if (*in.start > now + policy.max_schedule_ahead.count())
            return std::unexpected(
                error(Kind::invalid, "start_too_far", "the start is further ahead than the policy allows"));
    }
    // Directory work and the notices' text before the write lock.
    auto approvers = stage_approvers(authority_, policy, 1, *requester);
    if (!approvers) return std::unexpected(approvers.error());
    std::vector<std::optional<Notice>> notices;
    for (const auto& approver : *approvers)
        notices.push_back(prepare_notice("approval_needed", approver, {{"stage", 1}, {"approver", approver.name}}));
    const std::string details = json({{"entry", entry.name},
                                      {"requester", requester->name},
                                      {"reason", in.reason},
                                      {"ticket", in.ticket.value_or("")},
                                      {"duration_s", duration.count()},
                                      {"start", in.start ? Poco::Dynamic::Var(*in.start) : Poco::Dynamic::Var()}});

    // The store checks run in the write transaction: what they check (a free entry, a
    // finished take-back, a stored secret) still holds when the row lands, and they
    // read through the writer's warm page cache.
    store::Transaction tx(store_);
    auto entry_id = store::entry_id_by_name(store_, entry.name);
    if (!entry_id)
        return std::unexpected(error(Kind::not_found, "no_such_entry", "entry '" + entry.name + "' is retired"));
    if (store::count_unfinished_takebacks(store_, *entry_id) > 0)
        return std::unexpected(error(Kind::conflict, "takeback_pending",
                                     entry.name + " cannot be checked out until its last take-back succeeds"));
    if (entry.releases(config::ReleaseKind::password)) {
        auto secret = store::find_secret(store_, *entry_id);
        if (!secret || secret->version == 0)
            return std::unexpected(error(Kind::conflict, "no_secret",
                                         "no secret is stored for " + entry.name + " (keyholder secret set)"));
    }
    const int64_t window_start = in.start.value_or(now);
    if (policy.exclusive &&
        store::count_overlapping_checkouts(store_, *entry_id, window_start, window_start + duration.count()) > 0)
        return std::unexpected(error(Kind::conflict, "entry_busy", entry.name + " is checked out in that window"));

    store::NewRequest row;
    row.entry_id = *entry_id;
    row.requester_sid = requester->id;
    row.requester_name = requester->name;
    row.requester_display = requester->display_name;
    row.reason = in.reason;
    row.ticket = in.ticket;
    row.requested_at = now;
    row.start_at = in.start;
    row.duration_s = duration.count();
    row.deadline_at =
        in.start ? std::min(now + policy.request_ttl.count(), *in.start) : now + policy.request_ttl.count();
    const int64_t id = store::insert_request(tx, row);
    audit(tx, now, requester->id, "request.created", "request:" + std::to_string(id), details);
    for (const auto& notice : notices)
        enqueue(tx, now, notice, id);
    tx.commit();

    return store::inserted_request(id, entry.name, std::move(row));
}

// check_decider: may this person decide the current stage of the request now?
// Eligibility is decided against the directory as it is now (fail closed).
Outcome<Principal> CheckoutService::check_decider(const store::RequestRow& request, std::string_view approver_name,
                                                  const config::Policy& policy) {
    auto approver = authority_.resolve(approver_name);
    if (!approver) return std::unexpected(from_directory(approver.error(), std::string(approver_name)));
    if (approver->id == request.requester_sid)
        return std::unexpected(error(Kind::forbidden, "self_approval", "nobody decides on their own request"));
    if (!approver->enabled)
        return std::unexpected(error(Kind::forbidden, "account_disabled", approver->name + " is disabled"));
    const int stage = request.stage;
    const auto& stage_rule = policy.stages.at(static_cast<size_t>(stage - 1));
    auto eligible = authority_.in_any(*approver, stage_rule.approver_groups);
    if (!eligible) return std::unexpected(from_directory(eligible.error(), approver->name));
    bool may = *eligible;
    if (!may && stage_rule.requester_manager) {
        auto requester = authority_.resolve(request.requester_sid);
        if (!requester) return std::unexpected(from_directory(requester.error(), request.requester_name));
        auto manager = authority_.manager_of(*requester);
        if (!manager) return std::unexpected(from_directory(manager.error(), requester->name));
        may = *manager && (*manager)->id == approver->id;
    }
    if (!may)
        return std::unexpected(error(Kind::forbidden, "not_an_approver",
                                     approver->name + " may not decide stage " + std::to_string(stage)));
    return *approver;
}

Outcome<bool> CheckoutService::may_decide(int64_t request_id, std::string_view approver_name) {
    auto request = store::find_request(store_, request_id);
    if (!request) return std::unexpected(error(Kind::not_found, "no_such_request", "no such request"));
    if (request->state != "pending") return false;
    auto entry_it = config_.entries.find(request->entry_name);
    if (entry_it == config_.entries.end()) return false;
    auto approver = check_decider(*request, approver_name, config_.policies.at(entry_it->second.policy));
    if (!approver) {
        if (approver.error().kind == Kind::forbidden) return false;
        return std::unexpected(approver.error());
    }
    for (const auto& decided : store::approvals_of(store_, request_id))
        if (decided.approver_sid == approver->id) return false; // one person counts once
    return true;
}

Outcome<std::string> CheckoutService::decide(int64_t request_id, std::string_view approver_name, Decision decision,
                                             std::optional<std::string> comment, std::string_view via,
                                             std::optional<std::string> link_nonce) {
    const int64_t now = clock_.now();
    auto request = store::find_request(store_, request_id);
    if (!request) return std::unexpected(error(Kind::not_found, "no_such_request", "no such request"));
    if (request->state != "pending")
        return std::unexpected(error(Kind::conflict, "not_pending", "the request is " + request->state));
    auto entry_it = config_.entries.find(request->entry_name);
    if (entry_it == config_.entries.end())
        return std::unexpected(error(Kind::conflict, "entry_retired", "the entry is no longer configured"));
    const config::Policy& policy = config_.policies.at(entry_it->second.policy);

    auto approver = check_decider(*request, approver_name, policy);
    if (!approver) return std::unexpected(approver.error());
    auto requester = authority_.resolve(request->requester_sid);
    if (!requester) return std::unexpected(from_directory(requester.error(), request->requester_name));
    const int stage = request->stage;
    const auto& stage_rule = policy.stages.at(static_cast<size_t>(stage - 1));
    const bool last_stage = stage == static_cast<int>(policy.stages.size());
    const int needed = stage_rule.approvals;
    std::vector<Principal> next_approvers;
    if (decision == Decision::approve && !last_stage) {
        auto next = stage_approvers(authority_, policy, stage + 1, *requester);
        if (!next) return std::unexpected(next.error());
        next_approvers = std::move(*next);
    }

    store::Transaction tx(store_);
    auto current = store::find_request(store_, request_id); // under the write lock
    if (!current || current->state != "pending" || current->stage != stage)
        return std::unexpected(error(Kind::conflict, "not_pending", "the request changed meanwhile"));
    store::ApprovalRow row{0,
                           request_id,
                           stage,
                           approver->id,
                           approver->name,
                           decision == Decision::approve ? "approve" : "deny",
                           comment,
                           std::string(via),
                           now};
    // A link is single-use: its nonce is recorded with the decision, in one transaction.
    if (link_nonce && !store::use_link_nonce(tx, *link_nonce, request_id, approver->id, now))
        return std::unexpected(error(Kind::conflict, "link_used", "this link was already used"));
    if (!store::insert_approval(tx, row))
        return std::unexpected(error(Kind::conflict, "already_decided", approver->name + " already decided on it"));
    const std::string subject = "request:" + std::to_string(request_id);
    if (decision == Decision::deny) {
        store::change_request_state(tx, request_id, "pending", "denied", std::nullopt, now);
        audit(tx, now, approver->id, "request.denied", subject,
              json({{"approver", approver->name},
                    {"stage", stage},
                    {"comment", comment.value_or("")},
                    {"via", std::string(via)}}));
        notify(tx, now, "request_denied", *requester, request_id, {{"by", approver->display_name}});
        tx.commit();
        return std::string("denied");
    }
    audit(tx, now, approver->id, "request.approval", subject,
          json({{"approver", approver->name},
                {"stage", stage},
                {"comment", comment.value_or("")},
                {"via", std::string(via)}}));
    const int count = store::count_approvals(store_, request_id, stage);
    if (count < needed) {
        tx.commit();
        return std::string("pending");
    }
    if (!last_stage) {
        store::change_request_state(tx, request_id, "pending", "pending", stage + 1);
        audit(tx, now, "system", "request.stage_complete", subject, json({{"stage", stage}}));
        for (const auto& p : next_approvers)
            notify(tx, now, "approval_needed", p, request_id, {{"stage", stage + 1}, {"approver", p.name}});
        tx.commit();
        return std::string("pending");
    }

    // The last approval landed.
    if (current->extends_checkout_id) {
        auto checkout = store::find_checkout(store_, *current->extends_checkout_id);
        if (!checkout || checkout->state != "active")
            return std::unexpected(error(Kind::conflict, "checkout_not_active", "the check-out to extend has ended"));
        const int64_t new_end = checkout->ends_at + current->duration_s;
        if (policy.exclusive &&
            store::count_overlapping_checkouts(store_, checkout->entry_id, checkout->ends_at, new_end) > 0)
            return std::unexpected(
                error(Kind::conflict, "entry_busy", "another check-out is scheduled in the extension"));
        store::set_checkout_end(tx, checkout->id, new_end);
        store::change_request_state(tx, request_id, "pending", "approved", std::nullopt, now);
        audit(tx, now, "system", "checkout.extended", "checkout:" + std::to_string(checkout->id),
              json({{"request", request_id}, {"by_s", current->duration_s}, {"ends_at", new_end}}));
        notify(tx, now, "request_approved", *requester, request_id, {{"extension", true}});
        tx.commit();
        return std::string("approved");
    }
    const int64_t starts_at = current->start_at.value_or(now);
    const int64_t ends_at = starts_at + current->duration_s;
    if (policy.exclusive && store::count_overlapping_checkouts(store_, current->entry_id, starts_at, ends_at) > 0)
        return std::unexpected(error(Kind::conflict, "entry_busy", "the entry was checked out meanwhile"));
    const bool immediate = starts_at <= now;
    store::CheckoutRow checkout;
    checkout.request_id = request_id;
    checkout.entry_id = current->entry_id;
    checkout.holder_sid = current->requester_sid;
    checkout.holder_name = current->requester_name;
    checkout.starts_at = immediate ? now : starts_at;
    checkout.ends_at = immediate ? now + current->duration_s : ends_at;
    checkout.state = immediate ? "active" : "scheduled";
    const int64_t checkout_id = store::insert_checkout(tx, checkout);
    if (immediate) store::record_release(tx, checkout_id, "pending", 0, now, std::nullopt);
    store::change_request_state(tx, request_id, "pending", immediate ? "active" : "approved", std::nullopt, now);
    audit(tx, now, "system", "request.approved", subject, json({{"checkout", checkout_id}}));
    if (immediate)
        audit(tx, now, "system", "checkout.started", "checkout:" + std::to_string(checkout_id),
              json({{"entry", current->entry_name},
                    {"holder", current->requester_name},
                    {"starts_at", checkout.starts_at},
                    {"ends_at", checkout.ends_at}}));
    notify(tx, now, immediate ? "window_started" : "request_approved", *requester, request_id,
           {{"starts_at", checkout.starts_at}, {"ends_at", checkout.ends_at}});
    tx.commit();
    if (immediate) (void)activate(checkout_id); // release only after the approvals are on disk
    return std::string(immediate ? "active" : "approved");
}

Outcome<void> CheckoutService::activate(int64_t checkout_id) {
    auto checkout = store::find_checkout(store_, checkout_id);
    if (!checkout) return {};
    const config::Entry& entry = config_.entries.at(checkout->entry_name);
    std::vector<std::string> failures;
    if (entry.releases(config::ReleaseKind::enable)) {
        if (auto r = authority_.set_enabled(entry.account, true); !r)
            failures.push_back("enable: " + r.error().to_string());
    }
    if (entry.releases(config::ReleaseKind::group)) {
        auto holder = authority_.resolve(checkout->holder_sid);
        if (!holder)
            failures.push_back("group: " + holder.error().to_string());
        else if (auto r = authority_.add_member(entry.group, *holder); !r)
            failures.push_back("group: " + r.error().to_string());
    }
    const int64_t now = clock_.now();
    const int attempts = checkout->release_attempts + 1;
    store::Transaction tx(store_);
    if (failures.empty()) {
        store::record_release(tx, checkout_id, "done", attempts, std::nullopt, std::nullopt);
        audit(tx, now, "system", "checkout.released", "checkout:" + std::to_string(checkout_id),
              json({{"entry", entry.name}, {"holder", checkout->holder_name}, {"attempt", attempts}}));
    } else {
        // Retried with backoff while the window lasts; the take-back at its end undoes
        // whatever part did happen.
        std::string all;
        for (const auto& f : failures)
            all += (all.empty() ? "" : "; ") + f;
        const int64_t backoff = schedule::backoff(attempts, std::chrono::seconds(15), std::chrono::minutes(10));
        store::record_release(tx, checkout_id, "failed", attempts, now + backoff, all);
        audit(tx, now, "system", "checkout.release_failed", "checkout:" + std::to_string(checkout_id),
              json({{"entry", entry.name}, {"attempt", attempts}, {"retry_at", now + backoff}, {"error", all}}));
        log().error("release of check-out %?d (%s) failed (attempt %d): %s", checkout_id, entry.name, attempts, all);
    }
    tx.commit();
    return {};
}

Outcome<void> CheckoutService::cancel(int64_t request_id, std::string_view requester_name) {
    const int64_t now = clock_.now();
    auto request = store::find_request(store_, request_id);
    if (!request) return std::unexpected(error(Kind::not_found, "no_such_request", "no such request"));
    auto requester = authority_.resolve(requester_name);
    if (!requester) return std::unexpected(from_directory(requester.error(), std::string(requester_name)));
    if (requester->id != request->requester_sid)
        return std::unexpected(error(Kind::forbidden, "not_yours", "only the requester may cancel a request"));
    store::Transaction tx(store_);
    bool done = store::change_request_state(tx, request_id, "pending", "cancelled", std::nullopt, now);
    if (!done && store::change_request_state(tx, request_id, "approved", "cancelled", std::nullopt, now)) {
        done = true;
        if (auto checkout = store::checkout_of_request(store_, request_id))
            store::end_checkout(tx, checkout->id, "revoked", now); // scheduled, never started
    }
    if (!done) return std::unexpected(error(Kind::conflict, "not_cancellable", "the request is " + request->state));
    audit(tx, now, requester->id, "request.cancelled", "request:" + std::to_string(request_id), "{}");
    tx.commit();
    return {};
}

Outcome<void> CheckoutService::check_in(int64_t checkout_id, std::string_view holder_name) {
    const int64_t now = clock_.now();
    auto owned = holder_of(checkout_id, holder_name, "check in");
    if (!owned) return std::unexpected(owned.error());
    const store::CheckoutRow* checkout = &owned->first;
    const Principal* holder = &owned->second;
    store::Transaction tx(store_);
    if (!store::end_checkout(tx, checkout_id, "checked_in", now))
        return std::unexpected(error(Kind::conflict, "not_active", "the check-out is " + checkout->state));
    store::change_request_state(tx, checkout->request_id, "active", "ended");
    audit(tx, now, holder->id, "checkout.ended", "checkout:" + std::to_string(checkout_id),
          json({{"reason", "checked_in"}}));
    notify(tx, now, "window_ended", *holder, checkout->request_id, {{"reason", "checked_in"}});
    tx.commit();
    SchedulerPass pass;
    take_back(checkout_id, pass);
    return {};
}

Outcome<void> CheckoutService::revoke(int64_t checkout_id, std::string_view admin_name, const std::string& reason) {
    const int64_t now = clock_.now();
    auto checkout = store::find_checkout(store_, checkout_id);
    if (!checkout) return std::unexpected(error(Kind::not_found, "no_such_checkout", "no such check-out"));
    if (reason.find_first_not_of(" \t\r\n") == std::string::npos)
        return std::unexpected(error(Kind::invalid, "reason_required", "a revocation needs a reason"));
    auto admin = authority_.resolve(admin_name);
    if (!admin) return std::unexpected(from_directory(admin.error(), std::string(admin_name)));
    auto is_admin = authority_.in_any(*admin, config_.service.admin_groups);
    if (!is_admin) return std::unexpected(from_directory(is_admin.error(), admin->name));
    if (!*is_admin)
        return std::unexpected(error(Kind::forbidden, "not_an_admin", admin->name + " is not an administrator"));
    store::Transaction tx(store_);
    if (!store::end_checkout(tx, checkout_id, "revoked", now))
        return std::unexpected(error(Kind::conflict, "not_active", "the check-out is " + checkout->state));
    if (!store::change_request_state(tx, checkout->request_id, "active", "ended"))
        store::change_request_state(tx, checkout->request_id, "approved", "cancelled");
    audit(tx, now, admin->id, "checkout.revoked", "checkout:" + std::to_string(checkout_id),
          json({{"reason", reason}, {"admin", admin->name}}));
    if (auto holder = authority_.resolve(checkout->holder_sid))
        notify(tx, now, "window_ended", *holder, checkout->request_id, {{"reason", "revoked"}});
    tx.commit();
    SchedulerPass pass;
    take_back(checkout_id, pass);
    return {};
}

Outcome<int64_t> CheckoutService::extend(int64_t checkout_id, std::string_view holder_name, std::chrono::seconds by,
                                         const std::string& reason) {
    const int64_t now = clock_.now();
    auto checkout = store::find_checkout(store_, checkout_id);
    if (!checkout) return std::unexpected(error(Kind::not_found, "no_such_checkout", "no such check-out"));
    if (checkout->state != "active")
        return std::unexpected(error(Kind::conflict, "not_active", "only an active check-out can be extended"));
    const config::Policy& policy = config_.policies.at(config_.entries.at(checkout->entry_name).policy);
    auto holder = authority_.resolve(holder_name);
    if (!holder) return std::unexpected(from_directory(holder.error(), std::string(holder_name)));
    if (holder->id != checkout->holder_sid)
        return std::unexpected(error(Kind::forbidden, "not_yours", "only the holder may ask for more time"));
    if (by.count() <= 0 || store::extension_total(store_, checkout_id) + by.count() > policy.max_extension.count())
        return std::unexpected(
            error(Kind::invalid, "extension_too_long",
                  "the policy allows " + std::to_string(policy.max_extension.count()) + "s of extensions in total"));
    if (policy.reason_required && reason.find_first_not_of(" \t\r\n") == std::string::npos)
        return std::unexpected(error(Kind::invalid, "reason_required", "a reason is required"));
    auto approvers = stage_approvers(authority_, policy, 1, *holder);
    if (!approvers) return std::unexpected(approvers.error());
    store::Transaction tx(store_);
    store::NewRequest row;
    row.entry_id = checkout->entry_id;
    row.requester_sid = holder->id;
    row.requester_name = holder->name;
    row.requester_display = holder->display_name;
    row.reason = reason;
    row.requested_at = now;
    row.duration_s = by.count();
    row.deadline_at = std::min(now + policy.request_ttl.count(), checkout->ends_at);
    row.extends_checkout_id = checkout_id;
    const int64_t id = store::insert_request(tx, row);
    audit(tx, now, holder->id, "extension.requested", "request:" + std::to_string(id),
          json({{"checkout", checkout_id}, {"by_s", by.count()}, {"reason", reason}}));
    for (const auto& approver : *approvers)
        notify(tx, now, "approval_needed", approver, id, {{"stage", 1}, {"extension", true}});
    tx.commit();
    return id;
}

Outcome<std::vector<std::vector<Principal>>> CheckoutService::entry_approvers(const std::string& entry_name,
                                                                              std::string_view requester_name) {
    auto entry = config_.entries.find(entry_name);
    if (entry == config_.entries.end())
        return std::unexpected(error(Kind::not_found, "no_such_entry", "no entry named '" + entry_name + "'"));
    auto requester = authority_.resolve(requester_name);
    if (!requester) return std::unexpected(from_directory(requester.error(), std::string(requester_name)));
    const auto& policy = config_.policies.at(entry->second.policy);
    std::vector<std::vector<Principal>> stages;
    for (int stage = 1; stage <= static_cast<int>(policy.stages.size()); ++stage) {
        auto approvers = stage_approvers(authority_, policy, stage, *requester);
        if (!approvers) return std::unexpected(approvers.error());
        stages.push_back(std::move(*approvers));
    }
    return stages;
}

Outcome<std::vector<Principal>> CheckoutService::eligible_approvers(int64_t request_id) {
    auto request = store::find_request(store_, request_id);
    if (!request) return std::unexpected(error(Kind::not_found, "no_such_request", "no such request"));
    auto requester = authority_.resolve(request->requester_sid);
    if (!requester) return std::unexpected(from_directory(requester.error(), request->requester_name));
    const auto& policy = config_.policies.at(config_.entries.at(request->entry_name).policy);
    return stage_approvers(authority_, policy, request->stage, *requester);
}

void CheckoutService::take_back(int64_t checkout_id, SchedulerPass& pass) {
    auto checkout = store::find_checkout(store_, checkout_id);
    if (!checkout || (checkout->takeback_state != "pending" && checkout->takeback_state != "failed")) return;
    const config::Entry& entry = config_.entries.at(checkout->entry_name);
    std::vector<std::string> failures;
    if (entry.releases(config::ReleaseKind::group)) {
        auto holder = authority_.resolve(checkout->holder_sid);
        if (!holder)
            failures.push_back("group: " + holder.error().to_string());
        else if (auto r = authority_.remove_member(entry.group, *holder); !r)
            failures.push_back("group: " + r.error().to_string());
    }
    if (entry.releases(config::ReleaseKind::enable)) {
        if (auto r = authority_.set_enabled(entry.account, false); !r)
            failures.push_back("disable: " + r.error().to_string());
    }
    if (entry.rotate_password && entry.releases(config::ReleaseKind::password)) {
        if (auto failure = rotate_stored_password(*checkout, entry)) failures.push_back(*failure);
    } else if (entry.rotate_password && entry.releases(config::ReleaseKind::enable)) {
        // Nobody is ever shown this password: rotating it just closes the window.
        if (auto r = authority_.reset_password(entry.account, generate_password()); !r)
            failures.push_back("rotate: " + r.error().to_string());
    }
    const int64_t now = clock_.now();
    const std::string subject = "checkout:" + std::to_string(checkout_id);
    store::Transaction tx(store_);
    if (failures.empty()) {
        store::record_takeback(tx, checkout_id, "done", checkout->takeback_attempts + 1, std::nullopt, std::nullopt);
        audit(tx, now, "system", "checkout.taken_back", subject, json({{"entry", entry.name}}));
        ++pass.taken_back;
    } else {
        std::string all;
        for (const auto& f : failures)
            all += (all.empty() ? "" : "; ") + f;
        const int attempts = checkout->takeback_attempts + 1;
        const int64_t backoff = schedule::backoff(attempts, std::chrono::seconds(30), std::chrono::hours(1));
        store::record_takeback(tx, checkout_id, "failed", attempts, now + backoff, all);
        audit(tx, now, "system", "checkout.takeback_failed", subject,
              json({{"entry", entry.name}, {"attempt", attempts}, {"retry_at", now + backoff}, {"error", all}}));
        log().error("take-back of check-out %?d (%s) failed (attempt %d, retry in %?ds): %s", checkout_id, entry.name,
                    attempts, backoff, all);
        ++pass.takeback_failures;
    }
    tx.commit();
}

SchedulerPass CheckoutService::run_due() {
    constexpr int kBatch = 500;
    constexpr int kTakebacksPerPass = 200;
    SchedulerPass pass;
    const int64_t now = clock_.now();
    auto work = store::due_work(store_, now, kBatch);
    for (int64_t id : work.lapsing_requests) {
        auto request = store::find_request(store_, id);
        store::Transaction tx(store_);
        if (!store::change_request_state(tx, id, "pending", "lapsed", std::nullopt, now)) continue;
        audit(tx, now, "system", "request.lapsed", "request:" + std::to_string(id), "{}");
        Principal requester{request->requester_sid, request->requester_name, request->requester_display, "", "", true};
        if (auto p = authority_.resolve(request->requester_sid)) requester = *p;
        notify(tx, now, "request_lapsed", requester, id, {});
        tx.commit();
        ++pass.lapsed;
    }
    for (int64_t id : work.starting_checkouts) {
        auto checkout = store::find_checkout(store_, id);
        store::Transaction tx(store_);
        if (!store::change_checkout_state(tx, id, "scheduled", "active")) continue;
        store::record_release(tx, id, "pending", 0, now, std::nullopt);
        store::change_request_state(tx, checkout->request_id, "approved", "active");
        audit(
            tx, now, "system", "checkout.started", "checkout:" + std::to_string(id),
            json({{"entry", checkout->entry_name}, {"holder", checkout->holder_name}, {"ends_at", checkout->ends_at}}));
        tx.commit();
        (void)activate(id);
        ++pass.started;
    }
    if (!work.ending_soon.empty()) {
        // One transaction for the batch (holders looked up before the write lock).
        std::map<int64_t, std::pair<store::CheckoutRow, std::optional<Principal>>> due;
        for (int64_t id : work.ending_soon)
            if (auto checkout = store::find_checkout(store_, id)) {
                auto holder = authority_.resolve(checkout->holder_sid);
                due.emplace(id, std::make_pair(*checkout, holder ? std::optional(*holder) : std::nullopt));
            }
        store::Transaction tx(store_);
        for (const auto& [id, item] : due) {
            if (!store::mark_ending_notice(tx, id, now)) continue;
            if (item.second)
                notify(tx, now, "window_ending_soon", *item.second, item.first.request_id,
                       {{"ends_at", item.first.ends_at}});
            ++pass.ending_notices;
        }
        tx.commit();
    }
    for (int64_t id : work.releases)
        (void)activate(id); // retries of failed releases
    // Ends first, in batches of one transaction each (one fsync per batch): the end
    // state is what bounds the enforcement lag; take-backs follow.
    for (int batch = 0; batch < 1000 && !work.ending_checkouts.empty(); ++batch) {
        std::vector<std::pair<int64_t, int64_t>> ended;
        // Holders are looked up before the write lock is taken; an end never waits
        // for the directory (without an answer the "ended" mail is skipped, not the end).
        std::map<int64_t, Principal> holders;
        for (int64_t id : work.ending_checkouts)
            if (auto checkout = store::find_checkout(store_, id))
                if (auto holder = authority_.resolve(checkout->holder_sid)) holders[id] = *holder;
        {
            store::Transaction tx(store_);
            for (int64_t id : work.ending_checkouts) {
                auto checkout = store::find_checkout(store_, id);
                if (!checkout || !store::end_checkout(tx, id, "expired", now)) continue;
                store::change_request_state(tx, checkout->request_id, "active", "ended");
                audit(tx, now, "system", "checkout.ended", "checkout:" + std::to_string(id),
                      json({{"reason", "expired"}, {"late_by_s", now - checkout->ends_at}}));
                if (auto h = holders.find(id); h != holders.end())
                    notify(tx, now, "window_ended", h->second, checkout->request_id, {{"reason", "expired"}});
                ended.emplace_back(id, checkout->ends_at);
            }
            tx.commit();
        }
        const int64_t committed = clock_.now_ms();
        for (const auto& e : ended) {
            pass.ended_checkouts.push_back(e);
            pass.ended_committed_ms.push_back(committed);
            work.takebacks.push_back(e.first);
        }
        pass.ended += static_cast<int>(ended.size());
        work.ending_checkouts = store::due_work(store_, now, kBatch).ending_checkouts;
    }
    // A bounded number of take-backs per pass, so that the next ends are not held up;
    // the rest are due at once and the scheduler comes straight back for them.
    std::set<int64_t> done;
    for (int64_t id : work.takebacks) {
        if (static_cast<int>(done.size()) >= kTakebacksPerPass) break;
        if (done.insert(id).second) take_back(id, pass);
    }
    pass.next_due = store::next_due(store_);
    return pass;
}

} // namespace keyholder::core
