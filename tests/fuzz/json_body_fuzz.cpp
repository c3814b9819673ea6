// JsonBody: any body is either read under the rules or refused with an HttpError
// (400 and a code); nothing else escapes, and every text it hands out obeys the
// text rules.
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "keyholder/http/exchange.h"
#include "keyholder/http/json.h"
#include "keyholder/text/text.h"

using keyholder::http::HttpError;
using keyholder::http::JsonBody;
namespace text = keyholder::text;

namespace {

void check_text(const JsonBody& body, const std::string& field, size_t limit, text::Lines lines) {
    try {
        const auto value = body.text(field, false, limit, lines);
        if (!value) return;
        const auto kept = text::check(*value, lines, limit);
        FUZZ_CHECK(kept.text && *kept.text == *value);
    } catch (const HttpError& e) {
        FUZZ_CHECK(e.status() == 400 && !e.code().empty());
    }
}

template <typename Read> void check_field(Read read) {
    try {
        read();
    } catch (const HttpError& e) {
        FUZZ_CHECK(e.status() == 400 && !e.code().empty());
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string input(reinterpret_cast<const char*>(data), size);
    try {
        // The fields of POST /api/v1/requests (and a few of other routes).
        const JsonBody body(input, {"entry", "reason", "ticket", "duration", "start", "approver", "comment", "count"});
        check_text(body, "entry", text::kMaxNameCharacters, text::Lines::single);
        check_text(body, "ticket", text::kMaxTicketCharacters, text::Lines::single);
        check_text(body, "reason", text::kMaxTextCharacters, text::Lines::multi);
        check_text(body, "comment", text::kMaxTextCharacters, text::Lines::multi);
        check_text(body, "approver", 256, text::Lines::single);
        check_field([&] { body.duration("duration"); });
        check_field([&] { body.timestamp("start"); });
        check_field([&] { body.integer("count"); });
    } catch (const HttpError& e) {
        FUZZ_CHECK(e.status() == 400 && !e.code().empty());
        FUZZ_CHECK(text::valid_utf8(e.what())); // the message may echo input: escaped
    }
    return 0;
}
