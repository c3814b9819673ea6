// SQLite's parameter forms (?, ?N, :name, @name, $name) turned into PostgreSQL's
// $N, so that one SQL text serves both engines. String literals, quoted names and
// comments are left alone; a PostgreSQL cast (::) is not a parameter.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace keyholder::store::detail {

struct TranslatedSql {
    std::string text;                 ///< with $1, $2, ...
    int parameters = 0;               ///< the highest parameter number
    std::map<std::string, int> names; ///< ":from" -> 1 (as SQLite numbers named parameters)
};

/// translate_placeholders: numbers parameters the way SQLite does: ? takes the
/// next number after the highest so far, ?N is N, a name keeps the number it got
/// first. Throws std::invalid_argument on ?0 or a number over 32766.
TranslatedSql translate_placeholders(std::string_view sql);

} // namespace keyholder::store::detail
