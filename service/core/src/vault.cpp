// AES-256-GCM secrets at rest through OpenSSL EVP (see vault.h).
#include "keyholder/core/vault.h"

#include "keyholder/platform/files.h"
#include "keyholder/platform/key_protection.h"
#include "keyholder/util/encoding.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <memory>

namespace keyholder::core {
namespace {

constexpr size_t kKeyBytes = 32;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;

std::string aad_for(std::string_view entry) { return "keyholder-secret-v1:" + std::string(entry); }

struct CipherFree {
    void operator()(EVP_CIPHER_CTX* ctx) const noexcept { EVP_CIPHER_CTX_free(ctx); }
};
using Cipher = std::unique_ptr<EVP_CIPHER_CTX, CipherFree>;

// openssl_error: the reason OpenSSL queued for the last failure (cleared), if any.
std::string openssl_error() {
    const unsigned long code = ERR_get_error();
    ERR_clear_error();
    if (code == 0) return "no OpenSSL error queued";
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    return text;
}

} // namespace

std::expected<std::vector<unsigned char>, std::string> read_or_create_key(const std::filesystem::path& key_file,
                                                                          size_t bytes) {
    const std::string name = platform::utf8(key_file);
    std::error_code ec;
    if (!std::filesystem::exists(key_file, ec) && !ec) {
        // First start: a fresh key, created private and complete or not at all.
        std::vector<unsigned char> key(bytes);
        std::filesystem::create_directories(key_file.parent_path());
        if (RAND_bytes(key.data(), static_cast<int>(bytes)) != 1)
            return std::unexpected("cannot get random bytes for a new key");
        auto sealed = platform::seal_key(std::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
        if (!sealed) {
            OPENSSL_cleanse(key.data(), key.size());
            return std::unexpected("cannot protect the new key " + name + ": " + sealed.error());
        }
        try {
            platform::write_file_atomically(key_file, *sealed);
        } catch (const std::exception& e) {
            OPENSSL_cleanse(key.data(), key.size());
            return std::unexpected(std::string(e.what()));
        }
        return key;
    }
    std::ifstream in(key_file, std::ios::binary);
    if (ec || !in) return std::unexpected("cannot read " + name + ": " + std::strerror(errno));
    if (auto why = platform::not_private(key_file)) return std::unexpected(*why);
    // A key file is small: more than a few KiB is not one.
    std::string stored(8192, '\0');
    in.read(stored.data(), static_cast<std::streamsize>(stored.size()));
    stored.resize(static_cast<size_t>(in.gcount()));
    auto key = platform::unseal_key(stored);
    OPENSSL_cleanse(stored.data(), stored.size());
    if (!key) return std::unexpected("cannot unprotect " + name + ": " + key.error());
    if (key->size() != bytes) {
        OPENSSL_cleanse(key->data(), key->size());
        return std::unexpected(name + " is not a " + std::to_string(bytes) + "-byte key");
    }
    std::vector<unsigned char> result(key->begin(), key->end());
    OPENSSL_cleanse(key->data(), key->size());
    return result;
}

std::expected<SecretVault, std::string> SecretVault::open(const std::filesystem::path& key_file, RandomSource random) {
    SecretVault vault;
    auto key = read_or_create_key(key_file, kKeyBytes);
    if (!key) return std::unexpected(key.error());
    vault.key_ = std::move(*key);
    vault.random_ = random ? std::move(random) : RandomSource([](unsigned char* buffer, size_t bytes) {
        return RAND_bytes(buffer, static_cast<int>(bytes)) == 1;
    });
    unsigned char digest[SHA256_DIGEST_LENGTH];
    if (SHA256(vault.key_.data(), vault.key_.size(), digest) == nullptr)
        return std::unexpected("cannot compute the key id of " + platform::utf8(key_file) + ": " + openssl_error());
    vault.key_id_ = util::hex(std::string_view(reinterpret_cast<const char*>(digest), 8));
    return vault;
}

SecretVault::SecretVault(SecretVault&& other) noexcept
    : key_(std::move(other.key_)), key_id_(std::move(other.key_id_)), random_(std::move(other.random_)) {}

SecretVault::~SecretVault() {
    if (!key_.empty()) OPENSSL_cleanse(key_.data(), key_.size());
}

std::expected<SealedSecret, std::string> SecretVault::seal(std::string_view plaintext, std::string_view entry) const {
    if (plaintext.size() > static_cast<size_t>(INT_MAX - kTagBytes)) return std::unexpected("the secret is too long");
    SealedSecret sealed;
    sealed.key_id = key_id_;
    sealed.nonce.resize(kNonceBytes);
    // A nonce that is not random could repeat under the key: GCM then leaks both texts.
    if (!random_(reinterpret_cast<unsigned char*>(sealed.nonce.data()), kNonceBytes))
        return std::unexpected("no random bytes for the nonce: " + openssl_error());
    const std::string aad = aad_for(entry);
    Cipher ctx(EVP_CIPHER_CTX_new());
    if (!ctx) return std::unexpected("EVP_CIPHER_CTX_new failed: " + openssl_error());
    std::vector<unsigned char> out(plaintext.size() + kTagBytes);
    int len = 0;
    int total = 0;
    auto failed = [](const char* call) { return std::unexpected(std::string(call) + " failed: " + openssl_error()); };
    if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(),
                           reinterpret_cast<const unsigned char*>(sealed.nonce.data())) != 1)
        return failed("EVP_EncryptInit_ex");
    if (EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                          static_cast<int>(aad.size())) != 1)
        return failed("EVP_EncryptUpdate (aad)");
    if (EVP_EncryptUpdate(ctx.get(), out.data(), &len, reinterpret_cast<const unsigned char*>(plaintext.data()),
                          static_cast<int>(plaintext.size())) != 1)
        return failed("EVP_EncryptUpdate");
    total = len;
    if (EVP_EncryptFinal_ex(ctx.get(), out.data() + total, &len) != 1) return failed("EVP_EncryptFinal_ex");
    total += len;
    if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes), out.data() + total) != 1)
        return failed("EVP_CTRL_GCM_GET_TAG");
    out.resize(static_cast<size_t>(total) + kTagBytes);
    sealed.ciphertext.assign(reinterpret_cast<std::byte*>(out.data()),
                             reinterpret_cast<std::byte*>(out.data()) + out.size());
    OPENSSL_cleanse(out.data(), out.size());
    return sealed;
}

std::expected<std::string, std::string> SecretVault::unseal(const SealedSecret& sealed, std::string_view entry) const {
    if (sealed.key_id != key_id_)
        return std::unexpected("the secret was sealed with another master key (" + sealed.key_id + ")");
    if (sealed.nonce.size() != kNonceBytes || sealed.ciphertext.size() < kTagBytes ||
        sealed.ciphertext.size() > static_cast<size_t>(INT_MAX))
        return std::unexpected("the stored secret is malformed");
    const std::string aad = aad_for(entry);
    const size_t body = sealed.ciphertext.size() - kTagBytes;
    const auto* data = reinterpret_cast<const unsigned char*>(sealed.ciphertext.data());
    Cipher ctx(EVP_CIPHER_CTX_new());
    if (!ctx) return std::unexpected("EVP_CIPHER_CTX_new failed: " + openssl_error());
    std::string plain(body, '\0');
    int len = 0;
    auto failed = [&](const char* call) {
        OPENSSL_cleanse(plain.data(), plain.size());
        return std::unexpected(std::string(call) + " failed: " + openssl_error());
    };
    if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(),
                           reinterpret_cast<const unsigned char*>(sealed.nonce.data())) != 1)
        return failed("EVP_DecryptInit_ex");
    if (EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                          static_cast<int>(aad.size())) != 1)
        return failed("EVP_DecryptUpdate (aad)");
    if (EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()), &len, data,
                          static_cast<int>(body)) != 1)
        return failed("EVP_DecryptUpdate");
    if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagBytes),
                            const_cast<unsigned char*>(data + body)) != 1)
        return failed("EVP_CTRL_GCM_SET_TAG");
    int final_len = 0;
    if (EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()) + len, &final_len) != 1) {
        OPENSSL_cleanse(plain.data(), plain.size());
        return std::unexpected("the stored secret does not authenticate (tampered, or sealed for another entry)");
    }
    return plain;
}

} // namespace keyholder::core
