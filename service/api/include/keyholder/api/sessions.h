// Portal sessions: kept in the store (so that every node knows them) and the routes
// that start and end them.
//
//   POST   /api/v1/session            {username, password}: the login form (an LDAP bind)
//   POST   /api/v1/session/negotiate  the domain browser's silent sign-on (Negotiate only)
//   GET    /api/v1/session            who the session is, and its CSRF token
//   DELETE /api/v1/session            sign out (the session ends in the store)
//
// Starting one sets `keyholder_session` (HttpOnly, SameSite=Strict, Path=/, Secure
// over TLS), a new random 256-bit id each time; only its SHA-256 is stored.
#pragma once

#include "keyholder/api/api.h"
#include "keyholder/auth/sign_on.h"

namespace keyholder::api {

class StoreSessions final : public auth::SessionStore {
public:
    explicit StoreSessions(CorePool& pool) : pool_(pool) {}
    void insert(const auth::PortalSession& session, int64_t now) override;
    std::optional<auth::PortalSession> find(const std::string& id_hash) override;
    void touch(const std::string& id_hash, int64_t at) override;
    void remove(const std::string& id_hash) override;

private:
    CorePool& pool_;
};

/// add_session_routes: the routes above, over `sign_on` (which must use_sessions()).
void add_session_routes(http::Router& router, ApiContext& context, auth::SignOn& sign_on);

} // namespace keyholder::api
