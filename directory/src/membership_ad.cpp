// Membership on Active Directory (see membership_strategy.h): tokenGroups (every
// security group, nesting and the primary group included, computed by the DC),
// ranged retrieval of large member lists, the in-chain rule for large groups, and the
// users whose primary group a group is (never listed in `member`).
#include "membership_strategy.h"

namespace keyholder::directory {
namespace {

constexpr Flavour kAd = Flavour::active_directory;

// The relative id of a group's SID: what primaryGroupID holds.
std::string relative_id(const std::string& sid) { return sid.substr(sid.rfind('-') + 1); }

class AdMembership final : public MembershipStrategy {
public:
    Result<std::vector<Membership>> groups_of(Directory::Impl& impl, const User& user,
                                              Freshness freshness) const override {
        auto token_sids = impl.token_sids(user, freshness);
        if (!token_sids) return std::unexpected(token_sids.error());
        const std::vector<std::string>& sids = *token_sids;
        // Resolve the SIDs to groups (names, DNs, and their memberOf for the paths), 40 per search.
        std::map<std::string, Entry> by_sid;
        for (size_t i = 0; i < sids.size(); i += 40) {
            std::string filter = "(|";
            for (size_t k = i; k < std::min(sids.size(), i + 40); ++k)
                filter += "(objectSid=" + escape_filter_bytes(*sid_from_string(sids[k])) + ")";
            filter += ")";
            auto found = impl.run<std::vector<Entry>>([&](Session& s) {
                return s.search(impl.settings.base_dn, detail::Scope::subtree, filter, group_attributes(kAd),
                                impl.settings.page_size);
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
        std::vector<Membership> result;
        for (const auto& sid : sids) {
            Membership m;
            m.found_by = "tokenGroups";
            if (auto it = by_sid.find(sid); it != by_sid.end())
                m.group = impl.to_group(it->second, kAd);
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
        return result;
    }

    // One base read of tokenGroups answers it (nesting and primary group included).
    std::optional<Result<bool>> member_in_one_read(Directory::Impl& impl, const User& user, const Group& group,
                                                   Freshness freshness) const override {
        if (group.sid.empty()) return std::nullopt;
        auto tokens = impl.token_sids(user, freshness);
        if (!tokens) return Result<bool>(std::unexpected(tokens.error()));
        return Result<bool>(std::find(tokens->begin(), tokens->end(), group.sid) != tokens->end());
    }

    // One round trip: tokenGroups is computed for base-scope reads only, and AD takes
    // "<SID=...>" as the DN of the object with that SID.
    std::optional<Result<std::pair<User, std::vector<std::string>>>>
    user_and_groups_in_one_read(Directory::Impl& impl, const std::string& who, bool by_sid) const override {
        using Answer = Result<std::pair<User, std::vector<std::string>>>;
        auto attrs = user_attributes(kAd);
        attrs.push_back("tokenGroups");
        const std::string base = by_sid ? "<SID=" + who + ">" : who;
        auto entry = impl.run<std::optional<Entry>>(
            [&](Session& s) { return s.read(base, attrs, "(&" + user_class_filter(kAd) + ")"); });
        if (!entry) return Answer(std::unexpected(entry.error()));
        if (!*entry) return Answer(std::unexpected(not_found("no such user: " + who)));
        std::vector<std::string> sids;
        for (const auto& raw : (*entry)->values("tokengroups"))
            if (auto sid = sid_to_string(bytes(raw))) sids.push_back(*sid);
        return Answer(std::pair{impl.to_user(**entry, kAd), std::move(sids)});
    }

    // Ranged retrieval: ask for member;range=LOW-HIGH (or LOW-*), follow the range the
    // server answers with until it ends in '*'. A server that ignores ranges answers
    // with plain `member`, which is the whole list.
    Result<std::vector<std::string>> member_dns(Directory::Impl& impl, const Group& group) const override {
        std::vector<std::string> members;
        int64_t low = 0;
        const int step = impl.settings.range_step;
        for (int rounds = 0; rounds < 100000; ++rounds) {
            std::string wanted = "member;range=" + std::to_string(low) + "-" +
                                 (step > 0 ? std::to_string(low + step - 1) : std::string("*"));
            auto entry = impl.run<std::optional<Entry>>([&](Session& s) { return s.read(group.dn, {wanted}); });
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

    // Samba evaluates the in-chain rule by scanning every user (seconds on a large
    // domain), so it is used for large groups only; small ones are walked.
    std::optional<Result<std::vector<User>>> members_by_search(Directory::Impl& impl, const Group& group,
                                                               size_t direct_members) const override {
        constexpr size_t kWalkLimit = 500;
        if (direct_members <= kWalkLimit) return std::nullopt;
        std::string filter = "(&" + user_class_filter(kAd) +
                             "(|(memberOf:1.2.840.113556.1.4.1941:=" + escape_filter_value(group.dn) + ")";
        if (!group.sid.empty()) filter += "(primaryGroupID=" + relative_id(group.sid) + ")";
        filter += "))";
        return search_users(impl, filter);
    }

    // Users whose primary group this is are not listed in `member`.
    Result<std::vector<User>> primary_members(Directory::Impl& impl, const Group& group) const override {
        if (group.sid.empty()) return std::vector<User>{};
        auto found =
            search_users(impl, "(&" + user_class_filter(kAd) + "(primaryGroupID=" + relative_id(group.sid) + "))");
        if (!found) return found;
        std::erase_if(*found, [&](const User& u) { return u.sid.rfind(sid_domain_part(group.sid), 0) != 0; });
        return found;
    }

private:
    static Result<std::vector<User>> search_users(Directory::Impl& impl, const std::string& filter) {
        auto found = impl.run<std::vector<Entry>>([&](Session& s) {
            return s.search(impl.settings.base_dn, detail::Scope::subtree, filter, user_attributes(kAd),
                            impl.settings.page_size);
        });
        if (!found) return std::unexpected(found.error());
        std::vector<User> users;
        for (const auto& e : *found)
            users.push_back(impl.to_user(e, kAd));
        return users;
    }
};

} // namespace

const MembershipStrategy& active_directory_membership() {
    static const AdMembership strategy;
    return strategy;
}

} // namespace keyholder::directory
