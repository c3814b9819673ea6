// The HTTP(S) endpoint (see server.h).
#include "keyholder/http/server.h"

#include <Poco/DigestEngine.h>
#include <Poco/JSON/Object.h>
#include <Poco/Logger.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/NameValueCollection.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/SHA2Engine.h>
#include <Poco/String.h>
#include <Poco/URI.h>
#include <openssl/crypto.h>

#include <atomic>
#include <chrono>
#include <set>
#include <sstream>

#include "buffered_exchange.h"
#include "front.h"
#include "keyholder/http/json.h"
#include "keyholder/text/text.h"

namespace keyholder::http {

std::string Request::header(const std::string& name) const { return raw ? raw->get(name, "") : std::string(); }

std::optional<std::string> Request::cookie(const std::string& name) const {
    if (!raw) return std::nullopt;
    Poco::Net::NameValueCollection cookies;
    raw->getCookies(cookies);
    if (!cookies.has(name)) return std::nullopt;
    return cookies.get(name);
}

const Identity& Request::caller() const {
    if (!identity) throw HttpError(401, "not_signed_on", "sign on first");
    return *identity;
}

std::string error_body(const std::string& code, const std::string& message) {
    Poco::JSON::Object inner;
    inner.set("code", code);
    inner.set("message", message);
    Poco::JSON::Object outer;
    outer.set("error", inner);
    return to_json(outer);
}

std::string origin_of(const std::string& url) {
    try {
        Poco::URI uri(url);
        const std::string scheme = Poco::toLower(uri.getScheme());
        std::string origin = scheme + "://" + Poco::toLower(uri.getHost());
        const unsigned default_port = scheme == "https" ? 443 : 80;
        if (uri.getPort() == 0 || uri.getPort() == default_port) return origin;
        return origin + ":" + std::to_string(uri.getPort());
    } catch (const Poco::Exception&) {
        return {};
    }
}

namespace {

using Poco::Net::HTTPResponse;
/// kMaxRequestLine: what the head may hold beyond max_header_bytes (the request line).
constexpr size_t kMaxRequestLine = 8192;
using Headers = std::vector<std::pair<std::string, std::string>>;

Poco::Logger& log() { return Poco::Logger::get("keyholder.http"); }

std::string status_body(const std::string& status, const std::string& detail = {}) {
    Poco::JSON::Object object;
    object.set("status", status);
    if (!detail.empty()) object.set("detail", detail);
    return to_json(object);
}

std::string media_type(const std::string& content_type) {
    return Poco::toLower(Poco::trim(content_type.substr(0, content_type.find(';'))));
}

// Shared by every connection of one server.
struct Gate {
    const config::HttpSection& settings;
    const Readiness& readiness;
    const Router* router;
    Authenticator* authenticator;
    Metrics* metrics;
    bool tls;
    std::set<std::string> origins; // allowed to send state-changing requests
    Router builtin;
    Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
};

// Dispatcher: runs one complete request that the front end buffered (in a worker).
class Dispatcher {
public:
    explicit Dispatcher(Gate& gate) : gate_(gate) {}

    detail::After serve(detail::Job& job) {
        using detail::Framing;
        detail::Connection& connection = *job.connection;
        detail::BufferedResponse answer(connection, std::chrono::milliseconds(gate_.settings.read_timeout));
        detail::BufferedRequest raw(connection, std::move(job.framing.body),
                                    job.framing.state == Framing::State::body_too_large, *gate_.params, answer);
        if (job.framing.state == Framing::State::head_too_large) {
            answer_unparsed(connection, answer, 431, "header_fields_too_large",
                            "the request head is over " + std::to_string(gate_.settings.max_header_bytes) + " bytes");
            return detail::After::linger;
        }
        if (job.framing.state == Framing::State::body_too_large) {
            // Answered before anything else: the body is not read (and a Content-Length
            // too large for any integer is not handed to Poco's parser).
            answer_unparsed(connection, answer, 413, "body_too_large",
                            "the body is over " + std::to_string(gate_.settings.max_body_bytes) + " bytes");
            return detail::After::linger;
        }
        if (job.framing.state == Framing::State::bad) {
            answer_unparsed(connection, answer, 400, "bad_request", "bad request framing: " + job.framing.problem);
            return detail::After::linger;
        }
        const std::string_view head = std::string_view(connection.input).substr(0, job.framing.head_bytes);
        if (auto problem = detail::head_problem(head, gate_.settings.max_header_fields)) {
            answer_unparsed(connection, answer, problem->status(), problem->code(), problem->what());
            return detail::After::linger;
        }
        try {
            raw.parse(head);
        } catch (const Poco::Exception& e) {
            answer_unparsed(connection, answer, 400, "bad_request", "bad request: " + e.message());
            return detail::After::linger;
        }
        answer.setVersion(raw.getVersion());
        answer.set_head_only(raw.getMethod() == "HEAD");
        const bool drain_failed = handle(raw, answer);
        answer.finish();
        if (answer.failed()) return detail::After::close;
        if (drain_failed) return detail::After::linger;
        return answer.getKeepAlive() ? detail::After::keep_alive : detail::After::close;
    }

private:
    // answer_unparsed: the answer to a request whose head could not be read.
    void answer_unparsed(const detail::Connection& connection, detail::BufferedResponse& answer, int status,
                         const std::string& code, const std::string& message) const {
        log().information("request from %s: %d %s: %s", connection.peer_host(), status, code, text::printable(message));
        answer.setVersion(Poco::Net::HTTPMessage::HTTP_1_1);
        answer.setStatusAndReason(static_cast<HTTPResponse::HTTPStatus>(status));
        answer.setContentType("application/json");
        answer.set("Cache-Control", "no-store");
        answer.set("X-Content-Type-Options", "nosniff");
        answer.setKeepAlive(false);
        const std::string body = error_body(code, message);
        answer.sendBuffer(body.data(), body.size());
        if (gate_.metrics) gate_.metrics->observe_request("unparsed", "?", status, 0.0);
    }

    // handle: routing, the gate and the route's handler; true when the body was not
    // read (the connection is then closed after a lingering read).
    bool handle(detail::BufferedRequest& raw, detail::BufferedResponse& answer) {
        const auto started = std::chrono::steady_clock::now();
        Request request;
        Response response;
        std::string route_name = "unmatched";
        bool drain_failed = false; // the body was not read: the connection cannot be reused
        request.raw = &raw;
        request.method = raw.getMethod();
        request.client = raw.clientAddress().host().toString();
        request.secure = raw.secure();
        try {
            check_headers(raw);
            Poco::URI uri(raw.getURI());
            request.path = uri.getPath();
            for (const auto& [key, value] : uri.getQueryParameters()) {
                if (!request.query.emplace(key, value).second)
                    throw HttpError(400, "repeated_parameter",
                                    "query parameter '" + text::printable(key, 64) + "' is given twice");
            }
            Match match = gate_.builtin.match(request.method, request.path);
            if (!match.route && gate_.router) match = gate_.router->match(request.method, request.path);
            if (!match.route) {
                if (!match.allow.empty()) {
                    HttpError e(405, "method_not_allowed", request.method + " is not allowed on " + request.path);
                    e.headers.emplace_back("Allow", match.allow);
                    throw e;
                }
                throw HttpError(404, "not_found",
                                "no route for " + text::printable(request.method, 32) + " " +
                                    text::printable(request.path));
            }
            const Route& route = *match.route;
            route_name = route.pattern;
            request.params = std::move(match.params);
            const bool has_body =
                raw.hasContentLength() ? raw.getContentLength64() > 0 : raw.getChunkedTransferEncoding();
            drain_failed = has_body;
            if (route.options.sign_on) {
                if (!gate_.authenticator) throw HttpError(503, "no_sign_on", "sign-on is not configured");
                request.identity = gate_.authenticator->sign_on(request, response.headers);
            }
            const bool changes_state = request.method != "GET" && request.method != "HEAD";
            if (changes_state) check_origin(raw);
            // A browser sends the session cookie by itself; the token only a page of
            // ours can read is what shows that the request comes from it.
            if (changes_state && route.options.session_csrf && request.identity &&
                request.identity->method == "session") {
                const std::string sent = raw.get("X-CSRF-Token", "");
                const std::string& want = request.identity->csrf_token;
                if (sent.size() != want.size() || want.empty() ||
                    CRYPTO_memcmp(sent.data(), want.data(), want.size()) != 0)
                    throw HttpError(403, "csrf_token", "a change from a portal session needs its X-CSRF-Token");
            }
            if (route.options.body != RouteOptions::Body::none && has_body) {
                const std::string want = route.options.body == RouteOptions::Body::json
                                             ? "application/json"
                                             : "application/x-www-form-urlencoded";
                if (media_type(raw.getContentType()) != want)
                    throw HttpError(415, "unsupported_media_type", "send the body as " + want);
            }
            request.body = read_body(raw);
            drain_failed = false;
            route.handler(request, response);
        } catch (const HttpError& e) {
            refuse(request, response, e);
        } catch (const Poco::Net::MessageException& e) {
            refuse(request, response, HttpError(400, "bad_request", text::printable(e.message())));
        } catch (const Poco::SyntaxException& e) {
            refuse(request, response, HttpError(400, "bad_request", "bad URI: " + text::printable(e.message())));
        } catch (const std::exception& e) {
            auto mapped = gate_.router ? gate_.router->translate(e) : std::nullopt;
            log().error("%s %s from %s: %s: %s", text::printable(request.method, 32), text::printable(request.path),
                        request.client, std::string(mapped ? mapped->code() : "internal error"),
                        text::printable(e.what()));
            response = Response{};
            if (mapped)
                refuse(request, response, *mapped);
            else
                response.json(500, error_body("internal", "internal error; the service log has the details"));
        }
        send(raw, answer, response, drain_failed);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        if (gate_.metrics) gate_.metrics->observe_request(route_name, request.method, response.status, seconds);
        return drain_failed;
    }

    // check_headers: the total size (the field count and field sizes were checked
    // before the head was parsed, in head_problem).
    void check_headers(const Poco::Net::HTTPServerRequest& raw) const {
        size_t bytes = raw.getURI().size();
        for (const auto& [name, value] : raw)
            bytes += name.size() + value.size() + 4;
        if (static_cast<int>(bytes) > gate_.settings.max_header_bytes)
            throw HttpError(431, "header_fields_too_large",
                            "headers over " + std::to_string(gate_.settings.max_header_bytes) + " bytes");
    }

    // A browser sends Origin with every cross-site POST; programs (the CLI) send none.
    void check_origin(const Poco::Net::HTTPServerRequest& raw) const {
        if (raw.has("Origin")) {
            const std::string origin = Poco::toLower(raw.get("Origin"));
            if (gate_.origins.count(origin) == 0)
                throw HttpError(403, "cross_site",
                                "requests from origin '" + text::printable(raw.get("Origin"), 128) + "' are refused");
            return;
        }
        const std::string site = Poco::toLower(raw.get("Sec-Fetch-Site", ""));
        if (site == "cross-site" || site == "same-site")
            throw HttpError(403, "cross_site", "cross-site requests are refused");
    }

    std::string read_body(detail::BufferedRequest& raw) const {
        const size_t limit = gate_.settings.max_body_bytes;
        if (raw.body_too_large() ||
            (raw.hasContentLength() && raw.getContentLength64() > static_cast<Poco::Int64>(limit)))
            throw HttpError(413, "body_too_large", "the body is over " + std::to_string(limit) + " bytes");
        std::string body;
        if (!raw.hasContentLength() && !raw.getChunkedTransferEncoding()) return body;
        std::istream& in = raw.stream();
        char buffer[8192];
        while (in) {
            in.read(buffer, sizeof buffer);
            body.append(buffer, static_cast<size_t>(in.gcount()));
            if (body.size() > limit)
                throw HttpError(413, "body_too_large", "the body is over " + std::to_string(limit) + " bytes");
        }
        if (raw.hasContentLength() && body.size() != static_cast<size_t>(raw.getContentLength64()))
            throw HttpError(400, "short_body", "the body ended before Content-Length bytes");
        return body;
    }

    void refuse(const Request& request, Response& response, const HttpError& e) const {
        const std::string who = request.identity ? " (" + request.identity->name + ")" : "";
        // Everything from the request is shown escaped: one event, one log line.
        const std::string line = text::printable(request.method, 32) + " " + text::printable(request.path) + " from " +
                                 request.client + who + ": " + std::to_string(e.status()) + " " + e.code() + ": " +
                                 text::printable(e.what());
        if (e.status() >= 500)
            log().error(line);
        else if (e.status() == 401 || e.status() == 403 || e.status() == 429)
            log().notice(line);
        else
            log().information(line);
        Headers keep;
        for (auto& header : response.headers) // a mutual-auth token stays with a refusal after sign-on
            if (header.first == "WWW-Authenticate" && request.identity) keep.push_back(header);
        response = Response{};
        response.headers = std::move(keep);
        for (const auto& header : e.headers)
            response.headers.push_back(header);
        response.json(e.status(), error_body(e.code(), e.what()));
    }

    void send(detail::BufferedRequest& raw, detail::BufferedResponse& answer, Response& response,
              bool drain_failed) const {
        answer.setStatusAndReason(static_cast<HTTPResponse::HTTPStatus>(response.status));
        if (!response.content_type.empty()) answer.setContentType(response.content_type);
        answer.set("Cache-Control", "no-store");
        answer.set("X-Content-Type-Options", "nosniff");
        answer.set("X-Frame-Options", "DENY");
        if (gate_.tls) answer.set("Strict-Transport-Security", "max-age=31536000");
        // A handler's header replaces the default of that name (the portal's files are
        // cacheable); only the fields that may repeat are added.
        for (const auto& [name, value] : response.headers)
            if (Poco::icompare(name, "Set-Cookie") == 0 || Poco::icompare(name, "WWW-Authenticate") == 0)
                answer.add(name, value);
            else
                answer.set(name, value);
        // A GET answer carries an ETag (a hash of its body), so that a page polling for
        // changes gets 304 and no body while nothing changed.
        if (response.status == 200 && !response.stream && (raw.getMethod() == "GET" || raw.getMethod() == "HEAD") &&
            !answer.has("ETag")) {
            Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
            engine.update(response.body);
            const std::string etag = "\"" + Poco::DigestEngine::digestToHex(engine.digest()).substr(0, 32) + "\"";
            answer.set("ETag", etag);
            if (raw.get("If-None-Match", "") == etag) {
                answer.setStatusAndReason(HTTPResponse::HTTP_NOT_MODIFIED);
                response.status = 304;
                response.body.clear();
            }
        }
        // Kept-alive connections wait in the front end's reactor, not in a worker; never
        // after an unread body.
        answer.setKeepAlive(!drain_failed && raw.getKeepAlive());
        if (response.stream) {
            answer.setChunkedTransferEncoding(true);
            std::ostream& out = answer.send();
            try {
                response.stream(out);
            } catch (const std::exception& e) {
                // Headers are gone: the only honest signal left is to cut the chunked stream short.
                log().error("%s: stream failed mid-way: %s", raw.getURI(), std::string(e.what()));
                throw;
            }
            return;
        }
        // Header and body in one buffer: one send, so the client wakes once.
        answer.sendBuffer(response.body.data(), response.body.size());
    }

    Gate& gate_;
};

// SO_REUSEADDR (fast restart) but never SO_REUSEPORT: a second process must not be
// able to share, and silently split, our port.
template <typename Socket>
Socket& bind_exclusive(Socket& socket, const Poco::Net::SocketAddress& address, int backlog) {
    if (address.family() == Poco::Net::SocketAddress::IPv6)
        socket.bind6(address, true, false, true);
    else
        socket.bind(address, true, false);
    socket.listen(backlog);
    return socket;
}

Poco::Net::ServerSocket make_socket(const config::HttpSection& settings) {
    Poco::Net::SocketAddress address(settings.address, settings.port);
    const int backlog = std::max(64, settings.max_queued);
    Poco::Net::ServerSocket socket;
    return bind_exclusive(socket, address, backlog);
}

// make_tls_context: TLS 1.2+ with the configured certificate; the front end runs
// OpenSSL over its SSL_CTX itself (non-blocking), so a slow handshake holds no thread.
Poco::Net::Context::Ptr make_tls_context(const config::HttpSection& settings) {
    if (!settings.tls()) return nullptr;
    Poco::Net::Context::Ptr context = new Poco::Net::Context(
        Poco::Net::Context::TLS_SERVER_USE, settings.tls_key_file->string(), settings.tls_cert_file->string(), "",
        Poco::Net::Context::VERIFY_NONE, 9, false, "HIGH:!aNULL:!MD5:!RC4");
    context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
    context->enableExtendedCertificateVerification(false);
    return context;
}

void add_builtin_routes(Gate& gate) {
    RouteOptions open{.sign_on = false};
    gate.builtin.get(
        "/healthz", [](Request&, Response& response) { response.json(200, status_body("alive")); }, open);
    gate.builtin.get(
        "/readyz",
        [&gate](Request&, Response& response) {
            std::string why;
            if (gate.readiness.started && !gate.readiness.started())
                why = "start-up work is not finished";
            else if (gate.readiness.store && !gate.readiness.store(why))
                why = "store: " + why;
            else if (gate.readiness.directory && !gate.readiness.directory(why))
                why = "directory: " + why;
            Poco::JSON::Object object;
            object.set("status", why.empty() ? "ready" : "not ready");
            if (!why.empty()) object.set("detail", why);
            if (!gate.readiness.node.empty()) object.set("node", gate.readiness.node);
            if (gate.readiness.leader) object.set("scheduler", gate.readiness.leader() ? "leader" : "follower");
            response.json(why.empty() ? 200 : 503, to_json(object));
        },
        open);
    gate.builtin.get(
        "/metrics",
        [&gate](Request&, Response& response) {
            response.status = 200;
            response.content_type = "text/plain; version=0.0.4";
            response.body = gate.metrics ? gate.metrics->render() : std::string();
        },
        open);
}

} // namespace

struct Server::Impl {
    Readiness readiness;
    Gate gate;
    Poco::Net::SocketAddress bound;
    Poco::Net::Context::Ptr tls;
    Dispatcher dispatcher;
    std::unique_ptr<detail::Front> front;
    Impl(const config::HttpSection& settings, Readiness r, const Router* router, Authenticator* authenticator,
         Metrics* metrics)
        : readiness(std::move(r)), gate{settings, readiness, router, authenticator, metrics, settings.tls(), {}, {}},
          dispatcher(gate) {}
};

Server::Server(const config::HttpSection& settings, Readiness readiness, const Router* router,
               Authenticator* authenticator, Metrics* metrics)
    : impl_(std::make_unique<Impl>(settings, std::move(readiness), router, authenticator, metrics)) {
    add_builtin_routes(impl_->gate);
    if (auto origin = origin_of(settings.public_url); !origin.empty()) impl_->gate.origins.insert(origin);
    for (const auto& extra : settings.allowed_origins)
        if (auto origin = origin_of(extra); !origin.empty()) impl_->gate.origins.insert(origin);
    impl_->gate.params->setServerName("keyholder");
    impl_->gate.params->setKeepAlive(true);
    impl_->tls = make_tls_context(settings);
    Poco::Net::ServerSocket socket = make_socket(settings);
    impl_->bound = socket.address();
    // A page served from the listening address itself is same-origin too (the default
    // public_url names port 0 when the port is picked at bind time).
    if (auto origin = origin_of(std::string(settings.tls() ? "https://" : "http://") + impl_->bound.toString());
        !origin.empty())
        impl_->gate.origins.insert(origin);
    detail::FrontSettings front;
    front.limits = {static_cast<size_t>(settings.max_header_bytes) + kMaxRequestLine, settings.max_body_bytes};
    front.request_timeout = settings.read_timeout;
    front.keepalive_timeout = settings.keepalive_timeout;
    front.workers = settings.threads;
    front.max_queued = static_cast<size_t>(settings.max_queued);
    front.max_per_address = settings.max_connections_per_address;
    front.max_connections = settings.max_connections;
    if (metrics != nullptr)
        front.counted = [metrics](const char* event) {
            if (std::string_view(event) == "refused")
                metrics->add("keyholder_http_connections_refused_total",
                             "Connections refused at accept (per-address or total cap)");
            else
                metrics->add("keyholder_http_request_timeouts_total",
                             "Requests that did not arrive whole within read_timeout (408)");
        };
    impl_->front =
        std::make_unique<detail::Front>(std::move(socket), impl_->tls ? impl_->tls->sslContext() : nullptr, front,
                                        [this](detail::Job& job) { return impl_->dispatcher.serve(job); });
    if (metrics != nullptr) {
        detail::Front* f = impl_->front.get();
        metrics->gauge("keyholder_http_connections_open", "Client connections open now",
                       [f] { return f->counts().open; });
        metrics->gauge("keyholder_http_workers_busy", "Workers running a request now",
                       [f] { return f->counts().busy; });
        metrics->gauge("keyholder_http_requests_queued", "Complete requests waiting for a worker",
                       [f] { return static_cast<double>(f->counts().queued); });
    }
}

Server::~Server() { stop(); }

void Server::start() { impl_->front->start(); }

void Server::stop() {
    if (!impl_ || !impl_->front) return;
    impl_->front->stop(); // aborts open connections too: stop within the 2 s budget
    impl_->front.reset();
}

uint16_t Server::port() const { return impl_->bound.port(); }

std::string Server::url() const {
    return std::string(impl_->gate.tls ? "https" : "http") + "://" + impl_->bound.toString();
}

} // namespace keyholder::http
