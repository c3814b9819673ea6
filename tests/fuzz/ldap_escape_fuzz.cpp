// LDAP escaping: whatever the value, the escaped text cannot change the filter's or
// the DN's structure, and reads back to the value.
#include <cctype>
#include <cstdint>
#include <span>
#include <string>

#include "fuzz_check.h"
#include "keyholder/directory/escape.h"

using namespace keyholder::directory;

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// unescape_filter: RFC 4515 assertion value -> bytes; refuses a special character
// that is not escaped.
std::string unescape_filter(std::string_view escaped) {
    std::string out;
    for (size_t i = 0; i < escaped.size(); ++i) {
        const char c = escaped[i];
        FUZZ_CHECK(c != '*' && c != '(' && c != ')' && c != '\0');
        if (c != '\\') {
            out += c;
            continue;
        }
        FUZZ_CHECK(i + 2 < escaped.size());
        const int high = hex_value(escaped[i + 1]);
        const int low = hex_value(escaped[i + 2]);
        FUZZ_CHECK(high >= 0 && low >= 0);
        out += static_cast<char>(high * 16 + low);
        i += 2;
    }
    return out;
}

// unescape_dn: RFC 4514 attribute value -> bytes; refuses what would end the RDN or
// start a new one.
std::string unescape_dn(std::string_view escaped) {
    std::string out;
    bool last_escaped = false;
    for (size_t i = 0; i < escaped.size(); ++i) {
        const char c = escaped[i];
        if (c == '\\') {
            FUZZ_CHECK(i + 1 < escaped.size());
            const int high = hex_value(escaped[i + 1]);
            if (high >= 0 && i + 2 < escaped.size() && hex_value(escaped[i + 2]) >= 0) {
                out += static_cast<char>(high * 16 + hex_value(escaped[i + 2]));
                i += 2;
            } else {
                FUZZ_CHECK(std::string_view(" \"#+,;<=>\\").find(escaped[i + 1]) != std::string_view::npos);
                out += escaped[i + 1];
                i += 1;
            }
            last_escaped = true;
            continue;
        }
        FUZZ_CHECK(std::string_view("\",+;<>=").find(c) == std::string_view::npos && c != '\0');
        FUZZ_CHECK(!(i == 0 && (c == ' ' || c == '#')));
        out += c;
        last_escaped = false;
    }
    FUZZ_CHECK(escaped.empty() || escaped.back() != ' ' || last_escaped);
    return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view value = keyholder::fuzz::as_text(data, size);
    FUZZ_CHECK(unescape_filter(escape_filter_value(value)) == value);
    const std::string bytes = escape_filter_bytes(std::as_bytes(std::span(data, size)));
    FUZZ_CHECK(bytes.size() == 3 * size);
    FUZZ_CHECK(unescape_filter(bytes) == value);
    FUZZ_CHECK(unescape_dn(escape_dn_value(value)) == value);
    return 0;
}
