// The process on POSIX (see process.h).
#include "keyholder/platform/process.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

namespace keyholder::platform {

std::string user_name() {
    const passwd* who = ::getpwuid(::getuid());
    return who != nullptr ? std::string(who->pw_name) : std::to_string(::getuid());
}

void private_new_files() { ::umask(0077); }

void set_environment(const std::string& name, const std::string& value) { ::setenv(name.c_str(), value.c_str(), 1); }

void unset_environment(const std::string& name) { ::unsetenv(name.c_str()); }

} // namespace keyholder::platform
