// Text rules (see text.h).
#include "keyholder/text/text.h"

#include <cstdint>
#include <cstdio>

namespace keyholder::text {
namespace {

// decode: the code point at `i` and its length in bytes, or nullopt (invalid).
std::optional<std::pair<uint32_t, size_t>> decode(std::string_view text, size_t i) {
    const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char c = byte(i);
    if (c < 0x80) return std::pair<uint32_t, size_t>{c, 1};
    size_t extra = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
        extra = 1;
        cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        extra = 2;
        cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        extra = 3;
        cp = c & 0x07;
    } else {
        return std::nullopt;
    }
    if (i + extra >= text.size()) return std::nullopt; // cut short
    for (size_t k = 1; k <= extra; ++k) {
        if ((byte(i + k) & 0xC0) != 0x80) return std::nullopt;
        cp = (cp << 6) | (byte(i + k) & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
    return std::pair<uint32_t, size_t>{cp, extra + 1};
}

bool is_control(uint32_t cp) { return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F); }
bool is_separator(uint32_t cp) { return cp == 0x0A || cp == 0x0D || cp == 0x85 || cp == 0x2028 || cp == 0x2029; }

} // namespace

bool valid_utf8(std::string_view text) {
    for (size_t i = 0; i < text.size();) {
        auto cp = decode(text, i);
        if (!cp) return false;
        i += cp->second;
    }
    return true;
}

size_t characters(std::string_view utf8) {
    size_t n = 0;
    for (unsigned char c : utf8)
        if ((c & 0xC0) != 0x80) ++n;
    return n;
}

const char* code(Problem problem) {
    switch (problem) {
    case Problem::invalid_utf8: return "invalid_utf8";
    case Problem::control_characters: return "control_characters";
    case Problem::line_break: return "line_break";
    case Problem::too_long: return "too_long";
    }
    return "invalid_text";
}

Checked check(std::string_view value, Lines lines, size_t max_characters) {
    std::string kept;
    kept.reserve(value.size());
    size_t count = 0;
    for (size_t i = 0; i < value.size();) {
        auto decoded = decode(value, i);
        if (!decoded) return {std::nullopt, Problem::invalid_utf8};
        const auto [cp, length] = *decoded;
        if (lines == Lines::multi && cp == '\r' && i + 1 < value.size() && value[i + 1] == '\n') {
            i += 1; // CRLF: kept as LF
            continue;
        }
        if (lines == Lines::multi && cp == '\n') {
            kept += '\n';
        } else if (lines == Lines::single && is_separator(cp)) {
            return {std::nullopt, Problem::line_break};
        } else if (is_control(cp) || is_separator(cp)) {
            return {std::nullopt, Problem::control_characters};
        } else {
            kept.append(value.substr(i, length));
        }
        if (++count > max_characters) return {std::nullopt, Problem::too_long};
        i += length;
    }
    return {std::move(kept), std::nullopt};
}

std::string printable(std::string_view text, size_t max_bytes) {
    std::string out;
    out.reserve(std::min(text.size(), max_bytes) + 8);
    for (size_t i = 0; i < text.size();) {
        if (out.size() >= max_bytes) {
            out += "...";
            break;
        }
        auto decoded = decode(text, i);
        char escape[16];
        if (!decoded) {
            std::snprintf(escape, sizeof escape, "\\x%02X", static_cast<unsigned char>(text[i]));
            out += escape;
            ++i;
            continue;
        }
        const auto [cp, length] = *decoded;
        if (cp == '\\') {
            out += "\\\\";
        } else if (cp == '\n') {
            out += "\\n";
        } else if (cp == '\r') {
            out += "\\r";
        } else if (cp == '\t') {
            out += "\\t";
        } else if (cp == 0) {
            out += "\\0";
        } else if (cp < 0x20 || cp == 0x7F) {
            std::snprintf(escape, sizeof escape, "\\x%02X", cp);
            out += escape;
        } else if ((cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029) {
            std::snprintf(escape, sizeof escape, "\\u%04X", cp);
            out += escape;
        } else {
            out.append(text.substr(i, length));
        }
        i += length;
    }
    return out;
}

} // namespace keyholder::text
