// Directory: keyholder's view of Active Directory (or OpenLDAP) — who a user is,
// whether they are enabled, which groups they are transitively in, who their
// manager is — and the writes that release and take back access.
//
// Every call returns std::expected<T, DirectoryError>. error().kind tells
// Kind::unavailable ("no DC answered: fail closed, try later") from Kind::not_found
// ("no such user": a decision). Thread-safe: calls borrow a connection from a small
// pool (one LDAP* per caller at a time) and reconnect, with failover across the
// configured URIs, when a server goes away.
//
// Example:
//   Directory directory(settings);
//   auto bob = directory.find_user("KEYHOLDER\\bob");
//   if (!bob) return bob.error().kind == DirectoryError::Kind::not_found ? deny() : try_later();
//   auto allowed = directory.is_member(*bob, "CN=Tier0 Operators,OU=Groups,DC=example,DC=com");
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "keyholder/directory/error.h"
#include "keyholder/directory/root_dse.h"
#include "keyholder/directory/settings.h"
#include "keyholder/directory/types.h"

namespace keyholder::directory {

template <typename T> using Result = std::expected<T, DirectoryError>;

/// Freshness: whether a lookup may be answered from the cache. Every grant (a new
/// request, a decision, a credential read, a release) reads the directory `live`:
/// the cache never says yes to one, and an unreachable DC then means no. Lists,
/// display names and visibility may be `cached`. A live answer refreshes the cache.
enum class Freshness { cached, live };

/// Standing: a user as the directory has them now, and whether they are in any of
/// the groups asked about (the question every grant asks).
struct Standing {
    User user;
    bool member = false;
};

struct CacheStats {
    uint64_t hits = 0;
    uint64_t misses = 0;
    size_t entries = 0;
};

class Directory {
public:
    /// Directory: no connection is made until the first call. `now` (UTC seconds)
    /// drives cache expiry and accountExpires checks; tests pass a manual clock.
    explicit Directory(DirectorySettings settings, std::function<int64_t()> now = {});
    ~Directory();
    Directory(const Directory&) = delete;
    Directory& operator=(const Directory&) = delete;

    /// flavour: configured, or detected from the rootDSE on first use.
    Result<Flavour> flavour();
    /// probe: reads the rootDSE (readiness).
    Result<RootDse> probe();

    /// find_user: by sAMAccountName, userPrincipalName (name@domain) or DOMAIN\name.
    /// Names are escaped (RFC 4515): hostile input can only find nothing.
    Result<User> find_user(std::string_view login, Freshness freshness = Freshness::cached);
    Result<User> find_user_by_dn(std::string_view dn, Freshness freshness = Freshness::cached);
    /// find_user_by_id: by User::id() (a SID, or uuid:<entryUUID>).
    Result<User> find_user_by_id(std::string_view id, Freshness freshness = Freshness::cached);
    /// manager_of: the user's manager, resolved to a user.
    Result<User> manager_of(const User& user, Freshness freshness = Freshness::cached);

    /// find_group: a group given as a DN, a SID (S-1-...) or a name.
    Result<Group> find_group(std::string_view spec);
    /// is_member: is `user` transitively in the group (primary group included)? Only
    /// `user.dn` and its id (sid, or guid on OpenLDAP) are used. Live: the user's
    /// memberships are read now; the group's DN/SID may come from the cache (which
    /// group a configured name means is not a yes: membership is).
    Result<bool> is_member(const User& user, std::string_view group_spec, Freshness freshness = Freshness::cached);
    /// standing: `who` (a SID, uuid:..., a DN or a login) read live, and whether they
    /// are transitively in any of `group_specs`. On AD, for a SID or a DN, this is one
    /// base read (the user's attributes and tokenGroups together, the SID as a
    /// <SID=...> DN); otherwise a lookup and the membership reads. Refreshes the cache.
    Result<Standing> standing(std::string_view who, const std::vector<std::string>& group_specs);
    /// groups_of: every group the user is transitively in, with how it was found.
    Result<std::vector<Membership>> groups_of(const User& user, Freshness freshness = Freshness::cached);
    /// member_dns: the direct members of a group (ranged retrieval for large groups).
    Result<std::vector<std::string>> member_dns(const Group& group);
    /// transitive_members: every enabled or disabled user under the group, nested included.
    Result<std::vector<User>> transitive_members(const Group& group);

    /// verify_password: binds as the user on a fresh connection (Basic sign-on).
    Result<void> verify_password(const User& user, std::string_view password);
    /// reset_password: AD unicodePwd (only over TLS or a sealed SASL connection; refused
    /// before anything is sent otherwise); OpenLDAP: RFC 3062 password modify.
    Result<void> reset_password(const User& account, std::string_view new_password);
    /// set_enabled: AD userAccountControl bit 0x2; OpenLDAP: pwdAccountLockedTime.
    Result<void> set_enabled(const User& account, bool enabled);
    Result<void> add_member(const Group& group, const User& user);
    Result<void> remove_member(const Group& group, const User& user);

    /// invalidate: forget cached facts about one user (after a write, or on demand).
    void invalidate(const User& user);
    void invalidate_all();
    [[nodiscard]] CacheStats cache_stats() const;

    /// Impl: the state behind a Directory (opaque; the module's flavour strategies use it).
    struct Impl;

private:
    Result<std::vector<User>> load_transitive_members(const Group& group);
    std::unique_ptr<Impl> impl_;
};

} // namespace keyholder::directory
