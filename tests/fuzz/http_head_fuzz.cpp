// The HTTP request head, as the front end reads it: framing (what delimits a request),
// head_problem (what is refused before Poco parses) and Poco's own parser. Besides no
// crash: the framing stays inside the input, and where Poco reads a body length the
// framing took the same number of bytes (no request smuggling between the two).
#include <Poco/Exception.h>
#include <Poco/Net/HTTPRequest.h>

#include <cstdint>
#include <sstream>
#include <string>

#include "framing.h"
#include "fuzz_check.h"

using keyholder::http::detail::frame;
using keyholder::http::detail::Framing;
using keyholder::http::detail::FramingLimits;
using keyholder::http::detail::head_problem;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input = keyholder::fuzz::as_text(data, size);
    const FramingLimits limits{16384 + 8192, 65536}; // keyholder.ini's defaults
    const Framing framing = frame(input, limits);
    if (framing.state != Framing::State::complete) {
        FUZZ_CHECK(framing.state != Framing::State::bad || !framing.problem.empty());
        return 0;
    }
    FUZZ_CHECK(framing.head_bytes <= framing.consumed && framing.consumed <= input.size());
    FUZZ_CHECK(framing.body.size() <= framing.consumed - framing.head_bytes);
    FUZZ_CHECK(framing.body.size() <= limits.max_body_bytes);

    const std::string_view head = input.substr(0, framing.head_bytes);
    if (auto problem = head_problem(head, 64)) {
        FUZZ_CHECK(problem->status() >= 400 && problem->status() < 600 && !problem->code().empty());
        return 0;
    }
    Poco::Net::HTTPRequest request;
    try {
        std::istringstream in{std::string(head)};
        request.read(in);
    } catch (const Poco::Exception&) {
        return 0; // answered 400 bad_request
    }
    if (!request.getChunkedTransferEncoding() && !framing.body.empty()) FUZZ_CHECK(request.hasContentLength());
    if (!request.getChunkedTransferEncoding() && request.hasContentLength())
        FUZZ_CHECK(static_cast<uint64_t>(request.getContentLength64()) == framing.body.size());
    if (request.getChunkedTransferEncoding()) FUZZ_CHECK(framing.consumed > framing.head_bytes); // "0\r\n\r\n" at least
    return 0;
}
