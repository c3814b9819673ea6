// BufferedRequest and BufferedResponse (see buffered_exchange.h).
#include "buffered_exchange.h"

#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Exception.h>

#include <filesystem>
#include <fstream>

namespace keyholder::http::detail {

BufferedRequest::BufferedRequest(Connection& connection, std::string body, bool body_too_large,
                                 const Poco::Net::HTTPServerParams& params, BufferedResponse& response)
    : connection_(connection), body_(std::move(body)), body_too_large_(body_too_large), params_(params),
      response_(response) {}

void BufferedRequest::parse(std::string_view head) {
    std::istringstream in{std::string(head)};
    read(in);
}

Poco::Net::HTTPServerResponse& BufferedRequest::response() const { return response_; }

// Buffer: the streamed body, written to the connection in pieces (chunked when the
// response says so), each within the write timeout.
class BufferedResponse::Buffer : public std::streambuf {
public:
    Buffer(BufferedResponse& owner, bool chunked) : owner_(owner), chunked_(chunked) {
        setp(storage_, storage_ + sizeof storage_);
    }
    bool flush_out() {
        const auto size = static_cast<size_t>(pptr() - pbase());
        setp(storage_, storage_ + sizeof storage_);
        if (size == 0) return !owner_.failed_;
        if (owner_.head_only_) return true;
        std::string_view data(storage_, size);
        if (!chunked_) return owner_.write_out(data);
        char size_line[32];
        const int n = std::snprintf(size_line, sizeof size_line, "%zx\r\n", size);
        std::string piece(size_line, static_cast<size_t>(n));
        piece.append(data);
        piece += "\r\n";
        return owner_.write_out(piece);
    }
    bool end() {
        const bool flushed = flush_out();
        if (!chunked_ || owner_.head_only_) return flushed;
        return flushed && owner_.write_out("0\r\n\r\n");
    }

protected:
    int_type overflow(int_type c) override {
        if (!flush_out()) return traits_type::eof();
        if (!traits_type::eq_int_type(c, traits_type::eof())) {
            *pptr() = traits_type::to_char_type(c);
            pbump(1);
        }
        return traits_type::not_eof(c);
    }
    int sync() override { return flush_out() ? 0 : -1; }

private:
    BufferedResponse& owner_;
    bool chunked_;
    char storage_[16384];
};

BufferedResponse::BufferedResponse(Connection& connection, std::chrono::milliseconds write_timeout)
    : connection_(connection), write_timeout_(write_timeout) {
    setDate(Poco::Timestamp());
    set("Server", "keyholder");
}

BufferedResponse::~BufferedResponse() = default;

bool BufferedResponse::write_out(std::string_view data) {
    if (failed_) return false;
    if (!connection_.write_all(data, Clock::now() + write_timeout_)) failed_ = true;
    return !failed_;
}

std::string BufferedResponse::head_text() const {
    std::ostringstream head;
    HTTPResponse::write(head);
    return head.str();
}

std::ostream& BufferedResponse::send() {
    if (sent_) throw Poco::IllegalStateException("the answer was sent already");
    sent_ = true;
    write_out(head_text());
    buffer_ = std::make_unique<Buffer>(*this, getChunkedTransferEncoding());
    stream_ = std::make_unique<std::ostream>(buffer_.get());
    return *stream_;
}

void BufferedResponse::sendFile(const std::string& path, const std::string& media_type) {
    // No handler sends a file today; this is what Poco's own response does with one.
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Poco::OpenFileException(path);
    setContentType(media_type);
    setContentLength64(static_cast<Poco::UInt64>(std::filesystem::file_size(path)));
    setChunkedTransferEncoding(false);
    std::ostream& out = send();
    out << in.rdbuf();
    finish();
}

void BufferedResponse::sendBuffer(const void* data, std::size_t length) {
    if (sent_) throw Poco::IllegalStateException("the answer was sent already");
    sent_ = true;
    setContentLength(static_cast<std::streamsize>(length));
    setChunkedTransferEncoding(false);
    std::string out = head_text(); // head and body in one write: the client wakes once
    if (!head_only_ && length > 0) out.append(static_cast<const char*>(data), length);
    write_out(out);
}

void BufferedResponse::redirect(const std::string& uri, HTTPStatus status) {
    setStatusAndReason(status);
    set("Location", uri);
    sendBuffer(nullptr, 0);
}

void BufferedResponse::requireAuthentication(const std::string& realm) {
    setStatusAndReason(HTTP_UNAUTHORIZED);
    set("WWW-Authenticate", "Basic realm=\"" + realm + "\"");
    sendBuffer(nullptr, 0);
}

void BufferedResponse::finish() {
    if (!buffer_) return;
    stream_->flush();
    buffer_->end();
    stream_.reset();
    buffer_.reset();
}

} // namespace keyholder::http::detail
