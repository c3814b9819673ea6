// HTTP Negotiate with SSPI (see negotiate.h, negotiate_client.h): the acceptor uses
// the service's own credentials (its machine or gMSA account: no keytab), the client
// the logged-on user's, so a domain user types nothing.
#include "../negotiate.h"

#define SECURITY_WIN32
#include <windows.h>

#include <security.h>
#include <sspi.h>

#include <algorithm>
#include <cwctype>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "keyholder/auth/negotiate_client.h"
#include "keyholder/platform/windows/utf16.h"
#include "keyholder/util/encoding.h"

namespace keyholder::auth {
namespace {

using platform::windows::narrow;
using platform::windows::wide;

std::string status_text(SECURITY_STATUS status) {
    std::ostringstream out;
    out << std::system_category().message(status) << " (0x" << std::hex << static_cast<unsigned long>(status) << ")";
    return out.str();
}

CredHandle* as_credential(void* p) { return static_cast<CredHandle*>(p); }

// max_token: the largest token the Negotiate package makes. Output buffers are ours,
// of this size: with *_REQ_ALLOCATE_MEMORY Wine's Negotiate answered
// SEC_E_NO_CREDENTIALS for a user with a ticket (Windows takes either).
unsigned long max_token() {
    PSecPkgInfoW info = nullptr;
    wchar_t package[] = L"Negotiate";
    unsigned long size = 48 * 1024; // Windows' documented Kerberos maximum
    if (::QuerySecurityPackageInfoW(package, &info) == SEC_E_OK && info != nullptr) {
        size = info->cbMaxToken;
        ::FreeContextBuffer(info);
    }
    return size;
}

struct ContextDeleter {
    void operator()(CtxtHandle* context) const noexcept {
        ::DeleteSecurityContext(context);
        delete context;
    }
};
using Context = std::unique_ptr<CtxtHandle, ContextDeleter>;

} // namespace

// The keytab and principal of the POSIX build have no meaning here: SSPI accepts
// tickets for the account the service runs as (its SPNs are registered in AD).
NegotiateAcceptor::NegotiateAcceptor(const std::filesystem::path&, const std::string&) {
    auto credential = std::make_unique<CredHandle>();
    TimeStamp expiry{};
    wchar_t package[] = L"Negotiate";
    const SECURITY_STATUS status = ::AcquireCredentialsHandleW(nullptr, package, SECPKG_CRED_INBOUND, nullptr, nullptr,
                                                               nullptr, nullptr, credential.get(), &expiry);
    if (status != SEC_E_OK)
        throw std::runtime_error("cannot get the service's credentials for Negotiate: " + status_text(status));
    credential_ = credential.release();
}

NegotiateAcceptor::~NegotiateAcceptor() {
    if (CredHandle* credential = as_credential(credential_); credential != nullptr) {
        ::FreeCredentialsHandle(credential);
        delete credential;
    }
}

std::expected<NegotiateAcceptor::Accepted, std::string> NegotiateAcceptor::accept(const std::string& token) {
    SecBuffer in_buffer{static_cast<unsigned long>(token.size()), SECBUFFER_TOKEN, const_cast<char*>(token.data())};
    SecBufferDesc input{SECBUFFER_VERSION, 1, &in_buffer};
    std::string reply(max_token(), '\0');
    SecBuffer out_buffer{static_cast<unsigned long>(reply.size()), SECBUFFER_TOKEN, reply.data()};
    SecBufferDesc output{SECBUFFER_VERSION, 1, &out_buffer};
    Context context(new CtxtHandle{});
    unsigned long attributes = 0;
    TimeStamp expiry{};
    const SECURITY_STATUS status = ::AcceptSecurityContext(
        as_credential(credential_), nullptr, &input, ASC_REQ_MUTUAL_AUTH | ASC_REQ_CONFIDENTIALITY,
        SECURITY_NATIVE_DREP, context.get(), &output, &attributes, &expiry);
    if (status == SEC_I_CONTINUE_NEEDED || status == SEC_I_COMPLETE_AND_CONTINUE) {
        return std::unexpected("the client offered a multi-step mechanism (NTLM?); only Kerberos is accepted");
    }
    if (status != SEC_E_OK && status != SEC_I_COMPLETE_NEEDED) {
        delete context.release(); // no context was made: nothing to delete in SSPI
        return std::unexpected(status_text(status));
    }
    // The Kerberos principal (bob@EXAMPLE.COM), as the POSIX build reports it.
    SecPkgContext_NativeNamesW names{};
    const SECURITY_STATUS named = ::QueryContextAttributesW(context.get(), SECPKG_ATTR_NATIVE_NAMES, &names);
    if (named != SEC_E_OK) return std::unexpected("cannot learn the client's name: " + status_text(named));
    Accepted accepted;
    accepted.principal = narrow(names.sClientName);
    ::FreeContextBuffer(names.sClientName);
    ::FreeContextBuffer(names.sServerName);
    if (out_buffer.cbBuffer > 0) accepted.reply_token.assign(reply.data(), out_buffer.cbBuffer);
    return accepted;
}

std::optional<std::string> negotiate_token(const std::string& host, std::string& error) {
    CredHandle credential{};
    TimeStamp expiry{};
    wchar_t package[] = L"Negotiate";
    SECURITY_STATUS status = ::AcquireCredentialsHandleW(nullptr, package, SECPKG_CRED_OUTBOUND, nullptr, nullptr,
                                                         nullptr, nullptr, &credential, &expiry);
    if (status != SEC_E_OK) {
        error = "no credentials of the logged-on user: " + status_text(status);
        return std::nullopt;
    }
    std::unique_ptr<CredHandle, decltype(&::FreeCredentialsHandle)> credential_owner(&credential,
                                                                                     &::FreeCredentialsHandle);
    std::wstring target = wide("HTTP/" + host);
    std::string token(max_token(), '\0');
    SecBuffer out_buffer{static_cast<unsigned long>(token.size()), SECBUFFER_TOKEN, token.data()};
    SecBufferDesc output{SECBUFFER_VERSION, 1, &out_buffer};
    Context context(new CtxtHandle{});
    unsigned long attributes = 0;
    status =
        ::InitializeSecurityContextW(&credential, nullptr, target.data(), ISC_REQ_MUTUAL_AUTH, 0, SECURITY_NATIVE_DREP,
                                     nullptr, 0, context.get(), &output, &attributes, &expiry);
    if (status != SEC_E_OK && status != SEC_I_CONTINUE_NEEDED) {
        delete context.release(); // no context was made: nothing to delete in SSPI
        error = "no ticket for " + narrow(target.c_str()) + ": " + status_text(status);
        return std::nullopt;
    }
    return util::base64(std::string_view(token.data(), out_buffer.cbBuffer));
}

// The realm of a domain member is its DNS domain in capitals.
std::string NegotiateAcceptor::default_realm() {
    wchar_t domain[256];
    DWORD size = 256;
    if (!::GetComputerNameExW(ComputerNameDnsDomain, domain, &size) || size == 0) return {};
    std::wstring realm(domain, size);
    std::transform(realm.begin(), realm.end(), realm.begin(), [](wchar_t c) { return std::towupper(c); });
    return narrow(realm.c_str());
}

} // namespace keyholder::auth
