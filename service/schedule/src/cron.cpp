// Cron expression parsing (see cron.h).
#include "keyholder/schedule/cron.h"

#include <array>
#include <cctype>
#include <charconv>
#include <vector>

namespace keyholder::schedule {
namespace {

struct FieldSpec {
    const char* name;
    int min;
    int max;
    const char* const* names; // 3-letter names for min..max, or nullptr
};

constexpr std::array<const char*, 12> kMonthNames{"jan", "feb", "mar", "apr", "may", "jun",
                                                  "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<const char*, 8> kDayNames{"sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun"};

std::expected<int, std::string> parse_value(std::string_view token, const FieldSpec& spec) {
    if (spec.names != nullptr && token.size() == 3 && std::isalpha(static_cast<unsigned char>(token[0]))) {
        std::string lower;
        for (char c : token)
            lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        for (int v = spec.min; v <= spec.max; ++v)
            if (lower == spec.names[v - spec.min]) return v;
    }
    int value = 0;
    auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
    if (ec != std::errc() || end != token.data() + token.size())
        return std::unexpected("'" + std::string(token) + "' is not a number or name in the " + spec.name + " field");
    if (value < spec.min || value > spec.max)
        return std::unexpected(std::string(spec.name) + " value " + std::to_string(value) + " is outside " +
                               std::to_string(spec.min) + "-" + std::to_string(spec.max));
    return value;
}

// Sets the allowed values of one field; returns whether the field starts with '*'
// (Vixie cron's DOM_STAR/DOW_STAR, "*/2" included: what decides AND or OR of the day fields).
std::expected<bool, std::string> parse_field(std::string_view field, const FieldSpec& spec, std::vector<bool>& out) {
    out.assign(static_cast<size_t>(spec.max) + 1, false);
    const bool star = field.starts_with('*');
    size_t start = 0;
    while (start <= field.size()) {
        size_t comma = field.find(',', start);
        std::string_view item = field.substr(start, comma == std::string_view::npos ? field.npos : comma - start);
        if (item.empty()) return std::unexpected(std::string("empty list item in the ") + spec.name + " field");
        int step = 1;
        if (size_t slash = item.find('/'); slash != std::string_view::npos) {
            std::string_view step_text = item.substr(slash + 1);
            auto [end, ec] = std::from_chars(step_text.data(), step_text.data() + step_text.size(), step);
            if (ec != std::errc() || end != step_text.data() + step_text.size() || step < 1 || step > spec.max)
                return std::unexpected("bad step '" + std::string(step_text) + "' in the " + spec.name + " field");
            item = item.substr(0, slash);
        }
        int low = spec.min;
        int high = spec.max;
        if (item == "*") {
            // every value (with its step)
        } else if (size_t dash = item.find('-'); dash != std::string_view::npos) {
            auto a = parse_value(item.substr(0, dash), spec);
            if (!a) return std::unexpected(a.error());
            auto b = parse_value(item.substr(dash + 1), spec);
            if (!b) return std::unexpected(b.error());
            if (*a > *b)
                return std::unexpected("range " + std::string(item) + " runs backwards in the " + spec.name + " field");
            low = *a;
            high = *b;
        } else {
            auto a = parse_value(item, spec);
            if (!a) return std::unexpected(a.error());
            low = *a;
            high = step > 1 ? spec.max : *a; // "5/15" means from 5 to the end, every 15
        }
        for (int v = low; v <= high; v += step)
            out[static_cast<size_t>(v)] = true;
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return star;
}

} // namespace

std::expected<CronExpression, std::string> CronExpression::parse(std::string_view text) {
    std::string expanded(text);
    if (text == "@hourly")
        expanded = "0 * * * *";
    else if (text == "@daily" || text == "@midnight")
        expanded = "0 0 * * *";
    else if (text == "@weekly")
        expanded = "0 0 * * 0";
    else if (text == "@monthly")
        expanded = "0 0 1 * *";
    else if (text == "@yearly" || text == "@annually")
        expanded = "0 0 1 1 *";
    else if (!text.empty() && text[0] == '@')
        return std::unexpected("unknown cron shortcut '" + std::string(text) + "'");

    std::vector<std::string_view> fields;
    std::string_view rest = expanded;
    while (!rest.empty()) {
        size_t skip = rest.find_first_not_of(" \t");
        if (skip == std::string_view::npos) break;
        rest.remove_prefix(skip);
        size_t end = rest.find_first_of(" \t");
        fields.push_back(rest.substr(0, end));
        rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
    }
    if (fields.size() != 5)
        return std::unexpected("a cron expression has 5 fields (minute hour day-of-month month day-of-week), '" +
                               std::string(text) + "' has " + std::to_string(fields.size()));

    const std::array<FieldSpec, 5> specs{FieldSpec{"minute", 0, 59, nullptr}, FieldSpec{"hour", 0, 23, nullptr},
                                         FieldSpec{"day-of-month", 1, 31, nullptr},
                                         FieldSpec{"month", 1, 12, kMonthNames.data()},
                                         FieldSpec{"day-of-week", 0, 7, kDayNames.data()}};
    CronExpression cron;
    cron.text_ = std::string(text);
    std::vector<bool> allowed;
    for (size_t f = 0; f < 5; ++f) {
        auto star = parse_field(fields[f], specs[f], allowed);
        if (!star) return std::unexpected(star.error());
        for (int v = specs[f].min; v <= specs[f].max; ++v) {
            if (!allowed[static_cast<size_t>(v)]) continue;
            switch (f) {
            case 0: cron.minutes_.set(static_cast<size_t>(v)); break;
            case 1: cron.hours_.set(static_cast<size_t>(v)); break;
            case 2: cron.days_.set(static_cast<size_t>(v)); break;
            case 3: cron.months_.set(static_cast<size_t>(v)); break;
            default: cron.weekdays_.set(static_cast<size_t>(v % 7)); break;
            }
        }
        if (f == 2) cron.days_restricted_ = !*star;
        if (f == 4) cron.weekdays_restricted_ = !*star;
    }
    return cron;
}

bool CronExpression::day_matches(int day_of_month, int weekday) const {
    bool dom = days_.test(static_cast<size_t>(day_of_month));
    bool dow = weekdays_.test(static_cast<size_t>(weekday));
    // Debian's cron: OR only when neither day field starts with '*', else AND.
    if (days_restricted_ && weekdays_restricted_) return dom || dow;
    return dom && dow;
}

} // namespace keyholder::schedule
