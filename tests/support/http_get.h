// http_get: one plain-HTTP request to a keyholderd under test (loopback only).
#pragma once

#include <string>

namespace keyholder::testing {

struct HttpAnswer {
    int status = 0;
    std::string body;
    std::string content_type;
};

/// http_request: METHOD url (http://127.0.0.1:PORT/path); status 0 when nothing answered.
HttpAnswer http_request(const std::string& method, const std::string& url, const std::string& body = {});
inline HttpAnswer http_get(const std::string& url) { return http_request("GET", url); }

} // namespace keyholder::testing
