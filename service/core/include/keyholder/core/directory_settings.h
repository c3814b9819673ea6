// directory_settings: the directory module's settings from the [ldap] section.
#pragma once

#include "keyholder/config/config.h"
#include "keyholder/directory/settings.h"

namespace keyholder::core {

directory::DirectorySettings directory_settings(const config::LdapSection& ldap);

} // namespace keyholder::core
