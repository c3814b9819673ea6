// One libldap connection with keyholder's defaults (see connect.h).
#include "connect.h"

#include <sys/time.h>

namespace keyholder::directory::detail {
namespace {

timeval to_timeval(std::chrono::seconds s) { return timeval{static_cast<time_t>(s.count()), 0}; }

} // namespace

std::expected<LdapHandle, DirectoryError> connect(const std::string& uri, const ConnectionSettings& settings) {
    LDAP* raw = nullptr;
    int rc = ldap_initialize(&raw, uri.c_str());
    LdapHandle ld(raw);
    if (rc != LDAP_SUCCESS) return std::unexpected(make_error(nullptr, rc, "bad LDAP URI", uri));

    auto fail = [&](int code, const std::string& doing) {
        DirectoryError error = make_error(ld.get(), code, doing, uri);
        if (code == LDAP_CONNECT_ERROR) error.kind = DirectoryError::Kind::unavailable; // includes TLS failures
        return std::unexpected(error);
    };
    int version = LDAP_VERSION3;
    timeval network = to_timeval(settings.network_timeout);
    timeval operation = to_timeval(settings.operation_timeout);
    int require = settings.require_certificate ? LDAP_OPT_X_TLS_DEMAND : LDAP_OPT_X_TLS_NEVER;
    if ((rc = ldap_set_option(ld.get(), LDAP_OPT_PROTOCOL_VERSION, &version)) != LDAP_OPT_SUCCESS ||
        (rc = ldap_set_option(ld.get(), LDAP_OPT_REFERRALS, LDAP_OPT_OFF)) != LDAP_OPT_SUCCESS ||
        (rc = ldap_set_option(ld.get(), LDAP_OPT_NETWORK_TIMEOUT, &network)) != LDAP_OPT_SUCCESS ||
        (rc = ldap_set_option(ld.get(), LDAP_OPT_TIMEOUT, &operation)) != LDAP_OPT_SUCCESS ||
        (rc = ldap_set_option(ld.get(), LDAP_OPT_X_TLS_REQUIRE_CERT, &require)) != LDAP_OPT_SUCCESS)
        return fail(rc, "cannot set LDAP options");
    if (settings.ca_file) {
        if ((rc = ldap_set_option(ld.get(), LDAP_OPT_X_TLS_CACERTFILE, settings.ca_file->c_str())) != LDAP_OPT_SUCCESS)
            return fail(rc, "cannot use CA file " + *settings.ca_file);
    }
    // Apply the TLS settings above to this handle only (not the process-wide context).
    int is_server = 0;
    if ((rc = ldap_set_option(ld.get(), LDAP_OPT_X_TLS_NEWCTX, &is_server)) != LDAP_OPT_SUCCESS)
        return fail(rc, "cannot create the TLS context");
    if (settings.starttls && uri.rfind("ldaps://", 0) != 0) {
        if ((rc = ldap_start_tls_s(ld.get(), nullptr, nullptr)) != LDAP_SUCCESS) {
            DirectoryError error = make_error(ld.get(), rc, "StartTLS failed", uri);
            error.kind = DirectoryError::Kind::unavailable;
            return std::unexpected(error);
        }
    }
    return ld;
}

} // namespace keyholder::directory::detail
