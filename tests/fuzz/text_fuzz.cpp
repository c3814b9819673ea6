// text::check and text::printable: what is kept is valid, bounded and free of
// control and separator characters; what is logged is one visible line.
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "keyholder/text/text.h"

using namespace keyholder;

namespace {

// has_forbidden: a control (C0, DEL, C1) or separator code point, LF excepted when allowed.
bool has_forbidden(std::string_view utf8, bool allow_lf) {
    for (size_t i = 0; i < utf8.size(); ++i) {
        const auto c = static_cast<unsigned char>(utf8[i]);
        if (c == '\n' && allow_lf) continue;
        if (c < 0x20 || c == 0x7F) return true;
        if (c == 0xC2 && i + 1 < utf8.size() && static_cast<unsigned char>(utf8[i + 1]) <= 0x9F) return true;
        if (c == 0xE2 && i + 2 < utf8.size() && static_cast<unsigned char>(utf8[i + 1]) == 0x80 &&
            (static_cast<unsigned char>(utf8[i + 2]) == 0xA8 || static_cast<unsigned char>(utf8[i + 2]) == 0xA9))
            return true;
    }
    return false;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    // The first byte picks the rule and the limit; the rest is the text.
    const text::Lines lines = (data[0] & 1) ? text::Lines::multi : text::Lines::single;
    const size_t limit = data[0] >> 1; // 0..127 characters
    const std::string_view value = keyholder::fuzz::as_text(data + 1, size - 1);

    const auto checked = text::check(value, lines, limit);
    FUZZ_CHECK(checked.text.has_value() != checked.problem.has_value());
    if (checked.text) {
        FUZZ_CHECK(text::valid_utf8(*checked.text));
        FUZZ_CHECK(text::characters(*checked.text) <= limit);
        FUZZ_CHECK(!has_forbidden(*checked.text, lines == text::Lines::multi));
        const auto again = text::check(*checked.text, lines, limit); // kept text is kept as it is
        FUZZ_CHECK(again.text && *again.text == *checked.text);
    }
    if (lines == text::Lines::single && text::valid_utf8(value) && !has_forbidden(value, false) &&
        text::characters(value) <= limit)
        FUZZ_CHECK(checked.text && *checked.text == value); // nothing valid is refused or changed

    const std::string shown = text::printable(value, limit);
    FUZZ_CHECK(text::valid_utf8(shown));
    FUZZ_CHECK(!has_forbidden(shown, false));
    FUZZ_CHECK(shown.size() <= limit + 9); // the last escape (6 bytes at most) and "..."
    return 0;
}
