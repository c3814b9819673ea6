// Five-field cron expressions (minute hour day-of-month month day-of-week), as in
// crontab(5): lists, ranges, steps, month and weekday names, 7 = Sunday, and the
// Vixie rule that when both day fields are restricted a day matching either counts.
// Also @hourly, @daily, @weekly, @monthly, @yearly.
//
// Example:
//   auto monday_six = CronExpression::parse("0 6 * * mon");   // every Monday 06:00
#pragma once

#include <bitset>
#include <expected>
#include <string>
#include <string_view>

namespace keyholder::schedule {

class CronExpression {
public:
    /// parse: the expression, or a message naming the field that is wrong.
    static std::expected<CronExpression, std::string> parse(std::string_view text);

    [[nodiscard]] bool minute(int m) const { return minutes_.test(m); }
    [[nodiscard]] bool hour(int h) const { return hours_.test(h); }
    [[nodiscard]] bool month(int m) const { return months_.test(m); }
    /// day_matches: the day rule for a calendar day (day of month 1-31, weekday 0 = Sunday).
    [[nodiscard]] bool day_matches(int day_of_month, int weekday) const;
    [[nodiscard]] const std::string& text() const { return text_; }

private:
    std::bitset<60> minutes_;
    std::bitset<24> hours_;
    std::bitset<32> days_;   // 1..31
    std::bitset<13> months_; // 1..12
    std::bitset<7> weekdays_;
    bool days_restricted_ = false; // the field does not start with '*' (Vixie cron)
    bool weekdays_restricted_ = false;
    std::string text_;
};

} // namespace keyholder::schedule
