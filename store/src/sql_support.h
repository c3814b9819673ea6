// Small helpers the store's repository files share. Private to the store module.
#pragma once

#include <cstdint>

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

} // namespace keyholder::store
