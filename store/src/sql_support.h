// Small helpers the store's repository files share. Private to the store module.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "keyholder/store/connection.h"
#include "keyholder/store/error.h"

namespace keyholder::store {

/// inserted_id: runs a bound INSERT ... RETURNING id (both engines) and answers the id.
inline int64_t inserted_id(Statement& insert) {
    if (!insert.step()) throw StoreError(0, "an INSERT ... RETURNING id returned no row");
    const int64_t id = insert.column_int64(0);
    while (insert.step()) {}
    return id;
}

/// approval_lines: a subquery for request r (alias r): one line per approval (alias
/// a), `line` its text, in decision order, joined by newlines; NULL without approvals.
inline std::string approval_lines(Backend backend, std::string_view line) {
    if (backend == Backend::postgresql)
        return "(SELECT string_agg(" + std::string(line) +
               ", chr(10) ORDER BY a.decided_at, a.id) FROM approvals a WHERE a.request_id = r.id)";
    return "(SELECT group_concat(x.line, char(10)) FROM (SELECT " + std::string(line) +
           " AS line FROM approvals a WHERE a.request_id = r.id ORDER BY a.decided_at, a.id) x)";
}

} // namespace keyholder::store
