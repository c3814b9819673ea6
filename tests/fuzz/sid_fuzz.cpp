// SIDs and GUIDs: binary and text forms read back to each other exactly.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "keyholder/directory/sid.h"

using namespace keyholder::directory;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto binary = std::as_bytes(std::span(data, size));
    if (const auto text = sid_to_string(binary)) {
        FUZZ_CHECK(text->starts_with("S-1-"));
        const auto back = sid_from_string(*text);
        FUZZ_CHECK(back && back->size() == size && std::equal(back->begin(), back->end(), binary.begin()));
        const std::string domain = sid_domain_part(*text);
        FUZZ_CHECK(text->starts_with(domain));
    }
    const std::string_view as_text = keyholder::fuzz::as_text(data, size);
    if (const auto parsed = sid_from_string(as_text)) {
        const auto text = sid_to_string(*parsed);
        FUZZ_CHECK(text.has_value());
        const auto again = sid_from_string(*text); // the canonical text means the same SID
        FUZZ_CHECK(again && *again == *parsed);
    }
    (void)sid_domain_part(as_text);
    if (const auto guid = guid_to_string(binary)) {
        FUZZ_CHECK(size == 16 && guid->size() == 36);
    }
    return 0;
}
