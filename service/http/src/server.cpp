// The HTTP(S) endpoint (see server.h).
#include "keyholder/http/server.h"

#include <Poco/JSON/Object.h>
#include <Poco/Logger.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/ThreadPool.h>

#include <sstream>

namespace keyholder::http {
namespace {

using Poco::Net::HTTPResponse;

void send_json(Poco::Net::HTTPServerResponse& response, HTTPResponse::HTTPStatus status, const std::string& body) {
    response.setStatus(status);
    response.setContentType("application/json");
    response.set("Cache-Control", "no-store");
    response.set("X-Content-Type-Options", "nosniff");
    response.setContentLength(static_cast<std::streamsize>(body.size()));
    response.send() << body;
}

std::string status_body(const std::string& status, const std::string& detail = {}) {
    Poco::JSON::Object object;
    object.set("status", status);
    if (!detail.empty()) object.set("detail", detail);
    std::ostringstream out;
    object.stringify(out);
    return out.str();
}

class ProbeHandler : public Poco::Net::HTTPRequestHandler {
public:
    ProbeHandler(const Readiness& readiness, bool ready_probe) : readiness_(readiness), ready_probe_(ready_probe) {}

    void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override {
        if (request.getMethod() != "GET" && request.getMethod() != "HEAD") {
            response.set("Allow", "GET, HEAD");
            send_json(response, HTTPResponse::HTTP_METHOD_NOT_ALLOWED,
                      error_body("method_not_allowed", request.getMethod() + " is not allowed on " + request.getURI()));
            return;
        }
        if (!ready_probe_) {
            send_json(response, HTTPResponse::HTTP_OK, status_body("alive"));
            return;
        }
        std::string why;
        if (readiness_.started && !readiness_.started())
            why = "start-up work is not finished";
        else if (readiness_.store && !readiness_.store(why))
            why = "store: " + why;
        else if (readiness_.directory && !readiness_.directory(why))
            why = "directory: " + why;
        if (why.empty())
            send_json(response, HTTPResponse::HTTP_OK, status_body("ready"));
        else
            send_json(response, HTTPResponse::HTTP_SERVICE_UNAVAILABLE, status_body("not ready", why));
    }

private:
    const Readiness& readiness_;
    bool ready_probe_;
};

class NotFoundHandler : public Poco::Net::HTTPRequestHandler {
public:
    void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override {
        send_json(response, HTTPResponse::HTTP_NOT_FOUND,
                  error_body("not_found", "no route for " + request.getMethod() + " " + request.getURI()));
    }
};

class Router : public Poco::Net::HTTPRequestHandlerFactory {
public:
    explicit Router(const Readiness& readiness) : readiness_(readiness) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest& request) override {
        const std::string path = request.getURI().substr(0, request.getURI().find('?'));
        if (path == "/healthz") return new ProbeHandler(readiness_, false);
        if (path == "/readyz") return new ProbeHandler(readiness_, true);
        return new NotFoundHandler;
    }

private:
    const Readiness& readiness_;
};

// SO_REUSEADDR (fast restart) but never SO_REUSEPORT: a second process must not be
// able to share, and silently split, our port.
template <typename Socket> Socket& bind_exclusive(Socket& socket, const Poco::Net::SocketAddress& address) {
    if (address.family() == Poco::Net::SocketAddress::IPv6)
        socket.bind6(address, true, false, true);
    else
        socket.bind(address, true, false);
    socket.listen(64);
    return socket;
}

Poco::Net::ServerSocket make_socket(const config::HttpSection& settings) {
    Poco::Net::SocketAddress address(settings.address, settings.port);
    if (!settings.tls()) {
        Poco::Net::ServerSocket socket;
        return bind_exclusive(socket, address);
    }
    Poco::Net::Context::Ptr context = new Poco::Net::Context(
        Poco::Net::Context::TLS_SERVER_USE, settings.tls_key_file->string(), settings.tls_cert_file->string(), "",
        Poco::Net::Context::VERIFY_NONE, 9, false, "HIGH:!aNULL:!MD5:!RC4");
    context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
    context->enableExtendedCertificateVerification(false);
    Poco::Net::SecureServerSocket socket(context);
    return bind_exclusive(socket, address);
}

} // namespace

std::string error_body(const std::string& code, const std::string& message) {
    Poco::JSON::Object inner;
    inner.set("code", code);
    inner.set("message", message);
    Poco::JSON::Object outer;
    outer.set("error", inner);
    std::ostringstream out;
    outer.stringify(out);
    return out.str();
}

struct Server::Impl {
    Readiness readiness;
    bool tls;
    Poco::Net::SocketAddress bound;
    Poco::ThreadPool pool;
    std::unique_ptr<Poco::Net::HTTPServer> server;
    Impl(const config::HttpSection& settings, Readiness r)
        : readiness(std::move(r)), tls(settings.tls()), pool(2, settings.threads + 1) {}
};

Server::Server(const config::HttpSection& settings, Readiness readiness)
    : impl_(std::make_unique<Impl>(settings, std::move(readiness))) {
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(settings.threads);
    params->setMaxQueued(settings.max_queued);
    params->setKeepAlive(true);
    params->setKeepAliveTimeout(Poco::Timespan(settings.keepalive_timeout.count(), 0));
    params->setTimeout(Poco::Timespan(settings.read_timeout.count(), 0));
    params->setServerName("keyholder");
    Poco::Net::ServerSocket socket = make_socket(settings);
    impl_->bound = socket.address();
    impl_->server = std::make_unique<Poco::Net::HTTPServer>(new Router(impl_->readiness), impl_->pool, socket, params);
}

Server::~Server() { stop(); }

void Server::start() { impl_->server->start(); }

void Server::stop() {
    if (!impl_ || !impl_->server) return;
    impl_->server->stopAll(true); // abort keep-alive connections too: stop within the 2 s budget
    impl_->pool.joinAll();
    impl_->server.reset();
}

uint16_t Server::port() const { return impl_->bound.port(); }

std::string Server::url() const { return std::string(impl_->tls ? "https" : "http") + "://" + impl_->bound.toString(); }

} // namespace keyholder::http
