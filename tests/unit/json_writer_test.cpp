// keyholder::json::text writes API answers, audit details and mail payloads with its
// own writer (faster than Poco's ostreams); it must write exactly what Poco's
// Object::stringify writes.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <gtest/gtest.h>

#include <limits>
#include <sstream>

#include "keyholder/json/writer.h"

namespace {

using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;

std::string poco(const Object& object) {
    std::ostringstream out;
    object.stringify(out);
    return out.str();
}

TEST(JsonWriter, WritesWhatPocoWrites) {
    Object::Ptr object = new Object;
    std::string every_byte;
    for (int c = 1; c < 256; ++c)
        every_byte += static_cast<char>(c);
    object->set("bytes", every_byte);
    object->set("utf8", std::string("Gr\xc3\xbc\xc3\x9f"
                                    "e \xe2\x82\xac \xf0\x9f\x94\x91"));
    object->set("quotes", std::string("\"a\\b/c\""));
    object->set("nul", std::string("a\0b", 3));
    object->set("empty_text", std::string());
    object->set("null", Var());
    object->set("yes", true);
    object->set("no", false);
    object->set("int", -42);
    object->set("int64_min", std::numeric_limits<int64_t>::min());
    object->set("int64_max", std::numeric_limits<int64_t>::max());
    object->set("uint64_max", std::numeric_limits<uint64_t>::max());
    object->set("unsigned", 7U);
    object->set("double", 2.25);
    object->set("char", 'x');
    Array::Ptr list = new Array;
    list->add(1);
    list->add("two");
    list->add(Var());
    list->add(Array::Ptr(new Array));
    Object::Ptr inner = new Object;
    inner->set("k", "v");
    list->add(inner);
    object->set("list", list);
    object->set("empty_list", Array::Ptr(new Array));
    object->set("empty_object", Object::Ptr(new Object));
    Object::Ptr ordered = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    ordered->set("zebra", 1);
    ordered->set("apple", 2);
    object->set("ordered", ordered);
    Object::Ptr escaped = new Object;
    escaped->setEscapeUnicode(true);
    escaped->set("text", std::string("\xc3\xbc"));
    object->set("escaped", escaped);
    EXPECT_EQ(keyholder::json::text(*object), poco(*object));
    EXPECT_EQ(keyholder::json::text(*ordered), R"({"zebra":1,"apple":2})");
    EXPECT_EQ(keyholder::json::text(Object()), "{}");
}

} // namespace
