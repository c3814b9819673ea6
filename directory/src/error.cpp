// DirectoryError helpers (the same for every LDAP library).
#include "keyholder/directory/error.h"

#include "session.h"

namespace keyholder::directory {

std::string DirectoryError::to_string() const {
    std::string out = message;
    if (!diagnostic.empty()) out += " (server says: " + diagnostic + ")";
    if (!uri.empty()) out += " [" + uri + "]";
    return out;
}

namespace detail {

DirectoryError make_error(int rc, const std::string& rc_text, std::string diagnostic, const std::string& doing,
                          const std::string& uri, bool connection_lost) {
    DirectoryError error;
    error.ldap_code = rc;
    error.uri = uri;
    error.message = doing + ": " + rc_text + " (" + std::to_string(rc) + ")";
    error.diagnostic = std::move(diagnostic);
    switch (rc) {
    case result_code::busy:
    case result_code::unavailable: error.kind = DirectoryError::Kind::unavailable; break;
    case result_code::invalid_credentials: error.kind = DirectoryError::Kind::invalid_credentials; break;
    case result_code::no_such_object: error.kind = DirectoryError::Kind::no_such_object; break;
    case result_code::strong_auth_required:
    case result_code::confidentiality_required:
    case result_code::insufficient_access: error.kind = DirectoryError::Kind::insufficient_access; break;
    default: error.kind = DirectoryError::Kind::other; break;
    }
    if (connection_lost) error.kind = DirectoryError::Kind::unavailable;
    return error;
}

} // namespace detail
} // namespace keyholder::directory
