// DirectoryError helpers.
#include "keyholder/directory/error.h"

#include "ldap_handles.h"

namespace keyholder::directory {

std::string DirectoryError::to_string() const {
    std::string out = message;
    if (!diagnostic.empty()) out += " (server says: " + diagnostic + ")";
    if (!uri.empty()) out += " [" + uri + "]";
    return out;
}

namespace detail {

DirectoryError make_error(LDAP* ld, int rc, const std::string& doing, const std::string& uri) {
    DirectoryError error;
    error.ldap_code = rc;
    error.uri = uri;
    error.message = doing + ": " + ldap_err2string(rc) + " (" + std::to_string(rc) + ")";
    if (ld != nullptr) {
        char* diagnostic = nullptr;
        if (ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diagnostic) == LDAP_OPT_SUCCESS &&
            diagnostic != nullptr) {
            LdapText owned(diagnostic);
            error.diagnostic = owned.get();
        }
    }
    switch (rc) {
    case LDAP_SERVER_DOWN:
    case LDAP_TIMEOUT:
    case LDAP_CONNECT_ERROR:
    case LDAP_UNAVAILABLE:
    case LDAP_BUSY: error.kind = DirectoryError::Kind::unavailable; break;
    case LDAP_INVALID_CREDENTIALS: error.kind = DirectoryError::Kind::invalid_credentials; break;
    case LDAP_NO_SUCH_OBJECT: error.kind = DirectoryError::Kind::no_such_object; break;
    case LDAP_INSUFFICIENT_ACCESS:
    case LDAP_STRONG_AUTH_REQUIRED:
    case LDAP_CONFIDENTIALITY_REQUIRED: error.kind = DirectoryError::Kind::insufficient_access; break;
    default: error.kind = DirectoryError::Kind::other; break;
    }
    return error;
}

} // namespace detail
} // namespace keyholder::directory
