// Durable files: written whole or not at all, and on disk when the call returns.
#pragma once

#include <filesystem>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>

namespace keyholder::util {

/// write_file_atomically: `write` fills a temporary file next to `path` (created with
/// `mode`), which is fsynced, renamed onto `path`, and the folder fsynced (so the
/// rename survives a crash too). On any failure nothing is left behind and
/// std::runtime_error names the cause (an exception from `write` passes through).
void write_file_atomically(const std::filesystem::path& path, const std::function<void(std::ostream&)>& write,
                           std::filesystem::perms mode = std::filesystem::perms::owner_read |
                                                         std::filesystem::perms::owner_write);
void write_file_atomically(const std::filesystem::path& path, std::string_view content,
                           std::filesystem::perms mode = std::filesystem::perms::owner_read |
                                                         std::filesystem::perms::owner_write);

/// file_sha256: the SHA-256 of a file's content, in hex; throws std::runtime_error
/// when it cannot be read.
std::string file_sha256(const std::filesystem::path& path);

} // namespace keyholder::util
