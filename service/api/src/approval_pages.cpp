// The approval page (see approval_pages.h).
#include "keyholder/api/approval_pages.h"

#include <Poco/Logger.h>
#include <Poco/Net/HTMLForm.h>
#include <Poco/Net/NameValueCollection.h>

#include <sstream>

#include "keyholder/config/duration.h"
#include "keyholder/http/exchange.h"
#include "keyholder/http/json.h"
#include "keyholder/notify/templates.h"
#include "keyholder/store/checkouts.h"
#include "keyholder/store/outbox.h"
#include "keyholder/text/text.h"

namespace keyholder::api {
namespace {

using http::Request;
using http::Response;

Poco::Logger& log() { return Poco::Logger::get("keyholder.approve"); }

using notify::html_escape;

void page(Response& response, int status, const std::string& title, const std::string& body_html) {
    response.status = status;
    response.content_type = "text/html; charset=utf-8";
    // The token is in the URL: never send it to another site as a Referer. (Not
    // "no-referrer": with it browsers send "Origin: null" on our own form's POST.)
    response.headers.emplace_back("Referrer-Policy", "same-origin");
    // The portal's look: its stylesheet, same origin; no script, no inline style.
    response.headers.emplace_back("Content-Security-Policy",
                                  "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                                  "frame-ancestors 'none'; base-uri 'none'");
    response.body = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>" +
                    html_escape(title) +
                    "</title><link rel=\"icon\" href=\"/portal/icon.svg\" type=\"image/svg+xml\">"
                    "<link rel=\"stylesheet\" href=\"/portal/portal.css\"></head><body>"
                    "<header class=\"top\"><a class=\"brand\" href=\"/\">keyholder</a></header>"
                    "<main><section class=\"card approval\"><h1>" +
                    html_escape(title) + "</h1>\n" + body_html + "\n</section></main></body></html>\n";
}

std::string when(int64_t t) { return html_escape(http::iso8601(t)); }

class Pages {
public:
    Pages(ApiContext& context, const core::LinkSigner& links) : ctx_(context), links_(links) {}

    // check: the token's claims, or a page that says why not (and false).
    std::optional<core::LinkClaims> check(Request& request, Response& response) {
        const std::string& token = request.params.at("token");
        auto claims = links_.verify(token, ctx_.clock.now());
        if (!claims) {
            const bool expired = claims.error() == core::LinkError::expired;
            log().information("approval link from %s refused: %s", request.client,
                              std::string(core::to_string(claims.error())));
            page(response, expired ? 410 : 400, expired ? "This link has expired" : "This link is not valid",
                 expired ? "<p>The request this link was for is past its deadline.</p>"
                         : "<p>The link is damaged or was not issued by keyholder. Open the link from the mail "
                           "again, without changing it.</p>");
            return std::nullopt;
        }
        if (request.identity && request.identity->id != claims->approver_id) {
            log().warning("approval link for %s opened by %s: refused", claims->approver_id, request.identity->name);
            page(response, 403, "This link is not yours",
                 "<p>You are signed on as " + html_escape(request.identity->display_name) +
                     ", but this link was sent to someone else. Use the link from your own mail.</p>");
            return std::nullopt;
        }
        auto core = ctx_.pool.borrow();
        if (store::link_nonce_used(core.store(), claims->nonce)) {
            page(response, 410, "This link was already used", "<p>A decision was made with this link already.</p>");
            return std::nullopt;
        }
        return *claims;
    }

    void show(Request& request, Response& response) {
        auto claims = check(request, response);
        if (!claims) return;
        auto core = ctx_.pool.borrow();
        auto r = store::find_request(core.store(), claims->request_id);
        if (!r) {
            page(response, 404, "No such request", "<p>The request no longer exists.</p>");
            return;
        }
        std::ostringstream html;
        auto entry = ctx_.config.entries.find(r->entry_name);
        const std::string entry_name = entry != ctx_.config.entries.end() && !entry->second.display_name.empty()
                                           ? entry->second.display_name
                                           : r->entry_name;
        html << "<table>"
             << "<tr><th>Request</th><td>" << r->id << "</td></tr>"
             << "<tr><th>Entry</th><td>" << html_escape(entry_name) << "</td></tr>"
             << "<tr><th>Requester</th><td>" << html_escape(r->requester_display) << " ("
             << html_escape(r->requester_name) << ")</td></tr>"
             << "<tr><th>Reason</th><td>" << html_escape(r->reason) << "</td></tr>"
             << "<tr><th>Ticket</th><td>" << html_escape(r->ticket.value_or("-")) << "</td></tr>"
             << "<tr><th>Window</th><td>"
             << (r->start_at ? when(*r->start_at) + " to " + when(*r->start_at + r->duration_s)
                             : std::to_string(r->duration_s / 60) + " minutes from approval")
             << "</td></tr><tr><th>State</th><td id=\"state\">" << html_escape(std::string(store::to_text(r->state)))
             << "</td></tr>"
             << "<tr><th>Decisions so far</th><td>";
        auto approvals = store::approvals_of(core.store(), r->id);
        if (approvals.empty()) html << "none yet";
        for (const auto& a : approvals)
            html << html_escape(a.approver_name) << " " << (a.decision == "approve" ? "approved" : "denied")
                 << " (stage " << a.stage << ")<br>";
        html << "</td></tr></table>\n";
        if (r->state != store::RequestState::pending) {
            page(response, 409, "This request is no longer waiting",
                 html.str() + "<p>It is " + html_escape(std::string(store::to_text(r->state))) +
                     "; nothing is left to decide.</p>");
            return;
        }
        const std::string token = request.params.at("token");
        const std::string preferred = request.query.count("decision") ? request.query.at("decision") : "";
        html << "<form method=\"post\" action=\"/approve/" << html_escape(token) << "\">"
             << "<input type=\"hidden\" name=\"form_key\" value=\"" << html_escape(links_.form_key(token)) << "\">"
             << "<p><label>Comment (optional)<br><textarea name=\"comment\" rows=\"3\" cols=\"50\" "
                "maxlength=\"2000\"></textarea></label></p>"
             << grant_choice(r->duration_s)
             << "<button type=\"submit\" name=\"decision\" value=\"approve\" id=\"approve\""
             << (preferred == "approve" ? " class=\"preferred\" autofocus" : "") << ">Approve</button>"
             << "<button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny\""
             << (preferred == "deny" ? " class=\"preferred\" autofocus" : "") << ">Deny</button></form>\n"
             << "<p><small>Opening this page decides nothing. The link works once, for you only, until "
             << when(claims->expires_at) << ".</small></p>";
        page(response, 200, "Decide: " + entry_name + " for " + r->requester_display, html.str());
    }

    void decide(Request& request, Response& response) {
        auto claims = check(request, response);
        if (!claims) return;
        Poco::Net::NameValueCollection form;
        try {
            std::istringstream body(request.body);
            Poco::Net::HTMLForm parsed;
            parsed.setFieldLimit(10);
            parsed.read(body);
            for (const auto& [key, value] : parsed)
                form.add(key, value);
        } catch (const Poco::Exception& e) {
            page(response, 400, "The form could not be read", "<p>" + html_escape(e.message()) + "</p>");
            return;
        }
        const std::string& token = request.params.at("token");
        if (!core::LinkSigner::same(form.get("form_key", ""), links_.form_key(token))) {
            log().warning("approval form for request %s from %s without a valid form key",
                          std::to_string(claims->request_id), request.client);
            page(response, 403, "This form was not issued by keyholder",
                 "<p>Open the link from your mail and use the buttons on that page.</p>");
            return;
        }
        const std::string choice = form.get("decision", "");
        if (choice != "approve" && choice != "deny") {
            page(response, 400, "No decision", "<p>Press Approve or Deny.</p>");
            return;
        }
        // The comment is checked by the core, under the same rules as the API's.
        std::optional<std::string> comment;
        if (auto text = form.get("comment", ""); !text.empty()) comment = text;
        // "Approve for at most": a shorter window than asked (ignored by Deny, which
        // shares the form).
        std::optional<std::chrono::seconds> grant;
        if (auto text = form.get("duration", ""); !text.empty() && choice == "approve") {
            auto parsed = config::parse_duration(text);
            if (!parsed) {
                page(response, 400, "Nothing was decided",
                     "<p>The window is not a duration: " + html_escape(parsed.error()) + "</p>");
                return;
            }
            grant = *parsed;
        }
        auto core = ctx_.pool.borrow();
        auto decided = core->decide(claims->request_id, claims->approver_id,
                                    choice == "approve" ? core::Decision::approve : core::Decision::deny, comment,
                                    "link", claims->nonce, grant);
        if (!decided) {
            const auto& e = decided.error();
            log().information("link decision on request %s refused: %s (%s)", std::to_string(claims->request_id),
                              e.code, text::printable(e.message));
            page(response, http_status(e.kind), "Nothing was decided",
                 "<p>" + html_escape(e.message) + "</p><p><small>(" + html_escape(e.code) + ")</small></p>");
            return;
        }
        if (ctx_.changed) ctx_.changed();
        log().information("request %s %s by link%s (now %s)", std::to_string(claims->request_id),
                          choice == "approve" ? std::string("approved") : std::string("denied"),
                          grant ? " for at most " + config::format_duration(*grant) : std::string(), *decided);
        page(response, 200, choice == "approve" ? "Approved" : "Denied",
             "<p>Your decision on request " + std::to_string(claims->request_id) +
                 " is recorded. The request is now <strong id=\"state\">" + html_escape(*decided) + "</strong>.</p>");
    }

private:
    // grant_choice: "Approve for" with the asked window first, then shorter ones.
    static std::string grant_choice(int64_t asked_s) {
        std::ostringstream out;
        out << "<p><label>Approve for <select name=\"duration\" id=\"duration\"><option value=\"\">"
            << html_escape(config::format_duration(std::chrono::seconds(asked_s))) << " (as asked)</option>";
        for (const int64_t minutes : {15, 30, 60, 120, 240, 480, 1440})
            if (minutes * 60 < asked_s) {
                const std::string text = config::format_duration(std::chrono::minutes(minutes));
                out << "<option value=\"" << text << "\">" << text << "</option>";
            }
        out << "</select></label></p>";
        return out.str();
    }

    ApiContext& ctx_;
    const core::LinkSigner& links_;
};

} // namespace

void add_approval_pages(http::Router& router, ApiContext& context, const core::LinkSigner& links) {
    router.set_error_translator(edge_error);
    auto pages = std::make_shared<Pages>(context, links);
    const bool sign_on = context.config.auth.link_sign_on;
    router.get("/approve/{token}", [pages](Request& q, Response& r) { pages->show(q, r); }, {.sign_on = sign_on});
    // The page's own form key (an HMAC of the token) is its anti-forgery check.
    router.add("POST", "/approve/{token}",
               {.sign_on = sign_on, .body = http::RouteOptions::Body::form, .session_csrf = false},
               [pages](Request& q, Response& r) { pages->decide(q, r); });
}

} // namespace keyholder::api
