// Framing: is a whole HTTP/1.1 request in the buffer yet? The reactor asks after
// every read, so that a worker only ever runs complete requests. It looks only at
// what delimits a request (the blank line, Content-Length, chunked transfer, Expect)
// and leaves the parsing of the head to Poco (HTTPRequest::read) in the worker.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "keyholder/http/exchange.h"

namespace keyholder::http::detail {

struct FramingLimits {
    size_t max_head_bytes; ///< request line and header fields
    size_t max_body_bytes;
};

struct Framing {
    enum class State {
        incomplete,     ///< wait for more bytes
        complete,       ///< head + body are in the buffer
        head_too_large, ///< no end of the head within the limit: 431
        body_too_large, ///< the body is (or says it will be) over the limit: 413, close
        bad,            ///< contradictory or malformed framing: 400, close
    };
    State state = State::incomplete;
    size_t head_bytes = 0;        ///< the head, blank line included
    size_t consumed = 0;          ///< head + body as sent (chunk framing included)
    std::string body;             ///< the body, de-chunked
    bool expect_continue = false; ///< the client waits for "100 Continue"
    std::string problem;          ///< why bad
};

/// frame: the framing of the request at the start of `input`.
Framing frame(std::string_view input, const FramingLimits& limits);

/// kMaxTarget / kMaxFieldName / kMaxFieldValue: refused (414, 431) before Poco's
/// parser sees them (its own limits are 16 KB, 256 and 8 KB and answer nothing).
constexpr size_t kMaxTarget = 8000;
constexpr size_t kMaxFieldName = 256;
constexpr size_t kMaxFieldValue = 8192;

/// head_problem: what Poco's parser would refuse with a bare exception, as the
/// answer that fits (400, 414, 431, 505), before it parses the head (a complete
/// head from frame()).
std::optional<HttpError> head_problem(std::string_view head, int max_header_fields);

} // namespace keyholder::http::detail
