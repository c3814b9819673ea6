// RAII owners for libldap objects (private to the directory module). Every object
// libldap hands out is wrapped the moment it is born.
#pragma once

#include <ldap.h>

#include <memory>
#include <string>

#include "keyholder/directory/error.h"

namespace keyholder::directory::detail {

/// setup_complete (connect.cpp): releases the connection-set-up watchdog's hold.
void setup_complete(LDAP* ld);

struct LdapUnbind {
    void operator()(LDAP* ld) const noexcept {
        setup_complete(ld); // before the descriptor is closed (and could be reused)
        ldap_unbind_ext_s(ld, nullptr, nullptr);
    }
};
struct LdapMsgFree {
    void operator()(LDAPMessage* msg) const noexcept { ldap_msgfree(msg); }
};
struct BerValuesFree {
    void operator()(berval** values) const noexcept { ldap_value_free_len(values); }
};
struct LdapMemFree {
    void operator()(char* text) const noexcept { ldap_memfree(text); }
};
struct BerFree {
    void operator()(BerElement* ber) const noexcept { ber_free(ber, 0); }
};

struct ControlsFree {
    void operator()(LDAPControl** controls) const noexcept { ldap_controls_free(controls); }
};
struct ControlFree {
    void operator()(LDAPControl* control) const noexcept { ldap_control_free(control); }
};

using LdapHandle = std::unique_ptr<LDAP, LdapUnbind>;
using LdapControls = std::unique_ptr<LDAPControl*, ControlsFree>;
using LdapControlPtr = std::unique_ptr<LDAPControl, ControlFree>;
using LdapMessagePtr = std::unique_ptr<LDAPMessage, LdapMsgFree>;
using BerValues = std::unique_ptr<berval*, BerValuesFree>;
using LdapText = std::unique_ptr<char, LdapMemFree>;
using BerElementPtr = std::unique_ptr<BerElement, BerFree>;

/// make_error: a DirectoryError from an LDAP result code, with the server's
/// diagnostic message when the handle holds one.
DirectoryError make_error(LDAP* ld, int rc, const std::string& doing, const std::string& uri);

} // namespace keyholder::directory::detail
