// The two engines' schema histories (migrations_sqlite.cpp, migrations_postgresql.cpp).
#pragma once

#include <span>

#include "keyholder/store/migrations.h"

namespace keyholder::store::detail {

std::span<const Migration> sqlite_migrations();
std::span<const Migration> postgresql_migrations();

} // namespace keyholder::store::detail
