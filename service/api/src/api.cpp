// The JSON API v1 (see api.h and openapi.json): the error mapping and the routes of
// every resource (me_entries.cpp, requests.cpp, checkouts.cpp, reports.cpp; who may
// see what is in access.cpp, the JSON views in views.cpp).
#include "keyholder/api/api.h"

#include "api_internal.h"
#include "keyholder/store/error.h"

namespace keyholder::api {

std::optional<http::HttpError> edge_error(const std::exception& e) {
    // The store could not read or write (I/O error, disk full, locked too long): the
    // transaction rolled back, so nothing was recorded; the log line has the cause.
    if (dynamic_cast<const store::StoreError*>(&e) != nullptr)
        return http::HttpError(503, "store_unavailable",
                               "the database could not be read or written; nothing was recorded, try again later");
    return std::nullopt;
}

int http_status(core::CoreError::Kind kind) {
    switch (kind) {
    case core::CoreError::Kind::invalid: return 400;
    case core::CoreError::Kind::forbidden: return 403;
    case core::CoreError::Kind::not_found: return 404;
    case core::CoreError::Kind::conflict: return 409;
    case core::CoreError::Kind::unavailable: return 503;
    }
    return 500;
}

void add_api_routes(http::Router& router, ApiContext& context) {
    router.set_error_translator(edge_error);
    router.get("/api/v1/openapi.json",
               [](http::Request&, http::Response& response) { response.json(200, openapi_document()); },
               {.sign_on = false});
    detail::add_me_and_entry_routes(router, context);
    detail::add_request_routes(router, context);
    detail::add_checkout_routes(router, context);
    detail::add_report_routes(router, context);
    detail::add_request_view_routes(router, context);
    detail::add_audit_routes(router, context);
}

} // namespace keyholder::api
