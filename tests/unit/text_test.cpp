// The text rules every entry point applies, and log-line escaping.
#include <gtest/gtest.h>

#include "keyholder/text/text.h"

namespace {

using namespace keyholder::text;

TEST(Text, SingleLineFieldsTakeNoLineBreakOfAnyKind) {
    EXPECT_EQ(check("CHG-1 é", Lines::single, 10).text, "CHG-1 é");
    for (const char* bad : {"a\nb", "a\rb",
                            "a\xc2\x85"
                            "b",
                            "a\xe2\x80\xa8"
                            "b",
                            "a\xe2\x80\xa9"
                            "b"})
        EXPECT_EQ(check(bad, Lines::single, 10).problem, Problem::line_break) << bad;
    EXPECT_EQ(check(std::string("a\0b", 3), Lines::single, 10).problem, Problem::control_characters);
    EXPECT_EQ(check("a\tb", Lines::single, 10).problem, Problem::control_characters);
    EXPECT_EQ(check("a\x7f", Lines::single, 10).problem, Problem::control_characters);
    EXPECT_EQ(check("\xc2\x9b", Lines::single, 10).problem, Problem::control_characters) << "C1 (CSI)";
    EXPECT_EQ(check("\xff", Lines::single, 10).problem, Problem::invalid_utf8);
    EXPECT_EQ(check("\xc0\xaf", Lines::single, 10).problem, Problem::invalid_utf8) << "overlong";
    EXPECT_EQ(check("\xed\xa0\x80", Lines::single, 10).problem, Problem::invalid_utf8) << "surrogate";
    EXPECT_EQ(check("\xe2\x82", Lines::single, 10).problem, Problem::invalid_utf8) << "cut short";
}

TEST(Text, MultiLineTextKeepsLfOnly) {
    EXPECT_EQ(check("one\r\ntwo\nthree", Lines::multi, 100).text, "one\ntwo\nthree");
    EXPECT_EQ(check("one\rtwo", Lines::multi, 100).problem, Problem::control_characters);
    EXPECT_EQ(check("a\tb", Lines::multi, 100).problem, Problem::control_characters);
    EXPECT_EQ(check("a\xe2\x80\xa8", Lines::multi, 100).problem, Problem::control_characters);
}

TEST(Text, LengthsCountCharacters) {
    std::string accents;
    for (int i = 0; i < 2000; ++i)
        accents += "\xc3\xa9";
    EXPECT_TRUE(check(accents, Lines::single, 2000).text);
    EXPECT_EQ(check(accents + "x", Lines::single, 2000).problem, Problem::too_long);
    EXPECT_EQ(characters(accents), 2000U);
}

TEST(Text, PrintableIsOneVisibleLine) {
    EXPECT_EQ(printable("demo-admin\nFAKE Error line"), "demo-admin\\nFAKE Error line");
    EXPECT_EQ(printable(std::string("a\0b\r\t\x01\\", 7)), "a\\0b\\r\\t\\x01\\\\");
    EXPECT_EQ(printable("\xff\xfe"), "\\xFF\\xFE");
    EXPECT_EQ(printable("a\xe2\x80\xa8"
                        "b"),
              "a\\u2028b");
    EXPECT_EQ(printable("é"), "é");
    EXPECT_EQ(printable(std::string(600, 'x'), 10), std::string(10, 'x') + "...");
}

} // namespace
