#include "api_client.h"

#include "keyholder/auth/negotiate_client.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
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
#include <sstream>

namespace keyholder::cli {
ApiAnswer ApiClient::call(const std::string& method, const std::string& path, const std::string& body,
                          std::ostream* sink) {
    ApiAnswer answer;
    try {
        Poco::URI uri(options_.server);
        std::unique_ptr<Poco::Net::HTTPClientSession> session;
        if (uri.getScheme() == "https") {
            static const bool ssl = [] {
                Poco::Net::initializeSSL();
                return true;
            }();
            (void)ssl;
            Poco::Net::Context::Ptr context =
                new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "", options_.ca_file,
                                       Poco::Net::Context::VERIFY_STRICT, 9, options_.ca_file.empty(), "HIGH:!aNULL");
            context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
            session = std::make_unique<Poco::Net::HTTPSClientSession>(uri.getHost(), uri.getPort(), context);
        } else if (uri.getScheme() == "http") {
            session = std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
        } else {
            answer.error = "the server URL must start with https:// (or http:// for a loopback test)";
            return answer;
        }
        session->setTimeout(Poco::Timespan(options_.timeout_seconds, 0));
        Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
        request.set("Accept", "application/json");
        request.set("User-Agent", "keyholder-cli/0.1.0");
        if (options_.user) {
            Poco::Net::HTTPBasicCredentials(*options_.user, options_.password.value_or("")).authenticate(request);
        } else {
            std::string why;
            auto token = auth::negotiate_token(uri.getHost(), why);
            if (!token) {
                answer.error = "no Kerberos ticket for HTTP/" + uri.getHost() + " (" + why +
                               "); run kinit, or sign on with --user NAME";
                return answer;
            }
            request.set("Authorization", "Negotiate " + *token);
        }
        if (method == "POST") {
            request.setContentType("application/json");
            request.setContentLength(static_cast<std::streamsize>(body.size()));
        }
        session->sendRequest(request) << body;
        Poco::Net::HTTPResponse response;
        std::istream& in = session->receiveResponse(response);
        if (sink != nullptr && response.getStatus() == Poco::Net::HTTPResponse::HTTP_OK)
            Poco::StreamCopier::copyStream(in, *sink, 1 << 16); // constant memory
        else
            Poco::StreamCopier::copyToString(in, answer.body);
        answer.status = static_cast<int>(response.getStatus());
        if (answer.status >= 400) {
            try {
                Poco::JSON::Parser parser;
                auto error = parser.parse(answer.body).extract<Poco::JSON::Object::Ptr>()->getObject("error");
                answer.code = error->getValue<std::string>("code");
                answer.error = error->getValue<std::string>("message");
            } catch (const std::exception&) {
                answer.error = response.getReason();
            }
        }
    } catch (const Poco::Exception& e) {
        answer.status = 0;
        answer.error = "cannot reach " + options_.server + ": " + e.displayText();
    }
    return answer;
}

} // namespace keyholder::cli
