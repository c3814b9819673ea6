// The JSON API v1 (see api.h and openapi.json).
#include "keyholder/api/api.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/Logger.h>

#include <charconv>

#include "keyholder/config/duration.h"
#include "keyholder/http/exchange.h"
#include "keyholder/http/json.h"
#include "keyholder/reports/report_writer.h"
#include "keyholder/store/checkouts.h"
#include "keyholder/store/error.h"
#include "keyholder/text/text.h"

namespace keyholder::api {
namespace {

using http::HttpError;
using http::JsonBody;
using http::Request;
using http::Response;
using Poco::JSON::Array;
using Poco::JSON::Object;

Poco::Logger& log() { return Poco::Logger::get("keyholder.api"); }

using text::kMaxNameCharacters;
using text::kMaxSecretCharacters;
using text::kMaxTextCharacters;
using text::kMaxTicketCharacters;

} // namespace

std::optional<http::HttpError> edge_error(const std::exception& e) {
    // The store could not read or write (I/O error, disk full, locked too long): the
    // transaction rolled back, so nothing was recorded; the log line has the cause.
    if (dynamic_cast<const store::StoreError*>(&e) != nullptr)
        return HttpError(503, "store_unavailable",
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

namespace {

class Api {
public:
    explicit Api(ApiContext& context) : ctx_(context) {}

    [[noreturn]] void fail(const core::CoreError& e) {
        if (e.kind == core::CoreError::Kind::unavailable && ctx_.metrics)
            ctx_.metrics->add("keyholder_directory_errors_total", "Directory calls that failed, by where",
                              "where=\"api\"");
        throw HttpError(http_status(e.kind), e.code, e.message);
    }
    template <typename T> T check(core::Outcome<T> outcome) {
        if (!outcome) fail(outcome.error());
        if constexpr (!std::is_void_v<T>) return std::move(*outcome);
    }

    [[noreturn]] void directory_down(const directory::DirectoryError& e) {
        fail(core::CoreError{core::CoreError::Kind::unavailable, "directory_unavailable",
                             "the directory did not answer (" + e.to_string() + "); try again later"});
    }

    struct Roles {
        bool admin = false;
        bool auditor = false;
    };
    // roles: what the caller may see (cached lookups may answer) or, live, what an
    // administrator may change now (setting a secret is a grant: read from AD now).
    Roles roles(const http::Identity& who, core::Freshness freshness = core::Freshness::cached) {
        Roles roles;
        if (freshness == core::Freshness::live) {
            auto standing = ctx_.authority.standing_live(who.id, ctx_.config.service.admin_groups);
            if (!standing) directory_down(standing.error());
            roles.admin = standing->principal.enabled && standing->member;
            return roles; // only the admin role is ever asked live
        }
        auto principal = ctx_.authority.resolve(who.id);
        if (!principal) directory_down(principal.error());
        if (!principal->enabled) return roles;
        auto admin = ctx_.authority.in_any(*principal, ctx_.config.service.admin_groups);
        if (!admin) directory_down(admin.error());
        roles.admin = *admin;
        if (!roles.admin && !ctx_.config.service.auditor_groups.empty()) {
            auto auditor = ctx_.authority.in_any(*principal, ctx_.config.service.auditor_groups);
            if (!auditor) directory_down(auditor.error());
            roles.auditor = *auditor;
        }
        roles.auditor = roles.auditor || roles.admin;
        return roles;
    }

    static int64_t id_param(const Request& request, const std::string& name = "id") {
        const std::string& given = request.params.at(name);
        int64_t id = 0;
        auto [end, ec] = std::from_chars(given.data(), given.data() + given.size(), id);
        if (ec != std::errc() || end != given.data() + given.size() || id <= 0)
            throw HttpError(400, "bad_id", "'" + text::printable(given, 64) + "' is not an id");
        return id;
    }

    static std::optional<bool> flag(const Request& request, const std::string& name) {
        auto it = request.query.find(name);
        if (it == request.query.end()) return std::nullopt;
        if (it->second == "true" || it->second == "1" || it->second.empty()) return true;
        if (it->second == "false" || it->second == "0") return false;
        throw HttpError(400, "bad_parameter", "'" + text::printable(name, 64) + "' must be true or false");
    }

    static Object::Ptr person(const std::string& id, const std::string& name, const std::string& display) {
        Object::Ptr p = new Object;
        p->set("id", id);
        p->set("name", name);
        p->set("display_name", display.empty() ? name : display);
        return p;
    }

    // known_person: a person the store names by id and account only (approvers,
    // holders), with the display name the directory has for them now (cached; the
    // account name when the directory does not answer), as requesters are shown.
    Object::Ptr known_person(const std::string& id, const std::string& name) {
        auto found = ctx_.authority.resolve(id);
        return person(id, name, found ? found->display_name : std::string());
    }

    static Poco::Dynamic::Var when(std::optional<int64_t> t) {
        return t ? Poco::Dynamic::Var(http::iso8601(*t)) : Poco::Dynamic::Var();
    }

    Object::Ptr checkout_json(const store::CheckoutRow& c) {
        Object::Ptr o = new Object;
        o->set("id", c.id);
        o->set("request_id", c.request_id);
        o->set("entry", c.entry_name);
        o->set("holder", known_person(c.holder_sid, c.holder_name));
        o->set("state", std::string(store::to_text(c.state)));
        o->set("starts_at", http::iso8601(c.starts_at));
        o->set("ends_at", http::iso8601(c.ends_at));
        o->set("ended_at", when(c.ended_at));
        o->set("end_reason",
               c.end_reason ? Poco::Dynamic::Var(std::string(store::to_text(*c.end_reason))) : Poco::Dynamic::Var());
        o->set("release_state", std::string(store::to_text(c.release_state)));
        o->set("takeback_state", std::string(store::to_text(c.takeback_state)));
        o->set("takeback_attempts", c.takeback_attempts);
        o->set("takeback_error", c.takeback_error ? Poco::Dynamic::Var(*c.takeback_error) : Poco::Dynamic::Var());
        o->set("credential_retrievals", c.retrievals);
        return o;
    }

    Object::Ptr request_json(CorePool::Lease& core, const store::RequestRow& r) {
        return request_json(r, store::approvals_of(core.store(), r.id), store::checkout_of_request(core.store(), r.id));
    }

    Object::Ptr request_json(const store::RequestRow& r, const std::vector<store::ApprovalRow>& approvals,
                             const std::optional<store::CheckoutRow>& checkout) {
        Object::Ptr o = new Object;
        o->set("id", r.id);
        o->set("entry", r.entry_name);
        auto entry = ctx_.config.entries.find(r.entry_name);
        o->set("entry_display_name", entry != ctx_.config.entries.end() ? entry->second.display_name : r.entry_name);
        o->set("requester", person(r.requester_sid, r.requester_name, r.requester_display));
        o->set("reason", r.reason);
        o->set("ticket", r.ticket ? Poco::Dynamic::Var(*r.ticket) : Poco::Dynamic::Var());
        o->set("requested_at", http::iso8601(r.requested_at));
        o->set("start", when(r.start_at));
        o->set("duration_seconds", r.duration_s);
        o->set("state", std::string(store::to_text(r.state)));
        o->set("stage", r.stage);
        if (entry != ctx_.config.entries.end()) {
            const auto& policy = ctx_.config.policies.at(entry->second.policy);
            o->set("stages", static_cast<int>(policy.stages.size()));
            if (r.state == store::RequestState::pending) {
                const int needed = policy.stages.at(static_cast<size_t>(r.stage - 1)).approvals;
                const auto have = std::count_if(approvals.begin(), approvals.end(), [&](const auto& a) {
                    return a.stage == r.stage && a.decision == "approve";
                });
                o->set("approvals_needed", std::max(0, needed - static_cast<int>(have)));
            }
        }
        o->set("deadline", http::iso8601(r.deadline_at));
        o->set("decided_at", when(r.decided_at));
        o->set("extends_checkout",
               r.extends_checkout_id ? Poco::Dynamic::Var(*r.extends_checkout_id) : Poco::Dynamic::Var());
        Array::Ptr decisions = new Array;
        for (const auto& a : approvals) {
            Object::Ptr d = new Object;
            d->set("stage", a.stage);
            d->set("approver", known_person(a.approver_sid, a.approver_name));
            d->set("decision", a.decision);
            d->set("granted_duration_seconds", a.granted_s ? Poco::Dynamic::Var(*a.granted_s) : Poco::Dynamic::Var());
            d->set("comment", a.comment ? Poco::Dynamic::Var(*a.comment) : Poco::Dynamic::Var());
            d->set("via", a.via);
            d->set("at", http::iso8601(a.decided_at));
            decisions->add(d);
        }
        o->set("decisions", decisions);
        o->set("checkout", checkout ? Poco::Dynamic::Var(checkout_json(*checkout)) : Poco::Dynamic::Var());
        return o;
    }

    // May the caller see this request? Its requester, auditors and admins, anyone who
    // decided on it, and anyone who may decide it now.
    bool may_see(CorePool::Lease& core, const http::Identity& who, const store::RequestRow& r) {
        if (r.requester_sid == who.id) return true;
        for (const auto& a : store::approvals_of(core.store(), r.id))
            if (a.approver_sid == who.id) return true;
        if (r.state == store::RequestState::pending) {
            auto may = core->may_decide(r.id, who.id);
            if (!may) fail(may.error());
            if (*may) return true;
        }
        return roles(who).auditor;
    }

    store::RequestRow visible_request(CorePool::Lease& core, const http::Identity& who, int64_t id) {
        auto row = store::find_request(core.store(), id);
        // Not yours and not for you: indistinguishable from a request that does not exist.
        if (!row || !may_see(core, who, *row))
            throw HttpError(404, "no_such_request", "no request " + std::to_string(id) + " visible to you");
        return *row;
    }

    void answer_request(Response& response, CorePool::Lease& core, int64_t id, int status = 200) {
        store::ReadSnapshot snapshot(core.store());
        auto row = store::find_request(core.store(), id);
        if (!row) throw HttpError(404, "no_such_request", "no such request");
        response.json(status, http::to_json(*request_json(core, *row)));
    }

    // --- routes ---

    void me(Request& request, Response& response) {
        const auto& who = request.caller();
        const auto r = roles(who);
        // requester: may request at least one configured entry; approver: in an approver
        // group of a stage of one (a manager who approves only as the requester's
        // manager is not listed: that depends on who asks).
        std::vector<std::string> requester_groups, approver_groups;
        for (const auto& [name, entry] : ctx_.config.entries) {
            const auto& policy = ctx_.config.policies.at(entry.policy);
            requester_groups.insert(requester_groups.end(), policy.requester_groups.begin(),
                                    policy.requester_groups.end());
            for (const auto& stage : policy.stages)
                approver_groups.insert(approver_groups.end(), stage.approver_groups.begin(),
                                       stage.approver_groups.end());
        }
        auto principal = ctx_.authority.resolve(who.id);
        if (!principal) directory_down(principal.error());
        auto in = [&](const std::vector<std::string>& groups) {
            if (!principal->enabled || groups.empty()) return false;
            auto member = ctx_.authority.in_any(*principal, groups);
            if (!member) directory_down(member.error());
            return *member;
        };
        Object o;
        o.set("id", who.id);
        o.set("name", who.name);
        o.set("display_name", who.display_name);
        o.set("signed_on_with", who.method);
        Array::Ptr list = new Array;
        if (in(requester_groups)) list->add("requester");
        if (in(approver_groups)) list->add("approver");
        if (r.auditor) list->add("auditor");
        if (r.admin) list->add("admin");
        o.set("roles", list);
        response.json(200, http::to_json(o));
    }

    void entries(Request& request, Response& response) {
        const auto& who = request.caller();
        auto principal = ctx_.authority.resolve(who.id);
        if (!principal) directory_down(principal.error());
        const bool all = flag(request, "all").value_or(false);
        if (all && !roles(who).auditor)
            throw HttpError(403, "not_an_auditor", "only auditors and admins list every entry");
        auto core = ctx_.pool.borrow();
        Array list;
        for (const auto& [name, entry] : ctx_.config.entries) {
            const auto& policy = ctx_.config.policies.at(entry.policy);
            auto may = ctx_.authority.in_any(*principal, policy.requester_groups);
            if (!may) directory_down(may.error());
            if (!*may && !all) continue;
            Object::Ptr e = new Object;
            e->set("name", name);
            e->set("display_name", entry.display_name);
            e->set("description", entry.description);
            e->set("may_request", *may);
            Array::Ptr kinds = new Array;
            for (auto kind : entry.release)
                kinds->add(kind == config::ReleaseKind::password ? "password"
                           : kind == config::ReleaseKind::enable ? "enable"
                                                                 : "group");
            e->set("release", kinds);
            Object::Ptr p = new Object;
            p->set("name", policy.name);
            p->set("default_duration_seconds", policy.default_duration.count());
            p->set("max_duration_seconds", policy.max_duration.count());
            p->set("max_extension_seconds", policy.max_extension.count());
            p->set("reason_required", policy.reason_required);
            p->set("ticket_pattern",
                   policy.ticket_pattern ? Poco::Dynamic::Var(*policy.ticket_pattern) : Poco::Dynamic::Var());
            p->set("exclusive", policy.exclusive);
            p->set("max_schedule_ahead_seconds", policy.max_schedule_ahead.count());
            e->set("policy", p);
            if (*may) {
                auto stages = core->entry_approvers(name, who.id);
                if (!stages) fail(stages.error());
                Array::Ptr stage_list = new Array;
                for (size_t i = 0; i < stages->size(); ++i) {
                    Object::Ptr s = new Object;
                    s->set("stage", static_cast<int>(i + 1));
                    s->set("approvals", policy.stages[i].approvals);
                    Array::Ptr people = new Array;
                    for (const auto& a : (*stages)[i])
                        people->add(person(a.id, a.name, a.display_name));
                    s->set("approvers", people);
                    stage_list->add(s);
                }
                e->set("stages", stage_list);
            }
            list.add(e);
        }
        Object o;
        o.set("entries", list);
        response.json(200, http::to_json(o));
    }

    void create_request(Request& request, Response& response) {
        const auto& who = request.caller();
        JsonBody body(request.body, {"entry", "reason", "ticket", "duration", "start"});
        core::NewCheckoutRequest in;
        in.requester = who.id;
        in.entry = *body.text("entry", true, kMaxNameCharacters);
        in.reason = body.text("reason", false, kMaxTextCharacters, text::Lines::multi).value_or("");
        in.ticket = body.text("ticket", false, kMaxTicketCharacters);
        if (auto duration = body.duration("duration")) in.duration = std::chrono::seconds(*duration);
        in.start = body.timestamp("start");
        auto core = ctx_.pool.borrow();
        const store::RequestRow row = check(core->request_row(in));
        log().information("request %s: %s asks for %s", std::to_string(row.id), who.name, text::printable(in.entry));
        changed();
        response.headers.emplace_back("Location", "/api/v1/requests/" + std::to_string(row.id));
        // Described from the row as committed: a new request has no decisions and no check-out.
        response.json(201, http::to_json(*request_json(row, {}, std::nullopt)));
    }

    void list_requests(Request& request, Response& response) {
        const auto& who = request.caller();
        store::RequestFilter filter;
        if (auto it = request.query.find("state"); it != request.query.end()) {
            filter.state = store::parse_request_state(it->second);
            if (!filter.state)
                throw HttpError(400, "bad_parameter", "unknown state '" + text::printable(it->second, 64) + "'");
        }
        if (auto it = request.query.find("entry"); it != request.query.end()) filter.entry = it->second;
        if (auto it = request.query.find("limit"); it != request.query.end()) {
            int limit = 0;
            auto [end, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), limit);
            if (ec != std::errc() || end != it->second.data() + it->second.size() || limit < 1 || limit > 500)
                throw HttpError(400, "bad_parameter", "limit must be 1..500");
            filter.limit = limit;
        }
        if (auto it = request.query.find("before"); it != request.query.end()) {
            Request probe;
            probe.params["id"] = it->second;
            filter.before_id = id_param(probe);
        }
        for (const auto& [key, value] : request.query) {
            static const std::set<std::string> known{"state", "entry", "limit", "before", "mine", "approvable"};
            if (known.count(key) == 0)
                throw HttpError(400, "bad_parameter", "unknown parameter '" + text::printable(key, 64) + "'");
        }
        const bool approvable = flag(request, "approvable").value_or(false);
        const bool mine = flag(request, "mine").value_or(!approvable);
        auto core = ctx_.pool.borrow();
        Array list;
        if (approvable) {
            // Pending requests this caller may decide now (eligibility checked per request).
            store::RequestFilter pending = filter;
            pending.state = store::RequestState::pending;
            pending.limit = 500;
            for (const auto& row : store::list_requests(core.store(), pending)) {
                auto may = core->may_decide(row.id, who.id);
                if (!may) fail(may.error());
                if (*may && static_cast<int>(list.size()) < filter.limit) list.add(request_json(core, row));
            }
        } else {
            if (mine)
                filter.requester_sid = who.id;
            else if (!roles(who).auditor)
                throw HttpError(403, "not_an_auditor", "only auditors and admins list everyone's requests");
            for (const auto& row : store::list_requests(core.store(), filter))
                list.add(request_json(core, row));
        }
        Object o;
        o.set("requests", list);
        response.json(200, http::to_json(o));
    }

    void get_request(Request& request, Response& response) {
        auto core = ctx_.pool.borrow();
        store::ReadSnapshot snapshot(core.store());
        auto row = visible_request(core, request.caller(), id_param(request));
        response.json(200, http::to_json(*request_json(core, row)));
    }

    void decide(Request& request, Response& response, core::Decision decision) {
        const auto& who = request.caller();
        const int64_t id = id_param(request);
        const JsonBody body = decision == core::Decision::approve ? JsonBody(request.body, {"comment", "duration"})
                                                                  : JsonBody(request.body, {"comment"});
        auto comment = body.text("comment", false, kMaxTextCharacters, text::Lines::multi);
        // An approval may grant a shorter window than asked ("duration": "30m").
        std::optional<std::chrono::seconds> grant;
        if (auto seconds = body.duration("duration")) grant = std::chrono::seconds(*seconds);
        auto core = ctx_.pool.borrow();
        if (!store::find_request(core.store(), id))
            throw HttpError(404, "no_such_request", "no request " + std::to_string(id));
        auto state = check(core->decide(id, who.id, decision, comment, "api", std::nullopt, grant));
        log().information("request %s: %s %s it%s (now %s)", std::to_string(id), who.name,
                          std::string(decision == core::Decision::approve ? "approved" : "denied"),
                          grant ? " for at most " + config::format_duration(*grant) : std::string(), state);
        changed();
        answer_request(response, core, id);
    }

    void cancel(Request& request, Response& response) {
        const auto& who = request.caller();
        const int64_t id = id_param(request);
        JsonBody body(request.body, {});
        auto core = ctx_.pool.borrow();
        auto row = visible_request(core, who, id);
        check(core->cancel(row.id, who.id));
        changed();
        answer_request(response, core, id);
    }

    store::CheckoutRow visible_checkout(CorePool::Lease& core, const http::Identity& who, int64_t id,
                                        bool holder_only) {
        auto row = store::find_checkout(core.store(), id);
        const bool mine = row && row->holder_sid == who.id;
        if (!row || (!mine && (holder_only || !roles(who).auditor)))
            throw HttpError(404, "no_such_checkout", "no check-out " + std::to_string(id) + " of yours");
        return *row;
    }

    void get_checkout(Request& request, Response& response) {
        auto core = ctx_.pool.borrow();
        auto row = visible_checkout(core, request.caller(), id_param(request), false);
        response.json(200, http::to_json(*checkout_json(row)));
    }

    void checkin(Request& request, Response& response) {
        const auto& who = request.caller();
        JsonBody body(request.body, {});
        auto core = ctx_.pool.borrow();
        auto row = visible_checkout(core, who, id_param(request), true);
        check(core->check_in(row.id, who.id));
        changed();
        response.json(200, http::to_json(*checkout_json(*store::find_checkout(core.store(), row.id))));
    }

    void extend(Request& request, Response& response) {
        const auto& who = request.caller();
        JsonBody body(request.body, {"by", "reason"});
        const int64_t by = *body.duration("by", true);
        const std::string reason = body.text("reason", false, kMaxTextCharacters, text::Lines::multi).value_or("");
        auto core = ctx_.pool.borrow();
        auto row = visible_checkout(core, who, id_param(request), true);
        const int64_t id = check(core->extend(row.id, who.id, std::chrono::seconds(by), reason));
        changed();
        response.headers.emplace_back("Location", "/api/v1/requests/" + std::to_string(id));
        answer_request(response, core, id, 201);
    }

    void revoke(Request& request, Response& response) {
        const auto& who = request.caller();
        JsonBody body(request.body, {"reason"});
        const std::string reason = *body.text("reason", true, kMaxTextCharacters, text::Lines::multi);
        if (!roles(who).admin) throw HttpError(403, "not_an_admin", "only keyholder admins revoke check-outs");
        auto core = ctx_.pool.borrow();
        const int64_t id = id_param(request);
        if (!store::find_checkout(core.store(), id))
            throw HttpError(404, "no_such_checkout", "no check-out " + std::to_string(id));
        check(core->revoke(id, who.id, reason));
        changed();
        response.json(200, http::to_json(*checkout_json(*store::find_checkout(core.store(), id))));
    }

    void credential(Request& request, Response& response) {
        const auto& who = request.caller();
        auto core = ctx_.pool.borrow();
        auto row = visible_checkout(core, who, id_param(request), true);
        auto secret = check(core->credential(row.id, who.id));
        auto entry = ctx_.config.entries.find(row.entry_name);
        Object o;
        o.set("checkout", row.id);
        o.set("entry", row.entry_name);
        o.set("account", entry != ctx_.config.entries.end() ? entry->second.account : "");
        o.set("password", secret);
        o.set("valid_until", http::iso8601(row.ends_at));
        response.json(200, http::to_json(o));
    }

    void set_secret(Request& request, Response& response) {
        const auto& who = request.caller();
        JsonBody body(request.body, {"secret"});
        const std::string secret = *body.text("secret", true, kMaxSecretCharacters);
        if (!roles(who, core::Freshness::live).admin)
            throw HttpError(403, "not_an_admin", "only keyholder admins set secrets");
        if (!ctx_.vault) throw HttpError(503, "no_vault", "the secret vault is not open");
        auto core = ctx_.pool.borrow();
        const std::string& entry = request.params.at("name");
        const int version =
            check(core::store_secret(core.store(), *ctx_.vault, ctx_.config, entry, who.id, secret, ctx_.clock));
        log().information("secret of %s set by %s (version %d)", entry, who.name, version);
        Object o;
        o.set("entry", entry);
        o.set("version", version);
        response.json(200, http::to_json(o));
    }

    // report: GET /api/v1/reports/{name}.csv, streamed (chunked) off the store.
    void report(Request& request, Response& response) {
        const auto& who = request.caller();
        const std::string& file = request.params.at("file");
        const std::string name = file.ends_with(".csv") ? file.substr(0, file.size() - 4) : "";
        if (!reports::is_report(name))
            throw HttpError(404, "no_such_report",
                            "no report '" + file +
                                "' (checkout-requests.csv, active-checkouts.csv, approvals.csv, audit.csv)");
        if (!roles(who).auditor) throw HttpError(403, "not_an_auditor", "reports are for auditors and admins");
        store::ReportFilter filter;
        for (const auto& [key, value] : request.query) {
            if (key == "from" || key == "to") {
                auto t = value.size() == 10 ? http::parse_iso8601(value + "T00:00:00Z") : http::parse_iso8601(value);
                if (!t)
                    throw HttpError(400, "bad_parameter",
                                    "'" + text::printable(key, 64) + "' must be a date (2026-11-01) or ISO 8601 time");
                (key == "from" ? filter.from : filter.to) = *t;
            } else if (key == "entry") {
                filter.entry = value;
            } else if (key == "requester") {
                filter.requester = value;
            } else if (key == "state") {
                filter.state = value;
            } else if (key != "bom") {
                throw HttpError(400, "bad_parameter", "unknown parameter '" + text::printable(key, 64) + "'");
            }
        }
        reports::CsvOptions options;
        options.local_time = ctx_.config.reports.timezone == "local";
        options.bom = flag(request, "bom").value_or(ctx_.config.reports.bom);
        auto lease = ctx_.pool.borrow_shared();
        log().information("report %s exported by %s", name, who.name);
        response.status = 200;
        response.content_type = "text/csv; charset=utf-8";
        response.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + name + ".csv\"");
        response.stream = [lease, name, filter, options](std::ostream& out) {
            reports::write_report(lease->store(), name, filter, out, options);
        };
    }

    void changed() {
        if (ctx_.changed) ctx_.changed();
    }

private:
    ApiContext& ctx_;
};

} // namespace

void add_api_routes(http::Router& router, ApiContext& context) {
    router.set_error_translator(edge_error);
    auto api = std::make_shared<Api>(context);
    auto bind = [api](void (Api::*method)(Request&, Response&)) {
        return [api, method](Request& request, Response& response) { ((*api).*method)(request, response); };
    };
    router.get("/api/v1/openapi.json", [](Request&, Response& response) { response.json(200, openapi_document()); },
               {.sign_on = false});
    router.get("/api/v1/me", bind(&Api::me));
    router.get("/api/v1/entries", bind(&Api::entries));
    router.post("/api/v1/entries/{name}/secret", bind(&Api::set_secret));
    router.post("/api/v1/requests", bind(&Api::create_request));
    router.get("/api/v1/requests", bind(&Api::list_requests));
    router.get("/api/v1/requests/{id}", bind(&Api::get_request));
    router.post("/api/v1/requests/{id}/approve",
                [api](Request& q, Response& r) { api->decide(q, r, core::Decision::approve); });
    router.post("/api/v1/requests/{id}/deny",
                [api](Request& q, Response& r) { api->decide(q, r, core::Decision::deny); });
    router.post("/api/v1/requests/{id}/cancel", bind(&Api::cancel));
    router.get("/api/v1/checkouts/{id}", bind(&Api::get_checkout));
    router.post("/api/v1/checkouts/{id}/checkin", bind(&Api::checkin));
    router.post("/api/v1/checkouts/{id}/extend", bind(&Api::extend));
    router.post("/api/v1/checkouts/{id}/revoke", bind(&Api::revoke));
    router.get("/api/v1/checkouts/{id}/credential", bind(&Api::credential));
    router.get("/api/v1/reports/{file}", bind(&Api::report));
}

} // namespace keyholder::api
