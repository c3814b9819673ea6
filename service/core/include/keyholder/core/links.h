// Approval links: a token per approver and request, signed with HMAC-SHA256 under a
// key held by the service (link_key_file, 32 bytes, 0600, created on first start).
//
//   token = base64url(payload) "." base64url(HMAC-SHA256(key, payload))
//   payload = "1:" request ":" expires ":" nonce ":" approver-id
//
// verify() checks the MAC in constant time before it reads anything, then the
// expiry; single use is the store's job (the nonce is recorded with the decision, in
// the decision's transaction). A mail scanner that prefetches the link only GETs a
// page: nothing is decided without the POST and its anti-forgery field.
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>
#include <vector>

namespace keyholder::core {

struct LinkClaims {
    int64_t request_id = 0;
    std::string approver_id; ///< SID (or uuid:...)
    int64_t expires_at = 0;  ///< UTC seconds
    std::string nonce;       ///< 32 hex digits, recorded when used
};

/// LinkError: why a token is refused.
enum class LinkError {
    malformed,     ///< not a token keyholder issues
    bad_signature, ///< changed, or issued under another key
    expired,       ///< past the request's deadline
};
const char* to_string(LinkError error);

class LinkSigner {
public:
    static std::expected<LinkSigner, std::string> open(const std::filesystem::path& key_file);
    /// for_key: a signer over a given key (tests).
    explicit LinkSigner(std::vector<unsigned char> key) : key_(std::move(key)) {}

    /// issue: the token for these claims.
    [[nodiscard]] std::string issue(const LinkClaims& claims) const;
    /// nonce_for: a nonce derived from a stable name (the outbox message id), so a
    /// mail re-sent after a crash carries the same link.
    [[nodiscard]] std::string nonce_for(const std::string& name) const;
    /// verify: the claims of an untampered, unexpired token, or why not.
    [[nodiscard]] std::expected<LinkClaims, LinkError> verify(const std::string& token, int64_t now) const;
    /// form_key: the anti-forgery value of the page rendered for `token`.
    [[nodiscard]] std::string form_key(const std::string& token) const;
    /// same: constant-time comparison.
    static bool same(const std::string& a, const std::string& b);

private:
    [[nodiscard]] std::string mac(const std::string& data) const;
    std::vector<unsigned char> key_;
};

} // namespace keyholder::core
