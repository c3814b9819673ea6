#include "keyholder/json/writer.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Stringifier.h>

#include <charconv>
#include <sstream>
#include <type_traits>

namespace keyholder::json {

namespace {
using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;

void append_string(std::string& out, const std::string& value) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    out += '"';
    for (const char c : value) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                out += "\\u00";
                out += kHex[static_cast<unsigned char>(c) >> 4];
                out += kHex[static_cast<unsigned char>(c) & 15];
            } else {
                out += c;
            }
        }
    }
    out += '"';
}

// append_poco: what Poco writes, for what the fast paths below do not cover.
template <typename Value> void append_poco(std::string& out, const Value& value) {
    std::ostringstream text;
    if constexpr (std::is_same_v<Value, Object>)
        value.stringify(text);
    else
        Poco::JSON::Stringifier::stringify(value, text);
    out += text.str();
}

void append_object(std::string& out, const Object& object);
void append_array(std::string& out, const Array& array);

void append_value(std::string& out, const Var& value) {
    const std::type_info& type = value.type();
    if (value.isEmpty()) {
        out += "null";
    } else if (type == typeid(std::string)) {
        append_string(out, value.extract<std::string>());
    } else if (type == typeid(Object::Ptr)) {
        append_object(out, *value.extract<Object::Ptr>());
    } else if (type == typeid(Array::Ptr)) {
        append_array(out, *value.extract<Array::Ptr>());
    } else if (type == typeid(bool)) {
        out += value.extract<bool>() ? "true" : "false";
    } else if (value.isInteger() && type != typeid(char)) {
        char digits[24];
        const auto end = value.isSigned()
                             ? std::to_chars(digits, digits + sizeof digits, value.convert<Poco::Int64>()).ptr
                             : std::to_chars(digits, digits + sizeof digits, value.convert<Poco::UInt64>()).ptr;
        out.append(digits, end);
    } else {
        append_poco(out, value); // doubles, dates, by-value objects: as Poco writes them
    }
}

void append_object(std::string& out, const Object& object) {
    if (object.getEscapeUnicode()) return append_poco(out, object);
    out += '{';
    bool first = true;
    for (const auto& name : object.getNames()) { // insertion order when the object keeps it
        if (!first) out += ',';
        first = false;
        append_string(out, name);
        out += ':';
        append_value(out, object.get(name));
    }
    out += '}';
}

void append_array(std::string& out, const Array& array) {
    out += '[';
    bool first = true;
    for (const auto& value : array) {
        if (!first) out += ',';
        first = false;
        append_value(out, value);
    }
    out += ']';
}
} // namespace

std::string text(const Poco::JSON::Object& object) {
    std::string out;
    out.reserve(512);
    append_object(out, object);
    return out;
}

} // namespace keyholder::json
