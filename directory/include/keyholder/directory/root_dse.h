// Reading the rootDSE: the anonymous, always-allowed read that tells whether a
// server answers (readiness) and whether it is Active Directory or OpenLDAP.
#pragma once

#include <chrono>
#include <expected>
#include <optional>
#include <string>
#include <vector>

#include "keyholder/directory/error.h"

namespace keyholder::directory {

/// ConnectionSettings: how to reach the directory. Verification of the server's
/// certificate is on unless require_certificate is false (tests only).
struct ConnectionSettings {
    std::vector<std::string> uris; ///< tried in order until one answers
    std::optional<std::string> ca_file;
    bool starttls = false;
    bool require_certificate = true;
    std::chrono::seconds network_timeout{3};
    std::chrono::seconds operation_timeout{5};
};

/// kActiveDirectoryCapability: the rootDSE capability OID every AD DC advertises.
inline constexpr const char* kActiveDirectoryCapability = "1.2.840.113556.1.4.800";

struct RootDse {
    std::string uri; ///< the server that answered
    std::vector<std::string> naming_contexts;
    std::string default_naming_context;
    std::vector<std::string> supported_capabilities;
    std::vector<std::string> supported_controls;
    std::string vendor_name;
    [[nodiscard]] bool is_active_directory() const;
};

/// read_root_dse: anonymous base-scope read of "" on the first URI that answers.
std::expected<RootDse, DirectoryError> read_root_dse(const ConnectionSettings& settings);

} // namespace keyholder::directory
