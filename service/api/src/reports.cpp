// /api/v1/reports/{name}.csv: the compliance reports, streamed off the store (auditors).
#include "api_internal.h"
#include "keyholder/http/json.h"
#include "keyholder/reports/report_writer.h"
#include "keyholder/text/text.h"

namespace keyholder::api::detail {
namespace {

class Reports : public Handlers {
public:
    using Handlers::Handlers;

    void report(Request& request, Response& response) {
        const auto& who = request.caller();
        const std::string& file = request.params.at("file");
        const std::string name = file.ends_with(".csv") ? file.substr(0, file.size() - 4) : "";
        if (!reports::is_report(name))
            throw HttpError(404, "no_such_report",
                            "no report '" + file +
                                "' (checkout-requests.csv, active-checkouts.csv, approvals.csv, audit.csv)");
        access.require_auditor(who, "reports are for auditors and admins");
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
            } else if (key == "approver" && name != "audit") {
                filter.approver = value;
            } else if (key != "bom") {
                throw HttpError(400, "bad_parameter", "unknown parameter '" + text::printable(key, 64) + "'");
            }
        }
        reports::CsvOptions options;
        options.local_time = ctx.config.reports.timezone == "local";
        options.bom = flag(request, "bom").value_or(ctx.config.reports.bom);
        auto lease = ctx.pool.borrow_shared();
        log().information("report %s exported by %s", name, who.name);
        response.status = 200;
        response.content_type = "text/csv; charset=utf-8";
        response.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + name + ".csv\"");
        response.stream = [lease, name, filter, options](std::ostream& out) {
            reports::write_report(lease->store(), name, filter, out, options);
        };
    }
};

} // namespace

void add_report_routes(http::Router& router, ApiContext& context) {
    auto handlers = std::make_shared<Reports>(context);
    router.get("/api/v1/reports/{file}", bind(handlers, &Reports::report));
}

} // namespace keyholder::api::detail
