// Framing (see framing.h).
#include "framing.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

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
    std::optional<size_t> content_length;
    bool chunked = false;
    size_t line_start = rest.find('\n') + 1; // past the request line
    while (line_start < end) {
        size_t line_end = rest.find('\n', line_start);
        std::string_view line = rest.substr(line_start, line_end - line_start);
        line_start = line_end + 1;
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue; // Poco rejects it later
        const std::string_view name = trim(line.substr(0, colon));
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

} // namespace keyholder::http::detail
