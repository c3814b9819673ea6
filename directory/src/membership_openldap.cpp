// Membership on OpenLDAP (see membership_strategy.h): a bounded, cycle-safe walk up
// the member attributes; no ranged retrieval, no primary groups.
#include "membership_strategy.h"

namespace keyholder::directory {
namespace {

class OpenLdapMembership final : public MembershipStrategy {
public:
    Result<std::vector<Membership>> groups_of(Directory::Impl& impl, const User& user, Freshness) const override {
        std::vector<Membership> result;
        std::set<std::string> seen;
        std::deque<std::pair<std::string, std::vector<std::string>>> queue{{user.dn, {}}};
        int depth_guard = 0;
        while (!queue.empty()) {
            auto [member_dn, path] = queue.front();
            queue.pop_front();
            if (static_cast<int>(path.size()) >= impl.settings.max_nesting) continue;
            if (++depth_guard > 100000) break;
            std::string filter = "(&" + group_class_filter(Flavour::openldap) +
                                 "(|(member=" + escape_filter_value(member_dn) +
                                 ")(uniqueMember=" + escape_filter_value(member_dn) + ")))";
            auto found = impl.run<std::vector<Entry>>([&](Session& s) {
                return s.search(impl.settings.base_dn, detail::Scope::subtree, filter,
                                group_attributes(Flavour::openldap), impl.settings.page_size);
            });
            if (!found) return std::unexpected(found.error());
            for (const auto& e : *found) {
                if (!seen.insert(lower(e.dn)).second) continue;
                Membership m;
                m.group = impl.to_group(e, Flavour::openldap);
                m.found_by = "member search";
                m.via = path.empty() ? MembershipVia::direct : MembershipVia::nested;
                auto next = path;
                next.push_back(e.dn);
                if (m.via == MembershipVia::nested) m.path = next;
                result.push_back(m);
                queue.emplace_back(e.dn, next);
            }
        }
        return result;
    }

    std::optional<Result<bool>> member_in_one_read(Directory::Impl&, const User&, const Group&,
                                                   Freshness) const override {
        return std::nullopt;
    }

    std::optional<Result<std::pair<User, std::vector<std::string>>>>
    user_and_groups_in_one_read(Directory::Impl&, const std::string&, bool) const override {
        return std::nullopt;
    }

    // OpenLDAP has no ranged retrieval (a "member;range=" option matches nothing).
    Result<std::vector<std::string>> member_dns(Directory::Impl& impl, const Group& group) const override {
        auto entry = impl.run<std::optional<Entry>>([&](Session& s) {
            return s.read(group.dn, {"member", "uniqueMember"});
        });
        if (!entry) return std::unexpected(entry.error());
        if (!*entry) return std::unexpected(not_found("no such group: " + group.dn));
        std::vector<std::string> members;
        for (const char* attribute : {"member", "uniqueMember"})
            for (const auto& v : (*entry)->values(attribute))
                members.push_back(v);
        return members;
    }

    std::optional<Result<std::vector<User>>> members_by_search(Directory::Impl&, const Group&, size_t) const override {
        return std::nullopt;
    }

    Result<std::vector<User>> primary_members(Directory::Impl&, const Group&) const override {
        return std::vector<User>{};
    }
};

} // namespace

const MembershipStrategy& openldap_membership() {
    static const OpenLdapMembership strategy;
    return strategy;
}

} // namespace keyholder::directory
