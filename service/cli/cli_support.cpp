#include "cli_support.h"

#include <CLI/CLI.hpp>

#include "command_line.h"

#include <termios.h>

#include <csignal>
#include <unistd.h>

#include <algorithm>
#include <iostream>

namespace keyholder::cli {

CLI::Option* add_value(CLI::App* command, Invocation& call, const std::string& name, const std::string& help,
                       const std::string& value_name) {
    return command
        ->add_option_function<std::string>(
            "--" + name, [&call, name](const std::string& v) { call.options[name] = v; }, help)
        ->type_name(value_name);
}

CLI::Option* add_flag(CLI::App* command, Invocation& call, const std::string& name, const std::string& help) {
    return command->add_flag_callback(
        "--" + name, [&call, name] { call.flags.insert(name); }, help);
}

std::string wrapped(const std::string& text, size_t width) {
    std::string out;
    size_t line_start = 0;
    for (size_t start = 0; start <= text.size();) {
        size_t end = text.find_first_of(" \n", start);
        if (end == std::string::npos) end = text.size();
        const std::string word = text.substr(start, end - start);
        if (out.size() - line_start + (out.size() > line_start ? 1 : 0) + word.size() > width &&
            out.size() > line_start) {
            out += '\n';
            line_start = out.size();
        } else if (out.size() > line_start) {
            out += ' ';
        }
        out += word;
        if (end < text.size() && text[end] == '\n') {
            out += '\n';
            line_start = out.size();
        }
        start = end + 1;
    }
    return out;
}

namespace {

// The terminal as it was before the prompt, for the signal handler to put back.
termios g_terminal{};

void restore_terminal_and_die(int signo) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &g_terminal); // async-signal-safe
    ::signal(signo, SIG_DFL);
    ::raise(signo);
}

} // namespace

std::optional<std::string> read_hidden(const std::string& prompt) {
    std::string line;
    if (!::isatty(STDIN_FILENO)) {
        if (!std::getline(std::cin, line)) return std::nullopt;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return line;
    }
    termios saved{};
    if (::tcgetattr(STDIN_FILENO, &saved) != 0) return std::nullopt;
    g_terminal = saved;
    struct sigaction restore {};
    restore.sa_handler = restore_terminal_and_die;
    sigemptyset(&restore.sa_mask);
    struct sigaction before[3]{};
    const int signals[3] = {SIGINT, SIGTERM, SIGHUP};
    for (int i = 0; i < 3; ++i)
        ::sigaction(signals[i], &restore, &before[i]);
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    std::cerr << prompt << std::flush;
    const bool ok = static_cast<bool>(std::getline(std::cin, line));
    std::cerr << '\n';
    ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    for (int i = 0; i < 3; ++i)
        ::sigaction(signals[i], &before[i], nullptr);
    if (!ok) return std::nullopt;
    return line;
}

} // namespace keyholder::cli
