// TempDir (see temp_dir.h).
#include "support/temp_dir.h"

#ifdef _WIN32
#include <windows.h>

#include <aclapi.h>
#include <sddl.h>
#endif

#include "keyholder/platform/files.h"

#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace keyholder::testing {
namespace {

// A file with group or other mode bits: on Windows, Everyone may read it too.
void readable_by_everyone([[maybe_unused]] const std::filesystem::path& file) {
#ifdef _WIN32
    PSECURITY_DESCRIPTOR descriptor = nullptr;
    if (!::ConvertStringSecurityDescriptorToSecurityDescriptorW(L"D:P(A;;FA;;;OW)(A;;FA;;;SY)(A;;FR;;;WD)",
                                                                SDDL_REVISION_1, &descriptor, nullptr))
        throw std::runtime_error("cannot make a security descriptor");
    BOOL present = FALSE;
    BOOL defaulted = FALSE;
    PACL dacl = nullptr;
    ::GetSecurityDescriptorDacl(descriptor, &present, &dacl, &defaulted);
    const DWORD rc = ::SetNamedSecurityInfoW(const_cast<wchar_t*>(file.c_str()), SE_FILE_OBJECT,
                                             DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION, nullptr,
                                             nullptr, dacl, nullptr);
    ::LocalFree(descriptor);
    if (rc != ERROR_SUCCESS) throw std::runtime_error("cannot set the DACL of " + file.string());
#endif
}

} // namespace

// A fresh name made here (create_directory fails on one that exists), on every system.
TempDir::TempDir() {
    std::random_device random;
    const auto base = std::filesystem::temp_directory_path();
    for (int attempt = 0; attempt < 100; ++attempt) {
        std::ostringstream name;
        name << "keyholder-test-" << std::hex << random() << random();
        std::error_code ec;
        if (std::filesystem::create_directory(base / name.str(), ec)) {
            path_ = base / name.str();
            std::filesystem::permissions(path_, std::filesystem::perms::owner_all, ec);
            return;
        }
    }
    throw std::runtime_error("cannot create a temporary folder under " + base.string());
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

std::filesystem::path TempDir::write(const std::string& name, const std::string& text, unsigned mode) const {
    auto file = path_ / name;
    std::filesystem::create_directories(file.parent_path());
    const auto perms = static_cast<std::filesystem::perms>(mode);
    if ((perms & (std::filesystem::perms::group_all | std::filesystem::perms::others_all)) ==
        std::filesystem::perms::none) {
        // Private: as the service makes its own files (a DACL for the owner on Windows).
        platform::write_file_atomically(file, text, perms);
        return file;
    }
    {
        std::ofstream out(file, std::ios::binary | std::ios::trunc);
        out << text;
    }
    std::filesystem::permissions(file, perms);
    readable_by_everyone(file);
    return file;
}

std::string read_file(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

} // namespace keyholder::testing
