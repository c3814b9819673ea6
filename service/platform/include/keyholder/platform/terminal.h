// The console: whether standard input is a terminal, and a prompt without echo.
#pragma once

#include <optional>
#include <string>

namespace keyholder::platform {

bool stdin_is_terminal();

/// read_hidden: a line from the terminal with echo off (the prompt on stderr), or one
/// line from a pipe; nullopt at end of input. The terminal's echo comes back even
/// when the prompt is interrupted (Ctrl-C).
std::optional<std::string> read_hidden(const std::string& prompt);

} // namespace keyholder::platform
