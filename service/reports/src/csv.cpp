#include "keyholder/reports/csv.h"

namespace keyholder::reports {
namespace {

// valid_utf8_copy: text with every invalid UTF-8 sequence replaced by U+FFFD.
std::string valid_utf8_copy(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        const size_t length = c < 0x80             ? 1
                              : (c & 0xE0) == 0xC0 ? 2
                              : (c & 0xF0) == 0xE0 ? 3
                              : (c & 0xF8) == 0xF0 ? 4
                                                   : 0;
        bool ok = length > 0 && i + length <= text.size();
        uint32_t cp = length == 1 ? c : length == 2 ? (c & 0x1Fu) : length == 3 ? (c & 0x0Fu) : (c & 0x07u);
        for (size_t k = 1; ok && k < length; ++k) {
            const auto next = static_cast<unsigned char>(text[i + k]);
            ok = (next & 0xC0) == 0x80;
            cp = (cp << 6) | (next & 0x3Fu);
        }
        static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
        if (ok && length > 1 && (cp < kMin[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) ok = false;
        if (!ok) {
            out += "\xEF\xBF\xBD"; // U+FFFD
            ++i;
            continue;
        }
        out.append(text.substr(i, length));
        i += length;
    }
    return out;
}

} // namespace

std::string csv_cell(std::string_view raw) {
    std::string text = valid_utf8_copy(raw);
    if (!text.empty() &&
        (text[0] == '=' || text[0] == '+' || text[0] == '-' || text[0] == '@' || text[0] == '\t' || text[0] == '\r'))
        text.insert(0, 1, '\'');
    if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
    std::string quoted = "\"";
    for (char c : text) {
        if (c == '"') quoted += '"';
        quoted += c;
    }
    quoted += '"';
    return quoted;
}

CsvWriter::CsvWriter(std::ostream& out, bool bom) : out_(out) {
    if (bom) out_ << "\xEF\xBB\xBF";
}

void CsvWriter::cell(std::string_view text) {
    // Fast path (most cells): plain ASCII that needs neither quoting nor neutralising.
    bool plain = text.empty() || (text[0] != '=' && text[0] != '+' && text[0] != '-' && text[0] != '@' &&
                                  text[0] != '\t' && text[0] != '\r');
    for (size_t i = 0; plain && i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        plain = c < 0x80 && c != ',' && c != '"' && c != '\r' && c != '\n';
    }
    if (plain)
        out_.write(text.data(), static_cast<std::streamsize>(text.size()));
    else
        out_ << csv_cell(text);
}

void CsvWriter::row(const std::vector<std::optional<std::string_view>>& cells) {
    for (size_t i = 0; i < cells.size(); ++i) {
        if (i > 0) out_.put(',');
        if (cells[i]) cell(*cells[i]);
    }
    out_.write("\r\n", 2);
}

void CsvWriter::row(const std::vector<std::optional<std::string>>& cells) {
    for (size_t i = 0; i < cells.size(); ++i) {
        if (i > 0) out_ << ',';
        if (cells[i]) cell(*cells[i]);
    }
    out_ << "\r\n";
}

void CsvWriter::row(const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size(); ++i) {
        if (i > 0) out_ << ',';
        cell(cells[i]);
    }
    out_ << "\r\n";
}

} // namespace keyholder::reports
