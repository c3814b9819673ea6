// NegotiateAcceptor: the server side of HTTP Negotiate (RFC 4559) with MIT GSSAPI.
// Credentials come from the service keytab (gss_acquire_cred_from, so the process
// environment is left alone); each Authorization token is accepted in one step
// (Kerberos through SPNEGO). Multi-leg mechanisms (NTLM) are refused.
#pragma once

#include <expected>
#include <filesystem>
#include <string>
#include <vector>

namespace keyholder::auth {

class NegotiateAcceptor {
public:
    /// Throws std::runtime_error with GSSAPI's message when the keytab is unusable.
    NegotiateAcceptor(const std::filesystem::path& keytab, const std::string& service_principal);
    ~NegotiateAcceptor();
    NegotiateAcceptor(const NegotiateAcceptor&) = delete;
    NegotiateAcceptor& operator=(const NegotiateAcceptor&) = delete;

    struct Accepted {
        std::string principal;   ///< "bob@EXAMPLE.COM"
        std::string reply_token; ///< for WWW-Authenticate (mutual authentication); may be empty
    };
    /// accept: one token (binary, already base64-decoded); the error names the cause.
    std::expected<Accepted, std::string> accept(const std::string& token);

    /// default_realm: the krb5 default realm of this host's configuration.
    static std::string default_realm();

private:
    void* credential_ = nullptr; // gss_cred_id_t
};

} // namespace keyholder::auth
