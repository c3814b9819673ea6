// Text from outside: one set of rules for every field a person or program sends.
//
//   single line (names, entry, ticket, ...): valid UTF-8, no control characters
//     (C0, DEL, C1) and no line or paragraph separators (U+0085, U+2028, U+2029);
//   multi line (reason, comment): the same, but LF is kept (CRLF is made LF first);
//   lengths are counted in characters (code points), as JSON Schema's maxLength is.
//
// printable() shows any text in one log line: control and separator characters
// become visible escapes (\n, \r, \t, \0, \xNN, \u2028), invalid UTF-8 bytes \xNN.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace keyholder::text {

/// valid_utf8: strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF).
bool valid_utf8(std::string_view text);
/// characters: the number of code points of valid UTF-8 text.
size_t characters(std::string_view utf8);

enum class Lines { single, multi };

/// Field limits, in characters, for every entry point (openapi.json's maxLength).
inline constexpr size_t kMaxTextCharacters = 2000;   ///< reason, comment (multi-line)
inline constexpr size_t kMaxNameCharacters = 64;     ///< entry names
inline constexpr size_t kMaxTicketCharacters = 200;  ///< ticket references
inline constexpr size_t kMaxSecretCharacters = 1024; ///< a stored secret

/// Problem: what is wrong with a field's text.
enum class Problem {
    invalid_utf8,
    control_characters, ///< a control character (or, multi-line, a CR that is not part of CRLF)
    line_break,         ///< LF, CR, U+0085, U+2028 or U+2029 in a single-line field
    too_long,
};
/// code: the stable API error code of a problem ("invalid_utf8", "control_characters", ...).
const char* code(Problem problem);

/// check: the text as it is kept (multi-line: CRLF made LF), or what is wrong with it.
struct Checked {
    std::optional<std::string> text;
    std::optional<Problem> problem;
};
Checked check(std::string_view value, Lines lines, size_t max_characters);

/// printable: `text` as one visible log line (see above), at most `max_bytes` of it
/// (longer text ends in "...").
std::string printable(std::string_view text, size_t max_bytes = 512);

} // namespace keyholder::text
