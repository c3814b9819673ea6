// Durations in configuration and on the command line: one or more <number><unit>
// groups with units s, m, h, d — "90s", "15m", "4h", "7d", "1h30m".
#pragma once

#include <chrono>
#include <expected>
#include <string>
#include <string_view>

namespace keyholder::config {

/// parse_duration: the duration, or a message that says what is wrong with the text.
std::expected<std::chrono::seconds, std::string> parse_duration(std::string_view text);

/// format_duration: the shortest text parse_duration reads back ("2h", "1h30m", "45s").
std::string format_duration(std::chrono::seconds duration);

} // namespace keyholder::config
