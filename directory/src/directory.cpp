// Directory (see directory.h): lookups, membership, writes, caching.
#include "keyholder/directory/directory.h"

#include <Poco/UnicodeConverter.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <set>

#include "keyholder/directory/escape.h"
#include "keyholder/directory/sid.h"
#include "pool.h"
#include "ttl_cache.h"

namespace keyholder::directory {

const char* to_string(MembershipVia via) {
    switch (via) {
    case MembershipVia::direct: return "direct";
    case MembershipVia::nested: return "nested";
    case MembershipVia::primary: return "primary group";
    }
    return "?";
}

const char* to_string(Flavour flavour) {
    return flavour == Flavour::active_directory ? "Active Directory" : "OpenLDAP";
}

namespace {

using detail::Entry;
using detail::Session;

constexpr int64_t kNeverExpires = 0x7FFFFFFFFFFFFFFF;
constexpr int64_t kFiletimeUnixOffset = 11644473600LL; // seconds from 1601-01-01 to 1970-01-01
constexpr int kUacAccountDisable = 0x2;
constexpr const char* kOpenLdapLocked = "000001010000Z"; // ppolicy: locked until an admin unlocks

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
    return text;
}

std::span<const std::byte> bytes(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

DirectoryError not_found(const std::string& what) {
    return DirectoryError{DirectoryError::Kind::not_found, 0, what, "", ""};
}

DirectoryError refused(const std::string& what, const std::string& uri = "") {
    return DirectoryError{DirectoryError::Kind::refused, 0, what, "", uri};
}

std::vector<std::string> user_attributes(Flavour flavour) {
    if (flavour == Flavour::active_directory)
        return {"objectSid", "objectGUID",         "sAMAccountName", "userPrincipalName", "displayName", "mail",
                "manager",   "userAccountControl", "accountExpires", "primaryGroupID",    "memberOf",    "cn"};
    return {"entryUUID", "uid", "cn", "displayName", "mail", "manager", "memberOf", "pwdAccountLockedTime"};
}

std::vector<std::string> group_attributes(Flavour flavour) {
    if (flavour == Flavour::active_directory) return {"objectSid", "sAMAccountName", "cn", "memberOf"};
    return {"cn", "entryUUID"};
}

std::string user_class_filter(Flavour flavour) {
    return flavour == Flavour::active_directory ? "(objectCategory=person)(objectClass=user)"
                                                : "(objectClass=inetOrgPerson)";
}

std::string group_class_filter(Flavour flavour) {
    return flavour == Flavour::active_directory ? "(objectClass=group)"
                                                : "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))";
}

// The UTF-16LE bytes AD expects in unicodePwd: the password in double quotes.
std::string unicode_pwd_value(std::string_view password) {
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

bool is_loopback_uri(const std::string& uri) {
    auto start = uri.find("://");
    if (start == std::string::npos) return false;
    std::string host = uri.substr(start + 3);
    host = host.substr(0, host.find_first_of(":/"));
    return host == "localhost" || host.rfind("127.", 0) == 0 || host == "[::1]";
}

} // namespace

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

Directory::Directory(DirectorySettings settings, std::function<int64_t()> now) {
    if (!now)
        now = [] {
            return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                .count();
        };
    impl_ = std::make_unique<Impl>(std::move(settings), std::move(now));
}

Directory::~Directory() = default;

Result<Flavour> Directory::flavour() { return impl_->get_flavour(); }

Result<RootDse> Directory::probe() { return impl_->probe(); }

Result<User> Directory::find_user(std::string_view login_view, Freshness freshness) {
    std::string login(login_view);
    if (login.empty() || login.size() > 256 || login.find('\0') != std::string::npos)
        return std::unexpected(not_found("no such user"));
    auto f = impl_->get_flavour();
    if (!f) return std::unexpected(f.error());
    std::string attribute = *f == Flavour::active_directory ? "sAMAccountName" : "uid";
    std::string value = login;
    if (auto slash = login.find('\\'); slash != std::string::npos) {
        std::string domain = login.substr(0, slash);
        value = login.substr(slash + 1);
        if (impl_->settings.netbios_domain.empty() || lower(domain) != lower(impl_->settings.netbios_domain))
            return std::unexpected(not_found("no such user: unknown domain '" + domain + "'"));
    } else if (login.find('@') != std::string::npos) {
        attribute = *f == Flavour::active_directory ? "userPrincipalName" : "mail";
    }
    if (value.empty()) return std::unexpected(not_found("no such user"));
    const std::string filter = "(&" + user_class_filter(*f) + "(" + attribute + "=" + escape_filter_value(value) + "))";
    return impl_->cached_user("login:" + lower(login), freshness,
                              [&] { return impl_->search_one_user(filter, login); });
}

Result<User> Directory::find_user_by_dn(std::string_view dn_view, Freshness freshness) {
    std::string dn(dn_view);
    auto f = impl_->get_flavour();
    if (!f) return std::unexpected(f.error());
    return impl_->cached_user("dn:" + lower(dn), freshness, [&]() -> Result<User> {
        auto attrs = user_attributes(*f);
        const std::string filter = "(&" + user_class_filter(*f) + ")";
        auto entry = impl_->run<std::optional<Entry>>([&](Session& s) { return s.read(dn, attrs, filter); });
        if (!entry) return std::unexpected(entry.error());
        if (!*entry) return std::unexpected(not_found("no such user: " + dn));
        return impl_->to_user(**entry, *f);
    });
}

Result<User> Directory::find_user_by_id(std::string_view id_view, Freshness freshness) {
    std::string id(id_view);
    auto f = impl_->get_flavour();
    if (!f) return std::unexpected(f.error());
    std::string filter;
    if (id.starts_with("uuid:")) {
        filter = "(&" + user_class_filter(*f) + "(entryUUID=" + escape_filter_value(id.substr(5)) + "))";
    } else if (auto binary = sid_from_string(id)) {
        filter = "(&" + user_class_filter(*f) + "(objectSid=" + escape_filter_bytes(*binary) + "))";
    } else {
        return std::unexpected(not_found("no such user: '" + id + "' is not a SID or uuid:"));
    }
    return impl_->cached_user("id:" + lower(id), freshness, [&] { return impl_->search_one_user(filter, id); });
}

Result<User> Directory::manager_of(const User& user, Freshness freshness) {
    if (user.manager_dn.empty())
        return std::unexpected(not_found(user.sam_account_name + " has no manager in the directory"));
    return find_user_by_dn(user.manager_dn, freshness);
}

Result<Group> Directory::find_group(std::string_view spec_view) {
    std::string spec(spec_view);
    if (spec.empty() || spec.find('\0') != std::string::npos) return std::unexpected(not_found("no such group"));
    auto f = impl_->get_flavour();
    if (!f) return std::unexpected(f.error());
    const std::string key = "group:" + lower(spec);
    if (auto hit = impl_->groups.get(key)) {
        if (*hit) return **hit;
        return std::unexpected(not_found("no such group: " + spec + " (cached)"));
    }
    auto attrs = group_attributes(*f);
    Result<std::vector<Entry>> found;
    if (auto binary = spec.starts_with("S-1-") ? sid_from_string(spec) : std::nullopt) {
        std::string filter = "(&" + group_class_filter(*f) + "(objectSid=" + escape_filter_bytes(*binary) + "))";
        found = impl_->run<std::vector<Entry>>(
            [&](Session& s) { return s.search(impl_->settings.base_dn, detail::Scope::subtree, filter, attrs, 2); });
    } else if (spec.find('=') != std::string::npos) {
        found = impl_->run<std::vector<Entry>>([&](Session& s) -> Result<std::vector<Entry>> {
            auto entry = s.read(spec, attrs, group_class_filter(*f));
            if (!entry) return std::unexpected(entry.error());
            if (!*entry) return std::vector<Entry>{};
            return std::vector<Entry>{**entry};
        });
    } else {
        std::string value = escape_filter_value(spec);
        std::string filter =
            *f == Flavour::active_directory
                ? "(&" + group_class_filter(*f) + "(|(sAMAccountName=" + value + ")(cn=" + value + ")))"
                : "(&" + group_class_filter(*f) + "(cn=" + value + "))";
        found = impl_->run<std::vector<Entry>>(
            [&](Session& s) { return s.search(impl_->settings.base_dn, detail::Scope::subtree, filter, attrs, 2); });
    }
    if (!found) return std::unexpected(found.error());
    if (found->empty()) {
        impl_->groups.put(key, std::nullopt);
        return std::unexpected(not_found("no such group: " + spec));
    }
    if (found->size() > 1)
        return std::unexpected(refused("more than one group matches '" + spec + "': give its DN or SID"));
    Group group = impl_->to_group(found->front(), *f);
    impl_->groups.put(key, group);
    return group;
}

Result<std::vector<Membership>> Directory::groups_of(const User& user, Freshness freshness) {
    auto f = impl_->get_flavour();
    if (!f) return std::unexpected(f.error());
    const std::string key = "groups:" + user.id();
    if (freshness == Freshness::cached)
        if (auto hit = impl_->memberships.get(key)) return *hit;
    std::vector<Membership> result;
    const int64_t page = impl_->settings.page_size;

    if (*f == Flavour::active_directory) {
        auto token_sids = impl_->token_sids(user, freshness);
        if (!token_sids) return std::unexpected(token_sids.error());
        const std::vector<std::string>& sids = *token_sids;
        // Resolve the SIDs to groups (names, DNs, and their memberOf for the paths), 40 per search.
        std::map<std::string, Entry> by_sid;
        for (size_t i = 0; i < sids.size(); i += 40) {
            std::string filter = "(|";
            for (size_t k = i; k < std::min(sids.size(), i + 40); ++k)
                filter += "(objectSid=" + escape_filter_bytes(*sid_from_string(sids[k])) + ")";
            filter += ")";
            auto found = impl_->run<std::vector<Entry>>([&](Session& s) {
                return s.search(impl_->settings.base_dn, detail::Scope::subtree, filter, group_attributes(*f),
                                static_cast<int>(page));
            });
            if (!found) return std::unexpected(found.error());
            for (auto& e : *found)
                by_sid[sid_to_string(bytes(e.first("objectSid"))).value_or("")] = std::move(e);
        }
        std::map<std::string, std::string> sid_of_dn; // lower(dn) -> sid
        for (const auto& [sid, e] : by_sid)
            sid_of_dn[lower(e.dn)] = sid;
        // Paths: breadth-first from the direct groups and the primary group, upward
        // through memberOf, staying inside the token (cycle-safe: each group once).
        std::map<std::string, std::vector<std::string>> path_to; // sid -> DNs
        std::deque<std::string> queue;
        std::set<std::string> direct;
        for (const auto& dn : user.member_of) {
            auto it = sid_of_dn.find(lower(dn));
            if (it == sid_of_dn.end()) continue;
            direct.insert(it->second);
            if (path_to.emplace(it->second, std::vector<std::string>{by_sid[it->second].dn}).second)
                queue.push_back(it->second);
        }
        if (by_sid.count(user.primary_group_sid) != 0 &&
            path_to.emplace(user.primary_group_sid, std::vector<std::string>{by_sid[user.primary_group_sid].dn}).second)
            queue.push_back(user.primary_group_sid);
        while (!queue.empty()) {
            std::string sid = queue.front();
            queue.pop_front();
            for (const auto& parent_dn : by_sid[sid].values("memberOf")) {
                auto it = sid_of_dn.find(lower(parent_dn));
                if (it == sid_of_dn.end() || path_to.count(it->second) != 0) continue;
                auto path = path_to[sid];
                path.push_back(by_sid[it->second].dn);
                path_to[it->second] = path;
                queue.push_back(it->second);
            }
        }
        for (const auto& sid : sids) {
            Membership m;
            m.found_by = "tokenGroups";
            if (auto it = by_sid.find(sid); it != by_sid.end())
                m.group = impl_->to_group(it->second, *f);
            else
                m.group.sid = sid; // a well-known or foreign SID outside the domain partition
            if (sid == user.primary_group_sid)
                m.via = MembershipVia::primary;
            else if (direct.count(sid) != 0)
                m.via = MembershipVia::direct;
            else
                m.via = MembershipVia::nested;
            if (m.via == MembershipVia::nested && path_to.count(sid) != 0) m.path = path_to[sid];
            result.push_back(std::move(m));
        }
    } else {
        // OpenLDAP: a bounded, cycle-safe walk up the member attributes.
        std::set<std::string> seen;
        std::deque<std::pair<std::string, std::vector<std::string>>> queue{{user.dn, {}}};
        int depth_guard = 0;
        while (!queue.empty()) {
            auto [member_dn, path] = queue.front();
            queue.pop_front();
            if (static_cast<int>(path.size()) >= impl_->settings.max_nesting) continue;
            if (++depth_guard > 100000) break;
            std::string filter = "(&" + group_class_filter(*f) + "(|(member=" + escape_filter_value(member_dn) +
                                 ")(uniqueMember=" + escape_filter_value(member_dn) + ")))";
            auto found = impl_->run<std::vector<Entry>>([&](Session& s) {
                return s.search(impl_->settings.base_dn, detail::Scope::subtree, filter, group_attributes(*f),
                                static_cast<int>(page));
            });
            if (!found) return std::unexpected(found.error());
            for (const auto& e : *found) {
                if (!seen.insert(lower(e.dn)).second) continue;
                Membership m;
                m.group = impl_->to_group(e, *f);
                m.found_by = "member search";
                m.via = path.empty() ? MembershipVia::direct : MembershipVia::nested;
                auto next = path;
                next.push_back(e.dn);
                if (m.via == MembershipVia::nested) m.path = next;
                result.push_back(m);
                queue.emplace_back(e.dn, next);
            }
        }
    }
    impl_->memberships.put(key, result);
    return result;
}

Result<bool> Directory::is_member(const User& user, std::string_view group_spec, Freshness freshness) {
    auto group = find_group(group_spec);
    if (!group) {
        if (group.error().kind == DirectoryError::Kind::not_found) return false;
        return std::unexpected(group.error());
    }
    auto f = impl_->get_flavour();
    if (!f) return std::unexpected(f.error());
    if (*f == Flavour::active_directory && !group->sid.empty()) {
        // One base read of tokenGroups answers it (nesting and primary group included).
        auto tokens = impl_->token_sids(user, freshness);
        if (!tokens) return std::unexpected(tokens.error());
        return std::find(tokens->begin(), tokens->end(), group->sid) != tokens->end();
    }
    auto groups = groups_of(user, freshness);
    if (!groups) return std::unexpected(groups.error());
    for (const auto& m : *groups) {
        if (!group->sid.empty() && m.group.sid == group->sid) return true;
        if (!m.group.dn.empty() && lower(m.group.dn) == lower(group->dn)) return true;
    }
    return false;
}

Result<Standing> Directory::standing(std::string_view who_view, const std::vector<std::string>& group_specs) {
    const std::string who(who_view);
    auto f = impl_->get_flavour();
    if (!f) return std::unexpected(f.error());
    const bool by_sid = who.starts_with("S-1-") && sid_from_string(who).has_value();
    const bool by_dn = !by_sid && who.find('=') != std::string::npos;
    if (*f == Flavour::active_directory && (by_sid || by_dn)) {
        // One round trip: tokenGroups is computed for base-scope reads only, and AD takes
        // "<SID=...>" as the DN of the object with that SID.
        auto attrs = user_attributes(*f);
        attrs.push_back("tokenGroups");
        const std::string base = by_sid ? "<SID=" + who + ">" : who;
        auto entry = impl_->run<std::optional<Entry>>(
            [&](Session& s) { return s.read(base, attrs, "(&" + user_class_filter(*f) + ")"); });
        if (!entry) return std::unexpected(entry.error());
        if (!*entry) return std::unexpected(not_found("no such user: " + who));
        Standing standing{impl_->to_user(**entry, *f), false};
        std::vector<std::string> sids;
        for (const auto& raw : (*entry)->values("tokengroups"))
            if (auto sid = sid_to_string(bytes(raw))) sids.push_back(*sid);
        impl_->tokens.put("tokens:" + standing.user.id(), sids);
        impl_->users.put("id:" + lower(standing.user.id()), standing.user);
        impl_->users.put("dn:" + lower(standing.user.dn), standing.user);
        for (const auto& spec : group_specs) {
            auto group = find_group(spec); // which group a configured name means may be cached
            if (!group) {
                if (group.error().kind == DirectoryError::Kind::not_found) continue;
                return std::unexpected(group.error());
            }
            if (!group->sid.empty() && std::find(sids.begin(), sids.end(), group->sid) != sids.end()) {
                standing.member = true;
                break;
            }
        }
        return standing;
    }
    auto user = by_sid || who.starts_with("uuid:") ? find_user_by_id(who, Freshness::live)
                : by_dn                            ? find_user_by_dn(who, Freshness::live)
                                                   : find_user(who, Freshness::live);
    if (!user) return std::unexpected(user.error());
    Standing standing{*user, false};
    for (const auto& spec : group_specs) {
        auto member = is_member(standing.user, spec, Freshness::live);
        if (!member) return std::unexpected(member.error());
        if (*member) {
            standing.member = true;
            break;
        }
    }
    return standing;
}

Result<std::vector<std::string>> Directory::member_dns(const Group& group) {
    // Ranged retrieval: ask for member;range=LOW-HIGH (or LOW-*), follow the range the
    // server answers with until it ends in '*'. A server that ignores ranges answers
    // with plain `member`, which is the whole list.
    auto f = impl_->get_flavour();
    if (!f) return std::unexpected(f.error());
    std::vector<std::string> members;
    if (*f == Flavour::openldap) {
        // OpenLDAP has no ranged retrieval (a "member;range=" option matches nothing).
        auto entry = impl_->run<std::optional<Entry>>([&](Session& s) {
            return s.read(group.dn, {"member", "uniqueMember"});
        });
        if (!entry) return std::unexpected(entry.error());
        if (!*entry) return std::unexpected(not_found("no such group: " + group.dn));
        for (const char* attribute : {"member", "uniqueMember"})
            for (const auto& v : (*entry)->values(attribute))
                members.push_back(v);
        return members;
    }
    int64_t low = 0;
    const int step = impl_->settings.range_step;
    for (int rounds = 0; rounds < 100000; ++rounds) {
        std::string wanted = "member;range=" + std::to_string(low) + "-" +
                             (step > 0 ? std::to_string(low + step - 1) : std::string("*"));
        auto entry = impl_->run<std::optional<Entry>>([&](Session& s) { return s.read(group.dn, {wanted}); });
        if (!entry) return std::unexpected(entry.error());
        if (!*entry) return std::unexpected(not_found("no such group: " + group.dn));
        const Entry& e = **entry;
        bool more = false;
        bool seen = false;
        for (const auto& [name, values] : e.attributes) {
            if (name == "member") {
                members.insert(members.end(), values.begin(), values.end());
                seen = true;
            } else if (name.rfind("member;range=", 0) == 0) {
                members.insert(members.end(), values.begin(), values.end());
                seen = true;
                std::string high = name.substr(name.find('-') + 1);
                if (high != "*") {
                    low = std::stoll(high) + 1;
                    more = true;
                }
            }
        }
        if (!seen || !more) break;
    }
    return members;
}

Result<std::vector<User>> Directory::transitive_members(const Group& group) {
    // Cached per group: approver lists are read for every new request; decisions
    // re-check eligibility against the directory anyway.
    const std::string key = "members:" + lower(group.dn);
    if (auto cached = impl_->members.get(key)) return *cached;
    auto loaded = load_transitive_members(group);
    if (loaded) impl_->members.put(key, *loaded);
    return loaded;
}

Result<std::vector<User>> Directory::load_transitive_members(const Group& group) {
    auto f = impl_->get_flavour();
    if (!f) return std::unexpected(f.error());
    std::vector<User> users;
    // Walk down the member lists, each group once, bounded: a few reads for the small
    // groups policies name. Samba evaluates the in-chain rule by scanning every user
    // (seconds on a large domain), so it is kept for large groups only.
    constexpr size_t kWalkLimit = 500;
    auto direct = member_dns(group);
    if (!direct) return std::unexpected(direct.error());
    if (*f == Flavour::active_directory && direct->size() > kWalkLimit) {
        std::string filter = "(&" + user_class_filter(*f) +
                             "(|(memberOf:1.2.840.113556.1.4.1941:=" + escape_filter_value(group.dn) + ")";
        if (!group.sid.empty()) filter += "(primaryGroupID=" + group.sid.substr(group.sid.rfind('-') + 1) + ")";
        filter += "))";
        auto found = impl_->run<std::vector<Entry>>([&](Session& s) {
            return s.search(impl_->settings.base_dn, detail::Scope::subtree, filter, user_attributes(*f),
                            impl_->settings.page_size);
        });
        if (!found) return std::unexpected(found.error());
        for (const auto& e : *found)
            users.push_back(impl_->to_user(e, *f));
        return users;
    }
    std::set<std::string> seen{lower(group.dn)};
    std::deque<std::pair<Group, int>> queue{{group, 0}};
    bool first = true;
    while (!queue.empty()) {
        auto [current, depth] = queue.front();
        queue.pop_front();
        auto members = first ? std::move(direct) : member_dns(current);
        first = false;
        if (!members) return std::unexpected(members.error());
        for (const auto& dn : *members) {
            if (!seen.insert(lower(dn)).second) continue;
            auto user = find_user_by_dn(dn);
            if (user) {
                users.push_back(*user);
                continue;
            }
            if (user.error().kind != DirectoryError::Kind::not_found) return std::unexpected(user.error());
            if (depth + 1 >= impl_->settings.max_nesting) continue;
            auto nested = find_group(dn);
            if (nested)
                queue.emplace_back(*nested, depth + 1);
            else if (nested.error().kind != DirectoryError::Kind::not_found)
                return std::unexpected(nested.error());
        }
    }
    if (*f == Flavour::active_directory && !group.sid.empty()) {
        // Users whose primary group this is are not listed in `member`.
        std::string filter =
            "(&" + user_class_filter(*f) + "(primaryGroupID=" + group.sid.substr(group.sid.rfind('-') + 1) + "))";
        auto found = impl_->run<std::vector<Entry>>([&](Session& s) {
            return s.search(impl_->settings.base_dn, detail::Scope::subtree, filter, user_attributes(*f),
                            impl_->settings.page_size);
        });
        if (!found) return std::unexpected(found.error());
        for (const auto& e : *found) {
            User u = impl_->to_user(e, *f);
            if (u.sid.rfind(sid_domain_part(group.sid), 0) == 0 && seen.insert(lower(u.dn)).second)
                users.push_back(std::move(u));
        }
    }
    return users;
}

Result<void> Directory::verify_password(const User& user, std::string_view password) {
    if (password.empty()) return std::unexpected(refused("an empty password never signs anyone on"));
    auto session = detail::open_user_session(impl_->settings, user.dn, std::string(password));
    if (!session) return std::unexpected(session.error());
    return {};
}

Result<void> Directory::reset_password(const User& account, std::string_view new_password) {
    auto f = impl_->get_flavour();
    if (!f) return std::unexpected(f.error());
    if (new_password.empty()) return std::unexpected(refused("refusing to set an empty password"));
    auto done = impl_->run<void>([&](Session& s) -> Result<void> {
        if (*f == Flavour::active_directory) {
            // AD accepts unicodePwd only over an encrypted connection; check before sending.
            if (!s.encrypted())
                return std::unexpected(refused("refusing to send a password over an unencrypted connection to " +
                                                   s.uri() + ": use ldaps:// or StartTLS",
                                               s.uri()));
            return s.modify(account.dn, {{detail::ModOp::replace, "unicodePwd", {unicode_pwd_value(new_password)}}});
        }
        if (!s.encrypted() && !is_loopback_uri(s.uri()))
            return std::unexpected(
                refused("refusing to send a password over an unencrypted connection to " + s.uri(), s.uri()));
        return s.password_modify(account.dn, std::string(new_password));
    });
    invalidate(account);
    return done;
}

Result<void> Directory::set_enabled(const User& account, bool enabled) {
    auto f = impl_->get_flavour();
    if (!f) return std::unexpected(f.error());
    auto done = impl_->run<void>([&](Session& s) -> Result<void> {
        if (*f == Flavour::active_directory) {
            auto entry = s.read(account.dn, {"userAccountControl"});
            if (!entry) return std::unexpected(entry.error());
            if (!*entry) return std::unexpected(not_found("no such account: " + account.dn));
            int64_t uac = std::stoll((*entry)->first("userAccountControl"));
            int64_t wanted = enabled ? (uac & ~kUacAccountDisable) : (uac | kUacAccountDisable);
            if (wanted == uac) return {};
            return s.modify(account.dn, {{detail::ModOp::replace, "userAccountControl", {std::to_string(wanted)}}});
        }
        if (enabled) {
            auto r = s.modify(account.dn, {{detail::ModOp::remove, "pwdAccountLockedTime", {}}});
            if (!r && r.error().ldap_code == detail::result_code::no_such_attribute) return {}; // already enabled
            return r;
        }
        return s.modify(account.dn, {{detail::ModOp::replace, "pwdAccountLockedTime", {kOpenLdapLocked}}});
    });
    invalidate(account);
    return done;
}

// Member writes are idempotent: a take-back or release that is retried must succeed
// when its goal is already reached. `done_codes` are the answers that mean exactly that.
static Result<void> change_member(detail::SessionPool& pool, const Group& group, const User& user, detail::ModOp op,
                                  std::initializer_list<int> done_codes) {
    return pool.run<void>([&](Session& s) -> Result<void> {
        auto r = s.modify(group.dn, {{op, "member", {user.dn}}});
        if (!r && std::find(done_codes.begin(), done_codes.end(), r.error().ldap_code) != done_codes.end()) return {};
        return r;
    });
}

Result<void> Directory::add_member(const Group& group, const User& user) {
    // Already a member: AD answers 68, OpenLDAP 20.
    auto done = change_member(impl_->pool, group, user, detail::ModOp::add,
                              {detail::result_code::type_or_value_exists, detail::result_code::already_exists});
    invalidate(user);
    impl_->members.clear(); // the group, and every group it is nested in, changed
    return done;
}

Result<void> Directory::remove_member(const Group& group, const User& user) {
    // Not a member (any more): AD answers 53, OpenLDAP 16.
    auto done = change_member(impl_->pool, group, user, detail::ModOp::remove,
                              {detail::result_code::no_such_attribute, detail::result_code::unwilling_to_perform});
    invalidate(user);
    impl_->members.clear(); // the group, and every group it is nested in, changed
    return done;
}

void Directory::invalidate(const User& user) {
    const std::string id = user.id();
    impl_->memberships.erase("groups:" + id);
    impl_->tokens.erase("tokens:" + id);
    impl_->users.erase("dn:" + lower(user.dn));
    impl_->users.erase("id:" + lower(id));
    const std::string sam = lower(user.sam_account_name);
    const std::string upn = lower(user.user_principal_name);
    impl_->users.erase_if([&](const std::string& key) {
        if (key.rfind("login:", 0) != 0) return false;
        std::string login = key.substr(6);
        auto slash = login.find('\\');
        if (slash != std::string::npos) login = login.substr(slash + 1);
        return login == sam || (!upn.empty() && login == upn);
    });
}

void Directory::invalidate_all() {
    impl_->users.clear();
    impl_->groups.clear();
    impl_->tokens.clear();
    impl_->memberships.clear();
    impl_->members.clear();
}

CacheStats Directory::cache_stats() const {
    CacheStats stats;
    stats.hits = impl_->users.hits() + impl_->groups.hits() + impl_->memberships.hits();
    stats.misses = impl_->users.misses() + impl_->groups.misses() + impl_->memberships.misses();
    stats.entries = impl_->users.size() + impl_->groups.size() + impl_->memberships.size();
    return stats;
}

} // namespace keyholder::directory
