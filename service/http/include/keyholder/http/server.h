// The HTTP(S) endpoint: a Poco HTTPServer with keyholder's limits, TLS 1.2+ when a
// certificate is configured, and JSON error bodies. This stage serves the probes:
//   GET /healthz  200 while the process runs (liveness)
//   GET /readyz   200 when the store and the directory answer, else 503 with the reason
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "keyholder/config/config.h"

namespace keyholder::http {

/// Check: one readiness probe; returns true when healthy, else fills `why`.
using Check = std::function<bool(std::string& why)>;

struct Readiness {
    Check store;
    Check directory;
    std::function<bool()> started; ///< start-up work (migrations, overdue processing) done
};

class Server {
public:
    /// Server: binds the socket at once (so a port conflict fails start-up) but
    /// accepts only after start(). Throws Poco::Exception on bind / TLS errors.
    Server(const config::HttpSection& settings, Readiness readiness);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    void start();
    /// stop: stops accepting, aborts open connections and joins the workers.
    void stop();
    /// port: the bound port (useful with port 0 in tests).
    [[nodiscard]] uint16_t port() const;
    /// url: scheme://address:port of the bound socket.
    [[nodiscard]] std::string url() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// error_body: {"error": {"code": CODE, "message": MESSAGE}} — the one error shape.
std::string error_body(const std::string& code, const std::string& message);

} // namespace keyholder::http
