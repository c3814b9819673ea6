#include "keyholder/http/json.h"

#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/DateTimeParser.h>
#include <Poco/JSON/JSONException.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Timestamp.h>

#include <set>

#include "keyholder/config/duration.h"
#include "keyholder/http/exchange.h"
#include "keyholder/json/writer.h"

namespace keyholder::http {

bool valid_utf8(std::string_view text) {
    size_t i = 0;
    const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
    while (i < text.size()) {
        const unsigned char c = byte(i);
        if (c < 0x80) {
            ++i;
            continue;
        }
        size_t extra = 0;
        uint32_t cp = 0;
        if ((c & 0xE0) == 0xC0) {
            extra = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            extra = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            extra = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + extra >= text.size()) return false;
        for (size_t k = 1; k <= extra; ++k) {
            if ((byte(i + k) & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (byte(i + k) & 0x3F);
        }
        static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
        if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += extra + 1;
    }
    return true;
}

JsonBody::JsonBody(const std::string& body, std::initializer_list<std::string_view> allowed_fields) {
    if (!valid_utf8(body)) throw HttpError(400, "invalid_utf8", "the body is not valid UTF-8");
    if (body.find_first_not_of(" \t\r\n") == std::string::npos) {
        object_ = new Poco::JSON::Object;
        return;
    }
    Poco::Dynamic::Var parsed;
    try {
        Poco::JSON::Parser parser;
        parsed = parser.parse(body);
    } catch (const Poco::Exception& e) {
        throw HttpError(400, "bad_json", "the body is not valid JSON: " + e.message());
    }
    if (parsed.type() != typeid(Poco::JSON::Object::Ptr))
        throw HttpError(400, "not_an_object", "the body must be a JSON object");
    object_ = parsed.extract<Poco::JSON::Object::Ptr>();
    const std::set<std::string_view> allowed(allowed_fields);
    for (const auto& [name, value] : *object_) {
        if (allowed.count(name) == 0) {
            std::string known;
            for (auto field : allowed_fields)
                known += (known.empty() ? "" : ", ") + std::string(field);
            throw HttpError(400, "unknown_field", "unknown field '" + name + "' (known: " + known + ")");
        }
    }
}

std::optional<std::string> JsonBody::text(const std::string& field, bool required, size_t max_bytes) const {
    if (!object_->has(field) || object_->isNull(field)) {
        if (required) throw HttpError(400, "missing_field", "'" + field + "' is required");
        return std::nullopt;
    }
    const auto value = object_->get(field);
    if (!value.isString()) throw HttpError(400, "wrong_type", "'" + field + "' must be a string");
    std::string out = value.extract<std::string>();
    if (out.size() > max_bytes)
        throw HttpError(400, "too_long", "'" + field + "' is over " + std::to_string(max_bytes) + " bytes");
    for (unsigned char c : out) {
        if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F)
            throw HttpError(400, "control_characters", "'" + field + "' contains control characters");
    }
    return out;
}

std::optional<int64_t> JsonBody::integer(const std::string& field, bool required) const {
    if (!object_->has(field) || object_->isNull(field)) {
        if (required) throw HttpError(400, "missing_field", "'" + field + "' is required");
        return std::nullopt;
    }
    const auto value = object_->get(field);
    if (!value.isInteger() || value.isBoolean())
        throw HttpError(400, "wrong_type", "'" + field + "' must be an integer");
    return value.convert<int64_t>();
}

std::optional<int64_t> JsonBody::duration(const std::string& field, bool required) const {
    if (!object_->has(field) || object_->isNull(field)) {
        if (required) throw HttpError(400, "missing_field", "'" + field + "' is required");
        return std::nullopt;
    }
    const auto value = object_->get(field);
    if (value.isInteger() && !value.isBoolean()) return value.convert<int64_t>();
    if (value.isString()) {
        auto parsed = config::parse_duration(value.extract<std::string>());
        if (!parsed) throw HttpError(400, "bad_duration", "'" + field + "': " + parsed.error());
        return parsed->count();
    }
    throw HttpError(400, "wrong_type", "'" + field + "' must be seconds or a text like \"2h\"");
}

std::optional<int64_t> JsonBody::timestamp(const std::string& field, bool required) const {
    auto value = text(field, required, 64);
    if (!value) return std::nullopt;
    auto parsed = parse_iso8601(*value);
    if (!parsed) throw HttpError(400, "bad_timestamp", "'" + field + "' must be ISO 8601, e.g. 2026-11-24T09:00:00Z");
    return parsed;
}

std::string to_json(const Poco::JSON::Object& object) { return json::text(object); }

std::string iso8601(int64_t utc_seconds) {
    return Poco::DateTimeFormatter::format(Poco::Timestamp::fromEpochTime(static_cast<std::time_t>(utc_seconds)),
                                           "%Y-%m-%dT%H:%M:%SZ");
}

std::optional<int64_t> parse_iso8601(const std::string& text) {
    // A time without a zone designator is ambiguous: require Z or an offset after the time.
    if (text.size() < 20 || (text.back() != 'Z' && text.find_first_of("+-", 19) == std::string::npos))
        return std::nullopt;
    int zone = 0;
    Poco::DateTime parsed;
    if (!Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::ISO8601_FORMAT, text, parsed, zone) &&
        !Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::ISO8601_FRAC_FORMAT, text, parsed, zone))
        return std::nullopt;
    return static_cast<int64_t>(parsed.timestamp().epochTime()) - zone;
}

} // namespace keyholder::http
