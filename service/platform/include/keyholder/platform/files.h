// Files: durable writes (whole or not at all, on disk when the call returns), files
// private to the service, and paths as UTF-8. POSIX: fsync and mode bits;
// Windows: FlushFileBuffers and the file's DACL.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace keyholder::platform {

/// write_file_atomically: `write` fills a temporary file next to `path` (created
/// private: `mode` on POSIX, a DACL for the owner, SYSTEM and Administrators on
/// Windows), which is flushed to disk, renamed onto `path`, and (POSIX) the folder
/// fsynced, so that the rename survives a crash too. On any failure nothing is left
/// behind and std::runtime_error names the cause (an exception from `write` passes
/// through).
void write_file_atomically(const std::filesystem::path& path, const std::function<void(std::ostream&)>& write,
                           std::filesystem::perms mode = std::filesystem::perms::owner_read |
                                                         std::filesystem::perms::owner_write);
void write_file_atomically(const std::filesystem::path& path, std::string_view content,
                           std::filesystem::perms mode = std::filesystem::perms::owner_read |
                                                         std::filesystem::perms::owner_write);

/// file_sha256: the SHA-256 of a file's content, in hex; throws std::runtime_error
/// when it cannot be read.
std::string file_sha256(const std::filesystem::path& path);

/// not_private: why a file that holds key material is readable by others (nullopt
/// when it is private), with what to run about it. POSIX: any group or other mode
/// bit; Windows: an allowing ACE for anyone but the owner, SYSTEM and Administrators.
/// A file that cannot be inspected is not private.
std::optional<std::string> not_private(const std::filesystem::path& file);

/// create_private_folder: a missing folder is made (its missing parents as usual),
/// private from birth to its owner, SYSTEM and Administrators (POSIX: mode 0700;
/// Windows: a protected DACL that what it holds inherits); an existing folder is left
/// as it is. Throws std::runtime_error naming the cause.
void create_private_folder(const std::filesystem::path& folder);
/// create_private_file: a new, empty file, private from birth (mode 0600, or the
/// private DACL); throws std::runtime_error when it exists or cannot be made.
void create_private_file(const std::filesystem::path& file);

/// default_config_file: where the service's configuration is when none is named.
/// POSIX: none (the systemd unit names /etc/keyholder/keyholder.ini). Windows:
/// keyholder\keyholder.ini in the ProgramData known folder (the service control manager starts the
/// service without arguments; packaging/windows/install.ps1 writes the file there).
std::optional<std::filesystem::path> default_config_file();

/// utf8: the path as UTF-8 (SQLite, Poco and messages take UTF-8; on Windows
/// path::string() would convert to the ANSI code page and lose characters).
std::string utf8(const std::filesystem::path& path);
/// from_utf8: a path from UTF-8 text (configuration values, command lines).
std::filesystem::path from_utf8(std::string_view text);

/// SyncedFile: a file kept open to force its data to disk (SQLite's WAL between
/// group commits): fdatasync on POSIX, FlushFileBuffers on Windows. Reopened when
/// the file was replaced or removed. Not thread-safe (the caller serialises).
class SyncedFile {
public:
    explicit SyncedFile(std::filesystem::path path);
    ~SyncedFile();
    SyncedFile(const SyncedFile&) = delete;
    SyncedFile& operator=(const SyncedFile&) = delete;
    /// sync: 0 when the file's data is on disk (or it does not exist: nothing is
    /// pending in it), else the system's error number.
    int sync() noexcept;

private:
    std::filesystem::path path_;
    intptr_t handle_ = -1; ///< a descriptor (POSIX) or a HANDLE (Windows); -1: not open
};

} // namespace keyholder::platform
