#include "cli_support.h"

#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>

namespace keyholder::cli {

std::optional<std::map<std::string, std::string>> parse_options(std::span<const std::string> args,
                                                                const std::vector<std::string>& allowed,
                                                                const std::vector<std::string>& flags) {
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
        const bool is_flag = std::find(flags.begin(), flags.end(), name) != flags.end();
        if (auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
        } else if (is_flag) {
            value = "true";
        } else if (i + 1 < args.size()) {
            value = args[++i];
        } else {
            std::cerr << "keyholder: --" << name << " needs a value\n";
            return std::nullopt;
        }
        if (std::find(allowed.begin(), allowed.end(), name) == allowed.end() &&
            std::find(flags.begin(), flags.end(), name) == flags.end()) {
            std::cerr << "keyholder: unknown option --" << name << '\n';
            return std::nullopt;
        }
        out[name] = value;
    }
    return out;
}

std::optional<std::string> read_hidden(const std::string& prompt) {
    std::string line;
    if (!::isatty(STDIN_FILENO)) {
        if (!std::getline(std::cin, line)) return std::nullopt;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return line;
    }
    termios saved{};
    ::tcgetattr(STDIN_FILENO, &saved);
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    std::cerr << prompt << std::flush;
    const bool ok = static_cast<bool>(std::getline(std::cin, line));
    std::cerr << '\n';
    ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    if (!ok) return std::nullopt;
    return line;
}

} // namespace keyholder::cli
