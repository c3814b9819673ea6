// SlapdSandbox: a real OpenLDAP server for a test, on free loopback ports, loaded
// with LDIF files; stopped by PID when the object goes away.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "support/temp_dir.h"

namespace keyholder::testing {

class SlapdSandbox {
public:
    /// SlapdSandbox: starts slapd (plain and TLS listeners) and loads `ldifs`.
    explicit SlapdSandbox(const std::vector<std::filesystem::path>& ldifs = {},
                          const std::string& suffix = "dc=demo,dc=test", int size_limit = 500);
    ~SlapdSandbox();
    SlapdSandbox(const SlapdSandbox&) = delete;
    SlapdSandbox& operator=(const SlapdSandbox&) = delete;

    [[nodiscard]] std::string ldap_uri() const { return "ldap://127.0.0.1:" + std::to_string(port_); }
    [[nodiscard]] std::string ldaps_uri() const { return "ldaps://127.0.0.1:" + std::to_string(tls_port_); }
    [[nodiscard]] std::filesystem::path ca_file() const { return dir_.path() / "ca.crt"; }
    [[nodiscard]] const std::filesystem::path& dir() const { return dir_.path(); }
    void stop();

private:
    TempDir dir_;
    int port_ = 0;
    int tls_port_ = 0;
    bool running_ = false;
};

/// free_loopback_port: a TCP port on 127.0.0.1 that nothing listens on right now.
int free_loopback_port();

} // namespace keyholder::testing
