// The CLI commands that work on the service's own files, run on its host: a backup of
// the database, the audit chain's verification, what the directory says of a user,
// and a secret stored from the terminal.

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <CLI/CLI.hpp>

#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>

#include "cli_support.h"
#include "command_line.h"
#include "keyholder/config/config.h"
#include "keyholder/core/checkout_service.h"
#include "keyholder/core/directory_settings.h"
#include "keyholder/core/store_settings.h"
#include "keyholder/core/vault.h"
#include "keyholder/directory/directory.h"
#include "keyholder/platform/process.h"
#include "keyholder/platform/terminal.h"
#include "keyholder/store/audit.h"
#include "keyholder/store/backup.h"
#include "keyholder/store/connection.h"
#include "keyholder/store/copy.h"
#include "keyholder/store/error.h"
#include "keyholder/store/store.h"

namespace keyholder::cli {
namespace {

constexpr const char* kDefaultConfig = "/etc/keyholder/keyholder.ini";

// load_config_of: --config FILE (default /etc/keyholder/keyholder.ini), every problem
// printed to stderr when it does not load.
std::optional<keyholder::config::Config> load_config_of(const Invocation& call) {
    const std::string file = call.has("config") ? call.options.at("config") : std::string(kDefaultConfig);
    auto config = keyholder::config::load_config(file);
    if (!config) {
        for (const auto& problem : config.error())
            std::cerr << problem.to_string() << '\n';
        return std::nullopt;
    }
    return std::move(*config);
}

// database_of: --db (a SQLite FILE, sqlite:FILE or postgresql:DSN, its password
// from PGPASSWORD or the DSN's passfile), or the [store] of --config FILE.
std::optional<keyholder::store::Location> database_of(const Invocation& call) {
    if (call.has("db")) return keyholder::store::parse_location(call.options.at("db"));
    auto config = load_config_of(call);
    if (!config) return std::nullopt;
    return keyholder::core::store_location(*config);
}

std::string json_text(const Poco::JSON::Object& object) {
    std::ostringstream out;
    object.stringify(out, 2);
    return out.str();
}

int directory_command(const Invocation& call) {
    const bool json = call.flag("json");
    const std::string verb = call.command == "directory whois" ? "whois" : "groups";
    const std::string& who = call.target;
    auto config = load_config_of(call);
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
    auto first = keyholder::platform::read_hidden("secret for " + entry + ": ");
    if (!first || !keyholder::platform::stdin_is_terminal()) return first;
    auto second = keyholder::platform::read_hidden("again: ");
    if (!second) return std::nullopt;
    if (*first != *second) {
        std::cerr << "keyholder: the two entries differ\n";
        return std::nullopt;
    }
    return first;
}

int secret_set(const Invocation& call) {
    const std::string& entry = call.target;
    auto config = load_config_of(call);
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
        auto store = keyholder::store::open_store(keyholder::core::store_location(*config));
        const std::string actor = "local:" + keyholder::platform::user_name();
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

int backup(const Invocation& call) {
    auto db = database_of(call);
    if (!db) return kFailed;
    if (db->backend != keyholder::store::Backend::sqlite) {
        std::cerr << "keyholder: backup copies a SQLite file; a PostgreSQL store is backed up with PostgreSQL's own "
                     "tools (pg_basebackup, a standby, pg_dump): see docs/operations.md\n";
        return kUsage;
    }
    try {
        const auto copied = keyholder::store::backup_database(db->file, call.target);
        std::cout << db->file.string() << " -> " << call.target << ": " << copied.pages << " pages, " << copied.events
                  << " audit events (chain verified)"
                  << "\nthe keys are not in it: back up master_key_file and link_key_file apart\n";
        return kOk;
    } catch (const keyholder::store::StoreError& e) {
        std::cerr << "keyholder: backup failed: " << e.what() << '\n';
        return kFailed;
    }
}

int audit_verify(const Invocation& call) {
    auto location = database_of(call);
    if (!location) return kFailed;
    const std::string db = location->describe();
    try {
        keyholder::store::ConnectionOptions read_only;
        read_only.read_only = true;
        read_only.create = false;
        auto connection = keyholder::store::Connection::open(*location, read_only);
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

int store_copy(const Invocation& call) {
    try {
        const auto from_location = keyholder::store::parse_location(call.options.at("from"));
        const auto to_location = keyholder::store::parse_location(call.options.at("to"));
        for (const auto* location : {&from_location, &to_location})
            if (keyholder::config::dsn_carries_password(location->dsn)) {
                std::cerr << "keyholder: a password never goes on the command line (it shows in the process list "
                             "and the shell's history): give it in PGPASSWORD or a passfile\n";
                return kUsage;
            }
        // One transaction on the target while whole tables are read and counted on the
        // source: an hour, not a serving node's bounds (answer_timeout, writer_stall_limit).
        keyholder::store::ConnectionOptions patient;
        patient.answer_timeout = std::chrono::hours(1);
        patient.writer_stall_limit = std::chrono::hours(1);
        keyholder::store::ConnectionOptions read_only = patient;
        read_only.create = false;
        auto from = keyholder::store::Connection::open(from_location, read_only);
        auto to = keyholder::store::Connection::open(to_location, patient);
        const auto copied = keyholder::store::copy_store(from, to);
        std::cout << from_location.describe() << " -> " << to_location.describe() << ":\n";
        for (const auto& [table, rows] : copied.rows)
            std::cout << "  " << table << ": " << rows << " rows\n";
        std::cout << copied.events << " audit events, chain verified on the target (head " << copied.head_hash
                  << ")\nthe keys are not in a store: give the new nodes the same master_key_file and link_key_file\n";
        return kOk;
    } catch (const keyholder::store::StoreError& e) {
        std::cerr << "keyholder: store copy failed, nothing was written: " << e.what() << '\n';
        return kFailed;
    }
}

// database_options: --config FILE or --db FILE, exactly one.
void database_options(CLI::App* command, Invocation& call) {
    auto* source = command->add_option_group("database", "where the database is (one of)");
    add_value(source, call, "config", "take the database path from keyholder.ini", "FILE");
    add_value(source, call, "db", "the store: a SQLite FILE, sqlite:FILE or postgresql:DSN", "STORE");
    source->require_option(1);
}

} // namespace

void add_local_commands(CLI::App& app, Invocation& call) {
    const std::string group = "Commands on the service's own files (run on its host)";
    auto selected = [&call](const std::string& name) { return [&call, name] { call.command = name; }; };

    CLI::App* backup = app.add_subcommand("backup", "a consistent copy of the database while keyholderd runs");
    backup->group(group);
    backup->footer(wrapped(
        "Copies the keyholder database into OUT, a new file (mode 0600), while keyholderd runs: SQLite's online "
        "backup in one read transaction, so OUT holds the committed state at its start while keyholderd goes on "
        "writing. The copy "
        "passes SQLite's integrity check and its audit chain verifies, or OUT is removed and the exit status is 3. "
        "The keys (master_key_file, link_key_file) are not in the database and not in OUT: back them up apart, and "
        "keep them apart, or a stolen backup reveals the secrets."));
    backup->add_option("OUT", call.target, "the new file")->type_name("")->required();
    database_options(backup, call);
    backup->callback(selected("backup"));

    CLI::App* store = app.add_subcommand("store", "the store as a whole");
    store->group(group);
    store->require_subcommand(1);
    CLI::App* copy = store->add_subcommand("copy", "move an installation into a new store (SQLite to PostgreSQL)");
    copy->footer(wrapped(
        "Copies every row of the store FROM into TO, a new and empty store, ids and the audit chain kept: to move a "
        "one-node installation onto PostgreSQL for several nodes (or back). A store is sqlite:FILE or postgresql:DSN "
        "(libpq's keyword=value pairs or a postgresql:// URI; its password from PGPASSWORD or a passfile, never "
        "the command line). TO is migrated to the newest schema and must be empty; the copy is one transaction, "
        "kept only when every table has the source's row count and TO's audit chain verifies with the source's "
        "head hash. Stop keyholderd first: what it writes meanwhile is not in the copy. Exit status 0 copied, 3 "
        "refused or failed (nothing written)."));
    add_value(copy, call, "from", "the store to copy", "STORE")->required();
    add_value(copy, call, "to", "the new, empty store", "STORE")->required();
    copy->callback(selected("store copy"));

    CLI::App* audit = app.add_subcommand("audit", "the audit trail");
    audit->group(group);
    audit->require_subcommand(1);
    CLI::App* verify = audit->add_subcommand("verify", "walk the audit hash chain");
    verify->footer(wrapped(
        "Walks the audit trail of a keyholder database in order and checks every event's SHA-256 link to the one "
        "before it and the hash of its own content. Prints the first event that was changed, removed, inserted or "
        "reordered and exits 1; prints the event count and the head hash and exits 0 when the chain is intact. Keep "
        "the printed head hash: removing events from the end of the chain can only be shown by comparing with an "
        "earlier head (or an exported audit report). The database is opened read-only."));
    database_options(verify, call);
    verify->callback(selected("audit verify"));

    CLI::App* directory = app.add_subcommand("directory", "what the service sees of a user in the directory");
    directory->group(group);
    directory->require_subcommand(1);
    const std::string directory_help =
        "Asks the directory exactly as keyholderd does (same [ldap] settings, same service account), so an "
        "administrator can see why a policy allows or refuses someone. USER is a sAMAccountName, a "
        "userPrincipalName (name@domain), DOMAIN\\name (quote it in a shell: 'EXAMPLE\\bob'), or a SID.\n"
        "whois: identity (DN, SID, GUID, UPN, mail), enabled or why not, manager.\n"
        "groups: every transitive group and how it was found: direct, nested (with the path of groups), or primary "
        "group (primaryGroupID).\n"
        "Exit status: 0 found, 1 no such user, 3 directory unavailable or bad configuration.";
    directory->footer(wrapped(directory_help));
    for (const auto& [verb, summary] :
         {std::pair<std::string, std::string>{"whois", "identity (DN, SID, GUID, UPN, mail), enabled or why not, "
                                                       "manager"},
          {"groups", "every transitive group and how it was found: direct, nested (with the path), primary group"}}) {
        CLI::App* command = directory->add_subcommand(verb, summary);
        command->add_option("USER", call.target, "the user")->type_name("")->required();
        command->footer(wrapped(directory_help));
        add_value(command, call, "config", "keyholder.ini (default /etc/keyholder/keyholder.ini)", "FILE");
        command->add_flag_callback(
            "--json", [&call] { call.flags.insert("json"); }, "machine-readable output");
        command->callback(selected("directory " + verb));
    }

    CLI::App* secret = app.add_subcommand("secret", "the secrets of password entries");
    secret->group(group);
    secret->require_subcommand(1);
    CLI::App* set = secret->add_subcommand("set", "store the secret of a password entry");
    set->footer(wrapped("Stores the secret of password entry ENTRY: prompted twice without echo, or one line from a "
                        "pipe; never an argument."));
    set->add_option("ENTRY", call.target, "the entry")->type_name("")->required();
    add_value(set, call, "config", "keyholder.ini (default /etc/keyholder/keyholder.ini)", "FILE");
    set->callback(selected("secret set"));
}

int run_local(const Invocation& call) {
    if (call.command == "backup") return backup(call);
    if (call.command == "audit verify") return audit_verify(call);
    if (call.command == "store copy") return store_copy(call);
    if (call.command == "secret set") return secret_set(call);
    return directory_command(call);
}

} // namespace keyholder::cli
