// The process on Windows (see process.h).
#include "keyholder/platform/process.h"

#define SECURITY_WIN32
#include "win32.h"

#include <secext.h>

namespace keyholder::platform {

// DOMAIN\name (the form the audit trail shows for domain accounts), else the bare name.
std::string user_name() {
    wchar_t name[512];
    ULONG size = 512;
    if (::GetUserNameExW(NameSamCompatible, name, &size)) return detail::narrow(name);
    DWORD bare = 512;
    if (::GetUserNameW(name, &bare)) return detail::narrow(name);
    return "unknown";
}

void private_new_files() {}

} // namespace keyholder::platform
