// RFC 4515 / RFC 4514 escaping (see escape.h).
#include "keyholder/directory/escape.h"

#include <cstdio>

namespace keyholder::directory {
namespace {

void append_hex(std::string& out, unsigned char c) {
    static constexpr char kHex[] = "0123456789abcdef";
    out += '\\';
    out += kHex[c >> 4];
    out += kHex[c & 0x0f];
}

} // namespace

std::string escape_filter_value(std::string_view value) {
    std::string out;
    out.reserve(value.size() + 8);
    for (char ch : value) {
        auto c = static_cast<unsigned char>(ch);
        if (c == '*' || c == '(' || c == ')' || c == '\\' || c == 0)
            append_hex(out, c);
        else
            out += ch;
    }
    return out;
}

std::string escape_filter_bytes(std::span<const std::byte> value) {
    std::string out;
    out.reserve(value.size() * 3);
    for (std::byte b : value)
        append_hex(out, static_cast<unsigned char>(b));
    return out;
}

std::string escape_dn_value(std::string_view value) {
    std::string out;
    out.reserve(value.size() + 8);
    for (size_t i = 0; i < value.size(); ++i) {
        char ch = value[i];
        auto c = static_cast<unsigned char>(ch);
        bool leading = i == 0 && (ch == ' ' || ch == '#');
        bool trailing = i + 1 == value.size() && ch == ' ';
        if (c == 0) {
            out += "\\00";
        } else if (leading || trailing || ch == '"' || ch == '+' || ch == ',' || ch == ';' || ch == '<' || ch == '>' ||
                   ch == '\\' || ch == '=') {
            out += '\\';
            out += ch;
        } else {
            out += ch;
        }
    }
    return out;
}

} // namespace keyholder::directory
