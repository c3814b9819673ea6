// Typed writes and reads of the keyholder tables that other modules build on.
// Every function takes the caller's Transaction (for writes) so that a state
// change, its audit event and its outbox rows commit together.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "keyholder/store/checkouts.h"
#include "keyholder/store/connection.h"

namespace keyholder::store {

/// upsert_policy: records the current definition (JSON) of a configured policy; returns its id.
int64_t upsert_policy(Transaction& transaction, const std::string& name, const std::string& definition_json,
                      int64_t now);

/// find_policy_definition: the stored JSON of a policy, if it is known.
std::optional<std::string> find_policy_definition(Connection& connection, const std::string& name);

struct EntryRecord {
    std::string name;
    std::string display_name;
    int64_t policy_id = 0;
    std::string kinds; ///< comma list: password, enable, group
    std::optional<std::string> account;
    std::optional<std::string> group_name;
};

/// upsert_entry: records a configured entry; returns its id (stable across restarts).
int64_t upsert_entry(Transaction& transaction, const EntryRecord& entry, int64_t now);

/// list_active_entry_names: entries not retired.
std::vector<std::string> list_active_entry_names(Connection& connection);

/// retire_entry: an entry that left the configuration keeps its row (requests refer
/// to it) but can no longer be requested.
void retire_entry(Transaction& transaction, const std::string& name, int64_t now);

struct NewRequest {
    int64_t entry_id = 0;
    std::string requester_sid;
    std::string requester_name;
    std::string requester_display;
    std::string reason;
    std::optional<std::string> ticket;
    int64_t requested_at = 0;
    std::optional<int64_t> start_at;
    int64_t duration_s = 0;
    int64_t deadline_at = 0;
    std::optional<int64_t> extends_checkout_id;
};

/// insert_request: a new request in state 'pending'; returns its id.
int64_t insert_request(Transaction& transaction, const NewRequest& request);
/// inserted_request: the row insert_request wrote for `request` under `id` (pending,
/// stage 1, undecided), for describing it without reading it back.
RequestRow inserted_request(int64_t id, const std::string& entry_name, NewRequest request);

struct NewNotification {
    int64_t created_at = 0;
    std::string kind;
    std::string recipient;
    std::optional<int64_t> request_id;
    std::string payload; ///< JSON; never a secret
    std::string message_id;
};

/// enqueue_notification: an outbox row, due at once; returns its id.
int64_t enqueue_notification(Transaction& transaction, const NewNotification& notification);

} // namespace keyholder::store
