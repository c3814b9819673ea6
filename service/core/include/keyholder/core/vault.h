// SecretVault: secrets at rest under AES-256-GCM with a key kept outside the database
// (a 32-byte file, mode 0600, created on first start). Each ciphertext is bound to
// its entry by the additional authenticated data, so a row copied onto another entry
// does not decrypt. The key and plaintexts are never logged.
#pragma once

#include <cstddef>
#include <expected>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace keyholder::core {

struct SealedSecret {
    std::string key_id;                ///< first 16 hex digits of SHA-256(key): which key sealed it
    std::vector<std::byte> nonce;      ///< 12 random bytes, never reused with the key
    std::vector<std::byte> ciphertext; ///< ciphertext followed by the 16-byte GCM tag
};

/// read_or_create_key: a key file of exactly `bytes` random bytes, created (0600,
/// written whole or not at all) when missing; refused when group or others can read it.
std::expected<std::vector<unsigned char>, std::string> read_or_create_key(const std::filesystem::path& key_file,
                                                                          size_t bytes);

/// RandomSource: fills the buffer with cryptographically random bytes; false when it
/// cannot (OpenSSL's RAND_bytes by default; tests inject a failing one).
using RandomSource = std::function<bool(unsigned char* buffer, size_t bytes)>;

class SecretVault {
public:
    /// open: reads the key file, or creates it (0600, 32 random bytes) when missing.
    /// Refuses a key file that is readable by group or others, or of the wrong size.
    /// `random` draws the nonces (default: RAND_bytes).
    static std::expected<SecretVault, std::string> open(const std::filesystem::path& key_file,
                                                        RandomSource random = {});

    SecretVault(const SecretVault&) = delete;
    SecretVault& operator=(const SecretVault&) = delete;
    SecretVault(SecretVault&& other) noexcept;
    SecretVault& operator=(SecretVault&&) = delete;
    ~SecretVault();

    /// seal: encrypts `plaintext` for the entry named `entry`, or says why it could not
    /// (no random nonce, an OpenSSL call failed): then nothing may be stored.
    [[nodiscard]] std::expected<SealedSecret, std::string> seal(std::string_view plaintext,
                                                                std::string_view entry) const;
    /// unseal: the plaintext, or why not (wrong key, wrong entry, tampered).
    [[nodiscard]] std::expected<std::string, std::string> unseal(const SealedSecret& sealed,
                                                                 std::string_view entry) const;
    [[nodiscard]] const std::string& key_id() const { return key_id_; }

private:
    SecretVault() = default;
    std::vector<unsigned char> key_;
    std::string key_id_;
    RandomSource random_;
};

} // namespace keyholder::core
