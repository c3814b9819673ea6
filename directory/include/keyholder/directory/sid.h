// Security identifiers and GUIDs: the binary forms AD stores and the text forms
// keyholder uses to identify principals (never DN strings, which change on rename).
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace keyholder::directory {

/// sid_to_string: binary objectSid -> "S-1-5-21-...", or nullopt when malformed.
std::optional<std::string> sid_to_string(std::span<const std::byte> binary);

/// sid_from_string: "S-1-5-21-..." -> binary objectSid, or nullopt when malformed.
std::optional<std::vector<std::byte>> sid_from_string(std::string_view text);

/// guid_to_string: binary objectGUID (16 bytes, mixed-endian) -> "xxxxxxxx-xxxx-...".
std::optional<std::string> guid_to_string(std::span<const std::byte> binary);

/// sid_domain_part: "S-1-5-21-A-B-C-RID" -> "S-1-5-21-A-B-C" (for primary groups).
std::string sid_domain_part(std::string_view sid);

} // namespace keyholder::directory
