// Opening one libldap connection with keyholder's defaults (private to the module).
#pragma once

#include <expected>
#include <string>

#include "keyholder/directory/root_dse.h"
#include "ldap_handles.h"

namespace keyholder::directory::detail {

/// connect: LDAPv3, referrals off, network and operation timeouts, TLS settings
/// (CA file, certificate required) and StartTLS when configured. The connection is
/// not yet bound. Fails with Kind::unavailable when the server cannot be reached.
std::expected<LdapHandle, DirectoryError> connect(const std::string& uri, const ConnectionSettings& settings);

} // namespace keyholder::directory::detail
