// The JSON API v1 (the exact contract is service/api/openapi.json, served at
// /api/v1/openapi.json). Each handler signs nothing on itself: the server's gate
// has already signed the caller on; handlers decide what this caller may see and do
// (requesters their own requests and credentials, approvers what they may decide,
// auditors read-only everything, admins revoke and set secrets) and hand the rest
// to the core. Core refusals map to statuses: invalid 400, forbidden 403,
// not_found 404, conflict 409, unavailable 503.
#pragma once

#include <exception>
#include <functional>
#include <optional>
#include <string>

#include "keyholder/api/core_pool.h"
#include "keyholder/config/config.h"
#include "keyholder/core/authority.h"
#include "keyholder/core/checkout_service.h"
#include "keyholder/core/clock.h"
#include "keyholder/core/vault.h"
#include "keyholder/http/exchange.h"
#include "keyholder/http/metrics.h"
#include "keyholder/http/router.h"

namespace keyholder::api {

struct ApiContext {
    const config::Config& config;
    CorePool& pool;
    core::Authority& authority;
    const core::Clock& clock;
    const core::SecretVault* vault = nullptr;
    http::Metrics* metrics = nullptr;
    std::function<void()> changed; ///< new work was committed: wake the scheduler
};

/// http_status: the status a core refusal answers with (400, 403, 404, 409, 503).
int http_status(core::CoreError::Kind kind);

/// edge_error: the answer a failure below the API stands for: StoreError -> 503
/// "store_unavailable" (nothing was recorded). Installed on the router by add_api_routes.
std::optional<http::HttpError> edge_error(const std::exception& e);

/// add_api_routes: every /api/v1 route (and the error translator, edge_error).
void add_api_routes(http::Router& router, ApiContext& context);

/// openapi_document: the OpenAPI 3 document compiled into the program.
const std::string& openapi_document();

} // namespace keyholder::api
