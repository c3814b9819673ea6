// What the directory tells keyholder about principals.
#pragma once

#include <string>
#include <vector>

namespace keyholder::directory {

enum class Flavour { active_directory, openldap };

struct User {
    std::string dn;
    std::string sid;              ///< "S-1-5-21-..." (AD); empty on OpenLDAP
    std::string guid;             ///< objectGUID (AD) or entryUUID (OpenLDAP)
    std::string sam_account_name; ///< sAMAccountName (AD) or uid (OpenLDAP)
    std::string user_principal_name;
    std::string display_name;
    std::string mail;
    std::string manager_dn;
    bool enabled = false;
    std::string disabled_reason; ///< "account disabled", "account expired", "account locked"; empty when enabled
    std::string primary_group_sid;
    std::vector<std::string> member_of; ///< direct group DNs (memberOf)
    /// id: the stable identity keyholder records: the SID, or "uuid:" + entryUUID on OpenLDAP.
    [[nodiscard]] std::string id() const { return sid.empty() ? "uuid:" + guid : sid; }
};

struct Group {
    std::string dn;
    std::string sid; ///< empty on OpenLDAP
    std::string name;
};

enum class MembershipVia {
    direct,  ///< the user is a member of the group
    nested,  ///< through other groups; `path` shows how
    primary, ///< the user's primary group (primaryGroupID), which `member` never lists
};

struct Membership {
    Group group;
    MembershipVia via = MembershipVia::direct;
    std::vector<std::string> path; ///< for nested: group DNs from a direct group up to this one
    std::string found_by;          ///< how keyholder learned it: tokenGroups, memberOf, member search
};

const char* to_string(MembershipVia via);
const char* to_string(Flavour flavour);

} // namespace keyholder::directory
