// Duration parsing and formatting (see duration.h).
#include "keyholder/config/duration.h"

#include <cstdint>
#include <limits>

namespace keyholder::config {

std::expected<std::chrono::seconds, std::string> parse_duration(std::string_view text) {
    const std::string quoted = "'" + std::string(text) + "'";
    const std::string hint = ": expected a number followed by s, m, h or d, e.g. 90s, 15m, 4h, 7d";
    if (text.empty()) return std::unexpected("empty duration" + hint);
    int64_t total = 0;
    size_t i = 0;
    int64_t last_unit = 0; // units come largest first, each once: "1h1h" or "30m1h" is a typo, not 2h
    while (i < text.size()) {
        if (text[i] < '0' || text[i] > '9') return std::unexpected("bad duration " + quoted + hint);
        int64_t number = 0;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
            if (number > (std::numeric_limits<int32_t>::max() - 9) / 10)
                return std::unexpected("duration " + quoted + " is too large");
            number = number * 10 + (text[i] - '0');
            ++i;
        }
        if (i == text.size()) return std::unexpected("bad duration " + quoted + " (missing unit)" + hint);
        int64_t unit = 0;
        switch (text[i]) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        default: return std::unexpected("bad duration " + quoted + " (unknown unit '" + text[i] + "')" + hint);
        }
        if (last_unit != 0 && unit >= last_unit)
            return std::unexpected("bad duration " + quoted + " (each unit once, largest first: 1d2h30m)" + hint);
        last_unit = unit;
        ++i;
        total += number * unit;
        if (total > int64_t{3650} * 86400) return std::unexpected("duration " + quoted + " is longer than 10 years");
    }
    return std::chrono::seconds(total);
}

std::string format_duration(std::chrono::seconds duration) {
    int64_t s = duration.count();
    if (s == 0) return "0s";
    std::string out;
    if (s < 0) {
        out = "-";
        s = -s;
    }
    for (auto [unit, suffix] : {std::pair{int64_t{86400}, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}}) {
        if (s >= unit) {
            out += std::to_string(s / unit) + suffix;
            s %= unit;
        }
    }
    return out;
}

} // namespace keyholder::config
