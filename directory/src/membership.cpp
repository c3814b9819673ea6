// Directory membership (see directory.h): what both flavours share — the caches, the
// walk down member lists, standing by lookup — over each flavour's strategy
// (membership_ad.cpp, membership_openldap.cpp).
#include "membership_strategy.h"

namespace keyholder::directory {

const MembershipStrategy& active_directory_membership();
const MembershipStrategy& openldap_membership();

const MembershipStrategy& membership_strategy(Flavour flavour) {
    return flavour == Flavour::active_directory ? active_directory_membership() : openldap_membership();
}

Result<std::vector<Membership>> Directory::groups_of(const User& user, Freshness freshness) {
    auto f = impl_->get_flavour();
    if (!f) return std::unexpected(f.error());
    const std::string key = "groups:" + user.id();
    if (freshness == Freshness::cached)
        if (auto hit = impl_->memberships.get(key)) return *hit;
    auto result = membership_strategy(*f).groups_of(*impl_, user, freshness);
    if (result) impl_->memberships.put(key, *result);
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
    if (auto answer = membership_strategy(*f).member_in_one_read(*impl_, user, *group, freshness)) return *answer;
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
    if (by_sid || by_dn) {
        if (auto read = membership_strategy(*f).user_and_groups_in_one_read(*impl_, who, by_sid)) {
            if (!*read) return std::unexpected(read->error());
            auto& [user, sids] = **read;
            Standing standing{user, false};
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
    auto f = impl_->get_flavour();
    if (!f) return std::unexpected(f.error());
    return membership_strategy(*f).member_dns(*impl_, group);
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
    const MembershipStrategy& strategy = membership_strategy(*f);
    auto direct = member_dns(group);
    if (!direct) return std::unexpected(direct.error());
    if (auto found = strategy.members_by_search(*impl_, group, direct->size())) return *found;
    // Walk down the member lists, each group once, bounded: a few reads for the small
    // groups policies name.
    std::vector<User> users;
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
    auto primary = strategy.primary_members(*impl_, group);
    if (!primary) return std::unexpected(primary.error());
    for (auto& u : *primary)
        if (seen.insert(lower(u.dn)).second) users.push_back(std::move(u));
    return users;
}

} // namespace keyholder::directory
