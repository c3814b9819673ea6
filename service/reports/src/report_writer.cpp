#include "keyholder/reports/report_writer.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <ctime>
#include <sstream>

#include "keyholder/platform/time.h"
#include "keyholder/reports/csv.h"

namespace keyholder::reports {
namespace {

std::optional<int64_t> as_int(std::string_view text) {
    int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

// civil_utc: "YYYY-MM-DDTHH:MM:SSZ" by days-from-civil arithmetic (H. Hinnant):
// no gmtime_r/strftime per cell on million-row exports.
void civil_utc(int64_t t, char* out) {
    int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    int64_t secs = t - days * 86400;
    days += 719468;
    const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    const int64_t doe = days - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    const int64_t d = doy - (153 * mp + 2) / 5 + 1;
    const int64_t m = mp < 10 ? mp + 3 : mp - 9;
    const int64_t y = yoe + era * 400 + (m <= 2);
    std::snprintf(out, 24, "%04d-%02d-%02dT%02d:%02d:%02dZ", static_cast<int>(y), static_cast<int>(m),
                  static_cast<int>(d), static_cast<int>(secs / 3600), static_cast<int>(secs % 3600 / 60),
                  static_cast<int>(secs % 60));
}

// decisions_text: "alice|approve|1800000000|1\ncarol|deny|..." ->
// "alice approve 2027-...Z (stage 1); carol deny ..." into `out` (reused, no streams).
void decisions_text(std::string_view lines, bool local_time, std::string& out) {
    out.clear();
    while (!lines.empty()) {
        const size_t end = lines.find('\n');
        std::string_view line = lines.substr(0, end);
        lines = end == std::string_view::npos ? std::string_view() : lines.substr(end + 1);
        std::string_view parts[4];
        size_t n = 0;
        for (; n < 3; ++n) {
            const size_t bar = line.find('|');
            if (bar == std::string_view::npos) break;
            parts[n] = line.substr(0, bar);
            line = line.substr(bar + 1);
        }
        if (n != 3) continue;
        parts[3] = line;
        if (!out.empty()) out += "; ";
        out.append(parts[0]).append(" ").append(parts[1]).append(" ");
        if (auto at = as_int(parts[2])) {
            if (local_time) {
                out += format_time(*at, true);
            } else {
                char text[24];
                civil_utc(*at, text);
                out += text;
            }
        } else {
            out.append(parts[2]);
        }
        out.append(" (stage ").append(parts[3]).append(")");
    }
}

} // namespace

bool is_report(const std::string& name) {
    const auto& names = store::report_names();
    return std::find(names.begin(), names.end(), name) != names.end();
}

std::string format_time(int64_t utc_seconds, bool local_time) {
    if (!local_time) {
        char text[24];
        civil_utc(utc_seconds, text);
        return text;
    }
    const std::time_t t = static_cast<std::time_t>(utc_seconds);
    const std::tm parts = platform::local_time(t);
    char text[40];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &parts);
    const int offset = static_cast<int>(platform::utc_offset(t));
    char zone[24];
    std::snprintf(zone, sizeof zone, "%c%02d:%02d", offset < 0 ? '-' : '+', std::abs(offset) / 3600,
                  std::abs(offset) % 3600 / 60);
    return std::string(text) + zone;
}

int64_t write_report(store::Connection& db, const std::string& report, const store::ReportFilter& filter,
                     std::ostream& out, const CsvOptions& options) {
    const auto& columns = store::report_columns(report);
    CsvWriter csv(out, options.bom);
    std::vector<std::string> header;
    for (const auto& column : columns)
        header.push_back(column.name);
    csv.row(header);
    std::vector<std::optional<std::string_view>> cells(columns.size());
    std::vector<std::string> scratch(columns.size()); // formatted values, reused row after row
    return store::stream_report(db, report, filter, [&](const store::ReportRow& row) {
        for (size_t i = 0; i < columns.size(); ++i) {
            cells[i] = row[i];
            if (!row[i]) continue;
            if (columns[i].kind == store::ColumnKind::time) {
                if (auto t = as_int(*row[i])) {
                    if (options.local_time) {
                        scratch[i] = format_time(*t, true);
                    } else {
                        scratch[i].resize(24);
                        civil_utc(*t, scratch[i].data());
                        scratch[i].resize(20);
                    }
                    cells[i] = scratch[i];
                }
            } else if (columns[i].kind == store::ColumnKind::decisions) {
                decisions_text(*row[i], options.local_time, scratch[i]);
                cells[i] = scratch[i];
            }
        }
        csv.row(cells);
    });
}

} // namespace keyholder::reports
