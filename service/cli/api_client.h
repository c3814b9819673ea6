// ApiClient: the keyholder CLI's HTTP(S) client for the JSON API. Signs on with
// HTTP Negotiate from the caller's Kerberos ticket cache (MIT GSSAPI; no password
// on a domain-joined machine) or, with --user, with Basic and a prompted password.
// Verifies the server certificate (system CAs, or --ca-file).
#pragma once

#include <optional>
#include <ostream>
#include <string>

namespace keyholder::cli {

struct ClientOptions {
    std::string server;                  ///< https://keyholder.example.com:8443
    std::optional<std::string> user;     ///< Basic sign-on as this user
    std::optional<std::string> password; ///< for Basic (prompted by the caller)
    std::string ca_file;                 ///< extra CA bundle for the server certificate
    int timeout_seconds = 30;
};

struct ApiAnswer {
    int status = 0;    ///< 0: no answer (network, TLS)
    std::string body;  ///< JSON
    std::string error; ///< why there was no answer, or the server's error message
    std::string code;  ///< the server's error code
};

class ApiClient {
public:
    explicit ApiClient(ClientOptions options) : options_(std::move(options)) {}
    ApiAnswer get(const std::string& path) { return call("GET", path, ""); }
    /// get_to: a 200 answer's body goes to `sink` as it arrives (large reports);
    /// other answers land in ApiAnswer::body as usual.
    ApiAnswer get_to(const std::string& path, std::ostream& sink) { return call("GET", path, "", &sink); }
    ApiAnswer post(const std::string& path, const std::string& json) { return call("POST", path, json); }

private:
    ApiAnswer call(const std::string& method, const std::string& path, const std::string& body,
                   std::ostream* sink = nullptr);
    ClientOptions options_;
};

} // namespace keyholder::cli
