// MembershipStrategy: how one directory flavour answers the membership questions.
// membership_ad.cpp: tokenGroups, ranged retrieval, the in-chain rule for large groups
// and primary groups; membership_openldap.cpp: a bounded walk up and down the member
// attributes. membership.cpp holds what both share (caches, the walk down member lists,
// standing by lookup). Private to the directory module.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "directory_impl.h"

namespace keyholder::directory {

class MembershipStrategy {
public:
    virtual ~MembershipStrategy() = default;

    /// groups_of: every group `user` is transitively in, read now (the caller caches).
    virtual Result<std::vector<Membership>> groups_of(Directory::Impl& impl, const User& user,
                                                      Freshness freshness) const = 0;
    /// member_in_one_read: whether `user` is in `group`, when one read answers it
    /// (nullopt: the caller looks through groups_of).
    virtual std::optional<Result<bool>> member_in_one_read(Directory::Impl& impl, const User& user, const Group& group,
                                                           Freshness freshness) const = 0;
    /// user_and_groups_in_one_read: `who` (a SID or a DN) read live with the SIDs of
    /// every group it is in, when one read does it (nullopt: the caller looks `who` up).
    virtual std::optional<Result<std::pair<User, std::vector<std::string>>>>
    user_and_groups_in_one_read(Directory::Impl& impl, const std::string& who, bool by_sid) const = 0;
    /// member_dns: the direct members of `group`.
    virtual Result<std::vector<std::string>> member_dns(Directory::Impl& impl, const Group& group) const = 0;
    /// members_by_search: every user under a group with `direct_members` direct members,
    /// when a search does it better than a walk (nullopt: the caller walks).
    virtual std::optional<Result<std::vector<User>>> members_by_search(Directory::Impl& impl, const Group& group,
                                                                       size_t direct_members) const = 0;
    /// primary_members: users in `group` that its member lists do not show.
    virtual Result<std::vector<User>> primary_members(Directory::Impl& impl, const Group& group) const = 0;
};

/// membership_strategy: the strategy of a flavour (one instance each, stateless).
const MembershipStrategy& membership_strategy(Flavour flavour);

} // namespace keyholder::directory
