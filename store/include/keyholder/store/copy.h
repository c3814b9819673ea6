// copy_store: moves an installation from one store to another (SQLite to PostgreSQL
// when a second node comes, or back), every row, the audit chain intact.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "keyholder/store/connection.h"

namespace keyholder::store {

struct CopySummary {
    std::map<std::string, int64_t> rows; ///< per table
    int64_t events = 0;                  ///< audit events, their chain verified on the target
    std::string head_hash;               ///< the chain's head, the same on both
};

/// copy_store: both are migrated to their engine's newest schema first; the target
/// must be empty (a row in any table: refused, nothing written). The rows are read
/// in one snapshot of the source and written in one transaction of the target, ids
/// kept (PostgreSQL's identity sequences moved past them). The copy counts as done
/// only when every table has as many rows as the source's, and the target's audit
/// chain verifies with the source's head hash; otherwise the target's transaction is
/// rolled back. Throws StoreError naming the cause.
CopySummary copy_store(Connection& from, Connection& to);

} // namespace keyholder::store
