// Framing (see framing.h).
#include "framing.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

#include "keyholder/text/text.h"

namespace keyholder::http::detail {
namespace {

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

// head_end: the length of the head including its blank line (CRLF CRLF, or bare LFs
// as Poco also accepts), or npos.
size_t head_end(std::string_view input) {
    for (size_t i = 0; i < input.size(); ++i) {
        if (input[i] != '\n') continue;
        if (i + 1 < input.size() && input[i + 1] == '\n') return i + 2;
        if (i + 2 < input.size() && input[i + 1] == '\r' && input[i + 2] == '\n') return i + 3;
    }
    return std::string_view::npos;
}

} // namespace

Framing frame(std::string_view input, const FramingLimits& limits) {
    Framing f;
    // Blank lines before a request line are allowed (RFC 9112 2.2).
    size_t start = 0;
    while (start < input.size() && (input[start] == '\r' || input[start] == '\n'))
        ++start;
    const std::string_view rest = input.substr(start);
    const size_t end = head_end(rest);
    if (end == std::string_view::npos) {
        if (rest.size() > limits.max_head_bytes) f.state = Framing::State::head_too_large;
        return f;
    }
    if (end > limits.max_head_bytes) {
        f.state = Framing::State::head_too_large;
        return f;
    }
    f.head_bytes = start + end;
    // A CR that does not end a line: Poco takes one at the start of a line for the end
    // of the head and would not see the fields after it, which framing reads (found by
    // fuzz_http_head). RFC 9112 2.2: a bare CR is invalid.
    for (size_t i = 0; i < end; ++i)
        if (rest[i] == '\r' && (i + 1 >= end || rest[i + 1] != '\n')) {
            f.state = Framing::State::bad;
            f.problem = "a bare CR in the request head";
            return f;
        }
    std::optional<size_t> content_length;
    bool chunked = false;
    size_t line_start = rest.find('\n') + 1; // past the request line
    while (line_start < end) {
        size_t line_end = rest.find('\n', line_start);
        std::string_view line = rest.substr(line_start, line_end - line_start);
        line_start = line_end + 1;
        if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
            // Poco would join it to the field above (a Content-Length that framing did
            // not see): refused, as RFC 9112 5.2 allows (found by fuzz_http_head).
            f.state = Framing::State::bad;
            f.problem = "obsolete line folding";
            return f;
        }
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue; // Poco rejects it later
        const std::string_view name = line.substr(0, colon);
        if (name.find_first_of(" \t") != std::string_view::npos) {
            // "Content-Length : 5" is no Content-Length to Poco (RFC 9112 5.1: 400).
            f.state = Framing::State::bad;
            f.problem = "whitespace in a header field name";
            return f;
        }
        const std::string_view value = trim(line.substr(colon + 1));
        if (iequals(name, "Content-Length")) {
            size_t length = 0;
            auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
            if (ec == std::errc::result_out_of_range) {
                f.state = Framing::State::body_too_large;
                return f;
            }
            if (ec != std::errc() || p != value.data() + value.size() || value.empty() ||
                (content_length && *content_length != length)) {
                f.state = Framing::State::bad;
                f.problem = "bad Content-Length";
                return f;
            }
            content_length = length;
        } else if (iequals(name, "Transfer-Encoding")) {
            if (!iequals(value, "chunked")) {
                f.state = Framing::State::bad;
                f.problem = "unsupported Transfer-Encoding";
                return f;
            }
            chunked = true;
        } else if (iequals(name, "Expect")) {
            f.expect_continue = iequals(value, "100-continue");
        }
    }
    if (chunked && content_length) {
        // Both: a request smuggling attempt (RFC 9112 6.1).
        f.state = Framing::State::bad;
        f.problem = "both Content-Length and Transfer-Encoding";
        return f;
    }
    const std::string_view body_bytes = input.substr(f.head_bytes);
    if (content_length) {
        if (*content_length > limits.max_body_bytes) {
            f.state = Framing::State::body_too_large;
            return f;
        }
        if (body_bytes.size() < *content_length) return f;
        f.body = std::string(body_bytes.substr(0, *content_length));
        f.consumed = f.head_bytes + *content_length;
        f.state = Framing::State::complete;
        return f;
    }
    if (!chunked) {
        f.consumed = f.head_bytes;
        f.state = Framing::State::complete;
        return f;
    }
    // Chunked: size [;ext] CRLF data CRLF ... 0 CRLF [trailers] CRLF
    size_t at = 0;
    while (true) {
        const size_t line_end = body_bytes.find('\n', at);
        if (line_end == std::string_view::npos) {
            if (body_bytes.size() - at > 1024) {
                f.state = Framing::State::bad;
                f.problem = "bad chunk size line";
            }
            return f;
        }
        std::string_view size_text = trim(body_bytes.substr(at, line_end - at));
        size_text = size_text.substr(0, size_text.find(';'));
        size_t size = 0;
        auto [p, ec] = std::from_chars(size_text.data(), size_text.data() + size_text.size(), size, 16);
        if (ec != std::errc() || p != size_text.data() + size_text.size() || size_text.empty()) {
            f.state = ec == std::errc::result_out_of_range ? Framing::State::body_too_large : Framing::State::bad;
            f.problem = "bad chunk size";
            return f;
        }
        at = line_end + 1;
        if (size == 0) {
            // Trailer fields, then the blank line.
            while (true) {
                const size_t trailer_end = body_bytes.find('\n', at);
                if (trailer_end == std::string_view::npos) return f;
                const bool blank = trim(body_bytes.substr(at, trailer_end - at)).empty();
                at = trailer_end + 1;
                if (blank) break;
            }
            f.consumed = f.head_bytes + at;
            f.state = Framing::State::complete;
            return f;
        }
        if (f.body.size() + size > limits.max_body_bytes) {
            f.state = Framing::State::body_too_large;
            return f;
        }
        if (body_bytes.size() < at + size + 1) return f;
        f.body.append(body_bytes.substr(at, size));
        at += size;
        if (body_bytes[at] == '\r') ++at;
        if (at >= body_bytes.size()) return f;
        if (body_bytes[at] != '\n') {
            f.state = Framing::State::bad;
            f.problem = "chunk not followed by CRLF";
            return f;
        }
        ++at;
    }
}

std::optional<HttpError> head_problem(std::string_view head, int max_header_fields) {
    size_t start = head.find_first_not_of("\r\n");
    if (start == std::string_view::npos) return HttpError(400, "bad_request", "empty request");
    const size_t line_end = head.find('\n', start);
    std::string_view line = head.substr(start, line_end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    // Exactly METHOD SP TARGET SP VERSION (RFC 9112 3): a missing method or target, or
    // a second space, let Poco read the line differently than this check did (found
    // by the http_head fuzz target: "  HTTP/1.0" was taken for a method).
    const size_t first = line.find(' ');
    const size_t last = line.rfind(' ');
    if (first == std::string_view::npos || first == last || first == 0 || last == first + 1 ||
        line.find(' ', first + 1) != last ||
        line.substr(0, first).find_first_not_of("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                "abcdefghijklmnopqrstuvwxyz") != std::string_view::npos)
        return HttpError(400, "bad_request", "the request line is not METHOD TARGET VERSION");
    const std::string_view target = line.substr(first + 1, last - first - 1);
    const std::string_view version = line.substr(last + 1);
    if (version != "HTTP/1.1" && version != "HTTP/1.0")
        return HttpError(505, "http_version_not_supported",
                         "keyholder speaks HTTP/1.1 (got " + text::printable(version, 16) + ")");
    if (target.size() > kMaxTarget)
        return HttpError(414, "uri_too_long", "the request target is over " + std::to_string(kMaxTarget) + " bytes");
    int fields = 0;
    for (size_t at = line_end + 1; at < head.size();) {
        size_t end = head.find('\n', at);
        if (end == std::string_view::npos) end = head.size();
        std::string_view field = head.substr(at, end - at);
        at = end + 1;
        if (!field.empty() && field.back() == '\r') field.remove_suffix(1);
        if (field.empty()) break;
        const size_t colon = field.find(':');
        if (++fields > max_header_fields)
            return HttpError(431, "header_fields_too_large",
                             "more than " + std::to_string(max_header_fields) + " header fields");
        if ((colon == std::string_view::npos ? field.size() : colon) > kMaxFieldName)
            return HttpError(431, "header_fields_too_large",
                             "a header field name is over " + std::to_string(kMaxFieldName) + " bytes");
        if (colon != std::string_view::npos && field.size() - colon - 1 > kMaxFieldValue)
            return HttpError(431, "header_fields_too_large",
                             "a header field value is over " + std::to_string(kMaxFieldValue) + " bytes");
    }
    return std::nullopt;
}

} // namespace keyholder::http::detail
