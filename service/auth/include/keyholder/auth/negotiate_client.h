// negotiate_token: the client side of HTTP Negotiate (RFC 4559) — a base64 SPNEGO
// token for HTTP/<host> from the caller's default Kerberos ticket cache (MIT GSSAPI),
// or nullopt with GSSAPI's message in `error` (no ticket, unknown service, ...).
// Used by the keyholder CLI; the server side is NegotiateAcceptor.
#pragma once

#include <optional>
#include <string>

namespace keyholder::auth {

std::optional<std::string> negotiate_token(const std::string& host, std::string& error);

} // namespace keyholder::auth
