// Hash-chained audit events (see audit.h).
#include "keyholder/store/audit.h"

#include <cstdint>

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>

namespace keyholder::store {
namespace {

void add_field(Poco::SHA2Engine& engine, const std::string& value) {
    // Length-prefixed so that ("ab","c") and ("a","bc") hash differently.
    std::string prefix = std::to_string(value.size()) + ":";
    engine.update(prefix);
    engine.update(value);
    engine.update(';');
}

AuditEvent read_event(const Statement& row) {
    return AuditEvent{row.column_int64(0), row.column_int64(1), row.column_text(2), row.column_text(3),
                      row.column_text(4),  row.column_text(5),  row.column_text(6), row.column_text(7)};
}

} // namespace

std::string audit_event_hash(const std::string& prev_hash, int64_t seq, const NewAuditEvent& content) {
    Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
    add_field(engine, "keyholder-audit-v1");
    add_field(engine, prev_hash);
    add_field(engine, std::to_string(seq));
    add_field(engine, std::to_string(content.at));
    add_field(engine, content.actor);
    add_field(engine, content.action);
    add_field(engine, content.subject);
    add_field(engine, content.details);
    return Poco::DigestEngine::digestToHex(engine.digest());
}

AuditEvent append_audit_event(Transaction& transaction, const NewAuditEvent& event) {
    Connection& connection = transaction.connection();
    int64_t seq = 1;
    std::string prev_hash = kGenesisHash;
    {
        auto last = connection.cached("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1");
        if (last->step()) {
            seq = last->column_int64(0) + 1;
            prev_hash = last->column_text(1);
        }
    }
    AuditEvent stored{seq,           event.at,      event.actor, event.action,
                      event.subject, event.details, prev_hash,   audit_event_hash(prev_hash, seq, event)};
    auto insert = connection.cached("INSERT INTO audit_events(seq, at, actor, action, subject, details, "
                                    "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    insert->bind(1, stored.seq)
        .bind(2, stored.at)
        .bind(3, stored.actor)
        .bind(4, stored.action)
        .bind(5, stored.subject)
        .bind(6, stored.details)
        .bind(7, stored.prev_hash)
        .bind(8, stored.hash)
        .run();
    return stored;
}

void for_each_audit_event(Connection& connection, const std::function<void(const AuditEvent&)>& visit) {
    Statement rows = connection.prepare(
        "SELECT seq, at, actor, action, subject, details, prev_hash, hash FROM audit_events ORDER BY seq");
    while (rows.step())
        visit(read_event(rows));
}

std::vector<AuditEvent> latest_audit_events(Connection& connection, std::optional<int64_t> before_seq, int limit) {
    auto statement = connection.cached("SELECT seq, at, actor, action, subject, details, prev_hash, hash FROM "
                                       "audit_events WHERE seq < ? ORDER BY seq DESC LIMIT ?");
    statement->bind(1, before_seq.value_or(INT64_MAX)).bind(2, limit);
    std::vector<AuditEvent> events;
    while (statement->step())
        events.push_back(read_event(*statement));
    return events;
}

AuditVerification verify_audit_chain(Connection& connection) {
    AuditVerification result;
    std::string previous_hash = kGenesisHash;
    int64_t expected_seq = 1;
    Statement rows = connection.prepare(
        "SELECT seq, at, actor, action, subject, details, prev_hash, hash FROM audit_events ORDER BY seq");
    auto report = [&](AuditProblem problem, int64_t seq, std::string message) {
        result.problem = problem;
        result.first_bad = seq;
        result.message = std::move(message);
    };
    while (rows.step()) {
        AuditEvent event = read_event(rows);
        const std::string where = "audit event #" + std::to_string(event.seq);
        if (event.seq != expected_seq) {
            report(AuditProblem::missing, expected_seq,
                   "audit event #" + std::to_string(expected_seq) + " is missing (removed): the chain jumps from #" +
                       std::to_string(expected_seq - 1) + " to #" + std::to_string(event.seq));
            return result;
        }
        if (event.prev_hash != previous_hash) {
            report(AuditProblem::broken_link, event.seq,
                   where + " (" + event.action + ") does not follow #" + std::to_string(event.seq - 1) +
                       ": its previous-hash link is broken, so events were reordered, inserted or removed here, "
                       "or #" +
                       std::to_string(event.seq - 1) + " was rewritten");
            return result;
        }
        NewAuditEvent content{event.at, event.actor, event.action, event.subject, event.details};
        if (audit_event_hash(event.prev_hash, event.seq, content) != event.hash) {
            report(AuditProblem::changed, event.seq,
                   where + " (" + event.action +
                       ") was changed after it was written: its content no longer "
                       "matches its hash");
            return result;
        }
        previous_hash = event.hash;
        ++expected_seq;
        ++result.events;
    }
    result.head_hash = previous_hash;
    result.message = "audit chain intact: " + std::to_string(result.events) + " events, head hash " + previous_hash;
    return result;
}

} // namespace keyholder::store
