// The process on POSIX (see process.h).
#include "keyholder/platform/process.h"

#include <pthread.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>

namespace keyholder::platform {

std::string user_name() {
    const passwd* who = ::getpwuid(::getuid());
    return who != nullptr ? std::string(who->pw_name) : std::to_string(::getuid());
}

void private_new_files() { ::umask(0077); }

std::vector<std::string> arguments(int argc, char** argv) { return {argv, argv + argc}; }

void utf8_console() {}

void hold_stop_signals() {
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGQUIT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
}

void set_environment(const std::string& name, const std::string& value) { ::setenv(name.c_str(), value.c_str(), 1); }

void unset_environment(const std::string& name) { ::unsetenv(name.c_str()); }

} // namespace keyholder::platform
