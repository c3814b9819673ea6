// What files.h offers the same way on every system.
#include "keyholder/platform/files.h"

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace keyholder::platform {

void write_file_atomically(const std::filesystem::path& path, std::string_view content, std::filesystem::perms mode) {
    write_file_atomically(
        path, [&](std::ostream& out) { out.write(content.data(), static_cast<std::streamsize>(content.size())); },
        mode);
}

std::string file_sha256(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + utf8(path) + ": " + std::strerror(errno));
    Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
    char buffer[65536];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0)
        engine.update(buffer, static_cast<unsigned>(in.gcount()));
    return Poco::DigestEngine::digestToHex(engine.digest());
}

// path::u8string is the native bytes on POSIX and converts from UTF-16 on Windows.
std::string utf8(const std::filesystem::path& path) {
    const std::u8string text = path.u8string();
    return {text.begin(), text.end()};
}

std::filesystem::path from_utf8(std::string_view text) {
    return std::filesystem::path(std::u8string(text.begin(), text.end()));
}

} // namespace keyholder::platform
