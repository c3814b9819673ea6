// Key files on Windows (see key_protection.h): DPAPI, machine scope. The stored form
// starts with a marker, so that a raw key (a file copied from a Linux host) is named
// as such instead of failing as "corrupt".
#include "keyholder/platform/key_protection.h"

#include "win32.h"

#include <dpapi.h>

#include <memory>

namespace keyholder::platform {
namespace {

constexpr std::string_view kMarker = "keyholder-dpapi-v1:";

struct LocalFreer {
    void operator()(BYTE* memory) const noexcept { ::LocalFree(memory); }
};

DATA_BLOB blob_of(std::string_view bytes) {
    return DATA_BLOB{static_cast<DWORD>(bytes.size()), reinterpret_cast<BYTE*>(const_cast<char*>(bytes.data()))};
}

} // namespace

std::expected<std::string, std::string> seal_key(std::string_view key) {
    DATA_BLOB in = blob_of(key);
    DATA_BLOB out{};
    if (!::CryptProtectData(&in, L"keyholder key", nullptr, nullptr, nullptr,
                            CRYPTPROTECT_LOCAL_MACHINE | CRYPTPROTECT_UI_FORBIDDEN, &out))
        return std::unexpected("CryptProtectData: " + detail::error_text(::GetLastError()));
    std::unique_ptr<BYTE, LocalFreer> owner(out.pbData);
    return std::string(kMarker) + std::string(reinterpret_cast<const char*>(out.pbData), out.cbData);
}

std::expected<std::string, std::string> unseal_key(std::string_view stored) {
    if (!stored.starts_with(kMarker))
        return std::unexpected("not protected with DPAPI (a key file from another system?)");
    stored.remove_prefix(kMarker.size());
    DATA_BLOB in = blob_of(stored);
    DATA_BLOB out{};
    if (!::CryptUnprotectData(&in, nullptr, nullptr, nullptr, nullptr, CRYPTPROTECT_UI_FORBIDDEN, &out))
        return std::unexpected("CryptUnprotectData (another machine's key?): " + detail::error_text(::GetLastError()));
    std::unique_ptr<BYTE, LocalFreer> owner(out.pbData);
    std::string key(reinterpret_cast<const char*>(out.pbData), out.cbData);
    ::SecureZeroMemory(out.pbData, out.cbData);
    return key;
}

} // namespace keyholder::platform
