#include "keyholder/core/links.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <charconv>
#include <optional>
#include <stdexcept>

#include "keyholder/core/vault.h"
#include "keyholder/util/encoding.h"

namespace keyholder::core {

const char* to_string(LinkError error) {
    switch (error) {
    case LinkError::malformed: return "malformed";
    case LinkError::bad_signature: return "bad signature";
    case LinkError::expired: return "expired";
    }
    return "?";
}
namespace {

using util::base64url;
using util::hex;
using util::unbase64url;

bool parse_int(const std::string& text, int64_t& out) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

} // namespace

std::expected<LinkSigner, std::string> LinkSigner::open(const std::filesystem::path& key_file) {
    auto key = read_or_create_key(key_file, 32);
    if (!key) return std::unexpected(key.error());
    return LinkSigner(std::move(*key));
}

std::string LinkSigner::mac(const std::string& data) const {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    // A failed HMAC must never yield a MAC (an empty one would match an empty signature).
    if (HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
             reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length) == nullptr ||
        length != 32)
        throw std::runtime_error("HMAC-SHA256 of an approval link failed");
    return std::string(reinterpret_cast<const char*>(digest), length);
}

std::string LinkSigner::issue(const LinkClaims& claims) const {
    const std::string payload = "1:" + std::to_string(claims.request_id) + ":" + std::to_string(claims.expires_at) +
                                ":" + claims.nonce + ":" + claims.approver_id;
    return base64url(payload) + "." + base64url(mac("link|" + payload));
}

std::string LinkSigner::nonce_for(const std::string& name) const { return hex(mac("nonce|" + name)).substr(0, 32); }

std::string LinkSigner::form_key(const std::string& token) const { return base64url(mac("form|" + token)); }

bool LinkSigner::same(const std::string& a, const std::string& b) {
    return !a.empty() && a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::expected<LinkClaims, LinkError> LinkSigner::verify(const std::string& token, int64_t now) const {
    if (token.size() > 1024) return std::unexpected(LinkError::malformed);
    const size_t dot = token.find('.');
    if (dot == std::string::npos || token.find('.', dot + 1) != std::string::npos)
        return std::unexpected(LinkError::malformed);
    auto payload = unbase64url(token.substr(0, dot));
    auto signature = unbase64url(token.substr(dot + 1));
    if (!payload || !signature) return std::unexpected(LinkError::malformed);
    if (!same(*signature, mac("link|" + *payload))) return std::unexpected(LinkError::bad_signature);
    // Signed by us: the fields are as we wrote them.
    std::vector<std::string> parts;
    size_t start = 0;
    for (int i = 0; i < 4; ++i) {
        const size_t colon = payload->find(':', start);
        if (colon == std::string::npos) return std::unexpected(LinkError::malformed);
        parts.push_back(payload->substr(start, colon - start));
        start = colon + 1;
    }
    parts.push_back(payload->substr(start));
    LinkClaims claims;
    if (parts[0] != "1" || !parse_int(parts[1], claims.request_id) || !parse_int(parts[2], claims.expires_at))
        return std::unexpected(LinkError::malformed);
    claims.nonce = parts[3];
    claims.approver_id = parts[4];
    if (claims.expires_at <= now) return std::unexpected(LinkError::expired);
    return claims;
}

} // namespace keyholder::core
