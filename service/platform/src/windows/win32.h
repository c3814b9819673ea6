// Helpers for the Windows implementations of the platform module: UTF-16 <-> UTF-8
// and the text of a Windows error code. Private to the module.
#pragma once

#include <windows.h>

#include <string>
#include <string_view>
#include <system_error>

namespace keyholder::platform::detail {

inline std::wstring wide(std::string_view text) {
    if (text.empty()) return {};
    const int n = ::MultiByteToWideChar(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), nullptr, 0);
    std::wstring out(static_cast<size_t>(n), L'\0');
    ::MultiByteToWideChar(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), out.data(), n);
    return out;
}

inline std::string narrow(std::wstring_view text) {
    if (text.empty()) return {};
    const int n =
        ::WideCharToMultiByte(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), nullptr, 0, nullptr, nullptr);
    std::string out(static_cast<size_t>(n), '\0');
    ::WideCharToMultiByte(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), out.data(), n, nullptr, nullptr);
    return out;
}

/// error_text: what FormatMessage says of a Windows error code, with the code.
inline std::string error_text(DWORD code) {
    return std::system_category().message(static_cast<int>(code)) + " (" + std::to_string(code) + ")";
}

} // namespace keyholder::platform::detail
