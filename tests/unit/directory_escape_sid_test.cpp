// RFC 4515 / 4514 escaping and SID / GUID conversions, on known vectors.
#include <gtest/gtest.h>

#include <array>

#include "keyholder/directory/escape.h"
#include "keyholder/directory/sid.h"

namespace {

using namespace keyholder::directory;

std::vector<std::byte> hex(const std::string& text) {
    std::vector<std::byte> out;
    for (size_t i = 0; i + 1 < text.size(); i += 2)
        out.push_back(static_cast<std::byte>(std::stoi(text.substr(i, 2), nullptr, 16)));
    return out;
}

TEST(FilterEscape, Rfc4515SpecialCharacters) {
    EXPECT_EQ(escape_filter_value("bob"), "bob");
    EXPECT_EQ(escape_filter_value("*"), "\\2a");
    EXPECT_EQ(escape_filter_value("bob)(|(sAMAccountName=*"), "bob\\29\\28|\\28sAMAccountName=\\2a");
    EXPECT_EQ(escape_filter_value("a\\29"), "a\\5c29");
    EXPECT_EQ(escape_filter_value(std::string("a\0b", 3)), "a\\00b");
    EXPECT_EQ(escape_filter_value("Zoë"), "Zoë"); // UTF-8 passes through (RFC 4515 allows it)
}

TEST(FilterEscape, BinaryValues) {
    std::array<std::byte, 3> bytes{std::byte{0x01}, std::byte{0xff}, std::byte{0x2a}};
    EXPECT_EQ(escape_filter_bytes(bytes), "\\01\\ff\\2a");
}

TEST(DnEscape, Rfc4514SpecialCharacters) {
    EXPECT_EQ(escape_dn_value("Smith, John"), "Smith\\, John");
    EXPECT_EQ(escape_dn_value("#admin"), "\\#admin");
    EXPECT_EQ(escape_dn_value(" padded "), "\\ padded\\ ");
    EXPECT_EQ(escape_dn_value("a+b=c<d>e;f\"g\\h"), "a\\+b\\=c\\<d\\>e\\;f\\\"g\\\\h");
    EXPECT_EQ(escape_dn_value(std::string("x\0y", 3)), "x\\00y");
}

TEST(Sid, KnownVectors) {
    // A domain user's SID as a Samba DC stored it (objectSid of bob).
    auto bob = hex("010500000000000515000000524200c18f1b6ca170aaa8c750040000");
    EXPECT_EQ(sid_to_string(bob), "S-1-5-21-3238019666-2708216719-3349719664-1104");
    // BUILTIN\Administrators.
    auto admins = hex("01020000000000052000000020020000");
    EXPECT_EQ(sid_to_string(admins), "S-1-5-32-544");
    // Everyone (S-1-1-0).
    EXPECT_EQ(sid_to_string(hex("010100000000000100000000")), "S-1-1-0");
}

TEST(Sid, RoundTrips) {
    for (const char* text :
         {"S-1-5-21-3238019666-2708216719-3349719664-1104", "S-1-5-32-544", "S-1-1-0", "S-1-5-18", "S-1-16-12288"}) {
        auto binary = sid_from_string(text);
        ASSERT_TRUE(binary) << text;
        EXPECT_EQ(sid_to_string(*binary), text);
    }
}

TEST(Sid, MalformedInputIsRefused) {
    for (const char* text : {"", "S-1", "S-1-", "S-2-5-21", "S-1-5-x", "S-1-5--1", "S-1-5-4294967296", "bob",
                             "S-1-5-21-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16"}) {
        EXPECT_FALSE(sid_from_string(text)) << text;
    }
    EXPECT_FALSE(sid_to_string(hex("0105000000000005150000")));     // truncated
    EXPECT_FALSE(sid_to_string(hex("020100000000000100000000")));   // revision 2
    EXPECT_FALSE(sid_to_string(hex("01010000000000010000000000"))); // trailing byte
}

TEST(Guid, MixedEndianText) {
    auto bytes = hex("000102030405060708090a0b0c0d0e0f");
    EXPECT_EQ(guid_to_string(bytes), "03020100-0504-0706-0809-0a0b0c0d0e0f");
    EXPECT_FALSE(guid_to_string(hex("0001")));
}

TEST(Sid, DomainPart) { EXPECT_EQ(sid_domain_part("S-1-5-21-1-2-3-1104"), "S-1-5-21-1-2-3"); }

} // namespace
