// Authority: what the core needs from the directory — who someone is, whether they
// are in a set of groups, who their manager is, who could approve, and the writes
// that release and take back access. DirectoryAuthority is the real one (AD or
// OpenLDAP through keyholder::directory); tests may supply their own.
//
// Every call may fail with DirectoryError; Kind::unavailable means "no answer" and the
// core then decides "no" and records nothing (fail closed).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "keyholder/directory/directory.h"

namespace keyholder::core {

template <typename T> using DirResult = directory::Result<T>;

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
    virtual DirResult<Principal> resolve(std::string_view who) = 0;
    virtual DirResult<bool> in_any(const Principal& who, const std::vector<std::string>& groups) = 0;
    /// manager_of: nullopt when the directory names no manager.
    virtual DirResult<std::optional<Principal>> manager_of(const Principal& who) = 0;
    virtual DirResult<std::vector<Principal>> members_of_any(const std::vector<std::string>& groups) = 0;
    virtual DirResult<void> set_enabled(const std::string& account, bool enabled) = 0;
    virtual DirResult<void> reset_password(const std::string& account, const std::string& password) = 0;
    virtual DirResult<void> add_member(const std::string& group, const Principal& who) = 0;
    virtual DirResult<void> remove_member(const std::string& group, const Principal& who) = 0;
};

/// DirectoryAuthority: Authority over keyholder::directory::Directory.
class DirectoryAuthority final : public Authority {
public:
    explicit DirectoryAuthority(directory::Directory& directory) : directory_(directory) {}
    DirResult<Principal> resolve(std::string_view who) override;
    DirResult<bool> in_any(const Principal& who, const std::vector<std::string>& groups) override;
    DirResult<std::optional<Principal>> manager_of(const Principal& who) override;
    DirResult<std::vector<Principal>> members_of_any(const std::vector<std::string>& groups) override;
    DirResult<void> set_enabled(const std::string& account, bool enabled) override;
    DirResult<void> reset_password(const std::string& account, const std::string& password) override;
    DirResult<void> add_member(const std::string& group, const Principal& who) override;
    DirResult<void> remove_member(const std::string& group, const Principal& who) override;

private:
    DirResult<directory::User> account(const std::string& account);
    directory::Directory& directory_;
};

} // namespace keyholder::core
