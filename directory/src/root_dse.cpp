// Reading the rootDSE (see root_dse.h).
#include "keyholder/directory/root_dse.h"

#include <algorithm>
#include <array>

#include "connect.h"

namespace keyholder::directory {
namespace {

std::vector<std::string> values(LDAP* ld, LDAPMessage* entry, const char* attribute) {
    std::vector<std::string> out;
    detail::BerValues list(ldap_get_values_len(ld, entry, attribute));
    if (!list) return out;
    for (berval** v = list.get(); *v != nullptr; ++v)
        out.emplace_back((*v)->bv_val, (*v)->bv_len);
    return out;
}

} // namespace

bool RootDse::is_active_directory() const {
    return std::find(supported_capabilities.begin(), supported_capabilities.end(), kActiveDirectoryCapability) !=
           supported_capabilities.end();
}

std::expected<RootDse, DirectoryError> read_root_dse(const ConnectionSettings& settings) {
    DirectoryError last{DirectoryError::Kind::unavailable, 0, "no LDAP URI configured", "", ""};
    for (const auto& uri : settings.uris) {
        auto ld = detail::connect(uri, settings);
        if (!ld) {
            last = ld.error();
            continue;
        }
        std::array<char*, 7> attributes{const_cast<char*>("namingContexts"),
                                        const_cast<char*>("defaultNamingContext"),
                                        const_cast<char*>("supportedCapabilities"),
                                        const_cast<char*>("supportedControl"),
                                        const_cast<char*>("vendorName"),
                                        const_cast<char*>("objectClass"),
                                        nullptr};
        timeval timeout{static_cast<time_t>(settings.operation_timeout.count()), 0};
        LDAPMessage* raw = nullptr;
        int rc = ldap_search_ext_s(ld->get(), "", LDAP_SCOPE_BASE, "(objectClass=*)", attributes.data(), 0, nullptr,
                                   nullptr, &timeout, 1, &raw);
        detail::LdapMessagePtr result(raw);
        if (rc != LDAP_SUCCESS) {
            last = detail::make_error(ld->get(), rc, "cannot read the rootDSE", uri);
            if (last.kind == DirectoryError::Kind::other) last.kind = DirectoryError::Kind::unavailable;
            continue;
        }
        LDAPMessage* entry = ldap_first_entry(ld->get(), result.get());
        if (entry == nullptr) {
            last = {DirectoryError::Kind::unavailable, 0, "the rootDSE is empty", "", uri};
            continue;
        }
        RootDse dse;
        dse.uri = uri;
        dse.naming_contexts = values(ld->get(), entry, "namingContexts");
        auto def = values(ld->get(), entry, "defaultNamingContext");
        if (!def.empty()) dse.default_naming_context = def.front();
        dse.supported_capabilities = values(ld->get(), entry, "supportedCapabilities");
        dse.supported_controls = values(ld->get(), entry, "supportedControl");
        auto vendor = values(ld->get(), entry, "vendorName");
        if (!vendor.empty()) dse.vendor_name = vendor.front();
        return dse;
    }
    return std::unexpected(last);
}

} // namespace keyholder::directory
