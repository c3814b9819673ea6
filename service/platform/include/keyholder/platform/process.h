// The process: who runs it, what the files it creates allow others, its environment.
#pragma once

#include <string>
#include <vector>

namespace keyholder::platform {

/// user_name: the account this process runs as (for the audit trail's "local:NAME").
std::string user_name();

/// private_new_files: files the process creates from now on are private to it
/// (POSIX: umask 077; Windows: nothing to do, files inherit the folder's DACL, which
/// the installer makes private).
void private_new_files();

/// hold_stop_signals: from now on SIGINT, SIGTERM and SIGQUIT stay pending (every
/// thread started later inherits the mask), so a stop asked for during start-up is
/// taken in order by the service's wait for a stop, not half-way. Windows: nothing
/// to do (the service control manager and the console handler ask Poco for the stop).
void hold_stop_signals();

/// arguments: the command line as UTF-8 (Windows: from the UTF-16 command line, not
/// argv's ANSI code page, which loses what it cannot spell).
std::vector<std::string> arguments(int argc, char** argv);

/// utf8_console: the console shows UTF-8 output as such (Windows: its output code
/// page; POSIX terminals already do).
void utf8_console();

/// set_environment / unset_environment: this process's environment (and what the C
/// runtime reads from it: TZ after set_local_zone's tzset).
void set_environment(const std::string& name, const std::string& value);
void unset_environment(const std::string& name);

} // namespace keyholder::platform
