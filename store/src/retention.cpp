#include "keyholder/store/retention.h"

#include <optional>
#include <utility>
#include <vector>

namespace keyholder::store {
namespace {

// Requests over before the cutoff whose check-out (if any) needs nothing more: its
// take-back is done or was never needed, and no mail about it or its extensions waits.
constexpr const char* kPrunable =
    "SELECT r.id, c.id FROM requests r LEFT JOIN checkouts c ON c.request_id = r.id "
    "WHERE r.extends_checkout_id IS NULL AND r.state IN ('ended', 'denied', 'cancelled', 'lapsed') "
    "AND coalesce(c.ended_at, r.decided_at, r.deadline_at) < ?1 "
    "AND (c.id IS NULL OR (c.state = 'ended' AND c.takeback_state IN ('none', 'done'))) "
    "AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.state = 'pending' AND (o.request_id = r.id OR o.request_id IN "
    "(SELECT e.id FROM requests e WHERE e.extends_checkout_id = c.id))) "
    "ORDER BY r.id LIMIT ?2";

int64_t run(Transaction& tx, const char* sql, int64_t id) {
    auto statement = tx.connection().cached(sql);
    statement->bind(1, id).run();
    return tx.connection().changes();
}

// remove_request: what belongs to one request only, then the request.
void remove_request(Transaction& tx, int64_t id, PruneCounts& counts) {
    counts.approvals += run(tx, "DELETE FROM approvals WHERE request_id = ?", id);
    counts.notifications += run(tx, "DELETE FROM outbox WHERE request_id = ?", id);
    counts.link_tokens += run(tx, "DELETE FROM link_tokens WHERE request_id = ?", id);
    counts.requests += run(tx, "DELETE FROM requests WHERE id = ?", id);
}

} // namespace

PruneCounts prune_history(Transaction& tx, int64_t cutoff, int limit) {
    PruneCounts counts;
    std::vector<std::pair<int64_t, std::optional<int64_t>>> prunable;
    {
        auto statement = tx.connection().cached(kPrunable);
        statement->bind(1, cutoff).bind(2, limit);
        while (statement->step())
            prunable.emplace_back(statement->column_int64(0), statement->is_null(1)
                                                                  ? std::nullopt
                                                                  : std::optional<int64_t>(statement->column_int64(1)));
    }
    for (const auto& [request_id, checkout_id] : prunable) {
        if (checkout_id) {
            // Its extensions reference the check-out: they go first.
            std::vector<int64_t> extensions;
            {
                auto statement = tx.connection().cached("SELECT id FROM requests WHERE extends_checkout_id = ?");
                statement->bind(1, *checkout_id);
                while (statement->step())
                    extensions.push_back(statement->column_int64(0));
            }
            for (int64_t extension : extensions)
                remove_request(tx, extension, counts);
            counts.checkouts += run(tx, "DELETE FROM checkouts WHERE id = ?", *checkout_id);
        }
        remove_request(tx, request_id, counts);
    }
    return counts;
}

} // namespace keyholder::store
