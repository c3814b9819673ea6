// Authority: what the core needs from the directory — who someone is, whether they
// are in a set of groups, who their manager is, who could approve, and the writes
// that release and take back access. DirectoryAuthority is the real one (AD or
// OpenLDAP through keyholder::directory); tests may supply their own.
//
// Every call may fail with DirectoryError; Kind::unavailable means "no answer" and the
// core then decides "no" and records nothing (fail closed).
//
// The *_live calls read the directory now and are what every grant uses (a new
// request, a decision, a credential read, a release); the plain ones may answer from
// the cache and serve lists and display only. The public calls are not virtual: each
// first checks that this thread does not hold the store's writer lock (debug builds
// abort if it does: a slow DC must never stall every writer), then asks the
// implementation (the lookup_/write hooks).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "keyholder/directory/directory.h"

namespace keyholder::core {

template <typename T> using DirResult = directory::Result<T>;
using directory::Freshness;

struct Principal {
    std::string id;   ///< SID (or uuid:...) — what keyholder records
    std::string name; ///< sAMAccountName
    std::string display_name;
    std::string mail;
    std::string dn;
    bool enabled = false;
};

class Authority {
public:
    virtual ~Authority() = default;

    /// resolve: a login (name, UPN, DOMAIN\name) or a recorded id.
    DirResult<Principal> resolve(std::string_view who) {
        call("resolve");
        return find(who, Freshness::cached);
    }
    DirResult<Principal> resolve_live(std::string_view who) {
        call("resolve");
        return find(who, Freshness::live);
    }
    DirResult<bool> in_any(const Principal& who, const std::vector<std::string>& groups) {
        call("in_any");
        return member_of_any(who, groups, Freshness::cached);
    }
    DirResult<bool> in_any_live(const Principal& who, const std::vector<std::string>& groups) {
        call("in_any");
        return member_of_any(who, groups, Freshness::live);
    }
    /// Standing: who, read now, and whether they are in any of the groups asked about.
    struct Standing {
        Principal principal;
        bool member = false;
    };
    /// standing_live: resolve_live + in_any_live, in one directory round trip where
    /// the directory allows it (AD, given a SID or a DN).
    DirResult<Standing> standing_live(std::string_view who, const std::vector<std::string>& groups) {
        call("standing");
        return standing(who, groups);
    }
    /// manager_of: nullopt when the directory names no manager.
    DirResult<std::optional<Principal>> manager_of(const Principal& who) {
        call("manager_of");
        return manager(who, Freshness::cached);
    }
    DirResult<std::optional<Principal>> manager_of_live(const Principal& who) {
        call("manager_of");
        return manager(who, Freshness::live);
    }
    /// members_of_any: who is in the groups (lists: may be cached).
    /// membership_path: how `who` is in the first of `groups` they are in, as group
    /// names from the one they are a direct member of up to it ("Operators",
    /// "Tier0 Operators"); empty when in none. Cached: for people to read, never a grant.
    DirResult<std::vector<std::string>> membership_path(const Principal& who, const std::vector<std::string>& groups) {
        call("membership_path");
        return path_to(who, groups);
    }
    DirResult<std::vector<Principal>> members_of_any(const std::vector<std::string>& groups) {
        call("members_of_any");
        return members(groups);
    }
    DirResult<void> set_enabled(const std::string& account, bool enabled) {
        call("set_enabled");
        return write_enabled(account, enabled);
    }
    DirResult<void> reset_password(const std::string& account, const std::string& password) {
        call("reset_password");
        return write_password(account, password);
    }
    DirResult<void> add_member(const std::string& group, const Principal& who) {
        call("add_member");
        return write_member(group, who, true);
    }
    DirResult<void> remove_member(const std::string& group, const Principal& who) {
        call("remove_member");
        return write_member(group, who, false);
    }

protected:
    virtual DirResult<Principal> find(std::string_view who, Freshness freshness) = 0;
    /// standing: by default a live find and a live membership check.
    virtual DirResult<Standing> standing(std::string_view who, const std::vector<std::string>& groups) {
        auto principal = find(who, Freshness::live);
        if (!principal) return std::unexpected(principal.error());
        auto member = member_of_any(*principal, groups, Freshness::live);
        if (!member) return std::unexpected(member.error());
        return Standing{std::move(*principal), *member};
    }
    virtual DirResult<bool> member_of_any(const Principal& who, const std::vector<std::string>& groups,
                                          Freshness freshness) = 0;
    virtual DirResult<std::optional<Principal>> manager(const Principal& who, Freshness freshness) = 0;
    virtual DirResult<std::vector<Principal>> members(const std::vector<std::string>& groups) = 0;
    /// path_to: (membership_path) a directory without group paths answers empty.
    virtual DirResult<std::vector<std::string>> path_to(const Principal&, const std::vector<std::string>&) {
        return std::vector<std::string>{};
    }
    virtual DirResult<void> write_enabled(const std::string& account, bool enabled) = 0;
    virtual DirResult<void> write_password(const std::string& account, const std::string& password) = 0;
    virtual DirResult<void> write_member(const std::string& group, const Principal& who, bool add) = 0;

private:
    /// call: the writer-lock check before any directory call (see the file comment).
    static void call(const char* what);
};

/// DirectoryAuthority: Authority over keyholder::directory::Directory.
class DirectoryAuthority final : public Authority {
public:
    explicit DirectoryAuthority(directory::Directory& directory) : directory_(directory) {}

protected:
    DirResult<Principal> find(std::string_view who, Freshness freshness) override;
    DirResult<Standing> standing(std::string_view who, const std::vector<std::string>& groups) override;
    DirResult<bool> member_of_any(const Principal& who, const std::vector<std::string>& groups,
                                  Freshness freshness) override;
    DirResult<std::optional<Principal>> manager(const Principal& who, Freshness freshness) override;
    DirResult<std::vector<Principal>> members(const std::vector<std::string>& groups) override;
    DirResult<std::vector<std::string>> path_to(const Principal& who, const std::vector<std::string>& groups) override;
    DirResult<void> write_enabled(const std::string& account, bool enabled) override;
    DirResult<void> write_password(const std::string& account, const std::string& password) override;
    DirResult<void> write_member(const std::string& group, const Principal& who, bool add) override;

private:
    DirResult<directory::User> account(const std::string& account);
    directory::Directory& directory_;
};

} // namespace keyholder::core
