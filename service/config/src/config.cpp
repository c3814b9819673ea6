// Loading and validating keyholder.ini (see config.h).
//
// The reader walks every key the file holds, hands each section to a SectionReader
// that knows which keys it accepts, and collects problems instead of stopping at
// the first, so that --check-config lists everything wrong in one run.
#include "keyholder/config/config.h"

#include <Poco/AutoPtr.h>
#include <Poco/Exception.h>
#include <Poco/Net/IPAddress.h>
#include <Poco/String.h>
#include <Poco/URI.h>
#include <Poco/Util/IniFileConfiguration.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "keyholder/config/duration.h"
#include "keyholder/platform/files.h"
#include "keyholder/platform/system.h"
#include "keyholder/schedule/cron.h"

namespace keyholder::config {
namespace {

const std::vector<std::string> kFixedSections{"service", "http", "auth", "ldap", "smtp", "store", "reports"};
const std::vector<std::string> kNamedSections{"policy", "entry", "report"};

std::string lower(std::string text) { return Poco::toLower(text); }

// Context shared by all section readers of one file.
struct Context {
    std::string file;
    Poco::AutoPtr<Poco::Util::IniFileConfiguration> ini;
    std::vector<Problem> problems;
    Path base_dir; // relative paths resolve against this (data_dir once known)

    void problem(const std::string& section, const std::string& key, const std::string& message) {
        problems.push_back({file, section, key, message});
    }
};

// Every leaf key of the file, as written ("policy.breakglass.max_duration"). A key
// with an empty part (".x", "a..b", a section "[.]") is a problem, not a path to walk:
// Poco lists its empty part again and again under the same prefix.
void collect_leaves(Poco::Util::AbstractConfiguration& conf, const std::string& prefix, std::vector<std::string>& out,
                    Context& context) {
    Poco::Util::AbstractConfiguration::Keys keys;
    conf.keys(prefix, keys);
    for (const auto& key : keys) {
        if (key.empty()) {
            context.problem(prefix, "", "a section or key name has an empty part (a leading, trailing or double '.')");
            continue;
        }
        std::string full = prefix.empty() ? key : prefix + "." + key;
        if (conf.hasProperty(full)) out.push_back(full);
        collect_leaves(conf, full, out, context);
    }
}

bool is_valid_name(const std::string& name) {
    return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    });
}

std::vector<std::string> split(const std::string& text, const std::string& separators) {
    std::vector<std::string> items;
    std::string current;
    for (char c : text) {
        if (separators.find(c) != std::string::npos) {
            std::string item = Poco::trim(current);
            if (!item.empty()) items.push_back(item);
            current.clear();
        } else {
            current += c;
        }
    }
    std::string item = Poco::trim(current);
    if (!item.empty()) items.push_back(item);
    return items;
}

bool is_loopback_host(const std::string& host) {
    if (host == "localhost") return true;
    Poco::Net::IPAddress address;
    return Poco::Net::IPAddress::tryParse(host, address) && address.isLoopback();
}

// SectionReader: typed access to one section; remembers which keys it understood.
class SectionReader {
public:
    SectionReader(Context& context, std::string section, std::set<std::string> present)
        : context_(context), section_(std::move(section)), present_(std::move(present)) {}

    [[nodiscard]] const std::string& section() const { return section_; }
    void problem(const std::string& key, const std::string& message) { context_.problem(section_, key, message); }
    [[nodiscard]] bool has(const std::string& key) {
        known_.insert(key);
        return present_.count(key) != 0;
    }

    std::optional<std::string> raw(const std::string& key) {
        if (!has(key)) return std::nullopt;
        return context_.ini->getRawString(section_ + "." + key);
    }

    std::string text(const std::string& key, const std::string& fallback) { return raw(key).value_or(fallback); }

    std::string required(const std::string& key, const std::string& what) {
        auto value = raw(key);
        if (!value || value->empty()) {
            problem(key, "missing required value (" + what + ")");
            return {};
        }
        return *value;
    }

    Seconds duration(const std::string& key, Seconds fallback) {
        auto value = raw(key);
        if (!value) return fallback;
        auto parsed = parse_duration(*value);
        if (!parsed) {
            problem(key, parsed.error());
            return fallback;
        }
        return *parsed;
    }

    bool boolean(const std::string& key, bool fallback) {
        auto value = raw(key);
        if (!value) return fallback;
        std::string v = lower(*value);
        if (v == "true" || v == "yes" || v == "on" || v == "1") return true;
        if (v == "false" || v == "no" || v == "off" || v == "0") return false;
        problem(key, "bad boolean '" + *value + "': use true or false");
        return fallback;
    }

    int64_t integer(const std::string& key, int64_t fallback, int64_t min, int64_t max) {
        auto value = raw(key);
        if (!value) return fallback;
        try {
            size_t used = 0;
            long long parsed = std::stoll(*value, &used);
            if (used != value->size()) throw std::invalid_argument("trailing text");
            if (parsed < min || parsed > max) {
                problem(key, "value " + *value + " is outside " + std::to_string(min) + ".." + std::to_string(max));
                return fallback;
            }
            return parsed;
        } catch (const std::exception&) {
            problem(key, "bad number '" + *value + "'");
            return fallback;
        }
    }

    /// Lists of groups use ';' because distinguished names contain commas.
    std::vector<std::string> list(const std::string& key, const std::string& separators = ";") {
        auto value = raw(key);
        if (!value) return {};
        return split(*value, separators);
    }

    Path path(const std::string& key, const Path& fallback) {
        auto value = raw(key);
        if (!value || value->empty()) return fallback;
        return resolve(platform::from_utf8(*value));
    }

    std::optional<Path> optional_path(const std::string& key) {
        auto value = raw(key);
        if (!value || value->empty()) return std::nullopt;
        return resolve(platform::from_utf8(*value));
    }

    [[nodiscard]] Path resolve(const Path& path) const {
        return path.is_absolute() ? path : (context_.base_dir / path).lexically_normal();
    }

    /// A readable file that holds key material: it must exist and not be readable by others.
    void check_private_file(const std::string& key, const Path& file, bool must_exist = true) {
        std::error_code ec;
        const auto status = std::filesystem::status(file, ec);
        if (ec || !std::filesystem::exists(status)) {
            if (must_exist)
                problem(key,
                        "cannot read " + platform::utf8(file) + ": " + (ec ? ec.message() : std::strerror(ENOENT)));
            return;
        }
        if (!std::filesystem::is_regular_file(status)) {
            problem(key, platform::utf8(file) + " is not a file");
            return;
        }
        std::ifstream probe(file, std::ios::binary);
        if (!probe) {
            problem(key, "cannot read " + platform::utf8(file) + ": " + std::strerror(errno));
            return;
        }
        if (auto why = platform::not_private(file)) problem(key, *why);
    }

    void check_readable_file(const std::string& key, const Path& file) {
        std::error_code ec;
        if (std::filesystem::exists(file, ec) && !std::filesystem::is_regular_file(file, ec)) {
            problem(key, file.string() + " is not a file");
            return;
        }
        std::ifstream probe(file, std::ios::binary);
        if (!probe) problem(key, "cannot read " + file.string() + ": " + std::strerror(errno));
    }

    /// Secret `name`: from name_file or name_env; an inline `name` is refused.
    Secret secret(const std::string& name, bool required, const std::string& what) {
        const std::string file_key = name + "_file";
        const std::string env_key = name + "_env";
        if (has(name)) problem(name, "passwords are never written inline; use " + file_key + " or " + env_key);
        auto file = optional_path(file_key);
        auto env = raw(env_key);
        if (file && env) {
            problem(file_key, "give either " + file_key + " or " + env_key + ", not both");
            return {};
        }
        if (file) {
            check_private_file(file_key, *file);
            std::error_code ec;
            if (!std::filesystem::is_regular_file(*file, ec)) return {}; // named above (a folder, missing...)
            std::ifstream in(*file, std::ios::binary);
            if (!in) return {};
            std::string value((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            while (!value.empty() && (value.back() == '\n' || value.back() == '\r'))
                value.pop_back();
            if (value.empty()) problem(file_key, file->string() + " is empty");
            return Secret(std::move(value));
        }
        if (env) {
            const char* value = std::getenv(env->c_str());
            if (value == nullptr || *value == '\0') {
                problem(env_key, "environment variable " + *env + " is not set");
                return {};
            }
            return Secret(value);
        }
        if (required) problem(file_key, "missing required value (" + what + ")");
        return {};
    }

    /// Reports every key of the section the readers did not ask for.
    void finish() {
        for (const auto& key : present_) {
            if (known_.count(key) == 0) problem(key, "unknown key");
        }
    }

private:
    Context& context_;
    std::string section_;
    std::set<std::string> present_;
    std::set<std::string> known_;
};

std::string report_list() {
    std::string names;
    for (const auto& name : known_reports())
        names += (names.empty() ? "" : ", ") + name;
    return names;
}

void read_service(SectionReader& r, Config& c, const LoadOptions& options, Context& context) {
    c.service.name = r.text("name", "keyholder");
    Path data_dir = r.raw("data_dir").has_value() ? Path(*r.raw("data_dir")) : Path("/var/lib/keyholder");
    if (options.data_dir) data_dir = *options.data_dir;
    if (data_dir.is_relative()) data_dir = (Path(context.file).parent_path() / data_dir);
    c.service.data_dir = std::filesystem::absolute(data_dir).lexically_normal();
    context.base_dir = c.service.data_dir;

    c.service.log_level = r.text("log_level", "information");
    static const std::set<std::string> levels{"none",   "fatal",       "critical", "error", "warning",
                                              "notice", "information", "debug",    "trace"};
    if (levels.count(c.service.log_level) == 0)
        r.problem("log_level", "unknown level '" + c.service.log_level +
                                   "': use fatal, critical, error, warning, notice, information, debug or trace");
    c.service.log_file = r.optional_path("log_file");
    c.service.master_key_file = r.path("master_key_file", c.service.data_dir / "master.key");
    c.service.link_key_file = r.path("link_key_file", c.service.data_dir / "link.key");
    // Created on first start; when they exist they must be private.
    r.check_private_file("master_key_file", c.service.master_key_file, false);
    r.check_private_file("link_key_file", c.service.link_key_file, false);
    c.service.admin_groups = r.list("admin_groups");
    c.service.auditor_groups = r.list("auditor_groups");
    if (c.service.admin_groups.empty())
        r.problem("admin_groups", "missing required value (the AD group(s) of keyholder administrators)");
}

void read_auth(SectionReader& r, Config& c) {
    c.auth.negotiate = r.boolean("negotiate", false);
    c.auth.keytab = r.optional_path("keytab");
    const bool own_keytab = c.auth.keytab.has_value();
    if (!own_keytab) c.auth.keytab = c.ldap.keytab; // [ldap] already checked it
    c.auth.service_principal = r.text("service_principal", "");
    c.auth.realms = r.list("realms", " ;,");
    if (!platform::kKerberosKeytabs) {
        // SSPI accepts tickets for the service's own account (its SPNs in AD).
        if (own_keytab) r.problem("keytab", "not used on Windows: Negotiate uses the service's own account");
    } else if (c.auth.negotiate) {
        if (!c.auth.keytab)
            r.problem("keytab", "negotiate = true needs the HTTP service keytab (here or [ldap] keytab)");
        else if (own_keytab)
            r.check_private_file("keytab", *c.auth.keytab);
    }
    c.auth.basic = r.boolean("basic", true);
    c.auth.basic_cache_ttl = r.duration("basic_cache_ttl", Seconds{60});
    if (c.auth.basic_cache_ttl > Seconds{3600})
        r.problem("basic_cache_ttl", "at most 1h: a changed or disabled password must stop working soon");
    c.auth.failed_signon_limit = static_cast<int>(r.integer("failed_signon_limit", 10, 1, 100000));
    c.auth.failed_signon_window = r.duration("failed_signon_window", Seconds{300});
    c.auth.link_sign_on = r.boolean("link_sign_on", c.auth.negotiate);
    c.auth.session_idle_timeout = r.duration("session_idle_timeout", Seconds{1800});
    c.auth.session_lifetime = r.duration("session_lifetime", Seconds{36000});
    if (c.auth.session_idle_timeout.count() < 60 || c.auth.session_lifetime < c.auth.session_idle_timeout ||
        c.auth.session_lifetime > Seconds{7 * 86400})
        r.problem("session_lifetime", "needs 1m <= session_idle_timeout <= session_lifetime <= 7d");
    if (!c.auth.negotiate && !c.auth.basic) r.problem("", "neither negotiate nor basic is on: nobody could sign on");
}

void read_http(SectionReader& r, Config& c) {
    std::string listen = r.text("listen", "127.0.0.1:8443");
    size_t colon = listen.rfind(':');
    if (colon == std::string::npos || colon + 1 == listen.size()) {
        r.problem("listen", "expected ADDRESS:PORT, e.g. 0.0.0.0:8443, got '" + listen + "'");
    } else {
        std::string host = listen.substr(0, colon);
        if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
        Poco::Net::IPAddress address;
        if (!Poco::Net::IPAddress::tryParse(host, address)) r.problem("listen", "'" + host + "' is not an IP address");
        c.http.address = host;
        try {
            int port = std::stoi(listen.substr(colon + 1));
            if (port < 0 || port > 65535) throw std::out_of_range("port");
            c.http.port = static_cast<uint16_t>(port);
        } catch (const std::exception&) {
            r.problem("listen", "bad port in '" + listen + "'");
        }
    }
    c.http.tls_cert_file = r.optional_path("tls_cert_file");
    c.http.tls_key_file = r.optional_path("tls_key_file");
    if (c.http.tls_cert_file.has_value() != c.http.tls_key_file.has_value())
        r.problem(c.http.tls_cert_file ? "tls_key_file" : "tls_cert_file",
                  "tls_cert_file and tls_key_file go together");
    if (c.http.tls_cert_file) r.check_readable_file("tls_cert_file", *c.http.tls_cert_file);
    if (c.http.tls_key_file) r.check_private_file("tls_key_file", *c.http.tls_key_file);
    if (!c.http.tls_cert_file && !is_loopback_host(c.http.address))
        r.problem("listen", "plain HTTP is only allowed on a loopback address; set tls_cert_file and tls_key_file "
                            "to serve " +
                                c.http.address);
    c.http.public_url = r.text("public_url", "");
    if (!c.http.public_url.empty()) {
        try {
            Poco::URI uri(c.http.public_url);
            if (uri.getScheme() != "https" && uri.getScheme() != "http")
                r.problem("public_url", "must be an http(s) URL, got '" + c.http.public_url + "'");
        } catch (const Poco::Exception& e) {
            r.problem("public_url", "bad URL '" + c.http.public_url + "': " + e.message());
        }
    } else {
        c.http.public_url =
            std::string(c.http.tls() ? "https" : "http") + "://" + c.http.address + ":" + std::to_string(c.http.port);
    }
    c.http.max_body_bytes = static_cast<size_t>(r.integer("max_body_bytes", 64 * 1024, 1024, 64 * 1024 * 1024));
    c.http.max_header_fields = static_cast<int>(r.integer("max_header_fields", 64, 8, 1000));
    c.http.max_header_bytes = static_cast<int>(r.integer("max_header_bytes", 16 * 1024, 1024, 1024 * 1024));
    c.http.threads = static_cast<int>(r.integer("threads", 16, 1, 1024));
    c.http.max_queued = static_cast<int>(r.integer("max_queued", 1024, 1, 100000));
    c.http.max_connections = static_cast<int>(r.integer("max_connections", 4096, 16, 1000000));
    c.http.max_connections_per_address = static_cast<int>(r.integer("max_connections_per_address", 1024, 1, 1000000));
    c.http.read_timeout = r.duration("read_timeout", Seconds{15});
    c.http.keepalive_timeout = r.duration("keepalive_timeout", Seconds{10});
    c.http.allowed_origins = r.list("allowed_origins", " ;,");
}

void read_ldap(SectionReader& r, Config& c) {
    c.ldap.uris = r.list("uris", " ;,");
    if (c.ldap.uris.empty()) r.problem("uris", "missing required value (one or more ldaps:// or ldap:// URIs)");
    bool all_loopback = true;
    bool all_ldaps = true;
    for (const auto& text : c.ldap.uris) {
        try {
            Poco::URI uri(text);
            if (uri.getScheme() != "ldap" && uri.getScheme() != "ldaps") {
                r.problem("uris", "'" + text + "' is not an ldap:// or ldaps:// URI");
                continue;
            }
            all_ldaps = all_ldaps && uri.getScheme() == "ldaps";
            all_loopback = all_loopback && is_loopback_host(uri.getHost());
        } catch (const Poco::Exception& e) {
            r.problem("uris", "bad URI '" + text + "': " + e.message());
        }
    }
    c.ldap.base_dn = r.required("base_dn", "the search base, e.g. DC=example,DC=com");
    std::string flavour = lower(r.text("flavour", "auto"));
    if (flavour == "auto")
        c.ldap.flavour = LdapFlavour::automatic;
    else if (flavour == "ad" || flavour == "active-directory")
        c.ldap.flavour = LdapFlavour::active_directory;
    else if (flavour == "openldap")
        c.ldap.flavour = LdapFlavour::openldap;
    else
        r.problem("flavour", "unknown flavour '" + flavour + "': use auto, ad or openldap");

    c.ldap.starttls = r.boolean("starttls", false);
    c.ldap.tls_require_cert = r.boolean("tls_require_cert", true);
    c.ldap.ca_file = r.optional_path("ca_file");
    if (c.ldap.ca_file) r.check_readable_file("ca_file", *c.ldap.ca_file);

    std::string bind = lower(r.text("bind", "simple"));
    std::string bind_dn = r.text("bind_dn", "");
    std::optional<Path> keytab = r.optional_path("keytab");
    std::string principal = r.text("principal", "");
    if (bind == "simple") {
        c.ldap.bind = LdapBindMethod::simple;
        c.ldap.bind_dn = bind_dn;
        if (bind_dn.empty()) r.problem("bind_dn", "missing required value (the service account for bind = simple)");
        c.ldap.bind_password = r.secret("bind_password", true, "the service account's password for bind = simple");
        if (!all_ldaps && !c.ldap.starttls && !all_loopback)
            r.problem("uris", "a simple bind would send the password in clear: use ldaps:// URIs or starttls = true");
        if (keytab) r.problem("keytab", "only used with bind = gssapi");
    } else if (bind == "gssapi") {
        c.ldap.bind = LdapBindMethod::gssapi;
        r.secret("bind_password", false, "");
        if (!platform::kKerberosKeytabs) {
            // Wldap32's Negotiate bind as the service's own account (or its gMSA).
            if (keytab) r.problem("keytab", "not used on Windows: bind = gssapi binds as the service's own account");
            if (!principal.empty()) r.problem("principal", "not used on Windows: the service's own account binds");
        } else if (!keytab) {
            r.problem("keytab", "missing required value (the service keytab for bind = gssapi)");
        } else {
            r.check_private_file("keytab", *keytab);
        }
        c.ldap.keytab = keytab;
        c.ldap.principal = principal;
        if (!bind_dn.empty()) r.problem("bind_dn", "only used with bind = simple");
    } else {
        r.secret("bind_password", false, "");
        r.problem("bind", "unknown bind method '" + bind + "': use simple or gssapi");
    }
    if (!c.ldap.tls_require_cert)
        r.problem("tls_require_cert", "certificate verification may not be turned off; give the CA in ca_file");
    c.ldap.netbios_domain = r.text("netbios_domain", "");
    c.ldap.network_timeout = r.duration("network_timeout", Seconds{3});
    c.ldap.operation_timeout = r.duration("operation_timeout", Seconds{5});
    if (c.ldap.network_timeout.count() == 0) r.problem("network_timeout", "must be at least 1s");
    if (c.ldap.operation_timeout.count() == 0) r.problem("operation_timeout", "must be at least 1s");
    c.ldap.cache_ttl = r.duration("cache_ttl", Seconds{60});
    // Grants never read the cache; what it serves (lists, names, visibility) must
    // still follow AD soon.
    if (c.ldap.cache_ttl > Seconds{3600})
        r.problem("cache_ttl", "at most 1h: approver lists and display names must follow the directory soon");
    c.ldap.cache_size = static_cast<int>(r.integer("cache_size", 10000, 0, 10000000));
    c.ldap.pool_size = static_cast<int>(r.integer("pool_size", 4, 1, 64));
    c.ldap.page_size = static_cast<int>(r.integer("page_size", 500, 1, 100000));
    c.ldap.range_step = static_cast<int>(r.integer("range_step", 0, 0, 100000));
    c.ldap.max_nesting = static_cast<int>(r.integer("max_nesting", 32, 1, 1000));
}

void read_smtp(SectionReader& r, Config& c) {
    c.smtp.host = r.text("host", "");
    c.smtp.port = static_cast<uint16_t>(r.integer("port", 587, 1, 65535));
    c.smtp.starttls = r.boolean("starttls", true);
    c.smtp.user = r.text("user", "");
    c.smtp.password = r.secret("password", !c.smtp.user.empty(), "the password of [smtp] user");
    c.smtp.from = r.text("from", "keyholder@localhost");
    if (c.smtp.from.find('@') == std::string::npos) r.problem("from", "'" + c.smtp.from + "' is not a mail address");
    c.smtp.pickup_dir = r.path("pickup_dir", c.service.data_dir / "mail-pickup");
    c.smtp.auth = lower(r.text("auth", "login"));
    if (c.smtp.auth != "login" && c.smtp.auth != "plain")
        r.problem("auth", "unknown mechanism '" + c.smtp.auth + "': use login or plain");
    c.smtp.ca_file = r.optional_path("ca_file");
    c.smtp.retry_initial = r.duration("retry_initial", Seconds{30});
    c.smtp.retry_max = r.duration("retry_max", Seconds{3600});
    c.smtp.sessions = static_cast<int>(r.integer("sessions", 4, 1, 16));
    if (c.smtp.retry_initial.count() < 1 || c.smtp.retry_max < c.smtp.retry_initial)
        r.problem("retry_initial", "needs 1s <= retry_initial <= retry_max");
    if (c.smtp.ca_file) r.check_readable_file("ca_file", *c.smtp.ca_file);
    // Mail templates: templates_dir when given; else "templates" next to this file when
    // there is one; else the copies of config/templates built into the program.
    if (auto dir = r.raw("templates_dir"); dir && !dir->empty()) {
        c.smtp.templates_dir = (Path(*dir).is_absolute() ? Path(*dir) : c.file.parent_path() / *dir).lexically_normal();
        if (!std::filesystem::is_directory(*c.smtp.templates_dir))
            r.problem("templates_dir", "no mail template folder " + c.smtp.templates_dir->string());
    } else if (std::filesystem::is_directory(c.file.parent_path() / "templates")) {
        c.smtp.templates_dir = (c.file.parent_path() / "templates").lexically_normal();
    }
    if (!c.smtp.host.empty() && !c.smtp.starttls && !is_loopback_host(c.smtp.host) && !c.smtp.user.empty())
        r.problem("starttls", "SMTP authentication without STARTTLS would send the password in clear");
}

} // namespace

bool dsn_carries_password(const std::string& dsn) {
    static const std::regex keyword(R"((^|\s)password\s*=)", std::regex::icase);
    static const std::regex uri(R"(^postgres(ql)?://[^/@]*:[^/@]*@)", std::regex::icase);
    return std::regex_search(dsn, keyword) || std::regex_search(dsn, uri);
}

namespace {

void read_store(SectionReader& r, Config& c) {
    const std::string backend = lower(r.text("backend", "sqlite"));
    if (backend == "postgresql") {
        c.store.backend = StoreBackend::postgresql;
        c.store.dsn = r.text("dsn", "");
        if (c.store.dsn.empty())
            r.problem("dsn", "missing required value for backend = postgresql (e.g. host=db1,db2 dbname=keyholder "
                             "user=keyholder sslrootcert=/etc/keyholder/pg-ca.crt)");
        else if (dsn_carries_password(c.store.dsn))
            r.problem("dsn", "passwords are never written inline; use password_file or password_env");
        c.store.password = r.secret("password", false, "");
        if (r.has("path")) r.problem("path", "is for backend = sqlite; PostgreSQL is reached by dsn");
    } else if (backend != "sqlite") {
        r.problem("backend", "unknown value '" + backend + "': use sqlite (default) or postgresql");
    }
    if (c.store.backend == StoreBackend::sqlite) {
        for (const char* key : {"dsn", "password_file", "password_env"})
            if (r.has(key)) r.problem(key, "is for backend = postgresql");
    }
    c.store.file = r.path("path", c.service.data_dir / "keyholder.db");
    c.store.busy_timeout =
        std::chrono::duration_cast<std::chrono::milliseconds>(r.duration("busy_timeout", Seconds{5}));
    if (c.store.backend == StoreBackend::postgresql) {
        c.store.answer_timeout =
            std::chrono::duration_cast<std::chrono::milliseconds>(r.duration("answer_timeout", Seconds{30}));
        if (c.store.answer_timeout < c.store.busy_timeout + std::chrono::seconds(2))
            r.problem("answer_timeout", "must be at least busy_timeout + 2s (a writer may wait busy_timeout for "
                                        "the writers' lock)");
    } else if (r.has("answer_timeout")) {
        r.problem("answer_timeout", "is for backend = postgresql");
    }
    std::string durability = lower(r.text("durability", "full"));
    if (durability == "full")
        c.store.durability = Durability::full;
    else if (durability == "normal")
        c.store.durability = Durability::normal;
    else
        r.problem("durability", "unknown value '" + durability + "': use full (default) or normal");
    // Absent: history is kept for good. Less than a day is surely a slip of the unit.
    if (r.text("retention", "").empty()) return;
    const Seconds retention = r.duration("retention", std::chrono::hours(24));
    if (retention < std::chrono::hours(24))
        r.problem("retention", "must be at least 1d (leave it out to keep the history for good)");
    else
        c.store.retention = retention;
}

bool valid_timezone(const std::string& tz) { return tz == "UTC" || tz == "local"; }

void read_reports(SectionReader& r, Config& c) {
    c.reports.output_dir = r.path("output_dir", c.service.data_dir / "reports");
    c.reports.timezone = r.text("timezone", "UTC");
    if (!valid_timezone(c.reports.timezone))
        r.problem("timezone", "unknown time zone '" + c.reports.timezone + "': use UTC or local");
    c.reports.bom = r.boolean("bom", false);
}

void read_policy(SectionReader& r, const std::string& name, Config& c, const std::set<std::string>& present) {
    Policy p;
    p.name = name;
    p.requester_groups = r.list("requester_groups");
    if (p.requester_groups.empty())
        r.problem("requester_groups", "missing required value (the AD group(s) whose members may request)");
    // Stages: stage1_approvers, stage1_approvals, stage2_approvers, ...
    static const std::regex stage_key("stage([0-9]+)_(approvers|approvals)");
    int highest = 0;
    for (const auto& key : present) {
        std::smatch m;
        if (std::regex_match(key, m, stage_key)) highest = std::max(highest, std::stoi(m[1].str()));
    }
    if (highest == 0)
        r.problem("stage1_approvers", "a policy needs approvers: give stage1_approvers "
                                      "(AD groups and/or 'manager')");
    for (int n = 1; n <= std::min(highest, 9); ++n) {
        const std::string approvers_key = "stage" + std::to_string(n) + "_approvers";
        const std::string approvals_key = "stage" + std::to_string(n) + "_approvals";
        ApprovalStage stage;
        auto approvers = r.list(approvers_key);
        if (approvers.empty())
            r.problem(approvers_key, "missing required value (stage " + std::to_string(n) +
                                         " needs approvers: AD groups and/or 'manager')");
        for (const auto& approver : approvers) {
            if (lower(approver) == "manager")
                stage.requester_manager = true;
            else
                stage.approver_groups.push_back(approver);
        }
        stage.approvals = static_cast<int>(r.integer(approvals_key, 1, 1, 20));
        p.stages.push_back(stage);
    }
    if (highest > 9) r.problem("stage" + std::to_string(highest) + "_approvers", "at most 9 approval stages");
    p.default_duration = r.duration("default_duration", Seconds{3600});
    p.max_duration = r.duration("max_duration", Seconds{4 * 3600});
    if (p.max_duration.count() == 0) r.problem("max_duration", "must be longer than 0s");
    if (p.default_duration > p.max_duration)
        r.problem("default_duration", "is longer than max_duration (" + format_duration(p.max_duration) + ")");
    p.request_ttl = r.duration("request_ttl", Seconds{24 * 3600});
    if (p.request_ttl.count() == 0) r.problem("request_ttl", "must be longer than 0s");
    p.reason_required = r.boolean("reason_required", true);
    if (auto pattern = r.raw("ticket_pattern"); pattern && !pattern->empty()) {
        // A ticket reference needs neither back-references nor a long pattern; both
        // are refused before std::regex sees them (a back-reference of 20 digits is
        // undefined behaviour in libstdc++'s regex compiler: found by fuzz_config).
        bool back_reference = false;
        for (size_t i = 0; i + 1 < pattern->size(); ++i)
            if ((*pattern)[i] == '\\') {
                back_reference = back_reference || ((*pattern)[i + 1] >= '1' && (*pattern)[i + 1] <= '9');
                ++i; // the escaped character
            }
        if (pattern->size() > 256) {
            r.problem("ticket_pattern", "longer than 256 characters");
        } else if (back_reference) {
            r.problem("ticket_pattern", "back-references (\\1 ...) are not allowed in '" + *pattern + "'");
        } else {
            try {
                std::regex compiled(*pattern, std::regex::ECMAScript);
                p.ticket_pattern = *pattern;
            } catch (const std::regex_error& e) {
                r.problem("ticket_pattern", "bad regular expression '" + *pattern + "': " + e.what());
            }
        }
    }
    p.exclusive = r.boolean("exclusive", true);
    p.max_schedule_ahead = r.duration("max_schedule_ahead", Seconds{7 * 86400});
    p.max_extension = r.duration("max_extension", Seconds{0});
    c.policies.emplace(name, std::move(p));
}

void read_entry(SectionReader& r, const std::string& name, Config& c) {
    Entry e;
    e.name = name;
    e.display_name = r.text("display_name", name);
    e.description = r.text("description", "");
    e.policy = r.required("policy", "the [policy.NAME] that governs this entry");
    for (const auto& kind : r.list("release", " ,;")) {
        std::string k = lower(kind);
        if (k == "password")
            e.release.push_back(ReleaseKind::password);
        else if (k == "enable")
            e.release.push_back(ReleaseKind::enable);
        else if (k == "group")
            e.release.push_back(ReleaseKind::group);
        else
            r.problem("release", "unknown release kind '" + kind + "': use password, enable and/or group");
    }
    if (!r.has("release")) r.problem("release", "missing required value (password, enable and/or group)");
    e.account = r.text("account", "");
    e.group = r.text("group", "");
    e.rotate_password = r.boolean("rotate_password", true);
    if ((e.releases(ReleaseKind::password) || e.releases(ReleaseKind::enable)) && e.account.empty())
        r.problem("account", "missing required value (the privileged account, for release = password or enable)");
    if (e.releases(ReleaseKind::group) && e.group.empty())
        r.problem("group", "missing required value (the AD group to add the holder to, for release = group)");
    c.entries.emplace(name, std::move(e));
}

void read_report(SectionReader& r, const std::string& name, Config& c) {
    ReportSchedule s;
    s.name = name;
    s.report = r.required("report", report_list());
    if (!s.report.empty() &&
        std::find(known_reports().begin(), known_reports().end(), s.report) == known_reports().end())
        r.problem("report", "unknown report '" + s.report + "': use " + report_list());
    s.schedule = r.required("schedule", "a 5-field cron expression, e.g. 0 6 * * mon");
    if (!s.schedule.empty()) {
        if (auto cron = schedule::CronExpression::parse(s.schedule); !cron) r.problem("schedule", cron.error());
    }
    s.window = r.text("window", "last 7d");
    static const std::regex window_re("last ([0-9]+[smhd])+|previous (day|week|month)");
    if (!std::regex_match(s.window, window_re))
        r.problem("window", "unknown window '" + s.window +
                                "': use 'last DURATION' (e.g. last 7d) or "
                                "'previous day', 'previous week', 'previous month'");
    s.output_dir = r.path("output_dir", c.reports.output_dir);
    s.mail_to = r.list("mail_to", " ,;");
    for (const auto& address : s.mail_to)
        if (address.find('@') == std::string::npos) r.problem("mail_to", "'" + address + "' is not a mail address");
    s.timezone = r.text("timezone", c.reports.timezone);
    if (!valid_timezone(s.timezone)) r.problem("timezone", "unknown time zone '" + s.timezone + "': use UTC or local");
    c.report_schedules.emplace(name, std::move(s));
}

} // namespace

bool Entry::releases(ReleaseKind kind) const {
    return std::find(release.begin(), release.end(), kind) != release.end();
}

const std::vector<std::string>& known_reports() {
    static const std::vector<std::string> names{"checkout-requests", "active-checkouts", "approvals", "audit"};
    return names;
}

std::string Problem::to_string() const {
    std::string out = file;
    if (!section.empty()) out += ": [" + section + "]";
    if (!key.empty()) out += (section.empty() ? ": " : " ") + key;
    return out + ": " + message;
}

std::expected<Config, std::vector<Problem>> load_config(const Path& file, const LoadOptions& options) {
    Context context;
    context.file = platform::utf8(file);
    {
        std::ifstream probe(file);
        if (!probe)
            return std::unexpected(
                std::vector<Problem>{{context.file, "", "", std::string("cannot read: ") + std::strerror(errno)}});
    }
    try {
        context.ini = new Poco::Util::IniFileConfiguration(platform::utf8(file));
    } catch (const Poco::Exception& e) {
        return std::unexpected(std::vector<Problem>{{context.file, "", "", "cannot parse: " + e.displayText()}});
    }

    // Group every key by section, keeping the spelling of the file for messages.
    std::vector<std::string> leaves;
    collect_leaves(*context.ini, "", leaves, context);
    std::map<std::string, std::set<std::string>> sections; // "ldap" / "policy.x" -> keys
    for (const auto& leaf : leaves) {
        std::string head = lower(leaf.substr(0, leaf.find('.')));
        if (leaf.find('.') == std::string::npos) {
            context.problem("", leaf, "key outside any section");
            continue;
        }
        if (std::find(kFixedSections.begin(), kFixedSections.end(), head) != kFixedSections.end()) {
            sections[head].insert(leaf.substr(head.size() + 1));
        } else if (std::find(kNamedSections.begin(), kNamedSections.end(), head) != kNamedSections.end()) {
            std::string rest = leaf.substr(head.size() + 1);
            size_t dot = rest.find('.');
            if (dot == std::string::npos) {
                context.problem(head, rest, "sections are named [" + head + ".NAME]");
                continue;
            }
            sections[head + "." + rest.substr(0, dot)].insert(rest.substr(dot + 1));
        } else {
            std::string section = leaf.substr(0, leaf.rfind('.'));
            if (sections.count("!" + section) == 0) {
                context.problem(section, "",
                                "unknown section (known: service, http, auth, ldap, smtp, store, reports, "
                                "policy.NAME, entry.NAME, report.NAME)");
                sections["!" + section]; // report once
            }
        }
    }

    Config config;
    config.file = std::filesystem::absolute(file).lexically_normal();
    auto reader = [&](const std::string& section) { return SectionReader(context, section, sections[section]); };
    // [service] first: data_dir anchors every other relative path.
    {
        auto r = reader("service");
        read_service(r, config, options, context);
        r.finish();
    }
    {
        auto r = reader("http");
        read_http(r, config);
        r.finish();
    }
    {
        auto r = reader("ldap");
        if (sections.count("ldap") == 0 || sections["ldap"].empty())
            context.problem("ldap", "", "missing section: keyholder needs a directory");
        read_ldap(r, config);
        r.finish();
    }
    {
        auto r = reader("auth"); // after [ldap]: the keytab defaults to the directory's
        read_auth(r, config);
        r.finish();
    }
    for (auto [name, fn] : {std::pair{"smtp", &read_smtp}, {"store", &read_store}, {"reports", &read_reports}}) {
        auto r = reader(name);
        fn(r, config);
        r.finish();
    }
    for (const auto& [section, keys] : sections) {
        if (section.starts_with("!")) continue;
        for (const std::string kind : {"policy", "entry", "report"}) {
            if (!section.starts_with(kind + ".")) continue;
            std::string name = section.substr(kind.size() + 1);
            auto r = reader(section);
            if (!is_valid_name(name)) {
                context.problem(section, "", "bad name '" + name + "': use lowercase letters, digits, - and _");
                continue;
            }
            if (kind == "policy")
                read_policy(r, name, config, keys);
            else if (kind == "entry")
                read_entry(r, name, config);
            else
                read_report(r, name, config);
            r.finish();
        }
    }
    for (const auto& [name, entry] : config.entries) {
        if (!entry.policy.empty() && config.policies.count(entry.policy) == 0)
            context.problem("entry." + name, "policy",
                            "names policy '" + entry.policy + "', which is not defined (no [policy." + entry.policy +
                                "])");
    }
    if (config.entries.empty()) context.problem("", "", "no [entry.NAME] section: nothing could be checked out");

    if (!context.problems.empty()) return std::unexpected(std::move(context.problems));
    return config;
}

} // namespace keyholder::config
