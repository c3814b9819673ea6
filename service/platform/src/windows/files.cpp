// Files on Windows (see files.h): FlushFileBuffers, MoveFileEx with write-through,
// and private files by DACL (the owner, SYSTEM and Administrators).
#include "keyholder/platform/files.h"

#include <aclapi.h>
#include <knownfolders.h>
#include <sddl.h>
#include <shlobj.h>

#include <fstream>
#include <memory>
#include <stdexcept>

#include "win32.h"

namespace keyholder::platform {
namespace {

using detail::error_text;

[[noreturn]] void fail(const std::string& what, const std::filesystem::path& path, DWORD error) {
    throw std::runtime_error(what + " " + utf8(path) + ": " + error_text(error));
}

struct LocalFreer {
    void operator()(void* memory) const noexcept { ::LocalFree(memory); }
};

struct HandleCloser {
    void operator()(HANDLE handle) const noexcept { ::CloseHandle(handle); }
};
using Handle = std::unique_ptr<void, HandleCloser>;

// Protected (no inherited ACEs): full control for SYSTEM, Administrators and the
// file's owner (OWNER RIGHTS), nobody else.
constexpr const wchar_t* kPrivateDacl = L"D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FA;;;OW)";
constexpr const wchar_t* kPrivateFolderDacl = L"D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FA;;;OW)";

// PrivateDescriptor: security attributes that give a new file or folder its DACL at
// birth (set afterwards, Wine keeps the Unix mode's "other" bits).
class PrivateDescriptor {
public:
    PrivateDescriptor(const wchar_t* sddl, const std::filesystem::path& for_path) {
        PSECURITY_DESCRIPTOR raw = nullptr;
        if (!::ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, &raw, nullptr))
            fail("cannot make a security descriptor for", for_path, ::GetLastError());
        descriptor_.reset(raw);
        attributes_ = SECURITY_ATTRIBUTES{sizeof attributes_, raw, FALSE};
    }
    SECURITY_ATTRIBUTES* attributes() { return &attributes_; }

private:
    std::unique_ptr<void, LocalFreer> descriptor_;
    SECURITY_ATTRIBUTES attributes_{};
};

bool flush(const std::filesystem::path& path, DWORD& error) {
    Handle file(::CreateFileW(path.c_str(), GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                              nullptr, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr));
    if (file.get() == INVALID_HANDLE_VALUE) {
        error = ::GetLastError();
        file.release();
        return false;
    }
    if (!::FlushFileBuffers(file.get())) {
        error = ::GetLastError();
        return false;
    }
    return true;
}

// A SID allowed to read a private file: SYSTEM, Administrators, OWNER RIGHTS, or the owner.
bool trusted(PSID sid, PSID owner) {
    if (owner != nullptr && ::EqualSid(sid, owner)) return true;
    for (WELL_KNOWN_SID_TYPE type : {WinLocalSystemSid, WinBuiltinAdministratorsSid, WinCreatorOwnerRightsSid}) {
        BYTE buffer[SECURITY_MAX_SID_SIZE];
        DWORD size = sizeof buffer;
        if (::CreateWellKnownSid(type, nullptr, buffer, &size) && ::EqualSid(sid, buffer)) return true;
    }
    return false;
}

std::string account_name(PSID sid) {
    wchar_t name[256];
    wchar_t domain[256];
    DWORD name_size = 256;
    DWORD domain_size = 256;
    SID_NAME_USE use{};
    if (::LookupAccountSidW(nullptr, sid, name, &name_size, domain, &domain_size, &use))
        return detail::narrow(domain_size > 0 ? std::wstring(domain) + L"\\" + name : std::wstring(name));
    wchar_t* text = nullptr;
    if (!::ConvertSidToStringSidW(sid, &text)) return "an unknown account";
    std::unique_ptr<void, LocalFreer> owner(text);
    return detail::narrow(text);
}

} // namespace

void write_file_atomically(const std::filesystem::path& path, const std::function<void(std::ostream&)>& write,
                           std::filesystem::perms mode) {
    const auto folder = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
    const auto temp = folder / (L"." + path.filename().wstring() + L".tmp");
    try {
        {
            // Private files get the private DACL from birth; others (exports readable
            // by a group) inherit the folder's.
            const bool private_file =
                (mode & (std::filesystem::perms::group_all | std::filesystem::perms::others_all)) ==
                std::filesystem::perms::none;
            PrivateDescriptor descriptor(kPrivateDacl, temp);
            Handle created(::CreateFileW(temp.c_str(), GENERIC_WRITE, 0,
                                         private_file ? descriptor.attributes() : nullptr, CREATE_ALWAYS,
                                         FILE_ATTRIBUTE_NORMAL, nullptr));
            if (created.get() == INVALID_HANDLE_VALUE) {
                created.release();
                fail("cannot create", temp, ::GetLastError());
            }
        }
        {
            std::ofstream out(temp, std::ios::binary | std::ios::trunc);
            if (!out) fail("cannot open", temp, ::GetLastError());
            write(out);
            out.flush();
            if (!out) throw std::runtime_error("cannot write " + utf8(temp) + " (disk full?)");
        }
        DWORD error = 0;
        if (!flush(temp, error)) fail("cannot flush", temp, error);
        // Write-through: the rename is on disk when the call returns.
        if (!::MoveFileExW(temp.c_str(), path.c_str(), MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH))
            fail("cannot rename onto", path, ::GetLastError());
    } catch (...) {
        ::DeleteFileW(temp.c_str());
        throw;
    }
}

std::optional<std::string> not_private(const std::filesystem::path& file) {
    PSID owner = nullptr;
    PACL dacl = nullptr;
    PSECURITY_DESCRIPTOR descriptor = nullptr;
    const DWORD rc =
        ::GetNamedSecurityInfoW(file.c_str(), SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
                                &owner, nullptr, &dacl, nullptr, &descriptor);
    if (rc != ERROR_SUCCESS) return "cannot read the permissions of " + utf8(file) + ": " + error_text(rc);
    std::unique_ptr<void, LocalFreer> descriptor_owner(descriptor);
    const std::string fix = "; run: icacls \"" + utf8(file) + "\" /inheritance:r /grant:r *S-1-5-18:F *S-1-5-32-544:F";
    if (dacl == nullptr) return utf8(file) + " has no DACL (everyone may read it)" + fix;
    constexpr ACCESS_MASK kReads = FILE_READ_DATA | GENERIC_READ | GENERIC_ALL | MAXIMUM_ALLOWED;
    for (DWORD i = 0; i < dacl->AceCount; ++i) {
        void* ace = nullptr;
        if (!::GetAce(dacl, i, &ace)) return "cannot read the permissions of " + utf8(file) + fix;
        const auto* header = static_cast<const ACE_HEADER*>(ace);
        if (header->AceType != ACCESS_ALLOWED_ACE_TYPE) continue;
        if ((header->AceFlags & INHERIT_ONLY_ACE) != 0) continue;
        auto* allowed = static_cast<ACCESS_ALLOWED_ACE*>(ace);
        PSID sid = &allowed->SidStart;
        if ((allowed->Mask & kReads) != 0 && !trusted(sid, owner))
            return utf8(file) + " is readable by " + account_name(sid) + fix;
    }
    return std::nullopt;
}

void create_private_folder(const std::filesystem::path& folder) {
    std::error_code ec;
    if (std::filesystem::is_directory(folder, ec)) return;
    if (folder.has_parent_path()) std::filesystem::create_directories(folder.parent_path(), ec);
    PrivateDescriptor descriptor(kPrivateFolderDacl, folder);
    if (::CreateDirectoryW(folder.c_str(), descriptor.attributes())) return;
    const DWORD error = ::GetLastError();
    if (error == ERROR_ALREADY_EXISTS && std::filesystem::is_directory(folder, ec)) return; // made meanwhile
    fail("cannot create the folder", folder, error == ERROR_ALREADY_EXISTS ? ERROR_DIRECTORY : error);
}

void create_private_file(const std::filesystem::path& file) {
    PrivateDescriptor descriptor(kPrivateDacl, file);
    Handle created(::CreateFileW(file.c_str(), GENERIC_WRITE, 0, descriptor.attributes(), CREATE_NEW,
                                 FILE_ATTRIBUTE_NORMAL, nullptr));
    if (created.get() == INVALID_HANDLE_VALUE) {
        created.release();
        fail("cannot create", file, ::GetLastError());
    }
}

// The known folder, not %ProgramData%: a service's environment need not hold it (Wine
// gives services C:\users\Public there).
std::optional<std::filesystem::path> default_config_file() {
    wchar_t* program_data = nullptr;
    if (::SHGetKnownFolderPath(FOLDERID_ProgramData, 0, nullptr, &program_data) != S_OK) {
        ::CoTaskMemFree(program_data);
        return std::nullopt;
    }
    std::filesystem::path folder(program_data);
    ::CoTaskMemFree(program_data);
    return folder / L"keyholder" / L"keyholder.ini";
}

SyncedFile::SyncedFile(std::filesystem::path path) : path_(std::move(path)) {}

SyncedFile::~SyncedFile() = default;

// Opened for each sync: a handle kept open would hold a removed WAL in "delete
// pending", and SQLite could not create the next one under that name.
int SyncedFile::sync() noexcept {
    DWORD error = 0;
    if (flush(path_, error)) return 0;
    if (error == ERROR_FILE_NOT_FOUND || error == ERROR_PATH_NOT_FOUND) return 0;
    return static_cast<int>(error);
}

} // namespace keyholder::platform
