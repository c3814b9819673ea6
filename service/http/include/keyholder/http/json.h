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

namespace keyholder::http {

/// valid_utf8: strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF).
bool valid_utf8(std::string_view text);

class JsonBody {
public:
    /// parse: an empty body is an empty object. Throws HttpError 400 (invalid_utf8,
    /// bad_json, not_an_object, unknown_field).
    JsonBody(const std::string& body, std::initializer_list<std::string_view> allowed_fields);

    /// text: a string field; 400 wrong_type / missing_field / too_long / control characters.
    std::optional<std::string> text(const std::string& field, bool required = false, size_t max_bytes = 2000) const;
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
