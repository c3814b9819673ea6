// SQLite parameter forms to PostgreSQL's (see placeholders.h).
#include "postgresql/placeholders.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace keyholder::store::detail {
namespace {

bool name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

// skip_quoted: the index just past the literal or quoted name that starts at i
// (a doubled quote stands for itself).
size_t skip_quoted(std::string_view sql, size_t i) {
    const char quote = sql[i];
    for (size_t j = i + 1; j < sql.size(); ++j) {
        if (sql[j] != quote) continue;
        if (j + 1 < sql.size() && sql[j + 1] == quote) {
            ++j;
            continue;
        }
        return j + 1;
    }
    return sql.size();
}

} // namespace

TranslatedSql translate_placeholders(std::string_view sql) {
    TranslatedSql out;
    out.text.reserve(sql.size() + 16);
    size_t i = 0;
    while (i < sql.size()) {
        const char c = sql[i];
        if (c == '\'' || c == '"') {
            const size_t end = skip_quoted(sql, i);
            out.text.append(sql.substr(i, end - i));
            i = end;
        } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
            const size_t end = std::min(sql.find('\n', i), sql.size());
            out.text.append(sql.substr(i, end - i));
            i = end;
        } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
            const size_t close = sql.find("*/", i + 2);
            const size_t end = close == std::string_view::npos ? sql.size() : close + 2;
            out.text.append(sql.substr(i, end - i));
            i = end;
        } else if (c == ':' && i + 1 < sql.size() && sql[i + 1] == ':') {
            out.text.append("::"); // a cast
            i += 2;
        } else if (c == '?') {
            size_t j = i + 1;
            while (j < sql.size() && std::isdigit(static_cast<unsigned char>(sql[j])) != 0)
                ++j;
            int number = 0;
            if (j == i + 1) {
                number = out.parameters + 1;
            } else {
                const std::string digits(sql.substr(i + 1, j - i - 1));
                if (digits.size() > 5) throw std::invalid_argument("parameter number too large in SQL");
                number = std::stoi(digits);
                if (number < 1 || number > 32766) throw std::invalid_argument("parameter ?" + digits + " out of range");
            }
            out.parameters = std::max(out.parameters, number);
            out.text += '$' + std::to_string(number);
            i = j;
        } else if ((c == ':' || c == '@' || c == '$') && i + 1 < sql.size() && name_char(sql[i + 1]) &&
                   !(c == '$' && std::isdigit(static_cast<unsigned char>(sql[i + 1])) != 0)) {
            size_t j = i + 1;
            while (j < sql.size() && name_char(sql[j]))
                ++j;
            const std::string name(sql.substr(i, j - i));
            auto [found, added] = out.names.try_emplace(name, out.parameters + 1);
            if (added) out.parameters = found->second;
            out.text += '$' + std::to_string(found->second);
            i = j;
        } else {
            out.text += c;
            ++i;
        }
    }
    return out;
}

} // namespace keyholder::store::detail
