// Setting the secret of a `password` entry (see store_secret in checkout_service.h).
#include "keyholder/store/secrets.h"
#include "keyholder/store/records.h"
#include "service_internal.h"

namespace keyholder::core {

using namespace detail;

Outcome<int> store_secret(store::Connection& db, const SecretVault& vault, const config::Config& config,
                          const std::string& entry_name, const std::string& actor, std::string_view secret,
                          const Clock& clock) {
    auto entry = config.entries.find(entry_name);
    if (entry == config.entries.end())
        return std::unexpected(error(Kind::not_found, "no_such_entry", "no entry named '" + entry_name + "'"));
    if (!entry->second.releases(config::ReleaseKind::password))
        return std::unexpected(
            error(Kind::invalid, "not_a_password_entry", entry_name + " does not release a password"));
    if (secret.empty() || secret.size() > 1024)
        return std::unexpected(error(Kind::invalid, "bad_secret", "a secret is 1 to 1024 bytes"));
    auto entry_id = store::entry_id_by_name(db, entry_name);
    if (!entry_id)
        return std::unexpected(
            error(Kind::not_found, "no_such_entry",
                  entry_name + " is not in the store yet: start keyholderd once with this configuration"));
    // Sealed before the write lock; a seal that fails stores nothing.
    auto sealed = vault.seal(secret, entry_name);
    if (!sealed) {
        log().error("cannot seal the secret of %s: %s", entry_name, sealed.error());
        return std::unexpected(
            error(Kind::unavailable, "seal_failed", "the secret could not be encrypted; nothing was stored"));
    }
    const int64_t now = clock.now();
    store::Transaction tx(db);
    store::put_secret(tx, *entry_id, to_stored(*sealed, now, actor));
    const int version = store::find_secret(db, *entry_id)->version;
    audit(tx, now, actor, "secret.set", "entry:" + entry_name,
          json({{"version", version}, {"key_id", vault.key_id()}}));
    tx.commit();
    return version;
}

} // namespace keyholder::core
