// http_request / http_call: one HTTP(S) request to a keyholder endpoint under test
// (loopback only).
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace keyholder::testing {

struct HttpAnswer {
    int status = 0;
    std::string body;
    std::string content_type;
    std::multimap<std::string, std::string> headers;
    [[nodiscard]] std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
};

struct HttpCall {
    std::string method = "GET";
    std::string url; ///< http(s)://127.0.0.1:PORT/path?query
    std::string body;
    std::string content_type = "application/json"; ///< sent when there is a body
    std::vector<std::pair<std::string, std::string>> headers;
    std::string basic_user; ///< with basic_password: an Authorization: Basic header
    std::string basic_password;
    std::string ca_file; ///< https: verify the server against this CA
};

/// http_call: status 0 when nothing answered (connection refused, TLS failure).
HttpAnswer http_call(const HttpCall& call);

/// http_request: METHOD url (http://127.0.0.1:PORT/path); status 0 when nothing answered.
HttpAnswer http_request(const std::string& method, const std::string& url, const std::string& body = {});
inline HttpAnswer http_get(const std::string& url) { return http_request("GET", url); }

} // namespace keyholder::testing
