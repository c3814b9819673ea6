// Base64 (Basic credentials), base64url (approval links) and hex: every byte string
// round-trips, any text decodes or is refused, and base64url has one text per value
// (no malleable tokens).
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "keyholder/util/encoding.h"

using namespace keyholder::util;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input = keyholder::fuzz::as_text(data, size);
    FUZZ_CHECK(hex(input).size() == 2 * size);
    if (size > 0 && size <= 48 * 1024) FUZZ_CHECK(unbase64(base64(input)) == std::string(input)); // "" is refused
    FUZZ_CHECK(unbase64url(base64url(input)) == std::string(input));
    if (const auto decoded = unbase64(input)) FUZZ_CHECK(decoded->size() <= size);
    if (const auto decoded = unbase64url(input)) FUZZ_CHECK(base64url(*decoded) == input);
    return 0;
}
