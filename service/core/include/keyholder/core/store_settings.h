// The configuration's [store] in the store's terms: where the database is (a SQLite
// file, or PostgreSQL with the password read from password_file / password_env) and
// how a connection waits and commits.
#pragma once

#include "keyholder/config/config.h"
#include "keyholder/store/connection.h"

namespace keyholder::core {

/// store_location: [store] backend, path or dsn (and password).
store::Location store_location(const config::Config& config);

/// store_options: busy_timeout, and [store] durability when `configured_durability`
/// (the request path); otherwise full (the scheduler's, the outbox's and the
/// exports' own connections always commit durably).
store::ConnectionOptions store_options(const config::Config& config, bool configured_durability = true);

} // namespace keyholder::core
