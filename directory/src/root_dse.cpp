// Reading the rootDSE (see root_dse.h).
#include "keyholder/directory/root_dse.h"

#include <algorithm>

#include "session.h"

namespace keyholder::directory {

bool RootDse::is_active_directory() const {
    return std::find(supported_capabilities.begin(), supported_capabilities.end(), kActiveDirectoryCapability) !=
           supported_capabilities.end();
}

std::expected<RootDse, DirectoryError> read_root_dse(const ConnectionSettings& settings) {
    DirectoryError last{DirectoryError::Kind::unavailable, 0, "no LDAP URI configured", "", ""};
    for (const auto& uri : settings.uris) {
        auto session = detail::open_anonymous_session(uri, settings);
        if (!session) {
            last = session.error();
            continue;
        }
        auto entry = session->read("", {"namingContexts", "defaultNamingContext", "supportedCapabilities",
                                        "supportedControl", "vendorName", "objectClass"});
        if (!entry) {
            last = entry.error();
            last.message = "cannot read the rootDSE: " + last.message;
            if (last.kind == DirectoryError::Kind::other) last.kind = DirectoryError::Kind::unavailable;
            continue;
        }
        if (!*entry) {
            last = {DirectoryError::Kind::unavailable, 0, "the rootDSE is empty", "", uri};
            continue;
        }
        RootDse dse;
        dse.uri = uri;
        dse.naming_contexts = (*entry)->values("namingContexts");
        dse.default_naming_context = (*entry)->first("defaultNamingContext");
        dse.supported_capabilities = (*entry)->values("supportedCapabilities");
        dse.supported_controls = (*entry)->values("supportedControl");
        dse.vendor_name = (*entry)->first("vendorName");
        return dse;
    }
    return std::unexpected(last);
}

} // namespace keyholder::directory
