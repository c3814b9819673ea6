// Mapping [ldap] to DirectorySettings (see directory_settings.h).
#include "keyholder/core/directory_settings.h"

namespace keyholder::core {

directory::DirectorySettings directory_settings(const config::LdapSection& ldap) {
    directory::DirectorySettings s;
    s.connection.uris = ldap.uris;
    if (ldap.ca_file) s.connection.ca_file = ldap.ca_file->string();
    s.connection.starttls = ldap.starttls;
    s.connection.require_certificate = ldap.tls_require_cert;
    s.connection.network_timeout = ldap.network_timeout;
    s.connection.operation_timeout = ldap.operation_timeout;
    s.base_dn = ldap.base_dn;
    switch (ldap.flavour) {
    case config::LdapFlavour::automatic: s.flavour = std::nullopt; break;
    case config::LdapFlavour::active_directory: s.flavour = directory::Flavour::active_directory; break;
    case config::LdapFlavour::openldap: s.flavour = directory::Flavour::openldap; break;
    }
    if (ldap.bind == config::LdapBindMethod::gssapi) {
        s.bind = directory::BindMethod::gssapi;
        if (ldap.keytab) s.keytab = ldap.keytab->string();
        s.principal = ldap.principal;
    } else {
        s.bind = directory::BindMethod::simple;
        s.bind_dn = ldap.bind_dn;
        s.bind_password = ldap.bind_password.reveal();
    }
    s.netbios_domain = ldap.netbios_domain;
    s.page_size = ldap.page_size;
    s.range_step = ldap.range_step;
    s.max_nesting = ldap.max_nesting;
    s.cache_ttl = ldap.cache_ttl;
    s.cache_size = static_cast<size_t>(ldap.cache_size);
    s.pool_size = ldap.pool_size;
    return s;
}

} // namespace keyholder::core
