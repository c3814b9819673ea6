// The approval page behind the links in approval mails.
//   GET  /approve/{token}  shows the request (entry, requester, reason, ticket, window,
//                          decisions so far) with Approve / Deny buttons; never decides,
//                          so a mail scanner that prefetches the link changes nothing.
//   POST /approve/{token}  decides, as the link's approver, through the core (the same
//                          re-verification, self-approval refusal and stage counting
//                          as the API), with the page's anti-forgery field; the link's
//                          nonce is recorded in the decision's transaction (single use).
// A used, expired, tampered or foreign link, or a request no longer pending, gets a
// page that says so and changes nothing. With [auth] link_sign_on the caller must
// also sign on (Negotiate) as the link's approver.
#pragma once

#include "keyholder/api/api.h"
#include "keyholder/core/links.h"

namespace keyholder::api {

void add_approval_pages(http::Router& router, ApiContext& context, const core::LinkSigner& links);

} // namespace keyholder::api
