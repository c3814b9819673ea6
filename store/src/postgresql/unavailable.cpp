// Builds without libpq (the Windows build): PostgreSQL is refused with the reason.
#include "backend.h"
#include "keyholder/store/error.h"

namespace keyholder::store::detail {

std::unique_ptr<ConnectionImpl> open_postgresql(const Location& /*location*/, const ConnectionOptions& /*options*/) {
    throw StoreError(0, "this build of keyholder has no PostgreSQL support (the Windows build is SQLite-only); "
                        "use [store] backend = sqlite");
}

} // namespace keyholder::store::detail
