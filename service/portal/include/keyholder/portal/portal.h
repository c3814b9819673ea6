// The web portal: GET / is the page, GET /portal/NAME its scripts and styles. The
// page talks to the JSON API only (signed on by a portal session, see
// keyholder/api/sessions.h); nothing here signs anyone on or decides anything.
//
// Every answer carries an ETag (If-None-Match gets 304) and Cache-Control: no-cache,
// so a new program version is picked up at once; the page is sent with
//   Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self';
//     img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none';
//     base-uri 'none'
#pragma once

#include <map>
#include <string>

#include "keyholder/http/router.h"

namespace keyholder::portal {

/// asset_files: the files of service/portal/assets, compiled in (name -> content).
const std::map<std::string, std::string>& asset_files();

/// kContentSecurityPolicy: what the portal's page may load and do.
extern const char* const kContentSecurityPolicy;

/// add_portal_routes: GET / and GET /portal/{file}.
void add_portal_routes(http::Router& router);

} // namespace keyholder::portal
