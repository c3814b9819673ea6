// The store's engines for parameterised tests: every store suite runs on SQLite and
// (where the build has it: not the Windows build) on a real PostgreSQL server.
//
//   class MySuite : public ::testing::TestWithParam<keyholder::store::Backend> {...};
//   INSTANTIATE_TEST_SUITE_P(Engines, MySuite, ::testing::ValuesIn(store_backends()), engine_name);
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "keyholder/store/connection.h"
#include "support/temp_dir.h"
#ifndef _WIN32
#include "support/postgres.h"
#endif

namespace keyholder::testing {

inline std::vector<store::Backend> store_backends() {
#ifdef _WIN32
    return {store::Backend::sqlite};
#else
    return {store::Backend::sqlite, store::Backend::postgresql};
#endif
}

inline std::string engine_name(const ::testing::TestParamInfo<store::Backend>& info) {
    return info.param == store::Backend::postgresql ? "PostgreSQL" : "SQLite";
}

/// fresh_location: an empty store: a file in `dir`, or a new database on this
/// program's PostgreSQL server.
inline store::Location fresh_location([[maybe_unused]] store::Backend backend, const TempDir& dir,
                                      const std::string& file = "k.db") {
#ifndef _WIN32
    if (backend == store::Backend::postgresql)
        return store::Location::postgresql(PostgresSandbox::shared().create_database());
#endif
    return store::Location::sqlite(dir / file);
}

/// secret_of: the password a location carries (PostgreSQL's DSN), or text no message has.
inline std::string secret_of(const store::Location& location) {
    const auto at = location.dsn.find("password=");
    if (location.backend != store::Backend::postgresql || at == std::string::npos) return "\x01(no password)";
    const auto begin = at + 9;
    return location.dsn.substr(begin, location.dsn.find(' ', begin) - begin);
}

} // namespace keyholder::testing
