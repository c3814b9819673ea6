// parse_duration: accepted text is positive and reads back through format_duration.
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "keyholder/config/duration.h"

using keyholder::config::format_duration;
using keyholder::config::parse_duration;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto parsed = parse_duration(keyholder::fuzz::as_text(data, size));
    if (!parsed) {
        FUZZ_CHECK(!parsed.error().empty());
        return 0;
    }
    const std::string canonical = format_duration(*parsed);
    const auto again = parse_duration(canonical);
    FUZZ_CHECK(again && *again == *parsed);
    return 0;
}
