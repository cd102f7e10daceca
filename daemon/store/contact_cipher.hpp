// Contacts at rest: AES-256-GCM under a key kept apart from the database, so a copied
// database file alone reveals no phone number or address. The plaintext is opaque bytes.
// Earlier keys ([store] contacts_old_key_files) still open what they sealed; only the
// current key seals.
#pragma once

#include <openssl/types.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lwauth/secret.hpp"

namespace lwauth {

class RandomSource;

class ContactCipher {
  public:
    ContactCipher(SecretString key, RandomSource& random, std::vector<SecretString> old_keys = {});
    /// nonce(12) || ciphertext || tag(16); `binding` (user and kind) is authenticated, so a
    /// value cannot be moved to another user's row.
    [[nodiscard]] std::string seal(std::string_view plaintext, std::string_view binding) const;
    /// Throws Error(Internal) when the value was altered or sealed under another key.
    [[nodiscard]] std::string open(std::string_view sealed, std::string_view binding) const;
    /// open() for a secret (an authenticator app's record): the plaintext only ever in a
    /// buffer that is wiped.
    [[nodiscard]] CopyableSecret open_secret(std::string_view sealed,
                                             std::string_view binding) const;

    /// What a sealed value holds and whether the current key sealed it.
    struct Opened {
        std::string plaintext;
        bool current = true;
    };
    /// As open(), saying which key opened it; nullopt when no key does (rekey).
    [[nodiscard]] std::optional<Opened> try_open(std::string_view sealed,
                                                 std::string_view binding) const;

  private:
    [[nodiscard]] bool open_with(const SecretString& key, std::string_view sealed,
                                 std::string_view binding, std::string& out) const;

    SecretString key_;
    std::vector<SecretString> old_keys_;
    RandomSource& random_;
    // AES-256-GCM looked up once: EVP_aes_256_gcm() makes OpenSSL 3 fetch it again at
    // every EVP_*Init_ex, a good part of unsealing one short value.
    std::shared_ptr<evp_cipher_st> cipher_;
};

}  // namespace lwauth
