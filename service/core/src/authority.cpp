// DirectoryAuthority (see authority.h).
#include "keyholder/core/authority.h"

#include <set>

namespace keyholder::core {
namespace {

Principal to_principal(const directory::User& u) {
    return Principal{u.id(), u.sam_account_name, u.display_name, u.mail, u.dn, u.enabled};
}

bool looks_like_id(std::string_view who) { return who.starts_with("S-1-") || who.starts_with("uuid:"); }

} // namespace

DirResult<Principal> DirectoryAuthority::resolve(std::string_view who) {
    auto user = looks_like_id(who) ? directory_.find_user_by_id(who) : directory_.find_user(who);
    if (!user) return std::unexpected(user.error());
    return to_principal(*user);
}

DirResult<bool> DirectoryAuthority::in_any(const Principal& who, const std::vector<std::string>& groups) {
    auto user = directory_.find_user_by_dn(who.dn);
    if (!user) return std::unexpected(user.error());
    for (const auto& group : groups) {
        auto member = directory_.is_member(*user, group);
        if (!member) return std::unexpected(member.error());
        if (*member) return true;
    }
    return false;
}

DirResult<std::optional<Principal>> DirectoryAuthority::manager_of(const Principal& who) {
    auto user = directory_.find_user_by_dn(who.dn);
    if (!user) return std::unexpected(user.error());
    if (user->manager_dn.empty()) return std::optional<Principal>{};
    auto manager = directory_.manager_of(*user);
    if (!manager) {
        if (manager.error().kind == directory::DirectoryError::Kind::not_found) return std::optional<Principal>{};
        return std::unexpected(manager.error());
    }
    return std::optional<Principal>{to_principal(*manager)};
}

DirResult<std::vector<Principal>> DirectoryAuthority::members_of_any(const std::vector<std::string>& groups) {
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

DirResult<directory::User> DirectoryAuthority::account(const std::string& account) {
    return account.find('=') != std::string::npos ? directory_.find_user_by_dn(account) : directory_.find_user(account);
}

DirResult<void> DirectoryAuthority::set_enabled(const std::string& name, bool enabled) {
    auto user = account(name);
    if (!user) return std::unexpected(user.error());
    return directory_.set_enabled(*user, enabled);
}

DirResult<void> DirectoryAuthority::reset_password(const std::string& name, const std::string& password) {
    auto user = account(name);
    if (!user) return std::unexpected(user.error());
    return directory_.reset_password(*user, password);
}

DirResult<void> DirectoryAuthority::add_member(const std::string& group_spec, const Principal& who) {
    auto group = directory_.find_group(group_spec);
    if (!group) return std::unexpected(group.error());
    auto user = directory_.find_user_by_dn(who.dn);
    if (!user) return std::unexpected(user.error());
    return directory_.add_member(*group, *user);
}

DirResult<void> DirectoryAuthority::remove_member(const std::string& group_spec, const Principal& who) {
    auto group = directory_.find_group(group_spec);
    if (!group) return std::unexpected(group.error());
    auto user = directory_.find_user_by_dn(who.dn);
    if (!user) return std::unexpected(user.error());
    return directory_.remove_member(*group, *user);
}

} // namespace keyholder::core
