// The console on Windows (see terminal.h): echo off through the console mode, put
// back by a console control handler when Ctrl-C ends the prompt.
#include "keyholder/platform/terminal.h"

#include <io.h>

#include <atomic>
#include <cstdio>
#include <iostream>

#include "win32.h"

namespace keyholder::platform {
namespace {

std::atomic<HANDLE> g_console{nullptr};
std::atomic<DWORD> g_mode{0};

BOOL WINAPI restore_console(DWORD) {
    if (HANDLE console = g_console.load(); console != nullptr) ::SetConsoleMode(console, g_mode.load());
    return FALSE; // the default handler ends the process
}

} // namespace

bool stdin_is_terminal() { return _isatty(_fileno(stdin)) != 0; }

std::optional<std::string> read_hidden(const std::string& prompt) {
    HANDLE console = ::GetStdHandle(STD_INPUT_HANDLE);
    DWORD saved = 0;
    if (!stdin_is_terminal() || !::GetConsoleMode(console, &saved)) {
        std::string line;
        if (!std::getline(std::cin, line)) return std::nullopt;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return line;
    }
    g_console = console;
    g_mode = saved;
    ::SetConsoleCtrlHandler(restore_console, TRUE);
    ::SetConsoleMode(console, (saved | ENABLE_LINE_INPUT) & ~static_cast<DWORD>(ENABLE_ECHO_INPUT));
    std::cerr << prompt << std::flush;
    // ReadConsoleW: the typed text as UTF-16, whatever the console's code page.
    std::wstring line;
    bool ok = false;
    wchar_t buffer[256];
    DWORD got = 0;
    while (::ReadConsoleW(console, buffer, 256, &got, nullptr) && got > 0) {
        line.append(buffer, got);
        if (line.back() == L'\n') {
            ok = true;
            break;
        }
    }
    std::cerr << '\n';
    ::SetConsoleMode(console, saved);
    ::SetConsoleCtrlHandler(restore_console, FALSE);
    g_console = nullptr;
    while (!line.empty() && (line.back() == L'\n' || line.back() == L'\r'))
        line.pop_back();
    if (!ok) return std::nullopt;
    return detail::narrow(line);
}

} // namespace keyholder::platform
