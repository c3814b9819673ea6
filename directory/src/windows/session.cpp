// Sessions on Wldap32, the LDAP library of Windows (see session.h).
//
// Binds: Negotiate as the process's own account (a service's LocalSystem, virtual
// account or gMSA: no keytab, no password), sealed unless TLS protects the connection;
// or simple, over TLS. Every operation is sent asynchronously and awaited with the
// operation timeout (ldap_result), so that a DC that stops answering costs one
// timeout and the connection is dropped, as on Linux.
//
// The DC's certificate is always checked by keyholder's own callback
// (LDAP_OPT_SERVER_CERTIFICATE): the chain to the configured CA, or to the machine's
// roots, and the DC's host name. Where the callback cannot be installed (Wine's
// wldap32 answers LDAP_NOT_SUPPORTED) no TLS connection is made.
#include "../session.h"
#include "keyholder/platform/windows/utf16.h"

// In this order: windows.h first, winber.h after winldap.h (it uses its types).
#include <windows.h>

#include <wincrypt.h>

#include <winldap.h>

#include <winber.h>

#include <Poco/Exception.h>
#include <Poco/URI.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

namespace keyholder::directory::detail {
namespace {

using platform::windows::narrow;
using platform::windows::wide;

constexpr const char* kPagedResultsOid = "1.2.840.113556.1.4.319";
constexpr const char* kPasswordModifyOid = "1.3.6.1.4.1.4203.1.11.1";

struct Unbind {
    void operator()(LDAP* ld) const noexcept { ldap_unbind(ld); }
};
struct MessageFree {
    void operator()(LDAPMessage* message) const noexcept { ldap_msgfree(message); }
};
struct ControlsFree {
    void operator()(LDAPControlW** controls) const noexcept { ldap_controls_freeW(controls); }
};
struct ControlFree {
    void operator()(LDAPControlW* control) const noexcept { ldap_control_freeW(control); }
};
struct TextFree {
    void operator()(wchar_t* text) const noexcept { ldap_memfreeW(text); }
};
struct ValuesFree {
    void operator()(berval** values) const noexcept { ldap_value_free_len(values); }
};
using Handle = std::unique_ptr<LDAP, Unbind>;
using MessagePtr = std::unique_ptr<LDAPMessage, MessageFree>;
using Controls = std::unique_ptr<LDAPControlW*, ControlsFree>;
using ControlPtr = std::unique_ptr<LDAPControlW, ControlFree>;
using Text = std::unique_ptr<wchar_t, TextFree>;
using Values = std::unique_ptr<berval*, ValuesFree>;

bool connection_lost(ULONG rc) { return rc == LDAP_SERVER_DOWN || rc == LDAP_TIMEOUT || rc == LDAP_CONNECT_ERROR; }

DirectoryError error_of(LDAP* ld, ULONG rc, const std::string& doing, const std::string& uri) {
    std::string diagnostic;
    wchar_t* text = nullptr;
    if (ld != nullptr && ldap_get_optionW(ld, LDAP_OPT_SERVER_ERROR, &text) == LDAP_SUCCESS && text != nullptr) {
        Text owned(text);
        diagnostic = narrow(text);
    }
    return make_error(static_cast<int>(rc), narrow(ldap_err2stringW(rc)), std::move(diagnostic), doing, uri,
                      connection_lost(rc));
}

ULONG to_ldap(Scope scope) {
    switch (scope) {
    case Scope::base: return LDAP_SCOPE_BASE;
    case Scope::one_level: return LDAP_SCOPE_ONELEVEL;
    case Scope::subtree: return LDAP_SCOPE_SUBTREE;
    }
    return LDAP_SCOPE_BASE;
}

ULONG to_ldap(ModOp op) {
    switch (op) {
    case ModOp::add: return LDAP_MOD_ADD;
    case ModOp::remove: return LDAP_MOD_DELETE;
    case ModOp::replace: return LDAP_MOD_REPLACE;
    }
    return LDAP_MOD_REPLACE;
}

// Where a DC's certificate must lead: the configured CA (PEM), or the machine's roots.
struct Verification {
    std::wstring host;
    HCERTCHAINENGINE engine = nullptr; ///< null: the default engine (the machine's roots)
    HCERTSTORE roots = nullptr;
    std::string failure; ///< why the last check refused, for the error message
    ~Verification() {
        if (engine != nullptr) ::CertFreeCertificateChainEngine(engine);
        if (roots != nullptr) ::CertCloseStore(roots, 0);
    }
};

// The callback has no user data: connections find their verification here.
std::mutex g_verifications_mutex;
std::map<LDAP*, Verification*> g_verifications;

// chain_trusted: the chain builds to a trusted root and names `host` (SSL policy).
bool chain_trusted(Verification& verification, PCCERT_CONTEXT certificate) {
    CERT_CHAIN_PARA parameters{};
    parameters.cbSize = sizeof parameters;
    PCCERT_CHAIN_CONTEXT chain = nullptr;
    if (!::CertGetCertificateChain(verification.engine, certificate, nullptr, certificate->hCertStore, &parameters, 0,
                                   nullptr, &chain)) {
        verification.failure = "cannot build the certificate chain";
        return false;
    }
    SSL_EXTRA_CERT_CHAIN_POLICY_PARA ssl{};
    ssl.cbSize = sizeof ssl;
    ssl.dwAuthType = AUTHTYPE_SERVER;
    ssl.pwszServerName = verification.host.data();
    CERT_CHAIN_POLICY_PARA policy{};
    policy.cbSize = sizeof policy;
    policy.pvExtraPolicyPara = &ssl;
    CERT_CHAIN_POLICY_STATUS status{};
    status.cbSize = sizeof status;
    const bool checked = ::CertVerifyCertificateChainPolicy(CERT_CHAIN_POLICY_SSL, chain, &policy, &status);
    ::CertFreeCertificateChain(chain);
    if (!checked || status.dwError != 0) {
        verification.failure = "the DC's certificate is not trusted for this host name (error 0x" + [&] {
            std::ostringstream hex;
            hex << std::hex << status.dwError;
            return hex.str();
        }() + ")";
        return false;
    }
    return true;
}

// VERIFYSERVERCERT: the second argument is really a PCCERT_CONTEXT* (the SDK's
// documentation says so; mingw's header declares PCCERT_CONTEXT), which the callback frees.
BOOLEAN __cdecl verify_server_certificate(PLDAP ld, PCCERT_CONTEXT* certificate) {
    std::lock_guard lock(g_verifications_mutex);
    auto found = g_verifications.find(ld);
    if (certificate == nullptr || *certificate == nullptr) return FALSE;
    const bool trusted = found != g_verifications.end() && chain_trusted(*found->second, *certificate);
    ::CertFreeCertificateContext(*certificate);
    return trusted ? TRUE : FALSE;
}

// load_ca: the configured CA file (PEM, one or more certificates) as the only roots.
std::expected<void, std::string> load_ca(Verification& verification, const std::string& ca_file) {
    std::ifstream in(ca_file, std::ios::binary);
    if (!in) return std::unexpected("cannot read CA file " + ca_file);
    std::stringstream content;
    content << in.rdbuf();
    const std::string pem = content.str();
    verification.roots = ::CertOpenStore(CERT_STORE_PROV_MEMORY, 0, 0, 0, nullptr);
    if (verification.roots == nullptr) return std::unexpected("cannot open a certificate store");
    int added = 0;
    for (size_t begin = pem.find("-----BEGIN CERTIFICATE-----"); begin != std::string::npos;
         begin = pem.find("-----BEGIN CERTIFICATE-----", begin + 1)) {
        const size_t end = pem.find("-----END CERTIFICATE-----", begin);
        if (end == std::string::npos) break;
        const std::string block = pem.substr(begin, end + 25 - begin);
        DWORD size = 0;
        if (!::CryptStringToBinaryA(block.c_str(), static_cast<DWORD>(block.size()), CRYPT_STRING_BASE64HEADER, nullptr,
                                    &size, nullptr, nullptr))
            return std::unexpected("CA file " + ca_file + " holds a certificate that cannot be read");
        std::string der(size, '\0');
        ::CryptStringToBinaryA(block.c_str(), static_cast<DWORD>(block.size()), CRYPT_STRING_BASE64HEADER,
                               reinterpret_cast<BYTE*>(der.data()), &size, nullptr, nullptr);
        if (!::CertAddEncodedCertificateToStore(verification.roots, X509_ASN_ENCODING,
                                                reinterpret_cast<const BYTE*>(der.data()), size,
                                                CERT_STORE_ADD_REPLACE_EXISTING, nullptr))
            return std::unexpected("CA file " + ca_file + " holds a certificate that cannot be used");
        ++added;
    }
    if (added == 0) return std::unexpected("CA file " + ca_file + " holds no PEM certificate");
    CERT_CHAIN_ENGINE_CONFIG config{};
    config.cbSize = sizeof config;
    config.hExclusiveRoot = verification.roots;
    if (!::CertCreateCertificateChainEngine(&config, &verification.engine))
        return std::unexpected("cannot make a certificate chain engine for CA file " + ca_file);
    return {};
}

} // namespace

struct Session::Connection {
    Handle ld;
    std::chrono::seconds timeout{5};
    std::unique_ptr<Verification> verification; ///< registered for the callback while the handle lives
    bool tls = false;

    ~Connection() {
        if (verification) {
            std::lock_guard lock(g_verifications_mutex);
            g_verifications.erase(ld.get());
        }
    }

    // wait: the result of message `id`, within the operation timeout; abandoned and
    // LDAP_TIMEOUT when it does not come.
    std::expected<MessagePtr, ULONG> wait(ULONG id) const {
        l_timeval limit{static_cast<LONG>(timeout.count()), 0};
        LDAPMessage* raw = nullptr;
        const ULONG got = ldap_result(ld.get(), id, LDAP_MSG_ALL, &limit, &raw);
        MessagePtr result(raw);
        if (got == 0) {
            ldap_abandon(ld.get(), id);
            return std::unexpected(static_cast<ULONG>(LDAP_TIMEOUT));
        }
        if (got == static_cast<ULONG>(-1) || result == nullptr) return std::unexpected(LdapGetLastError());
        return result;
    }
};

Session::Session(std::unique_ptr<Connection> connection, std::string uri)
    : connection_(std::move(connection)), uri_(std::move(uri)) {}
Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

namespace {

// AttributeList: a null-terminated wchar_t* array over converted names.
class AttributeList {
public:
    explicit AttributeList(const std::vector<std::string>& names) {
        for (const auto& n : names)
            names_.push_back(wide(n));
        for (auto& n : names_)
            pointers_.push_back(n.data());
        pointers_.push_back(nullptr);
    }
    wchar_t** get() { return pointers_.size() == 1 ? nullptr : pointers_.data(); }

private:
    std::vector<std::wstring> names_;
    std::vector<wchar_t*> pointers_;
};

Entry read_entry(LDAP* ld, LDAPMessage* message) {
    Entry entry;
    if (Text dn{ldap_get_dnW(ld, message)}) entry.dn = narrow(dn.get());
    BerElement* ber = nullptr;
    for (wchar_t* raw_name = ldap_first_attributeW(ld, message, &ber); raw_name != nullptr;
         raw_name = ldap_next_attributeW(ld, message, ber)) {
        Text name(raw_name);
        std::vector<std::string>& values = entry.attributes[lowercase(narrow(name.get()))];
        Values list(ldap_get_values_lenW(ld, message, name.get()));
        if (!list) continue;
        for (berval** v = list.get(); *v != nullptr; ++v)
            values.emplace_back((*v)->bv_val, (*v)->bv_len);
    }
    if (ber != nullptr) ber_free(ber, 0);
    return entry;
}

// der_length / der_octets: the BER of the RFC 3062 request, built by hand (two
// context-tagged octet strings in a sequence).
std::string der_length(size_t length) {
    if (length < 128) return std::string(1, static_cast<char>(length));
    std::string bytes;
    for (size_t rest = length; rest > 0; rest >>= 8)
        bytes.insert(bytes.begin(), static_cast<char>(rest & 0xff));
    return std::string(1, static_cast<char>(0x80 | bytes.size())) + bytes;
}

std::string der_octets(unsigned char tag, std::string_view value) {
    return std::string(1, static_cast<char>(tag)) + der_length(value.size()) + std::string(value);
}

struct Target {
    std::string host;
    unsigned short port = 389;
    bool ldaps = false;
};

std::expected<Target, std::string> parse_uri(const std::string& uri) {
    try {
        Poco::URI parsed(uri);
        Target target;
        if (parsed.getScheme() == "ldaps") {
            target.ldaps = true;
            target.port = 636;
        } else if (parsed.getScheme() != "ldap") {
            return std::unexpected("only ldap:// and ldaps:// URIs are supported");
        }
        target.host = parsed.getHost();
        if (parsed.getPort() != 0) target.port = parsed.getPort();
        if (target.host.empty()) return std::unexpected("the URI names no host");
        return target;
    } catch (const Poco::Exception& e) {
        return std::unexpected(e.displayText());
    }
}

// connect: a handle with keyholder's options, connected (TLS as configured, the
// certificate checked by keyholder's callback), not bound.
Result<std::unique_ptr<Session::Connection>> connect(const std::string& uri, const ConnectionSettings& settings) {
    auto unavailable = [&](std::string message) {
        return std::unexpected(DirectoryError{DirectoryError::Kind::unavailable, 0, std::move(message), "", uri});
    };
    auto target = parse_uri(uri);
    if (!target) return unavailable("bad LDAP URI: " + target.error());
    const bool tls = target->ldaps || settings.starttls;
    auto connection = std::make_unique<Session::Connection>();
    connection->timeout = settings.operation_timeout;
    connection->tls = tls;
    std::wstring host = wide(target->host);
    connection->ld.reset(ldap_sslinitW(host.data(), target->port, target->ldaps ? 1 : 0));
    LDAP* ld = connection->ld.get();
    if (ld == nullptr)
        return unavailable("cannot create an LDAP handle: " + narrow(ldap_err2stringW(LdapGetLastError())));
    ULONG version = LDAP_VERSION3;
    ULONG rc = ldap_set_optionW(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
    if (rc == LDAP_SUCCESS) rc = ldap_set_optionW(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    if (rc != LDAP_SUCCESS) return std::unexpected(error_of(ld, rc, "cannot set LDAP options", uri));
    if (tls) {
        if (!settings.require_certificate)
            return unavailable("an unverified TLS connection was asked for; the Windows build always verifies the "
                               "DC's certificate");
        auto verification = std::make_unique<Verification>();
        verification->host = host;
        if (settings.ca_file) {
            if (auto loaded = load_ca(*verification, *settings.ca_file); !loaded) return unavailable(loaded.error());
        }
        {
            std::lock_guard lock(g_verifications_mutex);
            g_verifications[ld] = verification.get();
        }
        connection->verification = std::move(verification);
        auto* callback = &verify_server_certificate;
        rc = ldap_set_optionW(ld, LDAP_OPT_SERVER_CERTIFICATE, reinterpret_cast<void*>(callback));
        if (rc != LDAP_SUCCESS) {
            DirectoryError error = error_of(ld, rc,
                                            "cannot verify the DC's certificate here (this LDAP library refuses the "
                                            "certificate callback): not connecting",
                                            uri);
            error.kind = DirectoryError::Kind::unavailable;
            return std::unexpected(error);
        }
    }
    l_timeval network{static_cast<LONG>(settings.network_timeout.count()), 0};
    rc = ldap_connect(ld, &network);
    if (rc != LDAP_SUCCESS) {
        DirectoryError error = error_of(ld, rc, "cannot connect", uri);
        if (connection->verification && !connection->verification->failure.empty())
            error.message += ": " + connection->verification->failure;
        error.kind = DirectoryError::Kind::unavailable;
        return std::unexpected(error);
    }
    if (settings.starttls && !target->ldaps) {
        ULONG server_rc = 0;
        LDAPMessage* raw = nullptr;
        rc = ldap_start_tls_sW(ld, &server_rc, &raw, nullptr, nullptr);
        MessagePtr result(raw);
        if (rc != LDAP_SUCCESS) {
            DirectoryError error = error_of(ld, rc, "StartTLS failed", uri);
            if (!connection->verification->failure.empty()) error.message += ": " + connection->verification->failure;
            error.kind = DirectoryError::Kind::unavailable;
            return std::unexpected(error);
        }
    }
    return connection;
}

Result<void> bind(Session::Connection& connection, const DirectorySettings& settings, const std::string& uri) {
    LDAP* ld = connection.ld.get();
    if (settings.bind == BindMethod::simple) {
        if (settings.bind_password.empty())
            return std::unexpected(DirectoryError{DirectoryError::Kind::refused, 0,
                                                  "refusing a simple bind with an empty password (that would be an "
                                                  "unauthenticated bind)",
                                                  "", uri});
        std::wstring dn = wide(settings.bind_dn);
        std::wstring password = wide(settings.bind_password);
        const ULONG id = ldap_simple_bindW(ld, dn.data(), password.data());
        ::SecureZeroMemory(password.data(), password.size() * sizeof(wchar_t));
        if (id == static_cast<ULONG>(-1))
            return std::unexpected(error_of(ld, LdapGetLastError(), "bind as " + settings.bind_dn + " failed", uri));
        auto result = connection.wait(id);
        if (!result)
            return std::unexpected(error_of(ld, result.error(), "bind as " + settings.bind_dn + " failed", uri));
        const ULONG rc = ldap_result2error(ld, result->get(), 0);
        if (rc != LDAP_SUCCESS)
            return std::unexpected(error_of(ld, rc, "bind as " + settings.bind_dn + " failed", uri));
        return {};
    }
    // Negotiate as this process's account. Without TLS the connection is signed and sealed.
    if (!connection.tls) {
        ULONG rc = ldap_set_optionW(ld, LDAP_OPT_SIGN, LDAP_OPT_ON);
        if (rc == LDAP_SUCCESS) rc = ldap_set_optionW(ld, LDAP_OPT_ENCRYPT, LDAP_OPT_ON);
        if (rc != LDAP_SUCCESS) return std::unexpected(error_of(ld, rc, "cannot ask for a sealed Negotiate bind", uri));
    }
    const ULONG rc = ldap_bind_sW(ld, nullptr, nullptr, LDAP_AUTH_NEGOTIATE);
    if (rc != LDAP_SUCCESS) return std::unexpected(error_of(ld, rc, "Negotiate bind failed", uri));
    return {};
}

} // namespace

bool Session::encrypted() const {
    if (connection_->tls) return true;
    ULONG sealed = 0;
    return ldap_get_optionW(connection_->ld.get(), LDAP_OPT_ENCRYPT, &sealed) == LDAP_SUCCESS && sealed != 0;
}

Result<std::vector<Entry>> Session::search(const std::string& base, Scope scope, const std::string& filter,
                                           const std::vector<std::string>& attributes, int page_size) {
    LDAP* ld = connection_->ld.get();
    const std::string doing = "search " + filter + " under " + base + " failed";
    std::vector<Entry> entries;
    AttributeList attrs(attributes);
    std::wstring wide_base = wide(base);
    std::wstring wide_filter = wide(filter);
    std::string cookie;
    while (true) {
        ControlPtr page;
        if (page_size > 0) {
            berval value{static_cast<ULONG>(cookie.size()), cookie.data()};
            LDAPControlW* raw_page = nullptr;
            const ULONG rc = ldap_create_page_controlW(ld, static_cast<ULONG>(page_size),
                                                       cookie.empty() ? nullptr : &value, 0, &raw_page);
            page.reset(raw_page);
            if (rc != LDAP_SUCCESS) return std::unexpected(error_of(ld, rc, "cannot create a page control", uri_));
        }
        std::array<LDAPControlW*, 2> controls{page.get(), nullptr};
        ULONG id = 0;
        ULONG rc = ldap_search_extW(ld, wide_base.data(), to_ldap(scope), wide_filter.data(), attrs.get(), 0,
                                    page ? controls.data() : nullptr, nullptr, 0, 0, &id);
        if (rc != LDAP_SUCCESS) return std::unexpected(error_of(ld, rc, doing, uri_));
        auto result = connection_->wait(id);
        if (!result) return std::unexpected(error_of(ld, result.error(), doing, uri_));
        for (LDAPMessage* m = ldap_first_entry(ld, result->get()); m != nullptr; m = ldap_next_entry(ld, m))
            entries.push_back(read_entry(ld, m));
        ULONG code = LDAP_SUCCESS;
        wchar_t* diagnostic = nullptr;
        LDAPControlW** raw_returned = nullptr;
        rc = ldap_parse_resultW(ld, result->get(), &code, nullptr, &diagnostic, nullptr, &raw_returned, FALSE);
        Text diagnostic_owner(diagnostic);
        Controls returned(raw_returned);
        if (rc != LDAP_SUCCESS) return std::unexpected(error_of(ld, rc, doing, uri_));
        // Referrals are off: a referral result for part of the tree is not an error for what was found.
        if (code != LDAP_SUCCESS && code != LDAP_REFERRAL && code != LDAP_REFERRAL_V2) {
            if (code == LDAP_NO_SUCH_OBJECT) return entries;
            DirectoryError error = error_of(ld, code, doing, uri_);
            if (diagnostic != nullptr && *diagnostic != L'\0') error.diagnostic = narrow(diagnostic);
            return std::unexpected(error);
        }
        cookie.clear();
        if (returned && page_size > 0) {
            for (LDAPControlW** c = returned.get(); *c != nullptr; ++c) {
                if (narrow((*c)->ldctl_oid) != kPagedResultsOid) continue;
                ULONG estimate = 0;
                berval* next = nullptr;
                if (ldap_parse_page_controlW(ld, returned.get(), &estimate, &next) == LDAP_SUCCESS && next != nullptr) {
                    cookie.assign(next->bv_val, next->bv_len);
                    ber_bvfree(next);
                }
                break;
            }
        }
        if (cookie.empty()) break;
    }
    return entries;
}

Result<std::optional<Entry>> Session::read(const std::string& dn, const std::vector<std::string>& attributes,
                                           const std::string& filter) {
    LDAP* ld = connection_->ld.get();
    AttributeList attrs(attributes);
    std::wstring wide_dn = wide(dn);
    std::wstring wide_filter = wide(filter);
    ULONG id = 0;
    ULONG rc = ldap_search_extW(ld, wide_dn.data(), LDAP_SCOPE_BASE, wide_filter.data(), attrs.get(), 0, nullptr,
                                nullptr, 0, 1, &id);
    if (rc != LDAP_SUCCESS) return std::unexpected(error_of(ld, rc, "read of " + dn + " failed", uri_));
    auto result = connection_->wait(id);
    if (!result) return std::unexpected(error_of(ld, result.error(), "read of " + dn + " failed", uri_));
    rc = ldap_result2error(ld, result->get(), 0);
    if (rc == LDAP_NO_SUCH_OBJECT || rc == LDAP_INVALID_DN_SYNTAX) return std::optional<Entry>{};
    if (rc != LDAP_SUCCESS) return std::unexpected(error_of(ld, rc, "read of " + dn + " failed", uri_));
    LDAPMessage* m = ldap_first_entry(ld, result->get());
    if (m == nullptr) return std::optional<Entry>{};
    return std::optional<Entry>{read_entry(ld, m)};
}

Result<void> Session::modify(const std::string& dn, const std::vector<Modification>& modifications) {
    LDAP* ld = connection_->ld.get();
    std::vector<std::wstring> names(modifications.size());
    std::vector<std::vector<berval>> values(modifications.size());
    std::vector<std::vector<berval*>> value_pointers(modifications.size());
    std::vector<LDAPModW> mods(modifications.size());
    std::vector<LDAPModW*> mod_pointers;
    for (size_t i = 0; i < modifications.size(); ++i) {
        const auto& m = modifications[i];
        names[i] = wide(m.attribute);
        for (const auto& v : m.values)
            values[i].push_back(berval{static_cast<ULONG>(v.size()), const_cast<char*>(v.data())});
        for (auto& v : values[i])
            value_pointers[i].push_back(&v);
        value_pointers[i].push_back(nullptr);
        mods[i].mod_op = to_ldap(m.op) | LDAP_MOD_BVALUES;
        mods[i].mod_type = names[i].data();
        mods[i].mod_vals.modv_bvals = value_pointers[i].data();
        mod_pointers.push_back(&mods[i]);
    }
    mod_pointers.push_back(nullptr);
    std::wstring wide_dn = wide(dn);
    ULONG id = 0;
    ULONG rc = ldap_modify_extW(ld, wide_dn.data(), mod_pointers.data(), nullptr, nullptr, &id);
    if (rc != LDAP_SUCCESS) return std::unexpected(error_of(ld, rc, "modify of " + dn + " failed", uri_));
    auto result = connection_->wait(id);
    if (!result) return std::unexpected(error_of(ld, result.error(), "modify of " + dn + " failed", uri_));
    rc = ldap_result2error(ld, result->get(), 0);
    if (rc != LDAP_SUCCESS) return std::unexpected(error_of(ld, rc, "modify of " + dn + " failed", uri_));
    return {};
}

Result<void> Session::password_modify(const std::string& dn, const std::string& new_password) {
    LDAP* ld = connection_->ld.get();
    std::string request = der_octets(0x80, dn) + der_octets(0x82, new_password);
    request = "\x30" + der_length(request.size()) + request;
    berval data{static_cast<ULONG>(request.size()), request.data()};
    std::wstring oid = wide(kPasswordModifyOid);
    ULONG id = 0;
    ULONG rc = ldap_extended_operationW(ld, oid.data(), &data, nullptr, nullptr, &id);
    ::SecureZeroMemory(request.data(), request.size());
    if (rc != LDAP_SUCCESS) return std::unexpected(error_of(ld, rc, "password modify of " + dn + " failed", uri_));
    auto result = connection_->wait(id);
    if (!result) return std::unexpected(error_of(ld, result.error(), "password modify of " + dn + " failed", uri_));
    rc = ldap_result2error(ld, result->get(), 0);
    if (rc != LDAP_SUCCESS) return std::unexpected(error_of(ld, rc, "password modify of " + dn + " failed", uri_));
    return {};
}

bool is_connection_error(const DirectoryError& error) {
    return error.kind == DirectoryError::Kind::unavailable || connection_lost(static_cast<ULONG>(error.ldap_code));
}

Result<Session> open_one(const std::string& uri, const DirectorySettings& settings, bool bound) {
    auto connection = connect(uri, settings.connection);
    if (!connection) {
        // Not connected (whatever the cause): the next URI may do better.
        DirectoryError error = connection.error();
        error.kind = DirectoryError::Kind::unavailable;
        return std::unexpected(error);
    }
    if (bound) {
        if (auto done = bind(**connection, settings, uri); !done) return std::unexpected(done.error());
    }
    return Session(std::move(*connection), uri);
}

} // namespace keyholder::directory::detail
