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

#include "keyholder/config/config.h"
#include "keyholder/store/audit.h"
#include "keyholder/store/error.h"
#include "keyholder/store/sqlite.h"

namespace {

constexpr int kOk = 0;
constexpr int kFound = 1;
constexpr int kUsage = 2;
constexpr int kFailed = 3;

constexpr const char* kUsageText = R"(usage: keyholder COMMAND [OPTIONS]

Commands:
  audit verify (--db FILE | --config FILE)
                      walk the audit hash chain; name the first event that was
                      changed, removed or reordered (exit 1 then)
  version             print the version
  help                this text

Exit status: 0 ok, 1 problem found, 2 usage error, 3 could not run.
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

// Options: "--name value" or "--name=value" pairs after the command words.
std::optional<std::map<std::string, std::string>> parse_options(std::span<const std::string> args,
                                                                const std::vector<std::string>& allowed) {
    std::map<std::string, std::string> out;
    for (size_t i = 0; i < args.size(); ++i) {
        std::string arg = args[i];
        if (arg == "--help" || arg == "-h") {
            out["help"] = "";
            continue;
        }
        if (!arg.starts_with("--")) {
            std::cerr << "keyholder: unexpected argument '" << arg << "'\n";
            return std::nullopt;
        }
        std::string name = arg.substr(2);
        std::string value;
        if (auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
        } else if (i + 1 < args.size()) {
            value = args[++i];
        } else {
            std::cerr << "keyholder: --" << name << " needs a value\n";
            return std::nullopt;
        }
        if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
            std::cerr << "keyholder: unknown option --" << name << '\n';
            return std::nullopt;
        }
        out[name] = value;
    }
    return out;
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
    if (args[0] == "audit" && args.size() >= 2 && args[1] == "verify")
        return audit_verify(std::span<const std::string>(args).subspan(2));
    std::cerr << "keyholder: unknown command '" << args[0] << (args.size() > 1 ? " " + args[1] : "") << "'\n\n"
              << kUsageText;
    return kUsage;
}
