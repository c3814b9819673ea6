// Secrets at rest: AES-256-GCM round trip, a private key file created on first use,
// refusals for a shared key file, another key, another entry, or a flipped bit.
#include <gtest/gtest.h>

#include "keyholder/core/vault.h"
#include "keyholder/platform/files.h"
#include "keyholder/platform/key_protection.h"
#include "keyholder/platform/system.h"
#include "support/temp_dir.h"

namespace {

using keyholder::core::SecretVault;
using keyholder::testing::TempDir;

TEST(Vault, CreatesAPrivateKeyOnFirstUseAndReadsItBack) {
    TempDir dir;
    auto key = dir / "sub/master.key";
    auto vault = SecretVault::open(key);
    ASSERT_TRUE(vault) << vault.error();
    EXPECT_EQ(keyholder::platform::not_private(key), std::nullopt);
    auto stored = keyholder::platform::unseal_key(keyholder::testing::read_file(key));
    ASSERT_TRUE(stored) << stored.error();
    EXPECT_EQ(stored->size(), 32U);
    auto sealed = *vault->seal("Pässwörd-1!", "domain-admin");
    EXPECT_EQ(sealed.nonce.size(), 12U);
    EXPECT_EQ(sealed.ciphertext.size(), std::string("Pässwörd-1!").size() + 16);
    auto again = SecretVault::open(key);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->key_id(), vault->key_id());
    EXPECT_EQ(again->unseal(sealed, "domain-admin"), "Pässwörd-1!");
}

TEST(Vault, NoncesNeverRepeat) {
    TempDir dir;
    auto vault = SecretVault::open(dir / "k");
    auto a = *vault->seal("same", "e");
    auto b = *vault->seal("same", "e");
    EXPECT_NE(a.nonce, b.nonce);
    EXPECT_NE(a.ciphertext, b.ciphertext);
}

TEST(Vault, RefusesTamperingAnotherEntryAndAnotherKey) {
    TempDir dir;
    auto vault = SecretVault::open(dir / "k");
    auto sealed = *vault->seal("secret", "domain-admin");
    EXPECT_FALSE(vault->unseal(sealed, "server-admins")) << "bound to its entry";
    auto flipped = sealed;
    flipped.ciphertext[0] ^= std::byte{1};
    EXPECT_FALSE(vault->unseal(flipped, "domain-admin"));
    auto tag = sealed;
    tag.ciphertext.back() ^= std::byte{0x80};
    EXPECT_FALSE(vault->unseal(tag, "domain-admin"));
    auto other = SecretVault::open(dir / "other");
    auto wrong_key = other->unseal(sealed, "domain-admin");
    ASSERT_FALSE(wrong_key);
    EXPECT_NE(wrong_key.error().find("another master key"), std::string::npos);
}

// Without random bytes for the nonce nothing is sealed (never an all-zero nonce),
// and the failure says why.
TEST(Vault, NoRandomNonceMeansNoSeal) {
    TempDir dir;
    auto vault = SecretVault::open(dir / "k", [](unsigned char*, size_t) { return false; });
    ASSERT_TRUE(vault) << vault.error();
    auto sealed = vault->seal("secret", "domain-admin");
    ASSERT_FALSE(sealed);
    EXPECT_NE(sealed.error().find("nonce"), std::string::npos) << sealed.error();
}

TEST(Vault, RefusesASharedOrTruncatedKeyFile) {
    TempDir dir;
    dir.write("shared.key", std::string(32, 'k'), 0644);
    auto shared = SecretVault::open(dir / "shared.key");
    ASSERT_FALSE(shared);
    EXPECT_NE(shared.error().find(keyholder::platform::kPrivateFileHint), std::string::npos) << shared.error();
    dir.write("short.key", "short", 0600);
    EXPECT_FALSE(SecretVault::open(dir / "short.key"));
}

} // namespace
