// The HTTP(S) endpoint: a Poco HTTPServer with keyholder's limits, TLS 1.2+ when a
// certificate is configured, sign-on, cross-site protection and JSON error bodies.
//
// Every request goes through the same gate, in this order:
//   431 too many / too large header fields      404 / 405 (with Allow) no such route
//   401 / 403 / 429 / 503 sign-on (routes that need it)
//   403 cross-site (state-changing routes: Origin must be the public URL or allowed)
//   415 wrong Content-Type                       413 body over max_body_bytes
// then the route's handler; HttpError from it becomes {"error": {"code", "message"}},
// anything else a logged 500. The server always serves
//   GET /healthz  200 while the process runs (liveness)
//   GET /readyz   200 when the store and the directory answer, else 503 with the reason
//   GET /metrics  Prometheus text
// Connections are read by one reactor thread without blocking until a whole request
// is in (src/front.h); workers run complete requests only, so a slow or idle client
// holds a socket, never a worker. A request must arrive within read_timeout (else
// 408); connections are capped per client address and in all (503 at accept).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "keyholder/config/config.h"
#include "keyholder/http/exchange.h"
#include "keyholder/http/metrics.h"
#include "keyholder/http/router.h"

namespace keyholder::http {

/// Check: one readiness probe; returns true when healthy, else fills `why`.
using Check = std::function<bool(std::string& why)>;

struct Readiness {
    Check store;
    Check directory;
    std::function<bool()> started; ///< start-up work (migrations, overdue processing) done
    /// leader: whether this node runs the scheduler and the exports now (several
    /// nodes on PostgreSQL: one at a time); node: this node's name in the answer.
    std::function<bool()> leader;
    std::string node;
};

/// Authenticator: signs callers on (Negotiate, Basic). Implemented by keyholder::auth.
class Authenticator {
public:
    virtual ~Authenticator() = default;
    /// sign_on: the caller, or HttpError 401 (with WWW-Authenticate), 403, 429 or 503.
    /// `answer_headers` receives headers for the answer (the Negotiate mutual-auth token).
    virtual Identity sign_on(const Request& request,
                             std::vector<std::pair<std::string, std::string>>& answer_headers) = 0;
};

class Server {
public:
    /// Server: binds the socket at once (so a port conflict fails start-up) but
    /// accepts only after start(). Throws Poco::Exception on bind / TLS errors.
    /// `router`, `authenticator` and `metrics` must outlive the server.
    Server(const config::HttpSection& settings, Readiness readiness, const Router* router = nullptr,
           Authenticator* authenticator = nullptr, Metrics* metrics = nullptr);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    void start();
    /// stop: stops accepting, aborts open connections (an answer in progress is cut
    /// short) and joins the threads.
    void stop();
    /// port: the bound port (useful with port 0 in tests).
    [[nodiscard]] uint16_t port() const;
    /// url: scheme://address:port of the bound socket.
    [[nodiscard]] std::string url() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// origin_of: "scheme://host[:port]" of a URL (the port only when not the default).
std::string origin_of(const std::string& url);

} // namespace keyholder::http
