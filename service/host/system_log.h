// system_log: where keyholderd's log lines go besides its file or stderr. POSIX:
// nowhere else (stderr is the journal under systemd). Windows: the Application Event
// Log (source "keyholder") receives start, stop and every error.
#pragma once

#include <Poco/AutoPtr.h>
#include <Poco/Channel.h>

#include <string>

namespace keyholder::host {

/// with_system_log: the channel to install, given the one that writes the log file.
Poco::AutoPtr<Poco::Channel> with_system_log(Poco::AutoPtr<Poco::Channel> main);

/// report_to_system_log: one error before logging is set up (a configuration that
/// does not load). POSIX: nothing more (stderr reaches the journal). Windows: the
/// Event Log, where an administrator looks when a service stops at once.
void report_to_system_log(const std::string& text);

/// kOptionPrefix: how options are written on this system (Poco's convention:
/// --name on POSIX, /name on Windows, as in /registerService).
#ifdef _WIN32
inline constexpr const char* kOptionPrefix = "/";
#else
inline constexpr const char* kOptionPrefix = "--";
#endif

} // namespace keyholder::host
