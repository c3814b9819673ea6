// Typed writes of the keyholder tables (see records.h).
#include "keyholder/store/records.h"

#include "sql_support.h"

namespace keyholder::store {

int64_t upsert_policy(Transaction& transaction, const std::string& name, const std::string& definition_json,
                      int64_t now) {
    Connection& db = transaction.connection();
    Statement upsert = db.prepare("INSERT INTO policies(name, definition, updated_at) VALUES (?, ?, ?) "
                                  "ON CONFLICT(name) DO UPDATE SET definition = excluded.definition, "
                                  "updated_at = excluded.updated_at WHERE policies.definition <> excluded.definition "
                                  "RETURNING id");
    upsert.bind(1, name).bind(2, definition_json).bind(3, now);
    if (upsert.step()) return upsert.column_int64(0);
    Statement existing = db.prepare("SELECT id FROM policies WHERE name = ?");
    existing.bind(1, name);
    existing.step();
    return existing.column_int64(0);
}

std::optional<std::string> find_policy_definition(Connection& connection, const std::string& name) {
    Statement query = connection.prepare("SELECT definition FROM policies WHERE name = ?");
    query.bind(1, name);
    if (!query.step()) return std::nullopt;
    return query.column_text(0);
}

std::vector<std::string> list_active_entry_names(Connection& connection) {
    std::vector<std::string> names;
    Statement query = connection.prepare("SELECT name FROM entries WHERE retired = 0 ORDER BY name");
    while (query.step())
        names.push_back(query.column_text(0));
    return names;
}

void retire_entry(Transaction& transaction, const std::string& name, int64_t now) {
    Statement update = transaction.connection().prepare(
        "UPDATE entries SET retired = 1, updated_at = ? WHERE name = ? AND retired = 0");
    update.bind(1, now).bind(2, name).run();
}

int64_t upsert_entry(Transaction& transaction, const EntryRecord& entry, int64_t now) {
    Statement upsert = transaction.connection().prepare(
        "INSERT INTO entries(name, display_name, policy_id, kinds, account, group_name, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET display_name = excluded.display_name, "
        "policy_id = excluded.policy_id, kinds = excluded.kinds, account = excluded.account, "
        "group_name = excluded.group_name, retired = 0, updated_at = excluded.updated_at RETURNING id");
    upsert.bind(1, entry.name)
        .bind(2, entry.display_name)
        .bind(3, entry.policy_id)
        .bind(4, entry.kinds)
        .bind(5, entry.account)
        .bind(6, entry.group_name)
        .bind(7, now);
    upsert.step();
    return upsert.column_int64(0);
}

int64_t insert_request(Transaction& transaction, const NewRequest& request) {
    auto insert = transaction.connection().cached(
        "INSERT INTO requests(entry_id, requester_sid, requester_name, requester_display, reason, ticket, "
        "requested_at, start_at, duration_s, state, deadline_at, extends_checkout_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?) RETURNING id");
    insert->bind(1, request.entry_id)
        .bind(2, request.requester_sid)
        .bind(3, request.requester_name)
        .bind(4, request.requester_display)
        .bind(5, request.reason)
        .bind(6, request.ticket)
        .bind(7, request.requested_at)
        .bind(8, request.start_at)
        .bind(9, request.duration_s)
        .bind(10, request.deadline_at)
        .bind(11, request.extends_checkout_id);
    return inserted_id(*insert);
}

RequestRow inserted_request(int64_t id, const std::string& entry_name, NewRequest request) {
    RequestRow row;
    row.id = id;
    row.entry_id = request.entry_id;
    row.entry_name = entry_name;
    row.requester_sid = std::move(request.requester_sid);
    row.requester_name = std::move(request.requester_name);
    row.requester_display = std::move(request.requester_display);
    row.reason = std::move(request.reason);
    row.ticket = std::move(request.ticket);
    row.requested_at = request.requested_at;
    row.start_at = request.start_at;
    row.duration_s = request.duration_s;
    row.state = RequestState::pending; // as the INSERT above writes it
    row.stage = 1;
    row.deadline_at = request.deadline_at;
    row.extends_checkout_id = request.extends_checkout_id;
    return row;
}

int64_t enqueue_notification(Transaction& transaction, const NewNotification& notification) {
    auto insert = transaction.connection().cached(
        "INSERT INTO outbox(created_at, kind, recipient, request_id, payload, message_id, next_attempt_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id");
    insert->bind(1, notification.created_at)
        .bind(2, notification.kind)
        .bind(3, notification.recipient)
        .bind(4, notification.request_id)
        .bind(5, notification.payload)
        .bind(6, notification.message_id)
        .bind(7, notification.created_at);
    return inserted_id(*insert);
}

} // namespace keyholder::store
