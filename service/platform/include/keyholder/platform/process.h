// The process: who runs it, and what the files it creates allow others.
#pragma once

#include <string>

namespace keyholder::platform {

/// user_name: the account this process runs as (for the audit trail's "local:NAME").
std::string user_name();

/// private_new_files: files the process creates from now on are private to it
/// (POSIX: umask 077; Windows: nothing to do, files inherit the folder's DACL, which
/// the installer makes private).
void private_new_files();

} // namespace keyholder::platform
