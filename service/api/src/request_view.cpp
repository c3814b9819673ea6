// GET /api/v1/checkout-requests: the auditors' check-out requests view — requests with
// their decisions and check-out, filtered and keyset-paged on the server. The same
// filters on GET /api/v1/reports/checkout-requests.csv give exactly these rows.
#include <charconv>
#include <map>
#include <variant>

#include "api_internal.h"
#include "keyholder/store/request_view.h"
#include "keyholder/text/text.h"
#include "keyholder/util/encoding.h"

namespace keyholder::api::detail {
namespace {

bool looks_like_an_id(const std::string& who) { return who.starts_with("S-1-") || who.starts_with("uuid:"); }

std::optional<int64_t> number(std::string_view text) {
    int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
    return value;
}

class RequestView : public Handlers {
public:
    using Handlers::Handlers;

    void list(Request& request, Response& response) {
        access.require_auditor(request.caller(), "the check-out requests view is for auditors and admins");
        store::RequestViewQuery query;
        std::optional<std::string> after;
        for (const auto& [key, value] : request.query) {
            if (key == "from" || key == "to") {
                auto t = value.size() == 10 ? http::parse_iso8601(value + "T00:00:00Z") : http::parse_iso8601(value);
                if (!t) bad(key, "a date (2026-11-01) or an ISO 8601 time");
                (key == "from" ? query.from : query.to) = *t;
            } else if (key == "entry") {
                query.entry = value;
            } else if (key == "requester") {
                (looks_like_an_id(value) ? query.requester_sid : query.requester_name) = value;
            } else if (key == "approver") {
                (looks_like_an_id(value) ? query.approver_sid : query.approver_name) = value;
            } else if (key == "state") {
                if (!store::parse_request_state(value)) bad(key, "a request state");
                query.state = value;
            } else if (key == "takeback") {
                if (value != "pending" && value != "failed") bad(key, "pending or failed");
                query.takeback = value;
            } else if (key == "sort") {
                query.descending = value.starts_with("-");
                const std::string column = query.descending ? value.substr(1) : value;
                using Sort = store::RequestViewQuery::Sort;
                static const std::map<std::string, Sort> columns{{"requested_at", Sort::requested_at},
                                                                 {"id", Sort::id},
                                                                 {"entry", Sort::entry},
                                                                 {"requester", Sort::requester},
                                                                 {"state", Sort::state}};
                auto it = columns.find(column);
                if (it == columns.end())
                    bad(key, "requested_at, id, entry, requester or state, '-' first for descending");
                query.sort = it->second;
            } else if (key == "after") {
                after = value; // read once the sort is known
            } else if (key == "limit") {
                auto limit = number(value);
                if (!limit || *limit < 1 || *limit > 200) bad(key, "1..200");
                query.limit = static_cast<int>(*limit);
            } else {
                throw HttpError(400, "bad_parameter", "unknown parameter '" + text::printable(key, 64) + "'");
            }
        }
        if (after) query.after = cursor(*after, text_sort(query.sort));
        auto core = ctx.pool.borrow();
        // One more than a page: whether there is a next one.
        const int limit = query.limit;
        query.limit = limit + 1;
        auto rows = store::query_request_view(core.store(), query);
        const bool more = static_cast<int>(rows.size()) > limit;
        if (more) rows.pop_back();
        Array::Ptr list = new Array;
        for (const auto& row : rows)
            list->add(json(row));
        Object o;
        o.set("rows", list);
        if (more) {
            const auto& last = rows.back();
            using Sort = store::RequestViewQuery::Sort;
            std::string key;
            switch (query.sort) {
            case Sort::requested_at: key = std::to_string(last.requested_at); break;
            case Sort::id: key = std::to_string(last.request_id); break;
            case Sort::entry: key = util::base64url(last.entry); break;
            case Sort::requester: key = util::base64url(last.requester); break;
            case Sort::state: key = util::base64url(last.state); break;
            }
            o.set("next", key + "." + std::to_string(last.request_id));
        } else {
            o.set("next", Poco::Dynamic::Var());
        }
        response.json(200, http::to_json(o));
    }

private:
    static bool text_sort(store::RequestViewQuery::Sort sort) {
        using Sort = store::RequestViewQuery::Sort;
        return sort == Sort::entry || sort == Sort::requester || sort == Sort::state;
    }

    // cursor: "KEY.ID" from the page before; KEY is a number, or base64url text for
    // the text sorts.
    static std::pair<std::variant<int64_t, std::string>, int64_t> cursor(const std::string& value, bool text) {
        const size_t dot = value.rfind('.');
        auto id = dot == std::string::npos ? std::nullopt : number(std::string_view(value).substr(dot + 1));
        const std::string key = dot == std::string::npos ? value : value.substr(0, dot);
        if (!id) bad("after", "the next cursor of the page before");
        if (text) {
            auto decoded = key.empty() ? std::optional<std::string>("") : util::unbase64url(key);
            if (!decoded) bad("after", "the next cursor of the page before");
            return {*decoded, *id};
        }
        auto number_key = number(key);
        if (!number_key) bad("after", "the next cursor of the page before");
        return {*number_key, *id};
    }

    [[noreturn]] static void bad(const std::string& key, const std::string& want) {
        throw HttpError(400, "bad_parameter", "'" + key + "' must be " + want);
    }

    static Object::Ptr json(const store::RequestViewRow& r) {
        Object::Ptr o = new Object;
        o->set("request_id", r.request_id);
        o->set("entry", r.entry);
        o->set("requester", Views::person(r.requester_sid, r.requester, r.requester_display_name));
        o->set("reason", r.reason);
        o->set("ticket", r.ticket ? Poco::Dynamic::Var(*r.ticket) : Poco::Dynamic::Var());
        o->set("requested_at", http::iso8601(r.requested_at));
        o->set("requested_start", Views::when(r.requested_start));
        o->set("duration_seconds", r.duration_s);
        o->set("state", r.state);
        o->set("decided_at", Views::when(r.decided_at));
        Array::Ptr decisions = new Array;
        size_t start = 0;
        while (start < r.decisions.size()) {
            size_t end = r.decisions.find('\n', start);
            if (end == std::string::npos) end = r.decisions.size();
            const std::string line = r.decisions.substr(start, end - start);
            start = end + 1;
            // name|decision|at|stage|granted_s (names have no '|': sAMAccountName)
            std::vector<std::string> parts;
            for (size_t from = 0;;) {
                const size_t bar = line.find('|', from);
                parts.push_back(line.substr(from, bar - from));
                if (bar == std::string::npos) break;
                from = bar + 1;
            }
            if (parts.size() != 5) continue;
            Object::Ptr d = new Object;
            d->set("approver", parts[0]);
            d->set("decision", parts[1]);
            d->set("at", http::iso8601(number(parts[2]).value_or(0)));
            d->set("stage", number(parts[3]).value_or(0));
            auto granted = number(parts[4]);
            d->set("granted_duration_seconds", granted ? Poco::Dynamic::Var(*granted) : Poco::Dynamic::Var());
            decisions->add(d);
        }
        o->set("decisions", decisions);
        o->set("window_start", Views::when(r.window_start));
        o->set("window_end", Views::when(r.window_end));
        o->set("actual_end", Views::when(r.actual_end));
        o->set("end_reason", r.end_reason ? Poco::Dynamic::Var(*r.end_reason) : Poco::Dynamic::Var());
        o->set("credential_retrievals",
               r.credential_retrievals ? Poco::Dynamic::Var(*r.credential_retrievals) : Poco::Dynamic::Var());
        o->set("takeback", r.takeback ? Poco::Dynamic::Var(*r.takeback) : Poco::Dynamic::Var());
        o->set("checkout_id", r.checkout_id ? Poco::Dynamic::Var(*r.checkout_id) : Poco::Dynamic::Var());
        o->set("takeback_attempts",
               r.takeback_attempts ? Poco::Dynamic::Var(*r.takeback_attempts) : Poco::Dynamic::Var());
        o->set("takeback_error", r.takeback_error ? Poco::Dynamic::Var(*r.takeback_error) : Poco::Dynamic::Var());
        return o;
    }
};

} // namespace

void add_request_view_routes(http::Router& router, ApiContext& context) {
    auto handlers = std::make_shared<RequestView>(context);
    router.get("/api/v1/checkout-requests", bind(handlers, &RequestView::list));
}

} // namespace keyholder::api::detail
