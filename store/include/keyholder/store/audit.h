// The audit trail: append-only events in a SHA-256 hash chain.
//
// Each event's hash covers its own canonical content (seq, at, actor, action,
// subject, details, length-prefixed so fields cannot bleed into each other) and the
// previous event's hash. verify_audit_chain() walks the chain and names the first
// event that was changed, removed, inserted or reordered.
//
// Example:
//   Transaction tx(connection);
//   ... change state ...
//   append_audit_event(tx, {.at = now, .actor = "S-1-5-21-...-1104", .action = "request.created",
//                           .subject = "request:42", .details = R"({"entry":"domain-admin"})"});
//   tx.commit();   // the state change and its audit event land together or not at all
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "keyholder/store/connection.h"

namespace keyholder::store {

struct NewAuditEvent {
    int64_t at = 0;      ///< UTC seconds
    std::string actor;   ///< who: a SID, or "system" / "scheduler"
    std::string action;  ///< what: dotted verb, e.g. "checkout.ended"
    std::string subject; ///< on what: "request:42", "entry:domain-admin"
    std::string details; ///< JSON object with the particulars; never a secret
};

struct AuditEvent {
    int64_t seq = 0;
    int64_t at = 0;
    std::string actor;
    std::string action;
    std::string subject;
    std::string details;
    std::string prev_hash; ///< hex SHA-256 of the previous event; 64 zeros for the first
    std::string hash;      ///< hex SHA-256 of this event
};

/// kGenesisHash: the prev_hash of event #1.
inline const std::string kGenesisHash(64, '0');

/// audit_event_hash: hex SHA-256 over prev_hash and the event's canonical content.
std::string audit_event_hash(const std::string& prev_hash, int64_t seq, const NewAuditEvent& content);

/// append_audit_event: appends inside the caller's transaction (which holds the
/// write lock, so the chain cannot fork) and returns the stored event.
AuditEvent append_audit_event(Transaction& transaction, const NewAuditEvent& event);

/// for_each_audit_event: streams events in chain order (constant memory).
void for_each_audit_event(Connection& connection, const std::function<void(const AuditEvent&)>& visit);

/// latest_audit_events: at most `limit` events, newest first, before `before_seq` (all when none).
std::vector<AuditEvent> latest_audit_events(Connection& connection, std::optional<int64_t> before_seq, int limit);

enum class AuditProblem {
    none,
    missing,     ///< a sequence number is absent: an event was removed
    broken_link, ///< prev_hash does not match the event before: removed, inserted or reordered
    changed,     ///< the stored hash does not match the content: the event was edited
};

struct AuditVerification {
    int64_t events = 0; ///< events checked
    AuditProblem problem = AuditProblem::none;
    std::optional<int64_t> first_bad; ///< seq of the first event found wrong
    std::string message;              ///< human-readable finding
    std::string head_hash;            ///< hash of the last event (compare with an earlier export)
    [[nodiscard]] bool ok() const { return problem == AuditProblem::none; }
};

/// verify_audit_chain: walks the whole chain; stops at the first problem.
AuditVerification verify_audit_chain(Connection& connection);

} // namespace keyholder::store
