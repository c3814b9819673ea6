// DirectorySettings: everything the directory module needs, filled by the host from
// [ldap] (the module does not read configuration files itself).
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "keyholder/directory/root_dse.h"
#include "keyholder/directory/types.h"

namespace keyholder::directory {

enum class BindMethod { simple, gssapi };

struct DirectorySettings {
    ConnectionSettings connection;
    std::string base_dn;
    std::optional<Flavour> flavour; ///< nullopt: detect from the rootDSE
    BindMethod bind = BindMethod::simple;
    std::string bind_dn;
    std::string bind_password; ///< secret: never logged
    std::string keytab;        ///< for gssapi
    std::string principal;     ///< for gssapi; empty: the keytab's first principal
    std::string netbios_domain;
    int page_size = 500;  ///< paged results page size
    int range_step = 0;   ///< values per ranged retrieval request; 0: as many as the server gives
    int max_nesting = 32; ///< bound of the OpenLDAP group walk
    std::chrono::seconds cache_ttl{60};
    size_t cache_size = 10000; ///< per cache (users, groups, memberships); 0 disables caching
    int pool_size = 4;
    /// down_retry: a server that failed is asked again (in the background) after this,
    /// doubling up to 20 times this while it keeps failing; callers go to the next URI.
    std::chrono::seconds down_retry{30};
};

} // namespace keyholder::directory
