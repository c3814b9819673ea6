// What the API's resource files share (private to keyholder::api): the error
// mapping, parameter parsing, who may see and do what (Access, the one place for
// it), and the JSON views of requests, check-outs and people (Views).
#pragma once

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/Logger.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "keyholder/api/api.h"
#include "keyholder/directory/error.h"
#include "keyholder/http/exchange.h"
#include "keyholder/http/json.h"
#include "keyholder/store/checkouts.h"

namespace keyholder::api::detail {

using http::HttpError;
using http::JsonBody;
using http::Request;
using http::Response;
using Poco::JSON::Array;
using Poco::JSON::Object;

Poco::Logger& log();

/// fail: a core refusal as its HTTP answer (and a directory error counted).
[[noreturn]] void fail(const ApiContext& context, const core::CoreError& error);
/// directory_down: 503 directory_unavailable, naming the cause (and counted).
[[noreturn]] void directory_down(const ApiContext& context, const directory::DirectoryError& error);

template <typename T> T check(const ApiContext& context, core::Outcome<T> outcome) {
    if (!outcome) fail(context, outcome.error());
    if constexpr (!std::is_void_v<T>) return std::move(*outcome);
}

/// id_param: a positive integer path parameter, or 400 bad_id.
int64_t id_param(const http::Request& request, const std::string& name = "id");
/// flag: a true/false query parameter (absent: nullopt), or 400 bad_parameter.
std::optional<bool> flag(const http::Request& request, const std::string& name);

/// Access: who may see and do what. Seeing reads the directory's cache; granting is
/// the core's, which reads it live (revoke, decide, credential, ...); setting a
/// secret asks for the admin role live.
class Access {
public:
    explicit Access(ApiContext& context) : ctx_(context) {}

    struct Roles {
        bool requester = false; ///< may request at least one entry
        bool approver = false;  ///< in an approver group of some stage
        bool auditor = false;   ///< reads everything (admins too)
        bool admin = false;
    };
    /// roles: auditor and admin (what the caller may see); live: admin only, as a
    /// grant needs it.
    Roles roles(const http::Identity& who, core::Freshness freshness = core::Freshness::cached);
    /// all_roles: every role, for /api/v1/me.
    Roles all_roles(const http::Identity& who);
    /// may_see: its requester, auditors and admins, anyone who decided on it, and
    /// anyone who may decide it now.
    bool may_see(CorePool::Lease& core, const http::Identity& who, const store::RequestRow& request);
    /// visible_request: the request, or 404 (not yours is the same as not there).
    store::RequestRow visible_request(CorePool::Lease& core, const http::Identity& who, int64_t id);
    /// visible_checkout: the check-out for its holder (and, unless holder_only, auditors), or 404.
    store::CheckoutRow visible_checkout(CorePool::Lease& core, const http::Identity& who, int64_t id, bool holder_only);
    /// require_auditor: 403 not_an_auditor unless the caller reads everything.
    void require_auditor(const http::Identity& who, const std::string& what);

private:
    Roles seeing_roles(const core::Principal& principal); ///< auditor and admin of a resolved person
    ApiContext& ctx_;
};

/// Views: the JSON of the API's resources (openapi.json's schemas).
class Views {
public:
    explicit Views(ApiContext& context) : ctx_(context) {}

    static Poco::JSON::Object::Ptr person(const std::string& id, const std::string& name, const std::string& display);
    /// known_person: a person the store names by id and account only (approvers,
    /// holders), with the display name the directory has for them now (cached; the
    /// account name when the directory does not answer), as requesters are shown.
    Poco::JSON::Object::Ptr known_person(const std::string& id, const std::string& name);
    static Poco::Dynamic::Var when(std::optional<int64_t> utc_seconds);
    Poco::JSON::Object::Ptr checkout(const store::CheckoutRow& checkout);
    Poco::JSON::Object::Ptr request(CorePool::Lease& core, const store::RequestRow& request);
    Poco::JSON::Object::Ptr request(const store::RequestRow& request, const std::vector<store::ApprovalRow>& approvals,
                                    const std::optional<store::CheckoutRow>& checkout);
    /// answer_request: the request as it is now (one read snapshot), or 404.
    void answer_request(http::Response& response, CorePool::Lease& core, int64_t id, int status = 200);

private:
    ApiContext& ctx_;
};

/// Handlers: what every resource's handlers hold.
struct Handlers {
    explicit Handlers(ApiContext& context) : ctx(context), access(context), views(context) {}
    template <typename T> T check(core::Outcome<T> outcome) { return detail::check(ctx, std::move(outcome)); }
    [[noreturn]] void fail(const core::CoreError& error) { detail::fail(ctx, error); }
    /// changed: new work was committed (wakes the scheduler).
    void changed() {
        if (ctx.changed) ctx.changed();
    }
    ApiContext& ctx;
    Access access;
    Views views;
};

/// bind: a route handler calling `method` on the resource's shared handlers.
template <typename H> auto bind(std::shared_ptr<H> handlers, void (H::*method)(Request&, Response&)) {
    return [handlers, method](Request& request, Response& response) { ((*handlers).*method)(request, response); };
}

// The routes of each resource (me_entries.cpp, requests.cpp, checkouts.cpp, reports.cpp,
// request_view.cpp, audit_trail.cpp).
void add_me_and_entry_routes(http::Router& router, ApiContext& context);
void add_request_routes(http::Router& router, ApiContext& context);
void add_checkout_routes(http::Router& router, ApiContext& context);
void add_report_routes(http::Router& router, ApiContext& context);
void add_request_view_routes(http::Router& router, ApiContext& context);
void add_audit_routes(http::Router& router, ApiContext& context);

} // namespace keyholder::api::detail
