// LinkSigner::verify. The first byte picks what the rest is: a token as a client
// could send it (mostly refused at the MAC), or a payload that the harness signs with
// the key, so that the parser behind the MAC check is reached too.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "keyholder/core/links.h"
#include "keyholder/util/encoding.h"

using keyholder::core::LinkClaims;
using keyholder::core::LinkSigner;

namespace {

const std::vector<unsigned char> kKey(32, 0x5a);
constexpr int64_t kNow = 1'795'000'000; // 2026-11-18

std::string signed_token(const std::string& payload) {
    const std::string data = "link|" + payload;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    FUZZ_CHECK(HMAC(EVP_sha256(), kKey.data(), static_cast<int>(kKey.size()),
                    reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length) != nullptr);
    return keyholder::util::base64url(payload) + "." +
           keyholder::util::base64url(std::string(reinterpret_cast<const char*>(digest), length));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    static const LinkSigner signer(kKey);
    const std::string rest(reinterpret_cast<const char*>(data + 1), size - 1);
    const bool sign = data[0] & 1;
    const std::string token = sign ? signed_token(rest) : rest;
    const auto claims = signer.verify(token, kNow);
    if (!sign) return 0; // a forged token cannot be told from a lucky one here
    if (!claims) return 0;
    FUZZ_CHECK(claims->expires_at > kNow);
    // What verify read is what issue writes back: the same claims again.
    const auto again = signer.verify(signer.issue(*claims), kNow);
    FUZZ_CHECK(again && again->request_id == claims->request_id && again->expires_at == claims->expires_at &&
               again->nonce == claims->nonce && again->approver_id == claims->approver_id);
    return 0;
}
