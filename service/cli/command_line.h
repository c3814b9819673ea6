// The command line as CLI11 parses it: one definition per command gives its
// arguments, its options (in any order) and its --help text.
#pragma once

#include <map>
#include <set>
#include <string>

namespace CLI {
class App;
class Option;
} // namespace CLI

namespace keyholder::cli {

/// Invocation: what the command line asked for, once parsed.
struct Invocation {
    std::string command;                        ///< "request", "audit verify", "directory whois"...
    std::string target;                         ///< its positional argument (ENTRY, ID, USER, NAME, OUT), if any
    std::map<std::string, std::string> options; ///< given options by long name ("for", "server")
    std::set<std::string> flags;                ///< given flags by long name ("json", "approvable")

    [[nodiscard]] bool has(const std::string& name) const { return options.count(name) != 0; }
    [[nodiscard]] bool flag(const std::string& name) const { return flags.count(name) != 0; }
};

/// add_value: --NAME VALUE on `command`, kept in call.options[NAME] when given.
CLI::Option* add_value(CLI::App* command, Invocation& call, const std::string& name, const std::string& help,
                       const std::string& value_name = "TEXT");
/// add_flag: --NAME on `command`, kept in call.flags when given.
CLI::Option* add_flag(CLI::App* command, Invocation& call, const std::string& name, const std::string& help);

/// add_remote_commands: the commands that talk to keyholderd over its API.
void add_remote_commands(CLI::App& app, Invocation& call);
/// run_remote: runs a parsed remote command; the exit status.
int run_remote(const Invocation& call);
/// is_remote: whether `command` is one of them.
bool is_remote(const std::string& command);

/// add_local_commands: the commands that work on the service's own files (its
/// configuration, database and directory account), run on its host.
void add_local_commands(CLI::App& app, Invocation& call);
/// run_local: runs a parsed local command; the exit status.
int run_local(const Invocation& call);

} // namespace keyholder::cli
