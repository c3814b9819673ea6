// http_call / http_request (see http_get.h).
#include "support/http_get.h"

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPBasicCredentials.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <memory>

namespace keyholder::testing {

HttpAnswer http_call(const HttpCall& call) {
    HttpAnswer answer;
    try {
        Poco::URI uri(call.url);
        std::unique_ptr<Poco::Net::HTTPClientSession> session;
        if (uri.getScheme() == "https") {
            static const bool ssl_ready = [] {
                Poco::Net::initializeSSL();
                return true;
            }();
            (void)ssl_ready;
            Poco::Net::Context::Ptr context =
                new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "", call.ca_file,
                                       Poco::Net::Context::VERIFY_STRICT, 9, false, "HIGH:!aNULL");
            session = std::make_unique<Poco::Net::HTTPSClientSession>(uri.getHost(), uri.getPort(), context);
        } else {
            session = std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
        }
        session->setTimeout(Poco::Timespan(30, 0));
        Poco::Net::HTTPRequest request(call.method, uri.getPathAndQuery(), Poco::Net::HTTPMessage::HTTP_1_1);
        for (const auto& [name, value] : call.headers)
            request.add(name, value);
        if (!call.basic_user.empty())
            Poco::Net::HTTPBasicCredentials(call.basic_user, call.basic_password).authenticate(request);
        if (!call.body.empty() || call.method == "POST") {
            if (!call.body.empty() && !call.content_type.empty()) request.setContentType(call.content_type);
            request.setContentLength(static_cast<std::streamsize>(call.body.size()));
        }
        session->sendRequest(request) << call.body;
        Poco::Net::HTTPResponse response;
        std::istream& in = session->receiveResponse(response);
        Poco::StreamCopier::copyToString(in, answer.body);
        answer.status = static_cast<int>(response.getStatus());
        answer.content_type = response.getContentType();
        for (const auto& [name, value] : response)
            answer.headers.emplace(name, value);
    } catch (const Poco::Exception&) {
        answer.status = 0;
    }
    return answer;
}

HttpAnswer http_request(const std::string& method, const std::string& url, const std::string& body) {
    HttpCall call;
    call.method = method;
    call.url = url;
    call.body = body;
    return http_call(call);
}

} // namespace keyholder::testing
