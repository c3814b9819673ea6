// The process: who runs it, what the files it creates allow others, its environment.
#pragma once

#include <string>

namespace keyholder::platform {

/// user_name: the account this process runs as (for the audit trail's "local:NAME").
std::string user_name();

/// private_new_files: files the process creates from now on are private to it
/// (POSIX: umask 077; Windows: nothing to do, files inherit the folder's DACL, which
/// the installer makes private).
void private_new_files();

/// set_environment / unset_environment: this process's environment (and what the C
/// runtime reads from it: TZ after set_local_zone's tzset).
void set_environment(const std::string& name, const std::string& value);
void unset_environment(const std::string& name);

} // namespace keyholder::platform
