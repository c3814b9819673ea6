// Encodings used across keyholder, one implementation each.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace keyholder::util {

/// hex: lower-case hex digits of the bytes.
std::string hex(std::string_view bytes);

/// base64: RFC 4648 base64 with padding, no line breaks.
std::string base64(std::string_view bytes);
/// unbase64: the bytes of strict base64 (padded, no whitespace, at most 64 KiB of
/// text); nullopt for anything else.
std::optional<std::string> unbase64(std::string_view text);

/// base64url: RFC 4648 section 5, without padding (tokens in URLs).
std::string base64url(std::string_view bytes);
/// unbase64url: the bytes of canonical base64url: unused low bits must be zero, so
/// one byte string has exactly one text (no malleable tokens).
std::optional<std::string> unbase64url(std::string_view text);

} // namespace keyholder::util
