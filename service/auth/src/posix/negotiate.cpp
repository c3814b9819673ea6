// HTTP Negotiate with MIT GSSAPI: the acceptor on the service keytab, the client on
// the caller's ticket cache (see negotiate.h, negotiate_client.h).
#include "../negotiate.h"

#include "keyholder/util/encoding.h"

#include <sstream>

#include "keyholder/auth/negotiate_client.h"

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5.h>

#include <gsl/util>
#include <stdexcept>

namespace keyholder::auth {
namespace {

std::string status_text(OM_uint32 major, OM_uint32 minor) {
    std::string text;
    for (auto [code, type] : {std::pair{major, GSS_C_GSS_CODE}, std::pair{minor, GSS_C_MECH_CODE}}) {
        if (type == GSS_C_MECH_CODE && code == 0) continue;
        OM_uint32 context = 0;
        do {
            OM_uint32 ignored = 0;
            gss_buffer_desc message{0, nullptr};
            if (gss_display_status(&ignored, code, type, GSS_C_NO_OID, &context, &message) != GSS_S_COMPLETE) break;
            if (!text.empty()) text += ": ";
            text.append(static_cast<const char*>(message.value), message.length);
            gss_release_buffer(&ignored, &message);
        } while (context != 0);
    }
    return text;
}

gss_cred_id_t as_cred(void* p) { return static_cast<gss_cred_id_t>(p); }

} // namespace

NegotiateAcceptor::NegotiateAcceptor(const std::filesystem::path& keytab, const std::string& service_principal) {
    OM_uint32 minor = 0;
    gss_name_t name = GSS_C_NO_NAME;
    auto free_name = gsl::finally([&] {
        if (name != GSS_C_NO_NAME) gss_release_name(&minor, &name);
    });
    if (!service_principal.empty()) {
        gss_buffer_desc text{service_principal.size(), const_cast<char*>(service_principal.data())};
        OM_uint32 major = gss_import_name(&minor, &text, GSS_KRB5_NT_PRINCIPAL_NAME, &name);
        if (GSS_ERROR(major))
            throw std::runtime_error("bad service principal '" + service_principal + "': " + status_text(major, minor));
    }
    const std::string keytab_name = "FILE:" + keytab.string();
    gss_key_value_element_desc element{"keytab", keytab_name.c_str()};
    gss_key_value_set_desc store{1, &element};
    gss_cred_id_t credential = GSS_C_NO_CREDENTIAL;
    OM_uint32 major = gss_acquire_cred_from(&minor, name, GSS_C_INDEFINITE, GSS_C_NO_OID_SET, GSS_C_ACCEPT, &store,
                                            &credential, nullptr, nullptr);
    if (GSS_ERROR(major))
        throw std::runtime_error("cannot use keytab " + keytab.string() +
                                 " for Negotiate: " + status_text(major, minor));
    credential_ = credential;
}

NegotiateAcceptor::~NegotiateAcceptor() {
    OM_uint32 minor = 0;
    gss_cred_id_t credential = as_cred(credential_);
    if (credential != GSS_C_NO_CREDENTIAL) gss_release_cred(&minor, &credential);
}

std::expected<NegotiateAcceptor::Accepted, std::string> NegotiateAcceptor::accept(const std::string& token) {
    OM_uint32 minor = 0;
    gss_ctx_id_t context = GSS_C_NO_CONTEXT;
    gss_name_t source = GSS_C_NO_NAME;
    gss_buffer_desc input{token.size(), const_cast<char*>(token.data())};
    gss_buffer_desc output{0, nullptr};
    auto release = gsl::finally([&] {
        OM_uint32 ignored = 0;
        if (context != GSS_C_NO_CONTEXT) gss_delete_sec_context(&ignored, &context, GSS_C_NO_BUFFER);
        if (source != GSS_C_NO_NAME) gss_release_name(&ignored, &source);
        gss_release_buffer(&ignored, &output);
    });
    OM_uint32 major = gss_accept_sec_context(&minor, &context, as_cred(credential_), &input, GSS_C_NO_CHANNEL_BINDINGS,
                                             &source, nullptr, &output, nullptr, nullptr, nullptr);
    if (major == GSS_S_CONTINUE_NEEDED)
        return std::unexpected("the client offered a multi-step mechanism (NTLM?); only Kerberos is accepted");
    if (GSS_ERROR(major)) return std::unexpected(status_text(major, minor));
    gss_buffer_desc display{0, nullptr};
    if (GSS_ERROR(gss_display_name(&minor, source, &display, nullptr)))
        return std::unexpected("cannot read the client principal");
    Accepted accepted;
    accepted.principal.assign(static_cast<const char*>(display.value), display.length);
    gss_release_buffer(&minor, &display);
    if (output.length > 0) accepted.reply_token.assign(static_cast<const char*>(output.value), output.length);
    return accepted;
}

std::optional<std::string> negotiate_token(const std::string& host, std::string& error) {
    OM_uint32 minor = 0;
    const std::string service = "HTTP@" + host;
    gss_buffer_desc name_text{service.size(), const_cast<char*>(service.data())};
    gss_name_t target = GSS_C_NO_NAME;
    OM_uint32 major = gss_import_name(&minor, &name_text, GSS_C_NT_HOSTBASED_SERVICE, &target);
    if (GSS_ERROR(major)) {
        error = status_text(major, minor);
        return std::nullopt;
    }
    gss_ctx_id_t context = GSS_C_NO_CONTEXT;
    gss_buffer_desc output{0, nullptr};
    auto release = gsl::finally([&] {
        OM_uint32 ignored = 0;
        gss_release_name(&ignored, &target);
        if (context != GSS_C_NO_CONTEXT) gss_delete_sec_context(&ignored, &context, GSS_C_NO_BUFFER);
        gss_release_buffer(&ignored, &output);
    });
    static gss_OID_desc spnego{6, const_cast<char*>("\x2b\x06\x01\x05\x05\x02")};
    major = gss_init_sec_context(&minor, GSS_C_NO_CREDENTIAL, &context, target, &spnego, 0, 0,
                                 GSS_C_NO_CHANNEL_BINDINGS, GSS_C_NO_BUFFER, nullptr, &output, nullptr, nullptr);
    if (GSS_ERROR(major)) {
        error = status_text(major, minor);
        return std::nullopt;
    }
    return util::base64(std::string_view(static_cast<const char*>(output.value), output.length));
}

std::string NegotiateAcceptor::default_realm() {
    krb5_context context = nullptr;
    if (krb5_init_context(&context) != 0) return {};
    auto free_context = gsl::finally([&] { krb5_free_context(context); });
    char* realm = nullptr;
    if (krb5_get_default_realm(context, &realm) != 0) return {};
    std::string out(realm);
    krb5_free_default_realm(context, realm);
    return out;
}

} // namespace keyholder::auth
