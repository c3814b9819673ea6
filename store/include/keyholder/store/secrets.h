// Sealed secrets (AES-256-GCM ciphertext; the key is not in the database) and the
// pending secret of a rotation in progress.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "keyholder/store/connection.h"

namespace keyholder::store {

struct StoredSecret {
    std::string key_id;
    std::vector<std::byte> nonce;
    std::vector<std::byte> ciphertext;
    int version = 0;
    int64_t updated_at = 0;
    std::string updated_by;
};

std::optional<StoredSecret> find_secret(Connection& db, int64_t entry_id);
std::optional<StoredSecret> find_pending_secret(Connection& db, int64_t entry_id);
/// put_secret: sets the current secret (version + 1) and clears any pending one.
void put_secret(Transaction& tx, int64_t entry_id, const StoredSecret& secret);
/// put_pending_secret: records the secret a rotation is about to set in the directory,
/// unless one is pending already (false: then that one is what to set).
bool put_pending_secret(Transaction& tx, int64_t entry_id, const StoredSecret& secret);
/// promote_pending_secret: the pending secret becomes current; false when there was none.
bool promote_pending_secret(Transaction& tx, int64_t entry_id, const std::string& by, int64_t at);

} // namespace keyholder::store
