// What the configuration and the messages must know of the system they run on.
#pragma once

namespace keyholder::platform {

/// kKerberosKeytabs: Kerberos (GSSAPI binds, HTTP Negotiate) works from a keytab
/// (MIT Kerberos on POSIX); on Windows SSPI uses the service's own account instead.
#ifdef _WIN32
inline constexpr bool kKerberosKeytabs = false;
#else
inline constexpr bool kKerberosKeytabs = true;
#endif

/// kPrivateFileHint: what to run to make a file private again.
#ifdef _WIN32
inline constexpr const char* kPrivateFileHint = "icacls";
#else
inline constexpr const char* kPrivateFileHint = "chmod 600";
#endif

} // namespace keyholder::platform
