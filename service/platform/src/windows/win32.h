// Helpers for the Windows implementations of the platform module: UTF-16 <-> UTF-8
// (utf16.h) and the text of a Windows error code. Private to the module.
#pragma once

#include <windows.h>

#include "keyholder/platform/windows/utf16.h"

#include <string>
#include <string_view>
#include <system_error>

namespace keyholder::platform::detail {

using windows::narrow;
using windows::wide;

/// error_text: what FormatMessage says of a Windows error code, with the code.
inline std::string error_text(DWORD code) {
    return std::system_category().message(static_cast<int>(code)) + " (" + std::to_string(code) + ")";
}

} // namespace keyholder::platform::detail
