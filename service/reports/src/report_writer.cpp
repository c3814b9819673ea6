#include "keyholder/reports/report_writer.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <ctime>
#include <sstream>

#include "keyholder/reports/csv.h"

namespace keyholder::reports {
namespace {

std::optional<int64_t> as_int(const std::string& text) {
    int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

// "alice|approve|1800000000|1\ncarol|deny|..." -> "alice approve 2027-...Z (stage 1); carol deny ..."
std::string decisions_text(const std::string& lines, bool local_time) {
    std::string out;
    std::istringstream in(lines);
    std::string line;
    while (std::getline(in, line)) {
        std::vector<std::string> parts;
        size_t start = 0;
        for (size_t bar = line.find('|'); parts.size() < 3 && bar != std::string::npos; bar = line.find('|', start)) {
            parts.push_back(line.substr(start, bar - start));
            start = bar + 1;
        }
        parts.push_back(line.substr(start));
        if (parts.size() != 4) continue;
        const auto at = as_int(parts[2]);
        if (!out.empty()) out += "; ";
        out += parts[0] + " " + parts[1] + " " + (at ? format_time(*at, local_time) : parts[2]) + " (stage " +
               parts[3] + ")";
    }
    return out;
}

} // namespace

bool is_report(const std::string& name) {
    const auto& names = store::report_names();
    return std::find(names.begin(), names.end(), name) != names.end();
}

std::string format_time(int64_t utc_seconds, bool local_time) {
    const std::time_t t = static_cast<std::time_t>(utc_seconds);
    std::tm parts{};
    char text[40];
    if (!local_time) {
        gmtime_r(&t, &parts);
        std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
        return text;
    }
    localtime_r(&t, &parts);
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &parts);
    const int offset = static_cast<int>(parts.tm_gmtoff);
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
    std::vector<std::optional<std::string>> cells(columns.size());
    return store::stream_report(db, report, filter, [&](const store::ReportRow& row) {
        for (size_t i = 0; i < columns.size(); ++i) {
            cells[i] = row[i];
            if (!row[i]) continue;
            if (columns[i].kind == store::ColumnKind::time) {
                if (auto t = as_int(*row[i])) cells[i] = format_time(*t, options.local_time);
            } else if (columns[i].kind == store::ColumnKind::decisions) {
                cells[i] = decisions_text(*row[i], options.local_time);
            }
        }
        csv.row(cells);
    });
}

} // namespace keyholder::reports
