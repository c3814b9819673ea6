// keyholder: the client and admin command line. One CLI11 definition per command
// (command_line.h) gives its arguments, its options in any order and its help.
//
// Exit status: 0 success; 1 the command ran and found a problem (or the server
// refused); 2 usage error; 3 could not run (unreadable file, store error, network,
// server or directory unavailable); 4 sign-on failed.
#include <Poco/Net/Net.h>

#include <CLI/CLI.hpp>

#include <iostream>

#include "cli_support.h"
#include "command_line.h"
#include "keyholder/platform/process.h"

namespace {

constexpr const char* kVersion = "keyholder 0.1.0";

constexpr const char* kFooter =
    "Run \"keyholder COMMAND --help\" for each command. The commands that talk to keyholderd take --server URL "
    "(or $KEYHOLDER_URL), --ca-file FILE (or $KEYHOLDER_CA_FILE), --user NAME (Basic sign-on; default: your "
    "Kerberos ticket) and --json.\n"
    "Exit status: 0 ok, 1 problem found or refused by the server (or no such user), 2 usage error, 3 could not run "
    "(unreadable file, store error, network, server or directory unavailable), 4 sign-on failed.";

} // namespace

int main(int argc, char** raw_argv) {
    Poco::Net::initializeNetwork(); // Windows: Winsock (statically linked Poco does not start it)
    keyholder::platform::utf8_console();
    // UTF-8 arguments on every system (a name with an umlaut survives on Windows too).
    std::vector<std::string> arguments = keyholder::platform::arguments(argc, raw_argv);
    std::vector<char*> pointers;
    for (auto& a : arguments)
        pointers.push_back(a.data());
    pointers.push_back(nullptr);
    argc = static_cast<int>(arguments.size());
    char** argv = pointers.data();
    using namespace keyholder::cli;
    CLI::App app("keyholder: request, approve and use check-outs of privileged AD accounts", "keyholder");
    app.footer(wrapped(kFooter));
    app.set_version_flag("-V,--version", kVersion);
    app.require_subcommand(1);
    Invocation call;
    add_remote_commands(app, call);
    add_local_commands(app, call);
    app.add_subcommand("version", "print the version")->group("Other")->callback([&call] { call.command = "version"; });
    app.add_subcommand("help", "this text")->group("Other")->callback([&call] { call.command = "help"; });
    const std::string overview = app.help(); // before parsing: afterwards help() shows the chosen command's
    if (argc > 1 && argv[1][0] != '-') {
        try {
            (void)app.get_subcommand(argv[1]);
        } catch (const CLI::OptionNotFound&) {
            std::cerr << "keyholder: unknown command '" << argv[1] << "' (keyholder --help lists them)\n";
            return kUsage;
        }
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return kUsage;
    }
    if (call.command == "version") {
        std::cout << kVersion << '\n';
        return kOk;
    }
    if (call.command == "help") {
        std::cout << overview;
        return kOk;
    }
    if (is_remote(call.command)) return run_remote(call);
    return run_local(call);
}
