// Shared pieces of the keyholder CLI: exit codes, option parsing, hidden input.
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace keyholder::cli {

constexpr int kOk = 0;
constexpr int kFound = 1;  ///< ran, and found a problem / the server refused
constexpr int kUsage = 2;  ///< usage error
constexpr int kFailed = 3; ///< could not run (file, store, network, server or directory unavailable)
constexpr int kSignOn = 4; ///< sign-on failed (no ticket, wrong password, disabled, too many failures)

/// parse_options: "--name value" / "--name=value" pairs; `flags` take no value.
/// "--help"/"-h" become "help". Prints the problem and returns nullopt on misuse.
std::optional<std::map<std::string, std::string>> parse_options(std::span<const std::string> args,
                                                                const std::vector<std::string>& allowed,
                                                                const std::vector<std::string>& flags = {});

/// read_hidden: one line from the terminal without echo (prompted on stderr), or
/// one line from stdin when it is not a terminal.
std::optional<std::string> read_hidden(const std::string& prompt);

/// remote_command: the commands that talk to keyholderd over its API.
int remote_command(const std::string& command, std::span<const std::string> args);
bool is_remote_command(const std::string& command);
extern const char* const kRemoteUsage;

} // namespace keyholder::cli
