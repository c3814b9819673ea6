#include "keyholder/http/router.h"

#include <set>

namespace keyholder::http {
namespace {

std::vector<std::string> split_path(const std::string& path) {
    std::vector<std::string> parts;
    size_t i = 0;
    while (i < path.size()) {
        if (path[i] == '/') {
            ++i;
            continue;
        }
        size_t end = path.find('/', i);
        if (end == std::string::npos) end = path.size();
        parts.push_back(path.substr(i, end - i));
        i = end;
    }
    return parts;
}

bool is_placeholder(const std::string& segment) {
    return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

} // namespace

void Router::add(std::string method, std::string pattern, RouteOptions options, Handler handler) {
    Route route{std::move(method), pattern, options, std::move(handler), split_path(pattern)};
    routes_.push_back(std::move(route));
}

Match Router::match(const std::string& method, const std::string& path) const {
    const auto parts = split_path(path);
    const std::string wanted = method == "HEAD" ? "GET" : method;
    Match result;
    std::set<std::string> allowed;
    for (const auto& route : routes_) {
        if (route.segments.size() != parts.size()) continue;
        std::map<std::string, std::string> params;
        bool ok = true;
        for (size_t i = 0; i < parts.size() && ok; ++i) {
            if (is_placeholder(route.segments[i]))
                params[route.segments[i].substr(1, route.segments[i].size() - 2)] = parts[i];
            else
                ok = route.segments[i] == parts[i];
        }
        if (!ok) continue;
        if (route.method == wanted) {
            result.route = &route;
            result.params = std::move(params);
            return result;
        }
        allowed.insert(route.method);
        if (route.method == "GET") allowed.insert("HEAD");
    }
    for (const auto& m : allowed)
        result.allow += (result.allow.empty() ? "" : ", ") + m;
    return result;
}

} // namespace keyholder::http
