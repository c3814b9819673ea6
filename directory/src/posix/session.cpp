// Sessions on OpenLDAP's libldap, with Cyrus SASL and MIT Kerberos for the GSSAPI
// bind (see session.h).
#include "../session.h"

#include <gssapi/gssapi_krb5.h>
#include <krb5.h>
#include <sasl/sasl.h>

#include <gsl/util>

#include <algorithm>
#include <array>
#include <cctype>
#include <mutex>

#include "connect.h"
#include "ldap_handles.h"

namespace keyholder::directory::detail {
namespace {

// Attribute name lists for libldap: a null-terminated char* array over std::strings.
class AttributeList {
public:
    explicit AttributeList(const std::vector<std::string>& names) {
        for (const auto& n : names)
            pointers_.push_back(const_cast<char*>(n.c_str()));
        pointers_.push_back(nullptr);
    }
    char** get() { return pointers_.size() == 1 ? nullptr : pointers_.data(); }

private:
    std::vector<char*> pointers_;
};

Entry read_entry(LDAP* ld, LDAPMessage* message) {
    Entry entry;
    if (LdapText dn{ldap_get_dn(ld, message)}) entry.dn = dn.get();
    BerElement* raw_ber = nullptr;
    for (char* raw_name = ldap_first_attribute(ld, message, &raw_ber); raw_name != nullptr;
         raw_name = ldap_next_attribute(ld, message, raw_ber)) {
        LdapText name(raw_name);
        std::vector<std::string>& values = entry.attributes[lowercase(name.get())];
        BerValues list(ldap_get_values_len(ld, message, name.get()));
        if (!list) continue;
        for (berval** v = list.get(); *v != nullptr; ++v)
            values.emplace_back((*v)->bv_val, (*v)->bv_len);
    }
    BerElementPtr ber(raw_ber);
    return entry;
}

// Result code and diagnostic of a result message.
DirectoryError result_error(LDAP* ld, int rc, char* diagnostic, const std::string& doing, const std::string& uri) {
    DirectoryError error = make_error(ld, rc, doing, uri);
    if (diagnostic != nullptr && *diagnostic != '\0') error.diagnostic = diagnostic;
    return error;
}

int sasl_no_interaction(LDAP*, unsigned, void*, void* in) {
    for (auto* interact = static_cast<sasl_interact_t*>(in); interact->id != SASL_CB_LIST_END; ++interact) {
        interact->result = "";
        interact->len = 0;
    }
    return LDAP_SUCCESS;
}

// Kerberos: a TGT from the keytab into a private in-memory credential cache, used by
// this thread's GSSAPI calls (gss_krb5_ccache_name is per thread in MIT krb5).
Result<void> kerberos_login(const DirectorySettings& settings, const std::string& uri) {
    static std::mutex mutex; // krb5 contexts are cheap; this serialises the ccache refresh
    std::lock_guard lock(mutex);
    const std::string ccache_name = "MEMORY:keyholder-directory";
    krb5_context context = nullptr;
    if (krb5_init_context(&context) != 0)
        return std::unexpected(DirectoryError{DirectoryError::Kind::other, 0, "cannot start Kerberos", "", uri});
    auto free_context = gsl::finally([&] { krb5_free_context(context); });
    auto fail = [&](krb5_error_code code, const std::string& doing) {
        const char* message = krb5_get_error_message(context, code);
        DirectoryError error{DirectoryError::Kind::unavailable, 0, doing + ": " + message, "", uri};
        krb5_free_error_message(context, message);
        if (code == KRB5KDC_ERR_CLIENT_REVOKED || code == KRB5KDC_ERR_PREAUTH_FAILED || code == KRB5_KT_NOTFOUND)
            error.kind = DirectoryError::Kind::invalid_credentials;
        return std::unexpected(error);
    };
    krb5_keytab keytab = nullptr;
    if (auto code = krb5_kt_resolve(context, ("FILE:" + settings.keytab).c_str(), &keytab))
        return fail(code, "cannot open keytab " + settings.keytab);
    auto close_keytab = gsl::finally([&] { krb5_kt_close(context, keytab); });
    krb5_principal principal = nullptr;
    if (!settings.principal.empty()) {
        if (auto code = krb5_parse_name(context, settings.principal.c_str(), &principal))
            return fail(code, "bad principal " + settings.principal);
    } else {
        krb5_kt_cursor cursor;
        krb5_keytab_entry first;
        if (auto code = krb5_kt_start_seq_get(context, keytab, &cursor)) return fail(code, "cannot read keytab");
        krb5_error_code code = krb5_kt_next_entry(context, keytab, &first, &cursor);
        krb5_kt_end_seq_get(context, keytab, &cursor);
        if (code) return fail(code, "keytab " + settings.keytab + " holds no principal");
        krb5_copy_principal(context, first.principal, &principal);
        krb5_free_keytab_entry_contents(context, &first);
    }
    auto free_principal = gsl::finally([&] { krb5_free_principal(context, principal); });
    krb5_creds creds{};
    if (auto code = krb5_get_init_creds_keytab(context, &creds, principal, keytab, 0, nullptr, nullptr))
        return fail(code, "cannot get a Kerberos ticket from keytab " + settings.keytab);
    auto free_creds = gsl::finally([&] { krb5_free_cred_contents(context, &creds); });
    krb5_ccache ccache = nullptr;
    if (auto code = krb5_cc_resolve(context, ccache_name.c_str(), &ccache)) return fail(code, "cannot open ccache");
    auto close_ccache = gsl::finally([&] { krb5_cc_close(context, ccache); });
    if (auto code = krb5_cc_initialize(context, ccache, principal)) return fail(code, "cannot initialise ccache");
    if (auto code = krb5_cc_store_cred(context, ccache, &creds)) return fail(code, "cannot store the ticket");
    OM_uint32 minor = 0;
    gss_krb5_ccache_name(&minor, ccache_name.c_str(), nullptr);
    return {};
}

Result<void> bind(LDAP* ld, const DirectorySettings& settings, const std::string& uri) {
    if (settings.bind == BindMethod::simple) {
        if (settings.bind_password.empty())
            return std::unexpected(DirectoryError{DirectoryError::Kind::refused, 0,
                                                  "refusing a simple bind with an empty password (that would be an "
                                                  "unauthenticated bind)",
                                                  "", uri});
        berval credentials{static_cast<ber_len_t>(settings.bind_password.size()),
                           const_cast<char*>(settings.bind_password.data())};
        int rc =
            ldap_sasl_bind_s(ld, settings.bind_dn.c_str(), LDAP_SASL_SIMPLE, &credentials, nullptr, nullptr, nullptr);
        if (rc != LDAP_SUCCESS)
            return std::unexpected(make_error(ld, rc, "bind as " + settings.bind_dn + " failed", uri));
        return {};
    }
    if (auto login = kerberos_login(settings, uri); !login) return std::unexpected(login.error());
    ldap_set_option(ld, LDAP_OPT_X_SASL_NOCANON, LDAP_OPT_ON); // no reverse-DNS games with the service name
    if (ldap_tls_inplace(ld) == 0) {
        // Without TLS the SASL layer must seal the connection.
        ldap_set_option(ld, LDAP_OPT_X_SASL_SECPROPS, const_cast<char*>("minssf=56"));
    }
    int rc = ldap_sasl_interactive_bind_s(ld, nullptr, "GSSAPI", nullptr, nullptr, LDAP_SASL_QUIET, sasl_no_interaction,
                                          nullptr);
    if (rc != LDAP_SUCCESS) return std::unexpected(make_error(ld, rc, "GSSAPI bind failed", uri));
    return {};
}

int to_ldap(Scope scope) {
    switch (scope) {
    case Scope::base: return LDAP_SCOPE_BASE;
    case Scope::one_level: return LDAP_SCOPE_ONELEVEL;
    case Scope::subtree: return LDAP_SCOPE_SUBTREE;
    }
    return LDAP_SCOPE_BASE;
}

int to_ldap(ModOp op) {
    switch (op) {
    case ModOp::add: return LDAP_MOD_ADD;
    case ModOp::remove: return LDAP_MOD_DELETE;
    case ModOp::replace: return LDAP_MOD_REPLACE;
    }
    return LDAP_MOD_REPLACE;
}

} // namespace

struct Session::Connection {
    LdapHandle ld;
};

Session::Session(std::unique_ptr<Connection> connection, std::string uri)
    : connection_(std::move(connection)), uri_(std::move(uri)) {}
Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

DirectoryError make_error(LDAP* ld, int rc, const std::string& doing, const std::string& uri) {
    std::string diagnostic;
    if (ld != nullptr) {
        char* text = nullptr;
        if (ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &text) == LDAP_OPT_SUCCESS && text != nullptr) {
            LdapText owned(text);
            diagnostic = owned.get();
        }
    }
    const bool lost = rc == LDAP_SERVER_DOWN || rc == LDAP_TIMEOUT || rc == LDAP_CONNECT_ERROR;
    return make_error(rc, ldap_err2string(rc), std::move(diagnostic), doing, uri, lost);
}

bool Session::encrypted() const {
    if (ldap_tls_inplace(connection_->ld.get()) != 0) return true;
    sasl_ssf_t ssf = 0;
    if (ldap_get_option(connection_->ld.get(), LDAP_OPT_X_SASL_SSF, &ssf) == LDAP_OPT_SUCCESS && ssf >= 56) return true;
    return false;
}

Result<std::vector<Entry>> Session::search(const std::string& base, Scope scope, const std::string& filter,
                                           const std::vector<std::string>& attributes, int page_size) {
    std::vector<Entry> entries;
    AttributeList attrs(attributes);
    berval cookie{0, nullptr};
    std::string cookie_storage;
    while (true) {
        LdapControlPtr page;
        if (page_size > 0) {
            // Not critical: a server without paging simply answers in one piece.
            LDAPControl* raw_page = nullptr;
            int rc = ldap_create_page_control(connection_->ld.get(), static_cast<ber_int_t>(page_size),
                                              cookie.bv_len > 0 ? &cookie : nullptr, 0, &raw_page);
            page.reset(raw_page);
            if (rc != LDAP_SUCCESS)
                return std::unexpected(make_error(connection_->ld.get(), rc, "cannot create a page control", uri_));
        }
        std::array<LDAPControl*, 2> controls{page.get(), nullptr};
        LDAPMessage* raw = nullptr;
        // No server-side time limit (Samba answers an in-chain search that carries one with
        // "Operations error"); LDAP_OPT_TIMEOUT bounds the wait on our side.
        int rc = ldap_search_ext_s(connection_->ld.get(), base.c_str(), to_ldap(scope), filter.c_str(), attrs.get(), 0,
                                   page ? controls.data() : nullptr, nullptr, nullptr, LDAP_NO_LIMIT, &raw);
        LdapMessagePtr result(raw);
        if (rc != LDAP_SUCCESS && rc != LDAP_PARTIAL_RESULTS && result == nullptr)
            return std::unexpected(
                make_error(connection_->ld.get(), rc, "search " + filter + " under " + base + " failed", uri_));
        for (LDAPMessage* m = ldap_first_entry(connection_->ld.get(), result.get()); m != nullptr;
             m = ldap_next_entry(connection_->ld.get(), m))
            entries.push_back(read_entry(connection_->ld.get(), m));
        int code = LDAP_SUCCESS;
        char* diagnostic = nullptr;
        LDAPControl** raw_returned = nullptr;
        int prc = ldap_parse_result(connection_->ld.get(), result.get(), &code, nullptr, &diagnostic, nullptr,
                                    &raw_returned, 0);
        LdapText diagnostic_owner(diagnostic);
        LdapControls returned(raw_returned);
        if (prc != LDAP_SUCCESS)
            return std::unexpected(
                make_error(connection_->ld.get(), prc, "search " + filter + " under " + base + " failed", uri_));
        // Referrals are off: AD's continuation references are ignored, and a referral
        // result for part of the tree is not an error for what was found.
        if (code != LDAP_SUCCESS && code != LDAP_REFERRAL) {
            if (code == LDAP_NO_SUCH_OBJECT) return entries;
            return std::unexpected(result_error(connection_->ld.get(), code, diagnostic,
                                                "search " + filter + " under " + base + " failed", uri_));
        }
        cookie_storage.clear();
        if (returned && page_size > 0) {
            LDAPControl* response = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, returned.get(), nullptr);
            if (response != nullptr) {
                ber_int_t estimate = 0;
                berval next{0, nullptr};
                if (ldap_parse_pageresponse_control(connection_->ld.get(), response, &estimate, &next) ==
                        LDAP_SUCCESS &&
                    next.bv_len > 0) {
                    cookie_storage.assign(next.bv_val, next.bv_len);
                }
                ber_memfree(next.bv_val);
            }
        }
        if (cookie_storage.empty()) break;
        cookie.bv_val = cookie_storage.data();
        cookie.bv_len = cookie_storage.size();
    }
    return entries;
}

Result<std::optional<Entry>> Session::read(const std::string& dn, const std::vector<std::string>& attributes,
                                           const std::string& filter) {
    AttributeList attrs(attributes);
    LDAPMessage* raw = nullptr;
    int rc = ldap_search_ext_s(connection_->ld.get(), dn.c_str(), LDAP_SCOPE_BASE, filter.c_str(), attrs.get(), 0,
                               nullptr, nullptr, nullptr, 1, &raw);
    LdapMessagePtr result(raw);
    if (rc == LDAP_NO_SUCH_OBJECT || rc == LDAP_INVALID_DN_SYNTAX) return std::optional<Entry>{};
    if (rc != LDAP_SUCCESS)
        return std::unexpected(make_error(connection_->ld.get(), rc, "read of " + dn + " failed", uri_));
    LDAPMessage* m = ldap_first_entry(connection_->ld.get(), result.get());
    if (m == nullptr) return std::optional<Entry>{};
    return std::optional<Entry>{read_entry(connection_->ld.get(), m)};
}

Result<void> Session::modify(const std::string& dn, const std::vector<Modification>& modifications) {
    // Build LDAPMod arrays over berval copies that live until the call returns.
    std::vector<std::vector<berval>> values(modifications.size());
    std::vector<std::vector<berval*>> value_pointers(modifications.size());
    std::vector<LDAPMod> mods(modifications.size());
    std::vector<LDAPMod*> mod_pointers;
    for (size_t i = 0; i < modifications.size(); ++i) {
        const auto& m = modifications[i];
        for (const auto& v : m.values)
            values[i].push_back(berval{static_cast<ber_len_t>(v.size()), const_cast<char*>(v.data())});
        for (auto& v : values[i])
            value_pointers[i].push_back(&v);
        value_pointers[i].push_back(nullptr);
        mods[i].mod_op = to_ldap(m.op) | LDAP_MOD_BVALUES;
        mods[i].mod_type = const_cast<char*>(m.attribute.c_str());
        mods[i].mod_vals.modv_bvals = value_pointers[i].data();
        mod_pointers.push_back(&mods[i]);
    }
    mod_pointers.push_back(nullptr);
    int rc = ldap_modify_ext_s(connection_->ld.get(), dn.c_str(), mod_pointers.data(), nullptr, nullptr);
    if (rc != LDAP_SUCCESS)
        return std::unexpected(make_error(connection_->ld.get(), rc, "modify of " + dn + " failed", uri_));
    return {};
}

Result<void> Session::password_modify(const std::string& dn, const std::string& new_password) {
    berval user{static_cast<ber_len_t>(dn.size()), const_cast<char*>(dn.data())};
    berval password{static_cast<ber_len_t>(new_password.size()), const_cast<char*>(new_password.data())};
    berval generated{0, nullptr};
    int rc = ldap_passwd_s(connection_->ld.get(), &user, nullptr, &password, &generated, nullptr, nullptr);
    ber_memfree(generated.bv_val);
    if (rc != LDAP_SUCCESS)
        return std::unexpected(make_error(connection_->ld.get(), rc, "password modify of " + dn + " failed", uri_));
    return {};
}

bool is_connection_error(const DirectoryError& error) {
    return error.kind == DirectoryError::Kind::unavailable || error.ldap_code == LDAP_SERVER_DOWN ||
           error.ldap_code == LDAP_TIMEOUT || error.ldap_code == LDAP_CONNECT_ERROR;
}

Result<Session> open_one(const std::string& uri, const DirectorySettings& settings, bool bound) {
    auto ld = connect(uri, settings.connection);
    if (!ld) {
        // Not connected (whatever the cause): the next URI may do better.
        DirectoryError error = ld.error();
        error.kind = DirectoryError::Kind::unavailable;
        return std::unexpected(error);
    }
    if (bound) {
        if (auto done = bind(ld->get(), settings, uri); !done) return std::unexpected(done.error());
    }
    setup_complete(ld->get());
    return Session(std::make_unique<Session::Connection>(std::move(*ld)), uri);
}

} // namespace keyholder::directory::detail
