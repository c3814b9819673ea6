// SambaDc: a real Active Directory domain controller (Samba) for the tests of one
// test program, on 127.0.0.2. The domain is provisioned and seeded once (about half
// a minute) into a template cached in the build folder; each program starts from a
// copy of that template (about a second) and stops it by PID at exit.
//
// The seeded organisation (tests/support/ad-seed-ldif): alice, bob (manager alice),
// carol, dave, erin, frank (disabled), gina (expired), zoe (non-ASCII), da-breakglass
// (disabled), svc-keyholder (Account Operators), 1,600 big#### users; groups Operators
// > Tier0 Operators > Privileged Requesters, Team Leads, Security Officers, Keyholder
// Admins, Compliance Auditors, Server Admins, Cycle A <-> Cycle B, Big Group.
#pragma once

#include <filesystem>
#include <string>

namespace keyholder::testing {

class SambaDc {
public:
    static constexpr const char* kAddress = "127.0.0.2";
    static constexpr const char* kRealm = "KEYHOLDER.TEST";
    static constexpr const char* kDomain = "KEYHOLDER";
    static constexpr const char* kBaseDn = "DC=keyholder,DC=test";
    static constexpr const char* kPeople = "OU=People,OU=Keyholder,DC=keyholder,DC=test";
    static constexpr const char* kGroups = "OU=Groups,OU=Keyholder,DC=keyholder,DC=test";
    static constexpr const char* kServiceUpn = "svc-keyholder@keyholder.test";
    static constexpr const char* kServiceDn = "CN=keyholder service,OU=People,OU=Keyholder,DC=keyholder,DC=test";
    static constexpr const char* kServicePassword = "Svc-Keyh0lder-Pa55!";
    /// The domain's Administrator: what a test uses to change AD behind keyholder's
    /// back (the service account may only do what docs/operations.md lists).
    static constexpr const char* kAdminDn = "CN=Administrator,CN=Users,DC=keyholder,DC=test";

    /// shared: the DC of this test program, started on first use.
    static SambaDc& shared();

    [[nodiscard]] std::string ldap_uri() const { return std::string("ldap://") + kAddress; }
    [[nodiscard]] std::string ldaps_uri() const { return std::string("ldaps://") + kAddress; }
    [[nodiscard]] std::filesystem::path ca_file() const { return dir_ / "tls/ca.crt"; }
    [[nodiscard]] std::filesystem::path keytab() const { return dir_ / "svc-keyholder.keytab"; }
    [[nodiscard]] std::filesystem::path krb5_conf() const { return dir_ / "krb5.conf"; }
    [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }
    [[nodiscard]] std::string admin_password() const;

    void start();
    void stop();
    [[nodiscard]] bool running() const { return running_; }
    ~SambaDc();

private:
    SambaDc();
    std::filesystem::path template_dir_;
    std::filesystem::path dir_;
    bool running_ = false;
};

/// user_dn: "CN=<display>,OU=People,..." for a seeded user's display name.
std::string people_dn(const std::string& common_name);
/// group_dn: "CN=<name>,OU=Groups,..." for a seeded group.
std::string group_dn(const std::string& name);

} // namespace keyholder::testing
