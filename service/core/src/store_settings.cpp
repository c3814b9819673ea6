// [store] in the store's terms (see store_settings.h).
#include "keyholder/core/store_settings.h"

namespace keyholder::core {

store::Location store_location(const config::Config& config) {
    if (config.store.backend == config::StoreBackend::postgresql)
        return store::Location::postgresql(config.store.dsn, config.store.password.reveal());
    return store::Location::sqlite(config.store.file);
}

store::ConnectionOptions store_options(const config::Config& config, bool configured_durability) {
    store::ConnectionOptions options;
    options.busy_timeout = config.store.busy_timeout;
    options.answer_timeout = config.store.answer_timeout;
    if (configured_durability)
        options.synchronous =
            config.store.durability == config::Durability::full ? store::Synchronous::full : store::Synchronous::normal;
    return options;
}

} // namespace keyholder::core
