#include "keyholder/http/json.h"

#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/DateTimeParser.h>
#include <Poco/Exception.h>
#include <Poco/JSON/JSONException.h>
#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Timestamp.h>

#include <set>
#include <vector>

#include "keyholder/config/duration.h"
#include "keyholder/http/exchange.h"
#include "keyholder/json/writer.h"
#include "keyholder/text/text.h"

namespace keyholder::http {

namespace {

// StrictHandler: Poco's parse handler, refusing a key given twice in one object
// (the last would win silently: {"entry":"a","entry":"b"}).
class StrictHandler : public Poco::JSON::ParseHandler {
public:
    void startObject() override {
        keys_.emplace_back();
        ParseHandler::startObject();
    }
    void endObject() override {
        keys_.pop_back();
        ParseHandler::endObject();
    }
    void key(const std::string& k) override {
        // Noted, not thrown: the parser calls this from C code that C++ exceptions
        // must not unwind through.
        if (!keys_.empty() && !keys_.back().insert(k).second && !duplicate_) duplicate_ = k;
        ParseHandler::key(k);
    }
    [[nodiscard]] const std::optional<std::string>& duplicate() const { return duplicate_; }

private:
    std::vector<std::set<std::string>> keys_;
    std::optional<std::string> duplicate_;
};

// has_long_number: a number of 20 digits or more outside any string. Poco's parser
// wraps integers between 2^64 and about 10^20 silently (18446744073709551617 reads
// as 1), and no field of the API takes a number that long.
bool has_long_number(std::string_view json) {
    bool in_string = false;
    size_t digits = 0;
    for (size_t i = 0; i < json.size(); ++i) {
        const char c = json[i];
        if (in_string) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                in_string = false;
            continue;
        }
        in_string = c == '"';
        digits = (c >= '0' && c <= '9') ? digits + 1 : 0;
        if (digits >= 20) return true;
    }
    return false;
}

// present: the field is there; null is refused (a field is given with a value, or not at all).
bool present(const Poco::JSON::Object::Ptr& object, const std::string& field, bool required) {
    if (!object->has(field)) {
        if (required) throw HttpError(400, "missing_field", "'" + field + "' is required");
        return false;
    }
    if (object->isNull(field)) throw HttpError(400, "wrong_type", "'" + field + "' may not be null: leave it out");
    return true;
}

} // namespace

JsonBody::JsonBody(const std::string& body, std::initializer_list<std::string_view> allowed_fields) {
    if (!text::valid_utf8(body)) throw HttpError(400, "invalid_utf8", "the body is not valid UTF-8");
    if (body.find_first_not_of(" \t\r\n") == std::string::npos) {
        object_ = new Poco::JSON::Object;
        return;
    }
    Poco::Dynamic::Var parsed;
    auto* handler = new StrictHandler;
    const Poco::JSON::Handler::Ptr owner(handler); // keeps it alive here
    try {
        Poco::JSON::Parser parser(owner);
        parsed = parser.parse(body);
    } catch (const Poco::Exception& e) {
        throw HttpError(400, "bad_json", "the body is not valid JSON: " + text::printable(e.message(), 200));
    }
    if (has_long_number(body)) throw HttpError(400, "out_of_range", "a number in the body has more than 19 digits");
    if (handler->duplicate())
        throw HttpError(400, "duplicate_field",
                        "field '" + text::printable(*handler->duplicate(), 64) + "' is given twice");
    if (parsed.type() != typeid(Poco::JSON::Object::Ptr))
        throw HttpError(400, "not_an_object", "the body must be a JSON object");
    object_ = parsed.extract<Poco::JSON::Object::Ptr>();
    const std::set<std::string_view> allowed(allowed_fields);
    for (const auto& [name, value] : *object_) {
        if (allowed.count(name) == 0) {
            std::string known;
            for (auto field : allowed_fields)
                known += (known.empty() ? "" : ", ") + std::string(field);
            throw HttpError(400, "unknown_field",
                            "unknown field '" + text::printable(name, 64) + "' (known: " + known + ")");
        }
    }
}

std::optional<std::string> JsonBody::text(const std::string& field, bool required, size_t max_characters,
                                          text::Lines lines) const {
    if (!present(object_, field, required)) return std::nullopt;
    const auto value = object_->get(field);
    if (!value.isString()) throw HttpError(400, "wrong_type", "'" + field + "' must be a string");
    auto checked = text::check(value.extract<std::string>(), lines, max_characters);
    if (!checked.problem) return std::move(checked.text);
    switch (*checked.problem) {
    case text::Problem::too_long:
        throw HttpError(400, "too_long", "'" + field + "' is over " + std::to_string(max_characters) + " characters");
    case text::Problem::line_break:
        throw HttpError(400, "line_break", "'" + field + "' is one line: it may not contain line breaks");
    default:
        throw HttpError(400, text::code(*checked.problem),
                        "'" + field + "' contains control characters" +
                            std::string(lines == text::Lines::multi ? " (only line breaks are allowed)" : ""));
    }
}

namespace {

// as_int64: a JSON integer that fits in 64 signed bits. Poco keeps larger ones as
// UInt64 and throws RangeException on conversion (found by fuzz_json_body).
int64_t as_int64(const Poco::Dynamic::Var& value, const std::string& field) {
    try {
        return value.convert<int64_t>();
    } catch (const Poco::RangeException&) {
        throw HttpError(400, "out_of_range", "'" + field + "' is out of range");
    }
}

} // namespace

std::optional<int64_t> JsonBody::integer(const std::string& field, bool required) const {
    if (!present(object_, field, required)) return std::nullopt;
    const auto value = object_->get(field);
    if (!value.isInteger() || value.isBoolean())
        throw HttpError(400, "wrong_type", "'" + field + "' must be an integer");
    return as_int64(value, field);
}

std::optional<int64_t> JsonBody::duration(const std::string& field, bool required) const {
    if (!present(object_, field, required)) return std::nullopt;
    const auto value = object_->get(field);
    if (value.isInteger() && !value.isBoolean()) return as_int64(value, field);
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
