// keyholder: the client and admin command line.
//
// Exit status: 0 success; 1 the command ran and found a problem (e.g. the audit chain
// is broken); 2 usage error; 3 could not run (unreadable file, store error).
#include <iostream>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <iomanip>
#include <sstream>

#include "cli_support.h"
#include "keyholder/config/config.h"
#include "keyholder/core/checkout_service.h"
#include "keyholder/core/directory_settings.h"
#include "keyholder/core/vault.h"
#include "keyholder/store/store.h"

#include "keyholder/directory/directory.h"
#include "keyholder/store/audit.h"
#include "keyholder/store/backup.h"
#include "keyholder/store/error.h"
#include "keyholder/store/sqlite.h"
#include <pwd.h>
#include <unistd.h>

namespace {

using keyholder::cli::kFailed;
using keyholder::cli::kFound;
using keyholder::cli::kOk;
using keyholder::cli::kUsage;
using keyholder::cli::parse_options;

constexpr const char* kUsageText = R"(usage: keyholder COMMAND [OPTIONS]

Commands:
  backup (--config FILE | --db FILE) OUT
                      a consistent copy of the database while keyholderd runs
                      (the keys are kept apart: back them up separately)
  audit verify (--db FILE | --config FILE)
                      walk the audit hash chain; name the first event that was
                      changed, removed or reordered (exit 1 then)
  directory whois USER [--config FILE] [--json]
                      what the service sees of a user: identity, enabled, manager
  directory groups USER [--config FILE] [--json]
                      every group the user is transitively in, and how
  secret set ENTRY [--config FILE]
                      store the secret of a password entry (prompted twice
                      without echo, or one line from a pipe; never an argument)
  version             print the version
  help                this text

Commands that talk to keyholderd (run "keyholder COMMAND --help" for each):
  whoami, entries, request, status, list, show, approve, deny, cancel,
  credential, checkin, extend, revoke
They sign on with your Kerberos ticket (HTTP Negotiate) unless --user NAME is
given (Basic; the password is prompted). The server is --server URL or
$KEYHOLDER_URL; --ca-file FILE adds a CA for its certificate.

Exit status: 0 ok, 1 problem found or refused by the server (or no such user),
2 usage error, 3 could not run (unreadable file, store error, network, server or
directory unavailable), 4 sign-on failed.
)";

constexpr const char* kDirectoryHelp = R"(usage: keyholder directory (whois | groups) USER [--config FILE] [--json]

Asks the directory exactly as keyholderd does (same [ldap] settings, same
service account), so an administrator can see why a policy allows or refuses
someone. USER is a sAMAccountName, a userPrincipalName (name@domain),
DOMAIN\name, or a SID.

  whois    identity (DN, SID, GUID, UPN, mail), enabled or why not, manager
  groups   every transitive group with how it was found: direct, nested (with the
           path of groups), or primary group (primaryGroupID)

  --config FILE   keyholder.ini (default /etc/keyholder/keyholder.ini)
  --json          machine-readable output

Exit status: 0 found, 1 no such user, 3 directory unavailable or bad configuration.
)";

constexpr const char* kAuditVerifyHelp = R"(usage: keyholder audit verify (--db FILE | --config FILE)

Walks the audit trail of a keyholder database in order and checks every event's
SHA-256 link to the one before it and the hash of its own content. Prints the
first event that was changed, removed, inserted or reordered and exits 1; prints
the event count and the head hash and exits 0 when the chain is intact.
Keep the printed head hash: removing events from the end of the chain can only
be shown by comparing with an earlier head (or an exported audit report).

  --db FILE       the SQLite database (opened read-only)
  --config FILE   take the database path from keyholder.ini
)";

constexpr const char* kBackupHelp = R"(usage: keyholder backup (--config FILE | --db FILE) OUT

Copies the keyholder database into OUT, a new file (mode 0600), while keyholderd
runs: SQLite's online backup, which starts over when keyholderd writes meanwhile, so
OUT holds one committed state. The copy passes SQLite's integrity check and its audit
chain verifies, or OUT is removed and the exit status is 3.
The keys (master_key_file, link_key_file) are not in the database and not in OUT:
back them up apart, and keep them apart, or a stolen backup reveals the secrets.

  --config FILE   take the database path from keyholder.ini
  --db FILE       the SQLite database
)";

int backup_command(std::span<const std::string> args) {
    std::vector<std::string> rest;
    std::vector<std::string> named;
    for (size_t i = 0; i < args.size(); ++i) {
        if (args[i].starts_with("-")) {
            named.push_back(args[i]);
            if (!args[i].contains('=') && args[i] != "--help" && args[i] != "-h" && i + 1 < args.size())
                named.push_back(args[++i]);
        } else {
            rest.push_back(args[i]);
        }
    }
    auto options = parse_options(named, {"db", "config"});
    if (!options) return kUsage;
    if (options->count("help")) {
        std::cout << kBackupHelp;
        return kOk;
    }
    if (rest.size() != 1 || options->count("db") == options->count("config")) {
        std::cerr << kBackupHelp;
        return kUsage;
    }
    std::filesystem::path db;
    if (options->count("db")) {
        db = options->at("db");
    } else {
        auto config = keyholder::config::load_config(options->at("config"));
        if (!config) {
            for (const auto& problem : config.error())
                std::cerr << problem.to_string() << '\n';
            return kFailed;
        }
        db = config->store.file;
    }
    try {
        const auto copied = keyholder::store::backup_database(db, rest[0]);
        std::cout << db.string() << " -> " << rest[0] << ": " << copied.pages << " pages, " << copied.events
                  << " audit events (chain verified)"
                  << (copied.restarts > 0 ? ", started over " + std::to_string(copied.restarts) + " times" : "")
                  << "\nthe keys are not in it: back up master_key_file and link_key_file apart\n";
        return kOk;
    } catch (const keyholder::store::StoreError& e) {
        std::cerr << "keyholder: backup failed: " << e.what() << '\n';
        return kFailed;
    }
}

int audit_verify(std::span<const std::string> args) {
    auto options = parse_options(args, {"db", "config"});
    if (!options) return kUsage;
    if (options->count("help")) {
        std::cout << kAuditVerifyHelp;
        return kOk;
    }
    std::string db;
    if (options->count("db")) {
        db = options->at("db");
    } else if (options->count("config")) {
        auto config = keyholder::config::load_config(options->at("config"));
        if (!config) {
            for (const auto& problem : config.error())
                std::cerr << problem.to_string() << '\n';
            return kFailed;
        }
        db = config->store.file.string();
    } else {
        std::cerr << kAuditVerifyHelp;
        return kUsage;
    }
    try {
        keyholder::store::ConnectionOptions read_only;
        read_only.read_only = true;
        read_only.create = false;
        auto connection = keyholder::store::Connection::open(db, read_only);
        auto result = keyholder::store::verify_audit_chain(connection);
        if (result.ok()) {
            std::cout << db << ": " << result.message << '\n';
            return kOk;
        }
        std::cout << db << ": AUDIT CHAIN BROKEN: " << result.message << '\n'
                  << "(" << result.events << " events before it verified)\n";
        return kFound;
    } catch (const keyholder::store::StoreError& e) {
        std::cerr << "keyholder: " << e.what() << '\n';
        return kFailed;
    }
}

// load_cli_config: --config FILE (default /etc/keyholder/keyholder.ini), every problem
// printed to stderr when it does not load.
std::optional<keyholder::config::Config> load_cli_config(const std::map<std::string, std::string>& options) {
    const std::string file =
        options.count("config") ? options.at("config") : std::string("/etc/keyholder/keyholder.ini");
    auto config = keyholder::config::load_config(file);
    if (!config) {
        for (const auto& problem : config.error())
            std::cerr << problem.to_string() << '\n';
        return std::nullopt;
    }
    return std::move(*config);
}

std::string json_text(const Poco::JSON::Object& object) {
    std::ostringstream out;
    object.stringify(out, 2);
    return out.str();
}

int directory_command(const std::string& verb, std::span<const std::string> args) {
    if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
        std::cout << kDirectoryHelp;
        return kOk;
    }
    if (args.empty() || args[0].starts_with("--")) {
        std::cerr << kDirectoryHelp;
        return kUsage;
    }
    const std::string who = args[0];
    std::vector<std::string> rest(args.begin() + 1, args.end());
    bool json = false;
    if (auto it = std::find(rest.begin(), rest.end(), "--json"); it != rest.end()) {
        json = true;
        rest.erase(it);
    }
    auto options = parse_options(rest, {"config"});
    if (!options) return kUsage;
    auto config = load_cli_config(*options);
    if (!config) return kFailed;
    using keyholder::directory::DirectoryError;
    keyholder::directory::Directory directory(keyholder::core::directory_settings(config->ldap));
    auto user = who.starts_with("S-1-") ? directory.find_user_by_id(who) : directory.find_user(who);
    if (!user) {
        std::cerr << "keyholder: " << user.error().to_string() << '\n';
        return user.error().kind == DirectoryError::Kind::not_found ? kFound : kFailed;
    }
    if (verb == "whois") {
        auto manager = directory.manager_of(*user);
        auto flavour = directory.flavour();
        std::string manager_text =
            manager ? manager->sam_account_name + " (" + manager->display_name + ", " + manager->dn + ")"
            : user->manager_dn.empty() ? "(none)"
                                       : user->manager_dn + " (" + manager.error().message + ")";
        if (json) {
            Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
            o.set("sAMAccountName", user->sam_account_name);
            o.set("displayName", user->display_name);
            o.set("dn", user->dn);
            o.set("sid", user->sid);
            o.set("guid", user->guid);
            o.set("id", user->id());
            o.set("userPrincipalName", user->user_principal_name);
            o.set("mail", user->mail);
            o.set("enabled", user->enabled);
            if (!user->enabled) o.set("disabledReason", user->disabled_reason);
            o.set("manager", manager ? manager->dn : user->manager_dn);
            o.set("primaryGroupSid", user->primary_group_sid);
            std::cout << json_text(o) << '\n';
            return kOk;
        }
        auto line = [](const std::string& label, const std::string& value) {
            std::cout << std::left << std::setw(16) << label << value << '\n';
        };
        line("user", user->sam_account_name);
        line("display name", user->display_name);
        line("dn", user->dn);
        if (!user->sid.empty()) line("sid", user->sid);
        line("guid", user->guid);
        line("id", user->id());
        if (!user->user_principal_name.empty()) line("upn", user->user_principal_name);
        if (!user->mail.empty()) line("mail", user->mail);
        line("enabled", user->enabled ? "yes" : "no (" + user->disabled_reason + ")");
        line("manager", manager_text);
        if (!user->primary_group_sid.empty()) line("primary group", user->primary_group_sid);
        if (flavour) line("directory", keyholder::directory::to_string(*flavour));
        return kOk;
    }
    auto groups = directory.groups_of(*user);
    if (!groups) {
        std::cerr << "keyholder: " << groups.error().to_string() << '\n';
        return kFailed;
    }
    auto name_of = [](const std::string& dn) {
        auto start = dn.find('=');
        auto end = dn.find(',');
        return start == std::string::npos ? dn : dn.substr(start + 1, end == std::string::npos ? end : end - start - 1);
    };
    if (json) {
        Poco::JSON::Array array;
        for (const auto& m : *groups) {
            Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
            o.set("name", m.group.name);
            o.set("dn", m.group.dn);
            o.set("sid", m.group.sid);
            o.set("via", keyholder::directory::to_string(m.via));
            Poco::JSON::Array path;
            for (const auto& dn : m.path)
                path.add(dn);
            o.set("path", path);
            o.set("foundBy", m.found_by);
            array.add(o);
        }
        std::ostringstream out;
        array.stringify(out, 2);
        std::cout << out.str() << '\n';
        return kOk;
    }
    std::cout << std::left << std::setw(32) << "GROUP" << std::setw(15) << "HOW"
              << "DETAIL\n";
    for (const auto& m : *groups) {
        std::string detail;
        if (!m.path.empty()) {
            for (const auto& dn : m.path)
                detail += (detail.empty() ? "" : " > ") + name_of(dn);
        } else {
            detail = m.group.dn.empty() ? m.group.sid : m.group.dn;
        }
        std::string name = m.group.name.empty() ? m.group.sid : m.group.name;
        std::cout << std::left << std::setw(32) << name << std::setw(15) << keyholder::directory::to_string(m.via)
                  << detail << '\n';
    }
    std::cout << groups->size() << " groups (found by " << (groups->empty() ? "-" : groups->front().found_by) << ")\n";
    return kOk;
}

// read_secret: from the terminal without echo (asked twice), or one line from a pipe.
std::optional<std::string> read_secret(const std::string& entry) {
    auto first = keyholder::cli::read_hidden("secret for " + entry + ": ");
    if (!first || !::isatty(STDIN_FILENO)) return first;
    auto second = keyholder::cli::read_hidden("again: ");
    if (!second) return std::nullopt;
    if (*first != *second) {
        std::cerr << "keyholder: the two entries differ\n";
        return std::nullopt;
    }
    return first;
}

int secret_set(std::span<const std::string> args) {
    if (args.empty() || args[0].starts_with("--")) {
        std::cerr << "usage: keyholder secret set ENTRY [--config FILE]\n";
        return kUsage;
    }
    const std::string entry = args[0];
    auto options = parse_options(args.subspan(1), {"config"});
    if (!options) return kUsage;
    auto config = load_cli_config(*options);
    if (!config) return kFailed;
    auto secret = read_secret(entry);
    if (!secret || secret->empty()) {
        std::cerr << "keyholder: no secret given\n";
        return kUsage;
    }
    auto vault = keyholder::core::SecretVault::open(config->service.master_key_file);
    if (!vault) {
        std::cerr << "keyholder: " << vault.error() << '\n';
        return kFailed;
    }
    try {
        auto store = keyholder::store::open_store(config->store.file);
        const passwd* who = ::getpwuid(::getuid());
        const std::string actor = std::string("local:") + (who != nullptr ? who->pw_name : std::to_string(::getuid()));
        keyholder::core::SystemClock clock;
        auto version = keyholder::core::store_secret(store.connection, *vault, *config, entry, actor, *secret, clock);
        if (!version) {
            std::cerr << "keyholder: " << version.error().message << '\n';
            return version.error().kind == keyholder::core::CoreError::Kind::not_found ? kFound : kFailed;
        }
        std::cout << "secret of " << entry << " stored (version " << *version << ")\n";
        return kOk;
    } catch (const keyholder::store::StoreError& e) {
        std::cerr << "keyholder: " << e.what() << '\n';
        return kFailed;
    }
}

} // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
        std::cout << kUsageText;
        return args.empty() ? kUsage : kOk;
    }
    if (args[0] == "version" || args[0] == "--version") {
        std::cout << "keyholder 0.1.0\n";
        return kOk;
    }
    if (args[0] == "backup") return backup_command(std::span<const std::string>(args).subspan(1));
    if (args[0] == "audit" && args.size() >= 2 && args[1] == "verify")
        return audit_verify(std::span<const std::string>(args).subspan(2));
    if (args[0] == "secret" && args.size() >= 2 && args[1] == "set")
        return secret_set(std::span<const std::string>(args).subspan(2));
    if (args[0] == "directory" && args.size() >= 2 && (args[1] == "whois" || args[1] == "groups"))
        return directory_command(args[1], std::span<const std::string>(args).subspan(2));
    if (args[0] == "directory") {
        std::cout << kDirectoryHelp;
        return args.size() >= 2 && (args[1] == "--help" || args[1] == "-h") ? kOk : kUsage;
    }
    if (keyholder::cli::is_remote_command(args[0]))
        return keyholder::cli::remote_command(args[0], std::span<const std::string>(args).subspan(1));
    std::cerr << "keyholder: unknown command '" << args[0] << (args.size() > 1 ? " " + args[1] : "") << "'\n\n"
              << kUsageText;
    return kUsage;
}
