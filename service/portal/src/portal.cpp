// The portal's static files (see portal.h).
#include "keyholder/portal/portal.h"

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>

namespace keyholder::portal {

const char* const kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

namespace {

struct Asset {
    const std::string* content;
    std::string content_type;
    std::string etag;
};

std::string type_of(const std::string& name) {
    if (name.ends_with(".html")) return "text/html; charset=utf-8";
    if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
    if (name.ends_with(".css")) return "text/css; charset=utf-8";
    if (name.ends_with(".svg")) return "image/svg+xml";
    return "application/octet-stream";
}

// assets: every file with its type and ETag (a hash of its content), built once.
const std::map<std::string, Asset>& assets() {
    static const std::map<std::string, Asset> all = [] {
        std::map<std::string, Asset> out;
        for (const auto& [name, content] : asset_files()) {
            Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
            engine.update(content);
            out[name] = {&content, type_of(name),
                         "\"" + Poco::DigestEngine::digestToHex(engine.digest()).substr(0, 32) + "\""};
        }
        return out;
    }();
    return all;
}

void serve(const http::Request& request, http::Response& response, const std::string& name) {
    auto it = assets().find(name);
    if (it == assets().end()) throw http::HttpError(404, "not_found", "no portal file '" + name + "'");
    const Asset& asset = it->second;
    response.headers.emplace_back("ETag", asset.etag);
    response.headers.emplace_back("Cache-Control", "no-cache");
    response.headers.emplace_back("X-Content-Type-Options", "nosniff");
    if (name.ends_with(".html")) {
        response.headers.emplace_back("Content-Security-Policy", kContentSecurityPolicy);
        response.headers.emplace_back("Referrer-Policy", "same-origin");
    }
    if (request.header("If-None-Match") == asset.etag) {
        response.status = 304;
        response.content_type.clear();
        response.body.clear();
        return;
    }
    response.status = 200;
    response.content_type = asset.content_type;
    response.body = *asset.content;
}

} // namespace

void add_portal_routes(http::Router& router) {
    router.get("/", [](http::Request& q, http::Response& r) { serve(q, r, "index.html"); }, {.sign_on = false});
    router.get("/portal/{file}", [](http::Request& q, http::Response& r) { serve(q, r, q.params.at("file")); },
               {.sign_on = false});
}

} // namespace keyholder::portal
