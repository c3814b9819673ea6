// Key files at rest: what is written to the master and link key files. POSIX: the
// key itself, in a file of mode 0600. Windows: the key sealed with DPAPI (machine
// scope), in a file whose DACL admits the owner, SYSTEM and Administrators only, so a
// copied file is of no use on another machine.
#pragma once

#include <expected>
#include <string>
#include <string_view>

namespace keyholder::platform {

std::expected<std::string, std::string> seal_key(std::string_view key);
std::expected<std::string, std::string> unseal_key(std::string_view stored);

} // namespace keyholder::platform
