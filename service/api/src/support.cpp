// Errors and parameters shared by the API's handlers (see api_internal.h).
#include <charconv>

#include "api_internal.h"
#include "keyholder/text/text.h"

namespace keyholder::api::detail {

Poco::Logger& log() { return Poco::Logger::get("keyholder.api"); }

void fail(const ApiContext& context, const core::CoreError& e) {
    if (e.kind == core::CoreError::Kind::unavailable && context.metrics)
        context.metrics->add("keyholder_directory_errors_total", "Directory calls that failed, by where",
                             "where=\"api\"");
    throw http::HttpError(http_status(e.kind), e.code, e.message);
}

void directory_down(const ApiContext& context, const directory::DirectoryError& e) {
    fail(context, core::CoreError{core::CoreError::Kind::unavailable, "directory_unavailable",
                                  "the directory did not answer (" + e.to_string() + "); try again later"});
}

int64_t id_param(const http::Request& request, const std::string& name) {
    const std::string& given = request.params.at(name);
    int64_t id = 0;
    auto [end, ec] = std::from_chars(given.data(), given.data() + given.size(), id);
    if (ec != std::errc() || end != given.data() + given.size() || id <= 0)
        throw http::HttpError(400, "bad_id", "'" + text::printable(given, 64) + "' is not an id");
    return id;
}

std::optional<bool> flag(const http::Request& request, const std::string& name) {
    auto it = request.query.find(name);
    if (it == request.query.end()) return std::nullopt;
    if (it->second == "true" || it->second == "1" || it->second.empty()) return true;
    if (it->second == "false" || it->second == "0") return false;
    throw http::HttpError(400, "bad_parameter", "'" + text::printable(name, 64) + "' must be true or false");
}

} // namespace keyholder::api::detail
