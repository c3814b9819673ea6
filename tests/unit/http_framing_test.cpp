// The front end's framing: when a whole request is in the buffer, and what is refused
// before a worker sees it.
#include <gtest/gtest.h>

#include <cstdint>

#include "framing.h"
#include "keyholder/http/exchange.h"
#include "keyholder/http/json.h"

namespace {

using keyholder::http::detail::frame;
using keyholder::http::detail::Framing;
using State = Framing::State;

const keyholder::http::detail::FramingLimits kLimits{1024, 100};

TEST(HttpFraming, AHeadWithoutABodyIsCompleteAtItsBlankLine) {
    EXPECT_EQ(frame("GET / HTTP/1.1\r\nHost: x\r\n", kLimits).state, State::incomplete);
    const std::string two = "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
    auto f = frame(two, kLimits);
    EXPECT_EQ(f.state, State::complete);
    EXPECT_EQ(f.consumed, two.find("GET /b")) << "a pipelined request is left for later";
    EXPECT_EQ(frame("\r\nGET / HTTP/1.1\n\n", kLimits).state, State::complete) << "leading CRLF, bare LFs";
}

TEST(HttpFraming, ContentLengthBodiesAreWaitedForWithinTheLimit) {
    const std::string head = "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n";
    EXPECT_EQ(frame(head + "abc", kLimits).state, State::incomplete);
    auto f = frame(head + "abcdeXYZ", kLimits);
    EXPECT_EQ(f.state, State::complete);
    EXPECT_EQ(f.body, "abcde");
    EXPECT_EQ(f.consumed, head.size() + 5);
    EXPECT_EQ(frame("POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n", kLimits).state, State::body_too_large);
    EXPECT_EQ(frame("POST / HTTP/1.1\r\nContent-Length: 18446744073709551617\r\n\r\n", kLimits).state,
              State::body_too_large);
    EXPECT_EQ(frame("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", kLimits).state, State::bad);
    EXPECT_EQ(frame("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", kLimits).state, State::bad);
}

TEST(HttpFraming, ChunkedBodiesAreDecodedAndSmugglingIsRefused) {
    const std::string head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    EXPECT_EQ(frame(head + "3\r\nabc\r\n", kLimits).state, State::incomplete);
    auto f = frame(head + "3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nTrailer: x\r\n\r\n", kLimits);
    EXPECT_EQ(f.state, State::complete);
    EXPECT_EQ(f.body, "abcde");
    EXPECT_EQ(frame(head + "65\r\n", kLimits).state, State::body_too_large);
    EXPECT_EQ(frame(head + "zz\r\n", kLimits).state, State::bad);
    EXPECT_EQ(frame("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", kLimits).state,
              State::bad);
    EXPECT_EQ(frame("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", kLimits).state, State::bad);
}

// Found by fuzz_http_head: framing and Poco's parser must read the same body length.
// A folded line joined "Content-Length: 4" to its continuation for Poco (which then
// threw on the length) while framing took 4 bytes; "Content-Length : 4" is no
// Content-Length to Poco. Both are refused (RFC 9112 5.1, 5.2).
// Found by the http_head fuzz target: the head check took "  HTTP/1.0" for a request
// line, Poco read it another way and lost the Content-Length.
TEST(HttpFraming, TheRequestLineIsExactlyMethodTargetVersion) {
    using keyholder::http::detail::head_problem;
    for (const char* bad : {"  HTTP/1.0\r\nContent-Length: 18\r\n\r\n", "GET  /a HTTP/1.1\r\n\r\n",
                            "GET /a b HTTP/1.1\r\n\r\n", " GET /a HTTP/1.1\r\n\r\n", "G(T /a HTTP/1.1\r\n\r\n"}) {
        auto problem = head_problem(bad, 64);
        ASSERT_TRUE(problem) << bad;
        EXPECT_EQ(problem->status(), 400) << bad;
    }
    EXPECT_FALSE(head_problem("GET /a HTTP/1.1\r\nHost: x\r\n\r\n", 64));
    EXPECT_FALSE(head_problem("\r\nPOST /api/v1/requests?x=1 HTTP/1.0\r\n\r\n", 64)) << "a blank line first is allowed";
}

TEST(HttpFraming, FoldedLinesAndSpaceBeforeTheColonAreRefused) {
    auto folded = frame("POST / HTTP/1.1\r\nContent-Length: 4\r\n ncGET e\r\n\r\nabcd", kLimits);
    EXPECT_EQ(folded.state, State::bad);
    EXPECT_EQ(folded.problem, "obsolete line folding");
    EXPECT_EQ(frame("POST / HTTP/1.1\r\nHost: a\r\n\tb\r\n\r\n", kLimits).state, State::bad);
    auto spaced = frame("POST / HTTP/1.1\r\nContent-Length : 4\r\n\r\nabcd", kLimits);
    EXPECT_EQ(spaced.state, State::bad);
    EXPECT_EQ(spaced.problem, "whitespace in a header field name");
    EXPECT_EQ(frame("GET / HTTP/1.1\nHost: a\n\n", kLimits).state, State::complete) << "bare LFs still frame";
    // Poco ends the head at a line that starts with a bare CR; framing read on and took
    // a chunked body Poco never heard of.
    auto bare_cr = frame(
        "POST /a HTTP/1.1\r\nHost: g\r\n\r h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", kLimits);
    EXPECT_EQ(bare_cr.state, State::bad);
    EXPECT_EQ(bare_cr.problem, "a bare CR in the request head");
    EXPECT_EQ(frame("GET /a\rb HTTP/1.1\r\n\r\n", kLimits).state, State::bad);
}

TEST(HttpFraming, AHeadOverTheLimitIsRefusedWithoutWaitingForItsEnd) {
    EXPECT_EQ(frame("GET /" + std::string(2000, 'a'), kLimits).state, State::head_too_large);
    EXPECT_EQ(frame("GET /" + std::string(2000, 'a') + " HTTP/1.1\r\n\r\n", kLimits).state, State::head_too_large);
}

TEST(HttpFraming, ExpectContinueIsSeen) {
    auto f = frame("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n", kLimits);
    EXPECT_EQ(f.state, State::incomplete);
    EXPECT_TRUE(f.expect_continue);
    EXPECT_GT(f.head_bytes, 0U);
}

// Found by fuzz_json_body: an integer over 63 bits threw Poco's RangeException (a 500)
// instead of a 400 that names the field; and Poco reads 18446744073709551617 (2^64 + 1)
// as 1, so a number of 20 digits or more is refused before any field is read.
TEST(JsonBody, AnIntegerOutside64BitsIsA400ThatNamesTheField) {
    using keyholder::http::HttpError;
    using keyholder::http::JsonBody;
    for (const std::string wrapped : {R"({"duration":18446744073709551617})", R"({"duration":18446744073709551616})",
                                      R"({"count":[1,2,11446744073709551617]})"}) {
        try {
            JsonBody(wrapped, {"duration", "count"});
            ADD_FAILURE() << wrapped << " was accepted";
        } catch (const HttpError& e) {
            EXPECT_EQ(e.code(), "out_of_range") << wrapped;
        }
    }
    EXPECT_NO_THROW(JsonBody(R"({"ticket":"123456789012345678901234567890"})", {"ticket"})) << "digits in a string";
    const JsonBody body(R"({"duration":9223372036854775808,"count":9999999999999999999,"ok":-9223372036854775808})",
                        {"duration", "count", "ok"});
    for (const std::string field : {"duration", "count"}) {
        try {
            field == "duration" ? body.duration(field) : body.integer(field);
            ADD_FAILURE() << field << " was accepted";
        } catch (const HttpError& e) {
            EXPECT_EQ(e.status(), 400);
            EXPECT_EQ(e.code(), "out_of_range");
            EXPECT_NE(std::string(e.what()).find(field), std::string::npos);
        }
    }
    EXPECT_EQ(body.integer("ok"), INT64_MIN);
}

} // namespace

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>

#include <filesystem>
#include <fstream>

#include "buffered_exchange.h"

namespace {

// The response object handlers get writes whole answers over the connection, a file too.
TEST(HttpResponse, SendFileWritesTheHeadAndTheFile) {
    Poco::Net::ServerSocket listener(Poco::Net::SocketAddress("127.0.0.1", 0));
    Poco::Net::StreamSocket client(listener.address());
    keyholder::http::detail::Connection server(listener.acceptConnection(), nullptr);
    const auto file = std::filesystem::temp_directory_path() / "keyholder-sendfile-test.csv";
    std::ofstream(file, std::ios::binary) << "a,b\r\n1,2\r\n";
    {
        keyholder::http::detail::BufferedResponse answer(server, std::chrono::seconds(5));
        answer.sendFile(file.string(), "text/csv");
        EXPECT_TRUE(answer.sent());
        EXPECT_FALSE(answer.failed());
    }
    server.shutdown_send();
    std::string received;
    char buffer[1024];
    client.setReceiveTimeout(Poco::Timespan(5, 0));
    for (int n; (n = client.receiveBytes(buffer, sizeof buffer)) > 0;)
        received.append(buffer, static_cast<size_t>(n));
    std::filesystem::remove(file);
    EXPECT_EQ(received.rfind("HTTP/1.0 200 OK\r\n", 0), 0U) << received;
    EXPECT_NE(received.find("Content-Type: text/csv\r\n"), std::string::npos) << received;
    EXPECT_NE(received.find("Content-Length: 10\r\n"), std::string::npos) << received;
    EXPECT_EQ(received.substr(received.size() - 10), "a,b\r\n1,2\r\n");
}

} // namespace
