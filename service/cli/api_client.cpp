#include "api_client.h"

#include <Poco/Base64Encoder.h>
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

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>

#include <gsl/util>
#include <memory>
#include <sstream>

namespace keyholder::cli {
namespace {

std::string gss_message(OM_uint32 major, OM_uint32 minor) {
    std::string text;
    for (auto [code, type] : {std::pair{major, GSS_C_GSS_CODE}, std::pair{minor, GSS_C_MECH_CODE}}) {
        if (type == GSS_C_MECH_CODE && code == 0) continue;
        OM_uint32 context = 0;
        do {
            OM_uint32 ignored = 0;
            gss_buffer_desc message{0, nullptr};
            if (gss_display_status(&ignored, code, type, GSS_C_NO_OID, &context, &message) != GSS_S_COMPLETE) break;
            if (!text.empty()) text += ": ";
            text.append(static_cast<const char*>(message.value), message.length);
            gss_release_buffer(&ignored, &message);
        } while (context != 0);
    }
    return text;
}

} // namespace

std::optional<std::string> negotiate_token(const std::string& host, std::string& error) {
    OM_uint32 minor = 0;
    const std::string service = "HTTP@" + host;
    gss_buffer_desc name_text{service.size(), const_cast<char*>(service.data())};
    gss_name_t target = GSS_C_NO_NAME;
    OM_uint32 major = gss_import_name(&minor, &name_text, GSS_C_NT_HOSTBASED_SERVICE, &target);
    if (GSS_ERROR(major)) {
        error = gss_message(major, minor);
        return std::nullopt;
    }
    gss_ctx_id_t context = GSS_C_NO_CONTEXT;
    gss_buffer_desc output{0, nullptr};
    auto release = gsl::finally([&] {
        OM_uint32 ignored = 0;
        gss_release_name(&ignored, &target);
        if (context != GSS_C_NO_CONTEXT) gss_delete_sec_context(&ignored, &context, GSS_C_NO_BUFFER);
        gss_release_buffer(&ignored, &output);
    });
    static gss_OID_desc spnego{6, const_cast<char*>("\x2b\x06\x01\x05\x05\x02")};
    major = gss_init_sec_context(&minor, GSS_C_NO_CREDENTIAL, &context, target, &spnego, 0, 0,
                                 GSS_C_NO_CHANNEL_BINDINGS, GSS_C_NO_BUFFER, nullptr, &output, nullptr, nullptr);
    if (GSS_ERROR(major)) {
        error = gss_message(major, minor);
        return std::nullopt;
    }
    std::ostringstream encoded;
    Poco::Base64Encoder encoder(encoded);
    encoder.rdbuf()->setLineLength(0);
    encoder.write(static_cast<const char*>(output.value), static_cast<std::streamsize>(output.length));
    encoder.close();
    return encoded.str();
}

ApiAnswer ApiClient::call(const std::string& method, const std::string& path, const std::string& body) {
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
            auto token = negotiate_token(uri.getHost(), why);
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
