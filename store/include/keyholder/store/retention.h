// Retention: history older than [store] retention leaves the database — requests
// that are over, with what belongs only to them. The audit trail keeps every event.
#pragma once

#include <cstdint>

#include "keyholder/store/connection.h"

namespace keyholder::store {

struct PruneCounts {
    int64_t requests = 0; ///< requests deleted, extensions included
    int64_t checkouts = 0;
    int64_t approvals = 0;
    int64_t notifications = 0; ///< sent or failed mail about them
    int64_t link_tokens = 0;   ///< used approval-link nonces
    [[nodiscard]] bool any() const { return requests > 0; }
};

/// prune_history: deletes at most `limit` requests that are over (ended, denied,
/// cancelled or lapsed) and ended before `cutoff` (the check-out's actual end, else
/// the decision, else the deadline), whose take-back is done (or never needed) and
/// whose mail is all sent or failed — with their extensions, approvals, check-outs,
/// mail rows and used link nonces. Never audit events, secrets, entries or policies.
PruneCounts prune_history(Transaction& tx, int64_t cutoff, int limit);

} // namespace keyholder::store
