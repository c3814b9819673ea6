// DirectoryAuthority (see authority.h).
#include "keyholder/core/authority.h"

#include <algorithm>
#include <cctype>

#include <cstdio>
#include <cstdlib>
#include <set>

#include "keyholder/store/connection.h"

namespace keyholder::core {
namespace {

Principal to_principal(const directory::User& u) {
    return Principal{u.id(), u.sam_account_name, u.display_name, u.mail, u.dn, u.enabled};
}

bool looks_like_id(std::string_view who) { return who.starts_with("S-1-") || who.starts_with("uuid:"); }

// as_user: what is_member needs of a principal (its DN and its id), without reading
// the user again: the caller resolved it just before (live, for a grant).
directory::User as_user(const Principal& who) {
    directory::User user;
    user.dn = who.dn;
    if (who.id.starts_with("uuid:"))
        user.guid = who.id.substr(5);
    else
        user.sid = who.id;
    user.sam_account_name = who.name;
    user.enabled = who.enabled;
    return user;
}

} // namespace

void Authority::call(const char* what) {
#ifndef NDEBUG
    if (store::holds_writer_lock()) {
        std::fprintf(stderr, "keyholder: directory call %s() while this thread holds the store's writer lock\n", what);
        std::abort();
    }
#else
    (void)what;
#endif
}

DirResult<Principal> DirectoryAuthority::find(std::string_view who, Freshness freshness) {
    auto user = looks_like_id(who) ? directory_.find_user_by_id(who, freshness) : directory_.find_user(who, freshness);
    if (!user) return std::unexpected(user.error());
    return to_principal(*user);
}

DirResult<Authority::Standing> DirectoryAuthority::standing(std::string_view who,
                                                            const std::vector<std::string>& groups) {
    auto found = directory_.standing(who, groups);
    if (!found) return std::unexpected(found.error());
    return Standing{to_principal(found->user), found->member};
}

DirResult<bool> DirectoryAuthority::member_of_any(const Principal& who, const std::vector<std::string>& groups,
                                                  Freshness freshness) {
    const directory::User user = as_user(who);
    for (const auto& group : groups) {
        auto member = directory_.is_member(user, group, freshness);
        if (!member) return std::unexpected(member.error());
        if (*member) return true;
    }
    return false;
}

DirResult<std::optional<Principal>> DirectoryAuthority::manager(const Principal& who, Freshness freshness) {
    auto user = directory_.find_user_by_dn(who.dn, freshness);
    if (!user) return std::unexpected(user.error());
    if (user->manager_dn.empty()) return std::optional<Principal>{};
    auto manager = directory_.manager_of(*user, freshness);
    if (!manager) {
        if (manager.error().kind == directory::DirectoryError::Kind::not_found) return std::optional<Principal>{};
        return std::unexpected(manager.error());
    }
    return std::optional<Principal>{to_principal(*manager)};
}

DirResult<std::vector<Principal>> DirectoryAuthority::members(const std::vector<std::string>& groups) {
    std::vector<Principal> out;
    std::set<std::string> seen;
    for (const auto& spec : groups) {
        auto group = directory_.find_group(spec);
        if (!group) {
            if (group.error().kind == directory::DirectoryError::Kind::not_found) continue;
            return std::unexpected(group.error());
        }
        auto users = directory_.transitive_members(*group);
        if (!users) return std::unexpected(users.error());
        for (const auto& u : *users)
            if (seen.insert(u.id()).second) out.push_back(to_principal(u));
    }
    return out;
}

namespace {

bool same_dn(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

// rdn_value: "CN=Tier0 Operators,OU=Groups,..." -> "Tier0 Operators" (escapes kept as written).
std::string rdn_value(const std::string& dn) {
    const size_t eq = dn.find('=');
    size_t end = eq;
    while (end != std::string::npos && end < dn.size() && dn[end] != ',')
        end += dn[end] == '\\' ? 2 : 1;
    return eq == std::string::npos ? dn : dn.substr(eq + 1, std::min(end, dn.size()) - eq - 1);
}

} // namespace

DirResult<std::vector<std::string>> DirectoryAuthority::path_to(const Principal& who,
                                                                const std::vector<std::string>& groups) {
    auto user = directory_.find_user_by_dn(who.dn, Freshness::cached);
    if (!user) return std::unexpected(user.error());
    auto memberships = directory_.groups_of(*user, Freshness::cached);
    if (!memberships) return std::unexpected(memberships.error());
    for (const auto& spec : groups) {
        auto group = directory_.find_group(spec);
        if (!group) {
            if (group.error().kind == directory::DirectoryError::Kind::not_found) continue;
            return std::unexpected(group.error());
        }
        for (const auto& m : *memberships) {
            if (!same_dn(m.group.dn, group->dn)) continue;
            std::vector<std::string> names;
            for (const auto& dn : m.path)
                if (!same_dn(dn, m.group.dn)) names.push_back(rdn_value(dn));
            names.push_back(m.group.name.empty() ? rdn_value(m.group.dn) : m.group.name);
            if (m.via == directory::MembershipVia::primary) names.back() += " (primary group)";
            return names;
        }
    }
    return std::vector<std::string>{};
}

DirResult<directory::User> DirectoryAuthority::account(const std::string& account) {
    return account.find('=') != std::string::npos ? directory_.find_user_by_dn(account) : directory_.find_user(account);
}

DirResult<void> DirectoryAuthority::write_enabled(const std::string& name, bool enabled) {
    auto user = account(name);
    if (!user) return std::unexpected(user.error());
    return directory_.set_enabled(*user, enabled);
}

DirResult<void> DirectoryAuthority::write_password(const std::string& name, const std::string& password) {
    auto user = account(name);
    if (!user) return std::unexpected(user.error());
    return directory_.reset_password(*user, password);
}

DirResult<void> DirectoryAuthority::write_member(const std::string& group_spec, const Principal& who, bool add) {
    auto group = directory_.find_group(group_spec);
    if (!group) return std::unexpected(group.error());
    auto user = directory_.find_user_by_dn(who.dn);
    if (!user) return std::unexpected(user.error());
    return add ? directory_.add_member(*group, *user) : directory_.remove_member(*group, *user);
}

} // namespace keyholder::core
