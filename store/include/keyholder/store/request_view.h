// The check-out requests view: requests with their decisions and check-out, filtered
// and paged on the server. Each filter combination is its own statement (an absent
// filter is left out of the SQL, so the planner uses the index that serves the
// ones given); pages are keyset pages: "after this row", never an OFFSET.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "keyholder/store/connection.h"

namespace keyholder::store {

struct RequestViewQuery {
    std::optional<int64_t> from; ///< requested_at >= from (UTC seconds)
    std::optional<int64_t> to;   ///< requested_at < to
    std::optional<std::string> entry;
    std::optional<std::string> requester_name; ///< sAMAccountName
    std::optional<std::string> requester_sid;
    std::optional<std::string> approver_name; ///< decided on it (approved or denied)
    std::optional<std::string> approver_sid;
    std::optional<std::string> state;
    std::optional<std::string> takeback; ///< an ended check-out whose take-back is pending or failed
    /// Sort: requested_at and id are read off an index; entry, requester and state
    /// sort the filtered rows (fast with a filter, a full sort without one).
    enum class Sort { requested_at, id, entry, requester, state } sort = Sort::requested_at;
    bool descending = true; ///< newest first
    /// after: the sort value (a number, or text for entry / requester / state) and the
    /// id of the previous page's last row.
    std::optional<std::pair<std::variant<int64_t, std::string>, int64_t>> after;
    int limit = 50;
};

struct RequestViewRow {
    int64_t request_id = 0;
    std::string entry;
    std::string requester;
    std::string requester_display_name;
    std::string requester_sid;
    std::string reason;
    std::optional<std::string> ticket;
    int64_t requested_at = 0;
    std::optional<int64_t> requested_start;
    int64_t duration_s = 0;
    std::string state;
    std::optional<int64_t> decided_at;
    std::string decisions; ///< "name|decision|at|stage|granted_s" per line
    std::optional<int64_t> window_start;
    std::optional<int64_t> window_end; ///< the planned end
    std::optional<int64_t> actual_end; ///< when it ended (checked in, revoked, expired)
    std::optional<std::string> end_reason;
    std::optional<int64_t> credential_retrievals;
    std::optional<std::string> takeback;
    std::optional<int64_t> checkout_id;
    std::optional<int64_t> takeback_attempts;
    std::optional<std::string> takeback_error;
};

/// query_request_view: one page (at most query.limit rows), in the query's order.
std::vector<RequestViewRow> query_request_view(Connection& db, const RequestViewQuery& query);

/// request_view_sql: the statement for a query's filter combination (for benchmarks).
std::string request_view_sql(const RequestViewQuery& query, Backend backend = Backend::sqlite);

} // namespace keyholder::store
