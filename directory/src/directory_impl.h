// Directory's private parts, shared by the files that implement it by concern:
// directory.cpp (set-up, flavour, cache), lookups.cpp (users and groups),
// membership.cpp (transitive membership and members), writes.cpp (binds and
// changes). Private to the directory module.
#pragma once

#include <Poco/UnicodeConverter.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <span>

#include "keyholder/directory/directory.h"
#include "keyholder/directory/escape.h"
#include "keyholder/directory/sid.h"
#include "pool.h"
#include "ttl_cache.h"

namespace keyholder::directory {

using detail::Entry;
using detail::Session;

constexpr int64_t kNeverExpires = 0x7FFFFFFFFFFFFFFF;
constexpr int64_t kFiletimeUnixOffset = 11644473600LL; // seconds from 1601-01-01 to 1970-01-01
constexpr int kUacAccountDisable = 0x2;
constexpr const char* kOpenLdapLocked = "000001010000Z"; // ppolicy: locked until an admin unlocks

inline std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
    return text;
}

inline std::span<const std::byte> bytes(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

inline DirectoryError not_found(const std::string& what) {
    return DirectoryError{DirectoryError::Kind::not_found, 0, what, "", ""};
}

inline DirectoryError refused(const std::string& what, const std::string& uri = "") {
    return DirectoryError{DirectoryError::Kind::refused, 0, what, "", uri};
}

inline std::vector<std::string> user_attributes(Flavour flavour) {
    if (flavour == Flavour::active_directory)
        return {"objectSid", "objectGUID",         "sAMAccountName", "userPrincipalName", "displayName", "mail",
                "manager",   "userAccountControl", "accountExpires", "primaryGroupID",    "memberOf",    "cn"};
    return {"entryUUID", "uid", "cn", "displayName", "mail", "manager", "memberOf", "pwdAccountLockedTime"};
}

inline std::vector<std::string> group_attributes(Flavour flavour) {
    if (flavour == Flavour::active_directory) return {"objectSid", "sAMAccountName", "cn", "memberOf"};
    return {"cn", "entryUUID"};
}

inline std::string user_class_filter(Flavour flavour) {
    return flavour == Flavour::active_directory ? "(objectCategory=person)(objectClass=user)"
                                                : "(objectClass=inetOrgPerson)";
}

inline std::string group_class_filter(Flavour flavour) {
    return flavour == Flavour::active_directory ? "(objectClass=group)"
                                                : "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))";
}

// The UTF-16LE bytes AD expects in unicodePwd: the password in double quotes.
inline std::string unicode_pwd_value(std::string_view password) {
    Poco::UTF16String wide;
    Poco::UnicodeConverter::convert("\"" + std::string(password) + "\"", wide);
    std::string out;
    out.reserve(wide.size() * 2);
    for (char16_t unit : wide) {
        out += static_cast<char>(unit & 0xff);
        out += static_cast<char>((unit >> 8) & 0xff);
    }
    return out;
}

inline bool is_loopback_uri(const std::string& uri) {
    auto start = uri.find("://");
    if (start == std::string::npos) return false;
    std::string host = uri.substr(start + 3);
    host = host.substr(0, host.find_first_of(":/"));
    return host == "localhost" || host.rfind("127.", 0) == 0 || host == "[::1]";
}

struct Directory::Impl {
    DirectorySettings settings;
    std::function<int64_t()> now;
    detail::SessionPool pool;
    std::mutex flavour_mutex;
    std::optional<Flavour> flavour;
    detail::TtlCache<std::optional<User>> users;       // negative entries: nullopt
    detail::TtlCache<std::optional<Group>> groups;     // negative entries: nullopt
    detail::TtlCache<std::vector<std::string>> tokens; // user id -> group SIDs (AD) or group DNs (OpenLDAP)
    detail::TtlCache<std::vector<Membership>> memberships;
    detail::TtlCache<std::vector<User>> members; // group DN -> transitive members (who can approve)

    Impl(DirectorySettings s, std::function<int64_t()> clock)
        : settings(std::move(s)), now(std::move(clock)), pool(settings, settings.pool_size), flavour(settings.flavour),
          users(settings.cache_size, settings.cache_ttl.count(), now),
          groups(settings.cache_size, settings.cache_ttl.count(), now),
          tokens(settings.cache_size, settings.cache_ttl.count(), now),
          memberships(settings.cache_size, settings.cache_ttl.count(), now),
          members(settings.cache_size, settings.cache_ttl.count(), now) {
        // Down servers are asked again in the background, never on a caller's time.
        pool.health().start_prober([connection = settings.connection](const std::string& uri) {
            ConnectionSettings one = connection;
            one.uris = {uri};
            return read_root_dse(one).has_value();
        });
    }

    // probe: the rootDSE from the healthiest server; failures are remembered.
    Result<RootDse> probe() {
        ConnectionSettings ordered = settings.connection;
        ordered.uris = pool.health().ordered(settings.connection.uris);
        for (const auto& uri : ordered.uris) {
            ConnectionSettings one = ordered;
            one.uris = {uri};
            std::optional<detail::UriHealth::Attempt> attempt(std::in_place, pool.health(), uri);
            auto dse = read_root_dse(one);
            attempt.reset();
            if (dse) {
                pool.health().succeeded(uri);
                return dse;
            }
            pool.health().failed(uri);
            if (uri == ordered.uris.back()) return dse;
        }
        return std::unexpected(DirectoryError{DirectoryError::Kind::unavailable, 0, "no LDAP URI configured", "", ""});
    }

    template <typename T> Result<T> run(const std::function<Result<T>(Session&)>& op) { return pool.run<T>(op); }

    Result<Flavour> get_flavour() {
        std::lock_guard lock(flavour_mutex);
        if (flavour) return *flavour;
        auto dse = probe();
        if (!dse) return std::unexpected(dse.error());
        flavour = dse->is_active_directory() ? Flavour::active_directory : Flavour::openldap;
        return *flavour;
    }

    User to_user(const Entry& e, Flavour f) const {
        User u;
        u.dn = e.dn;
        u.display_name = e.first("displayName");
        u.mail = e.first("mail");
        u.manager_dn = e.first("manager");
        u.member_of = e.values("memberOf");
        if (f == Flavour::active_directory) {
            u.sid = sid_to_string(bytes(e.first("objectSid"))).value_or("");
            u.guid = guid_to_string(bytes(e.first("objectGUID"))).value_or("");
            u.sam_account_name = e.first("sAMAccountName");
            u.user_principal_name = e.first("userPrincipalName");
            if (u.display_name.empty()) u.display_name = e.first("cn");
            int64_t uac = 0;
            try {
                uac = std::stoll(e.first("userAccountControl"));
            } catch (...) {
                uac = kUacAccountDisable;
            }
            int64_t expires = 0;
            try {
                expires = e.first("accountExpires").empty() ? 0 : std::stoll(e.first("accountExpires"));
            } catch (...) {}
            u.enabled = true;
            if ((uac & kUacAccountDisable) != 0) {
                u.enabled = false;
                u.disabled_reason = "account disabled";
            } else if (expires != 0 && expires != kNeverExpires && expires / 10000000 - kFiletimeUnixOffset <= now()) {
                u.enabled = false;
                u.disabled_reason = "account expired";
            }
            if (!u.sid.empty() && !e.first("primaryGroupID").empty())
                u.primary_group_sid = sid_domain_part(u.sid) + "-" + e.first("primaryGroupID");
        } else {
            u.guid = e.first("entryUUID");
            u.sam_account_name = e.first("uid");
            u.user_principal_name = u.mail;
            if (u.display_name.empty()) u.display_name = e.first("cn");
            u.enabled = e.values("pwdAccountLockedTime").empty();
            if (!u.enabled) u.disabled_reason = "account locked";
        }
        return u;
    }

    Group to_group(const Entry& e, Flavour f) const {
        Group g;
        g.dn = e.dn;
        if (f == Flavour::active_directory) {
            g.sid = sid_to_string(bytes(e.first("objectSid"))).value_or("");
            g.name = e.first("sAMAccountName");
        }
        if (g.name.empty()) g.name = e.first("cn");
        return g;
    }

    // One user by a filter; zero -> not_found, several -> refused (ambiguous: fail closed).
    Result<User> search_one_user(const std::string& filter, const std::string& what) {
        auto f = get_flavour();
        if (!f) return std::unexpected(f.error());
        auto attrs = user_attributes(*f);
        auto found = run<std::vector<Entry>>(
            [&](Session& s) { return s.search(settings.base_dn, detail::Scope::subtree, filter, attrs, 2); });
        if (!found) return std::unexpected(found.error());
        if (found->empty()) return std::unexpected(not_found("no such user: " + what));
        if (found->size() > 1) return std::unexpected(refused("more than one directory entry matches " + what));
        return to_user(found->front(), *f);
    }

    // token_sids: the user's tokenGroups as SID strings — every security group, nested
    // and primary included, computed by the DC — cached per user.
    Result<std::vector<std::string>> token_sids(const User& user, Freshness freshness) {
        const std::string key = "tokens:" + user.id();
        if (freshness == Freshness::cached)
            if (auto hit = tokens.get(key)) return *hit;
        auto token = run<std::optional<Entry>>([&](Session& s) { return s.read(user.dn, {"tokenGroups"}); });
        if (!token) return std::unexpected(token.error());
        if (!*token) return std::unexpected(not_found("no such user: " + user.dn));
        std::vector<std::string> sids;
        for (const auto& raw : (*token)->values("tokenGroups"))
            if (auto sid = sid_to_string(bytes(raw))) sids.push_back(*sid);
        tokens.put(key, sids);
        return sids;
    }

    // cached_user: live lookups skip the cache (and refresh it).
    Result<User> cached_user(const std::string& key, Freshness freshness, const std::function<Result<User>()>& load) {
        if (freshness == Freshness::cached)
            if (auto hit = users.get(key)) {
                if (*hit) return **hit;
                return std::unexpected(not_found("no such user (cached)"));
            }
        auto loaded = load();
        if (loaded)
            users.put(key, *loaded);
        else if (loaded.error().kind == DirectoryError::Kind::not_found)
            users.put(key, std::nullopt);
        return loaded; // outages are never cached
    }
};

} // namespace keyholder::directory
