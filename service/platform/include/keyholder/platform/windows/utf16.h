// UTF-8 <-> UTF-16 for the Windows implementations (the W functions of the Windows
// API, Wldap32, SSPI): keyholder's text is UTF-8 everywhere else. Windows only.
#pragma once

#include <windows.h>

#include <string>
#include <string_view>

namespace keyholder::platform::windows {

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

/// narrow: a null-terminated UTF-16 string (null: empty).
inline std::string narrow(const wchar_t* text) {
    return text == nullptr ? std::string() : narrow(std::wstring_view(text));
}

} // namespace keyholder::platform::windows
