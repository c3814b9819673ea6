// The console on POSIX (see terminal.h): termios echo off, restored on a signal.
#include "keyholder/platform/terminal.h"

#include <termios.h>
#include <unistd.h>

#include <csignal>
#include <iostream>

namespace keyholder::platform {

bool stdin_is_terminal() { return ::isatty(STDIN_FILENO) != 0; }

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

} // namespace keyholder::platform
