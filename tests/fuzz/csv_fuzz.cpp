// CSV cells: valid UTF-8, quoted exactly when needed, never a formula, and the
// writer's fast path writes what csv_cell writes. A row of cells reads back (RFC 4180)
// to the cells as neutralised.
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "keyholder/reports/csv.h"
#include "keyholder/text/text.h"

using keyholder::reports::csv_cell;
using keyholder::reports::CsvWriter;

namespace {

// read_cell: the value of one written cell (RFC 4180), checking its quoting.
std::string read_cell(const std::string& written) {
    if (written.empty() || written.front() != '"') {
        FUZZ_CHECK(written.find_first_of(",\"\r\n") == std::string::npos);
        return written;
    }
    FUZZ_CHECK(written.size() >= 2 && written.back() == '"');
    std::string value;
    for (size_t i = 1; i + 1 < written.size(); ++i) {
        if (written[i] == '"') {
            FUZZ_CHECK(i + 2 < written.size() && written[i + 1] == '"');
            ++i;
        }
        value += written[i];
    }
    return value;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input = keyholder::fuzz::as_text(data, size);
    const std::string cell = csv_cell(input);
    FUZZ_CHECK(keyholder::text::valid_utf8(cell));
    const std::string value = read_cell(cell);
    FUZZ_CHECK(value.empty() || std::string_view("=+-@\t\r").find(value.front()) == std::string_view::npos);
    if (keyholder::text::valid_utf8(input)) // valid text is kept, behind at most one apostrophe
        FUZZ_CHECK(value == input || (value.front() == '\'' && value.substr(1) == input));

    std::ostringstream one;
    CsvWriter(one).row(std::vector<std::string>{std::string(input)});
    FUZZ_CHECK(one.str() == cell + "\r\n");

    // Several cells: the input split at each 0xFF byte.
    std::vector<std::string> cells(1);
    for (char c : input) {
        if (static_cast<unsigned char>(c) == 0xFF)
            cells.emplace_back();
        else
            cells.back() += c;
    }
    std::ostringstream row;
    CsvWriter(row).row(cells);
    std::string expected;
    for (size_t i = 0; i < cells.size(); ++i)
        expected += (i ? "," : "") + csv_cell(cells[i]);
    FUZZ_CHECK(row.str() == expected + "\r\n");
    return 0;
}
