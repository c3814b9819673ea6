// Durable files on POSIX (see files.h): fsync of the file and of its folder.
#include "keyholder/util/files.h"

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace keyholder::util {
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

void write_file_atomically(const std::filesystem::path& path, std::string_view content, std::filesystem::perms mode) {
    write_file_atomically(
        path, [&](std::ostream& out) { out.write(content.data(), static_cast<std::streamsize>(content.size())); },
        mode);
}

std::string file_sha256(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path.string() + ": " + std::strerror(errno));
    Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
    char buffer[65536];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0)
        engine.update(buffer, static_cast<unsigned>(in.gcount()));
    return Poco::DigestEngine::digestToHex(engine.digest());
}

} // namespace keyholder::util
