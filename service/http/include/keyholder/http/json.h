// JSON in and out of the API with Poco JSON. JsonBody validates a request body
// strictly — valid UTF-8, one object, only known fields, the right types — and
// answers every violation with 400 and a code that names the field.
#pragma once

#include <Poco/JSON/Object.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "keyholder/text/text.h"

namespace keyholder::http {

class JsonBody {
public:
    /// parse: an empty body is an empty object. Throws HttpError 400 (invalid_utf8,
    /// bad_json, duplicate_field, not_an_object, unknown_field).
    JsonBody(const std::string& body, std::initializer_list<std::string_view> allowed_fields);

    /// text: a string field under the text rules (keyholder/text/text.h): single-line
    /// unless `lines` says multi; at most `max_characters`; 400 wrong_type /
    /// missing_field / too_long / line_break / control_characters / invalid_utf8. Null
    /// is refused for every field (leave a field out instead).
    std::optional<std::string> text(const std::string& field, bool required = false, size_t max_characters = 200,
                                    text::Lines lines = text::Lines::single) const;
    std::optional<int64_t> integer(const std::string& field, bool required = false) const;
    /// duration: seconds as a number, or a text like "2h", "90m", "1h30m".
    std::optional<int64_t> duration(const std::string& field, bool required = false) const;
    /// timestamp: ISO 8601 text ("2026-11-24T09:00:00Z", offsets allowed) -> UTC seconds.
    std::optional<int64_t> timestamp(const std::string& field, bool required = false) const;

private:
    Poco::JSON::Object::Ptr object_;
};

/// to_json: one compact JSON text.
std::string to_json(const Poco::JSON::Object& object);
/// iso8601: UTC seconds -> "2026-11-24T09:00:00Z".
std::string iso8601(int64_t utc_seconds);
/// parse_iso8601: "2026-11-24T09:00:00Z" (or with an offset) -> UTC seconds.
std::optional<int64_t> parse_iso8601(const std::string& text);

} // namespace keyholder::http
