// Recovery codes: ten single-use codes a user keeps on paper for the day the phone and
// the authenticator app are both gone. Each is 12 characters of base32 (60 random bits),
// shown as xxxx-xxxx-xxxx, and kept only as a keyed hash: HMAC-SHA256 under code.key with
// the user in its context. A slow hash (Argon2id, as for PINs) buys nothing here: it
// slows the guessing of a low-entropy secret, and 60 random bits are not guessed offline
// even by whoever holds the key file too; online guesses count toward the lockout.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../clock.hpp"
#include "../codes.hpp"
#include "../store/async_store.hpp"
#include "lwauth/secret.hpp"

namespace lwauth::recovery {

inline constexpr int kCodesPerSet = 10;
inline constexpr size_t kCodeLength = 12;  // base32 characters, without the dashes

/// A new set of kCodesPerSet codes, as shown (xxxx-xxxx-xxxx).
[[nodiscard]] std::vector<SecretString> draw_codes(RandomSource& random);

/// What the user typed as a recovery code, lower case without dashes or spaces; none
/// when it cannot be one (so a TOTP or sent code is never taken for one).
[[nodiscard]] std::optional<SecretString> normalized(std::string_view answer);

/// The keyed hash a code of `user` is kept as (hex).
[[nodiscard]] std::string hash(const Hasher& hasher, const std::string& user,
                               const SecretString& normalized_code);

/// Uses up `user`'s recovery code `code` in the store: kept under the current code key or,
/// made before a rotation, under one of [store] code_old_key_files. `done` gets how many
/// are left after it, or -1 when no key's hash is one of the user's codes.
void use_code(AsyncStore& store, const Hasher& hasher, const std::string& user,
              const SecretString& code, Done<int> done);

/// The keyed hashes of a set drawn by draw_codes.
[[nodiscard]] std::vector<std::string> hashes(const Hasher& hasher, const std::string& user,
                                              const std::vector<SecretString>& codes);

}  // namespace lwauth::recovery
