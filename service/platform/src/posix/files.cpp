// Files on POSIX (see files.h): fsync of the file and of its folder, mode bits.
#include "keyholder/platform/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace keyholder::platform {
namespace {

bool fsync_path(const std::filesystem::path& path, int flags) {
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
    if (fd < 0) return false;
    const bool ok = ::fsync(fd) == 0;
    ::close(fd);
    return ok;
}

[[noreturn]] void fail(const std::string& what, const std::filesystem::path& path, int error) {
    throw std::runtime_error(what + " " + path.string() + ": " + std::strerror(error));
}

} // namespace

void write_file_atomically(const std::filesystem::path& path, const std::function<void(std::ostream&)>& write,
                           std::filesystem::perms mode) {
    const auto folder = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
    const auto temp = folder / ("." + path.filename().string() + ".tmp");
    try {
        {
            // Created with its mode (never readable by others, even for a moment).
            const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                                  static_cast<mode_t>(mode & std::filesystem::perms::mask));
            if (fd < 0) fail("cannot create", temp, errno);
            ::close(fd);
            std::ofstream out(temp, std::ios::binary | std::ios::trunc);
            if (!out) fail("cannot open", temp, errno);
            write(out);
            out.flush();
            if (!out) throw std::runtime_error("cannot write " + temp.string() + " (disk full?)");
        }
        if (!fsync_path(temp, O_RDONLY)) fail("cannot fsync", temp, errno);
        if (::rename(temp.c_str(), path.c_str()) != 0) fail("cannot rename onto", path, errno);
    } catch (...) {
        ::unlink(temp.c_str());
        throw;
    }
    if (!fsync_path(folder, O_RDONLY | O_DIRECTORY)) fail("cannot fsync the folder", folder, errno);
}

std::optional<std::string> not_private(const std::filesystem::path& file) {
    struct stat info {};
    if (::stat(file.c_str(), &info) != 0) return "cannot inspect " + file.string() + ": " + std::strerror(errno);
    if ((info.st_mode & (S_IRWXG | S_IRWXO)) == 0) return std::nullopt;
    std::ostringstream mode;
    mode << std::oct << (info.st_mode & 0777);
    return file.string() + " is accessible by group or others (mode 0" + mode.str() + "); run chmod 600 on it";
}

void create_private_folder(const std::filesystem::path& folder) {
    std::error_code ec;
    if (std::filesystem::is_directory(folder, ec)) return;
    if (folder.has_parent_path()) std::filesystem::create_directories(folder.parent_path(), ec);
    if (::mkdir(folder.c_str(), 0700) == 0) return;
    const int error = errno;
    if (error == EEXIST && std::filesystem::is_directory(folder, ec)) return; // made meanwhile
    fail("cannot create the folder", folder, error == EEXIST ? ENOTDIR : error);
}

void create_private_file(const std::filesystem::path& file) {
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) fail("cannot create", file, errno);
    ::close(fd);
}

std::optional<std::filesystem::path> default_config_file() { return std::nullopt; }

SyncedFile::SyncedFile(std::filesystem::path path) : path_(std::move(path)) {}

SyncedFile::~SyncedFile() {
    if (handle_ >= 0) ::close(static_cast<int>(handle_));
}

// The check asks for the link count only: a stat that returns the file's times makes
// Linux (multigrain timestamps, 6.13+) stamp the next write with a fine-grained
// time, so that every fdatasync would also write the inode, one more I/O per sync.
int SyncedFile::sync() noexcept {
    struct statx info {};
    if (handle_ >= 0 &&
        (::statx(static_cast<int>(handle_), "", AT_EMPTY_PATH, STATX_NLINK, &info) != 0 || info.stx_nlink == 0)) {
        ::close(static_cast<int>(handle_));
        handle_ = -1;
    }
    if (handle_ < 0) {
        handle_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
        if (handle_ < 0) return errno == ENOENT ? 0 : errno;
    }
    return ::fdatasync(static_cast<int>(handle_)) == 0 ? 0 : errno;
}

} // namespace keyholder::platform
