// Shared pieces of the keyholder CLI: exit codes, hidden input.
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

/// wrapped: text broken into lines of at most `width` columns at spaces (for help
/// paragraphs; existing line breaks are kept).
std::string wrapped(const std::string& text, size_t width = 80);

} // namespace keyholder::cli
