// The request and response objects the handlers see (Poco's HTTPServerRequest and
// HTTPServerResponse), over a request the front end has buffered whole and a
// Connection the answer is written to with a deadline.
#pragma once

#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <memory>
#include <sstream>
#include <string>
#include <string_view>

#include "connection.h"

namespace keyholder::http::detail {

class BufferedResponse;

class BufferedRequest final : public Poco::Net::HTTPServerRequest {
public:
    BufferedRequest(Connection& connection, std::string body, bool body_too_large,
                    const Poco::Net::HTTPServerParams& params, BufferedResponse& response);
    /// parse: the request line and header fields (Poco's parser and limits);
    /// throws Poco::Net::MessageException when they are malformed.
    void parse(std::string_view head);
    std::istream& stream() override { return body_; }
    const Poco::Net::SocketAddress& clientAddress() const override { return connection_.peer(); }
    const Poco::Net::SocketAddress& serverAddress() const override { return connection_.local(); }
    const Poco::Net::HTTPServerParams& serverParams() const override { return params_; }
    Poco::Net::HTTPServerResponse& response() const override;
    bool secure() const override { return connection_.secure(); }
    /// body_too_large: more body was announced or sent than the limit (not buffered).
    [[nodiscard]] bool body_too_large() const { return body_too_large_; }

private:
    Connection& connection_;
    std::istringstream body_;
    bool body_too_large_;
    const Poco::Net::HTTPServerParams& params_;
    BufferedResponse& response_;
};

class BufferedResponse final : public Poco::Net::HTTPServerResponse {
public:
    BufferedResponse(Connection& connection, std::chrono::milliseconds write_timeout);
    ~BufferedResponse() override;
    /// head_only: a HEAD request: the head is sent, never a body.
    void set_head_only(bool head_only) { head_only_ = head_only; }
    void sendContinue() override {} // the front end sends it when the head asks
    std::ostream& send() override;
    void sendFile(const std::string& path, const std::string& media_type) override;
    void sendBuffer(const void* buffer, std::size_t length) override;
    void redirect(const std::string& uri, HTTPStatus status = HTTP_FOUND) override;
    void requireAuthentication(const std::string& realm) override;
    bool sent() const override { return sent_; }
    /// finish: flushes a streamed body (and ends a chunked one).
    void finish();
    /// failed: a write did not go through (the client left, or stopped reading).
    [[nodiscard]] bool failed() const { return failed_; }

private:
    class Buffer;
    /// write_out: bytes to the client (not HTTPResponse::write, which renders the head).
    bool write_out(std::string_view data);
    std::string head_text() const;
    Connection& connection_;
    std::chrono::milliseconds write_timeout_;
    bool head_only_ = false;
    bool sent_ = false;
    bool failed_ = false;
    std::unique_ptr<Buffer> buffer_;
    std::unique_ptr<std::ostream> stream_;
};

} // namespace keyholder::http::detail
