// One-time codes: how they are drawn and how they are kept (only as an HMAC).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/types.h>

#include "clock.hpp"
#include "lwauth/secret.hpp"

namespace lwauth {

/// Draws a code of `length` decimal digits, each uniform over 0-9: random bytes of 250 or
/// more are rejected so that byte % 10 has no bias (256 is not a multiple of 10).
[[nodiscard]] SecretString generate_code(RandomSource& random, int length);

using Digest = std::array<uint8_t, 32>;

/// HMAC-SHA256 under the daemon's key. A code is stored as keyed_hash(context, code), so
/// neither memory dumps of pending logins nor the database reveal a code, and a code for
/// one purpose (context) cannot be replayed for another.
class Hasher {
  public:
    explicit Hasher(const SecretString& key);
    [[nodiscard]] Digest keyed_hash(std::string_view context, std::string_view value) const;
    /// Hex of keyed_hash, for values kept as lookup keys in the store (destinations).
    [[nodiscard]] std::string keyed_hex(std::string_view context, std::string_view value) const;

  private:
    // HMAC keyed once: each hash copies it rather than fetching the algorithm and
    // deriving the inner and outer pads again (most of a short HMAC's cost in OpenSSL 3).
    std::shared_ptr<evp_mac_ctx_st> keyed_;
};

/// Constant-time digest comparison (CRYPTO_memcmp).
[[nodiscard]] bool digest_equal(const Digest& a, const Digest& b) noexcept;

/// Reads the daemon key from path, creating 32 random bytes with mode 0600 if missing.
/// Refuses a key file that is not a regular file, has the wrong size, or is readable by
/// group or others.
[[nodiscard]] SecretString load_or_create_key(const std::string& path, RandomSource& random);

/// Reads a key the administrator gives ([store] code_key_file, contacts_key_file, ...):
/// a secret file (secret_file_rule(reader)) holding exactly 32 bytes, such as a copied
/// code.key, or 64 hexadecimal digits with an optional newline (openssl rand -hex 32).
/// Never creates it. Throws Error(Internal) saying why it cannot be used.
[[nodiscard]] SecretString read_key_file(const std::string& path, const SecretReader& reader);

/// Only digits, of exactly the expected length (what the user typed, spaces removed).
[[nodiscard]] bool looks_like_code(std::string_view answer, int length);

}  // namespace lwauth
