// Directory membership (see directory.h): transitive groups of a user (AD: tokenGroups;
// OpenLDAP: a bounded walk), standing, and the members of a group (ranged retrieval).
#include "directory_impl.h"

namespace keyholder::directory {

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

} // namespace keyholder::directory
