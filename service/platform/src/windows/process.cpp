// The process on Windows (see process.h).
#include "keyholder/platform/process.h"

#define SECURITY_WIN32
#include "win32.h"

#include <secext.h>
#include <shellapi.h>

#include <cstdlib>

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

std::vector<std::string> arguments(int argc, char** argv) {
    int count = 0;
    wchar_t** wide = ::CommandLineToArgvW(::GetCommandLineW(), &count);
    if (wide == nullptr) return {argv, argv + argc};
    std::vector<std::string> out;
    for (int i = 0; i < count; ++i)
        out.push_back(detail::narrow(wide[i]));
    ::LocalFree(wide);
    return out;
}

void utf8_console() { ::SetConsoleOutputCP(CP_UTF8); }

void hold_stop_signals() {}

void set_environment(const std::string& name, const std::string& value) { _putenv_s(name.c_str(), value.c_str()); }

// An empty value removes the variable (the CRT's rule).
void unset_environment(const std::string& name) { _putenv_s(name.c_str(), ""); }

} // namespace keyholder::platform
