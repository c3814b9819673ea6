// DirectoryError: why a directory operation failed, typed so that callers can tell
// "the directory is down" (fail closed, try later) from "no such user" (a decision).
#pragma once

#include <string>

namespace keyholder::directory {

struct DirectoryError {
    enum class Kind {
        unavailable,         ///< no server answered (down, timeout, TLS failure): try later
        not_found,           ///< no such user or group (a decision, not an outage)
        invalid_credentials, ///< a bind was refused (LDAP 49)
        no_such_object,      ///< the base or entry does not exist
        insufficient_access, ///< the server refused the operation for this identity
        refused,             ///< refused by keyholder before sending (e.g. password over a plain connection)
        other,               ///< any other LDAP failure
    };
    Kind kind = Kind::other;
    int ldap_code = 0;      ///< the LDAP result code (0 when not from the server)
    std::string message;    ///< ldap_err2string and what was being done
    std::string diagnostic; ///< the server's diagnostic message, when it sent one
    std::string uri;        ///< which server, when known

    [[nodiscard]] std::string to_string() const;
};

} // namespace keyholder::directory
