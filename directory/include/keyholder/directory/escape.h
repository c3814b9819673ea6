// Escaping values before they go into LDAP filters and distinguished names. Never
// build a filter or a DN from outside input without these.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace keyholder::directory {

/// escape_filter_value: RFC 4515 — '*', '(', ')', '\' and NUL become \2a \28 \29 \5c
/// \00, so the value can only ever match itself.
std::string escape_filter_value(std::string_view value);

/// escape_filter_bytes: every byte as \xx (binary values such as objectSid).
std::string escape_filter_bytes(std::span<const std::byte> value);

/// escape_dn_value: RFC 4514 — an attribute value made safe for a DN's RDN.
std::string escape_dn_value(std::string_view value);

} // namespace keyholder::directory
