// SID and GUID conversions (see sid.h). Layout per MS-DTYP 2.4.2.2: revision (1
// byte), sub-authority count (1), identifier authority (6, big-endian), then the
// sub-authorities (4 each, little-endian).
#include "keyholder/directory/sid.h"

#include <charconv>
#include <cstdint>
#include <cstdio>

namespace keyholder::directory {

std::optional<std::string> sid_to_string(std::span<const std::byte> binary) {
    if (binary.size() < 8) return std::nullopt;
    auto byte = [&](size_t i) { return static_cast<uint64_t>(binary[i]); };
    const uint64_t revision = byte(0);
    const size_t count = static_cast<size_t>(byte(1));
    if (revision != 1 || count > 15 || binary.size() != 8 + 4 * count) return std::nullopt;
    uint64_t authority = 0;
    for (size_t i = 2; i < 8; ++i)
        authority = (authority << 8) | byte(i);
    std::string out = "S-1-" + std::to_string(authority);
    for (size_t k = 0; k < count; ++k) {
        size_t at = 8 + 4 * k;
        uint64_t sub = byte(at) | (byte(at + 1) << 8) | (byte(at + 2) << 16) | (byte(at + 3) << 24);
        out += "-" + std::to_string(sub);
    }
    return out;
}

std::optional<std::vector<std::byte>> sid_from_string(std::string_view text) {
    if (!text.starts_with("S-1-")) return std::nullopt;
    std::vector<uint64_t> parts;
    std::string_view rest = text.substr(4);
    while (true) {
        uint64_t value = 0;
        auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
        if (ec != std::errc() || end == rest.data()) return std::nullopt;
        parts.push_back(value);
        rest.remove_prefix(static_cast<size_t>(end - rest.data()));
        if (rest.empty()) break;
        if (rest.front() != '-') return std::nullopt;
        rest.remove_prefix(1);
    }
    if (parts.empty() || parts.size() > 16 || parts[0] > 0xFFFFFFFFFFFFULL) return std::nullopt;
    std::vector<std::byte> out;
    out.push_back(std::byte{1});
    out.push_back(static_cast<std::byte>(parts.size() - 1));
    for (int shift = 40; shift >= 0; shift -= 8)
        out.push_back(static_cast<std::byte>((parts[0] >> shift) & 0xff));
    for (size_t k = 1; k < parts.size(); ++k) {
        if (parts[k] > 0xFFFFFFFFULL) return std::nullopt;
        for (int shift = 0; shift < 32; shift += 8)
            out.push_back(static_cast<std::byte>((parts[k] >> shift) & 0xff));
    }
    return out;
}

std::optional<std::string> guid_to_string(std::span<const std::byte> b) {
    if (b.size() != 16) return std::nullopt;
    auto u = [&](size_t i) { return static_cast<unsigned>(b[i]); };
    char text[37];
    std::snprintf(text, sizeof text, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u(3), u(2),
                  u(1), u(0), u(5), u(4), u(7), u(6), u(8), u(9), u(10), u(11), u(12), u(13), u(14), u(15));
    return std::string(text);
}

std::string sid_domain_part(std::string_view sid) {
    auto dash = sid.rfind('-');
    return dash == std::string_view::npos ? std::string(sid) : std::string(sid.substr(0, dash));
}

} // namespace keyholder::directory
