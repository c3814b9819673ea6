// CSV done right: RFC 4180 (fields with a comma, quote, CR or LF quoted, quotes
// doubled, CRLF line ends), UTF-8 (invalid sequences in stored data replaced by
// U+FFFD, optional BOM for Excel), and cells that a spreadsheet would run as a formula
// — starting with =, +, -, @, tab or CR — neutralised with a leading apostrophe
// (OWASP "CSV injection"). Writes straight to the stream: constant memory.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace keyholder::reports {

class CsvWriter {
public:
    explicit CsvWriter(std::ostream& out, bool bom = false);
    void row(const std::vector<std::optional<std::string>>& cells);
    void row(const std::vector<std::string>& cells);
    void row(const std::vector<std::optional<std::string_view>>& cells);

private:
    void cell(std::string_view text);
    std::ostream& out_;
};

/// csv_cell: one cell as written (neutralised, valid UTF-8, quoted when needed).
std::string csv_cell(std::string_view text);

} // namespace keyholder::reports
