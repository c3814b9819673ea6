// keyholder's configuration: one INI file, parsed once into immutable structs and
// validated whole.
//
// load_config() reports every problem it finds (file, section and key for each),
// not only the first, so an administrator fixes a file in one pass. Relative paths
// resolve against [service] data_dir; a relative data_dir against the folder of the
// configuration file. Passwords come from files (<key>_file) or the environment
// (<key>_env), never inline.
//
// Example:
//   auto config = keyholder::config::load_config("/etc/keyholder/keyholder.ini");
//   if (!config) { for (auto& p : config.error()) std::cerr << p.to_string() << '\n'; return 1; }
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "keyholder/config/secret.h"

namespace keyholder::config {

using Seconds = std::chrono::seconds;
using Path = std::filesystem::path;

struct ServiceSection {
    std::string name = "keyholder";
    Path data_dir;
    std::string log_level = "information";   ///< Poco levels: trace, debug, information, notice, warning, error, ...
    std::optional<Path> log_file;            ///< console (journald) when empty
    Path master_key_file;                    ///< AES-256-GCM key for secrets at rest; created on first start
    Path link_key_file;                      ///< HMAC key for approval links; created on first start
    std::vector<std::string> admin_groups;   ///< AD groups (DN, SID or name) of administrators
    std::vector<std::string> auditor_groups; ///< AD groups allowed to read reports
};

struct HttpSection {
    std::string address = "127.0.0.1";
    uint16_t port = 8443;
    std::optional<Path> tls_cert_file;
    std::optional<Path> tls_key_file;
    std::string public_url; ///< base of the links in mails, e.g. https://keyholder.example.com
    size_t max_body_bytes = 64 * 1024;
    int max_header_fields = 64;
    int max_header_bytes = 16 * 1024;
    int threads = 16;
    int max_queued = 1024;                  ///< complete requests waiting for a worker
    int max_connections = 4096;             ///< open connections in all
    int max_connections_per_address = 1024; ///< open connections from one client address (a proxy counts as one)
    Seconds read_timeout{15};               ///< the whole request (head and body) must arrive within this
    Seconds keepalive_timeout{10};
    std::vector<std::string> allowed_origins; ///< extra origins allowed to POST (the public URL always is)
    [[nodiscard]] bool tls() const { return tls_cert_file.has_value(); }
};

/// AuthSection: how callers sign on to the endpoint.
struct AuthSection {
    /// negotiate: HTTP Negotiate (SPNEGO / Kerberos) with the service keytab.
    bool negotiate = false;
    std::optional<Path> keytab;      ///< HTTP service keys; default: [ldap] keytab
    std::string service_principal;   ///< e.g. HTTP/keyholder.example.com@EXAMPLE.COM; empty: any key in the keytab
    std::vector<std::string> realms; ///< Kerberos realms whose principals map to directory users; empty: any
    /// basic: Basic sign-on checked by an LDAP bind as the user (TLS or loopback only).
    bool basic = true;
    Seconds basic_cache_ttl{60};       ///< verified credentials remembered (salted hash) this long
    int failed_signon_limit = 10;      ///< failed sign-ons per client address ...
    Seconds failed_signon_window{300}; ///< ... within this window, then 429 until it passes
    /// link_sign_on: the approval page also requires sign-on, as the link's approver
    /// (default on where Negotiate is configured: no typing for domain users).
    bool link_sign_on = false;
    /// Portal sessions (a cookie after the login form or Negotiate): ended after this
    /// long without a request, and at the latest this long after sign-on.
    Seconds session_idle_timeout{1800};
    Seconds session_lifetime{36000};
};

enum class LdapFlavour { automatic, active_directory, openldap };
enum class LdapBindMethod { simple, gssapi };

struct LdapSection {
    std::vector<std::string> uris; ///< tried in order: ldaps://dc1.example.com ldaps://dc2.example.com
    std::string base_dn;
    LdapFlavour flavour = LdapFlavour::automatic;
    LdapBindMethod bind = LdapBindMethod::simple;
    std::string bind_dn;
    Secret bind_password;
    std::optional<Path> keytab;
    std::string principal;
    std::optional<Path> ca_file;
    bool starttls = false;
    bool tls_require_cert = true;
    std::string netbios_domain; ///< accepts DOMAIN\\user sign-ins for this domain
    Seconds network_timeout{3};
    Seconds operation_timeout{5};
    Seconds cache_ttl{60};
    int cache_size = 10000;
    int pool_size = 4;
    int page_size = 500;  ///< paged-results page size
    int range_step = 0;   ///< values per ranged member retrieval; 0 = as many as the DC gives
    int max_nesting = 32; ///< depth bound of the OpenLDAP group walk
};

struct SmtpSection {
    std::string host; ///< empty: mails go to pickup_dir instead
    uint16_t port = 587;
    bool starttls = true;
    std::string user;
    Secret password;
    std::string from = "keyholder@localhost";
    Path pickup_dir;
    std::string auth = "login";  ///< SASL mechanism with a user: login (Exchange) or plain
    std::optional<Path> ca_file; ///< CA for the server's STARTTLS certificate (default: the system's)
    Seconds retry_initial{30};   ///< first retry after a failed delivery, doubling ...
    Seconds retry_max{3600};     ///< ... up to this
    int sessions = 4;            ///< SMTP connections used side by side for a backlog (1-16)
    /// templates_dir: mail templates; default "templates" next to the configuration
    /// file when it exists, else the built-in copies of config/templates.
    std::optional<Path> templates_dir;
    [[nodiscard]] bool uses_server() const { return !host.empty(); }
};

enum class Durability { normal, full };
/// StoreBackend: SQLite (one node, the embedded default) or PostgreSQL (several nodes).
enum class StoreBackend { sqlite, postgresql };

struct StoreSection {
    StoreBackend backend = StoreBackend::sqlite;
    Path file; ///< sqlite
    /// dsn: PostgreSQL's connection string (libpq keyword=value pairs or a URI), without
    /// its password; password: from password_file / password_env.
    std::string dsn;
    Secret password;
    std::chrono::milliseconds busy_timeout{5000};
    std::chrono::milliseconds answer_timeout{30000}; ///< postgresql (store::ConnectionOptions)
    Durability durability = Durability::full;
    /// History older than this is deleted (requests that are over, with their
    /// check-outs, approvals and mail; never audit events); none: kept for good.
    std::optional<std::chrono::seconds> retention;
};

struct ReportsSection {
    Path output_dir;
    std::string timezone = "UTC"; ///< UTC or local
    bool bom = false;             ///< UTF-8 byte order mark for Excel
};

struct ApprovalStage {
    std::vector<std::string> approver_groups;
    bool requester_manager = false; ///< the requester's AD manager may approve this stage
    int approvals = 1;              ///< distinct people needed
};

struct Policy {
    std::string name;
    std::vector<std::string> requester_groups;
    std::vector<ApprovalStage> stages;
    Seconds default_duration{3600};
    Seconds max_duration{4 * 3600};
    Seconds request_ttl{24 * 3600};
    bool reason_required = true;
    std::optional<std::string> ticket_pattern; ///< ECMAScript regular expression the whole ticket must match
    bool exclusive = true;
    Seconds max_schedule_ahead{7 * 86400};
    Seconds max_extension{0}; ///< total extension allowed per check-out; 0 = none
};

enum class ReleaseKind { password, enable, group };

struct Entry {
    std::string name;
    std::string display_name;
    std::string description;
    std::string policy;
    std::vector<ReleaseKind> release;
    std::string account; ///< the privileged account (sAMAccountName or DN)
    std::string group;   ///< for release = group: the group (DN, SID or name)
    bool rotate_password = true;
    [[nodiscard]] bool releases(ReleaseKind kind) const;
};

struct ReportSchedule {
    std::string name;
    std::string report;   ///< checkout-requests, active-checkouts, approvals, audit
    std::string schedule; ///< 5-field cron expression
    std::string window;   ///< "last 7d", "previous day", "previous week", "previous month"
    Path output_dir;
    std::vector<std::string> mail_to;
    std::string timezone; ///< UTC or local
};

struct Config {
    Path file;
    ServiceSection service;
    HttpSection http;
    AuthSection auth;
    LdapSection ldap;
    SmtpSection smtp;
    StoreSection store;
    ReportsSection reports;
    std::map<std::string, Policy> policies;
    std::map<std::string, Entry> entries;
    std::map<std::string, ReportSchedule> report_schedules;
};

/// Problem: one thing wrong with the configuration.
struct Problem {
    std::string file;
    std::string section; ///< e.g. "ldap", "policy.breakglass"; empty for the file as a whole
    std::string key;     ///< empty for the section as a whole
    std::string message;
    [[nodiscard]] std::string to_string() const; ///< "FILE: [section] key: message"
};

struct LoadOptions {
    std::optional<Path> data_dir; ///< overrides [service] data_dir (keyholderd --data-dir)
};

/// load_config: reads and validates the whole file; every problem or the config.
std::expected<Config, std::vector<Problem>> load_config(const Path& file, const LoadOptions& options = {});

/// known_reports: the report names [report.NAME] report = may use.
const std::vector<std::string>& known_reports();

/// dsn_carries_password: a password written into a PostgreSQL connection string itself
/// (password=..., or a URI's user:password@): refused, passwords come from a file or
/// the environment.
bool dsn_carries_password(const std::string& dsn);

} // namespace keyholder::config
