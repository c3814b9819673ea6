// What sessions do the same over both LDAP libraries (see session.h): entries, and
// opening a session with failover across the URIs.
#include <algorithm>
#include <cctype>
#include <optional>

#include "session.h"

namespace keyholder::directory::detail {
namespace {

const std::vector<std::string> kNoValues;

} // namespace

std::string lowercase(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
    return text;
}

const std::vector<std::string>& Entry::values(const std::string& name) const {
    auto found = attributes.find(lowercase(name));
    return found == attributes.end() ? kNoValues : found->second;
}

std::string Entry::first(const std::string& name) const {
    const auto& list = values(name);
    return list.empty() ? std::string() : list.front();
}

Result<Session> open_session(const DirectorySettings& settings, UriHealth* health) {
    DirectoryError last{DirectoryError::Kind::unavailable, 0, "no LDAP URI configured", "", ""};
    const auto uris = health != nullptr ? health->ordered(settings.connection.uris) : settings.connection.uris;
    for (const auto& uri : uris) {
        std::optional<UriHealth::Attempt> attempt;
        if (health != nullptr) attempt.emplace(*health, uri);
        auto session = open_one(uri, settings, true);
        if (!session) {
            // A bind refused for bad credentials is an answer: it would be refused elsewhere too.
            if (!is_connection_error(session.error())) return std::unexpected(session.error());
            last = session.error();
            if (health != nullptr) health->failed(uri);
            continue;
        }
        if (health != nullptr) health->succeeded(uri);
        return session;
    }
    last.kind = DirectoryError::Kind::unavailable;
    if (settings.connection.uris.size() > 1) last.message = "no directory server answered; last: " + last.message;
    return std::unexpected(last);
}

Result<Session> open_user_session(const DirectorySettings& settings, const std::string& dn,
                                  const std::string& password) {
    DirectorySettings as_user = settings;
    as_user.bind = BindMethod::simple;
    as_user.bind_dn = dn;
    as_user.bind_password = password;
    return open_session(as_user);
}

Result<Session> open_anonymous_session(const std::string& uri, const ConnectionSettings& settings) {
    DirectorySettings anonymous;
    anonymous.connection = settings;
    return open_one(uri, anonymous, false);
}

} // namespace keyholder::directory::detail
