// Quick-login PIN hashes: Argon2id (RFC 9106) through libargon2, kept as PHC strings
// ("$argon2id$v=19$m=19456,t=2,p=1$SALT$HASH", the salt and hash in base64 without
// padding) so that each hash carries the costs it was made with. Hashing and checking
// cost tens of milliseconds of CPU and megabytes of memory by design: PinHasher runs
// them on the worker pool, never on the loop, and posts the result back to the loop.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "clock.hpp"
#include "lwauth/policy.hpp"
#include "lwauth/result.hpp"
#include "lwauth/secret.hpp"
#include "workers.hpp"

namespace lwauth::quick {

using policy::Argon2Params;

inline constexpr size_t kPinSaltBytes = 16;  // RFC 9106 section 3.1 recommends 16 bytes
inline constexpr size_t kPinHashBytes = 32;

/// A PHC string read back: the costs, and the raw salt and hash bytes.
struct PhcHash {
    Argon2Params params;
    std::string salt;
    std::string hash;
};

/// Reads a PHC string strictly: "$argon2id$v=19$m=M,t=T,p=P$SALT$HASH" in that order,
/// decimal numbers without sign or leading zero, SALT (8-64 bytes) and HASH (16-64 bytes)
/// in standard base64 without padding. Costs beyond what [quick_login] may ask for (1 GiB,
/// 10 passes, 4 lanes) are refused too, so that a planted hash cannot make a check cost
/// anything. InvalidArgument ("malformed PIN hash: ...") says what is wrong, never
/// quoting the text.
[[nodiscard]] Result<PhcHash> parse_phc(std::string_view phc);

/// Whether a stored hash should be made again with `current`: its costs differ, its salt
/// or hash is not of lwauthd's length, or it cannot be read at all.
[[nodiscard]] bool needs_rehash(std::string_view phc, const Argon2Params& current);

/// Hashes `pin` with `salt` and the costs; the PHC string. Blocking: call it on a worker
/// (or in a test). Throws Error(Internal) with libargon2's reason when it fails.
[[nodiscard]] std::string hash_pin_blocking(std::string_view pin, const Argon2Params& params,
                                            std::string_view salt);

/// Whether `pin` hashes to `phc`'s hash under its own salt and costs, compared in
/// constant time (CRYPTO_memcmp). Blocking. parse_phc's error for a malformed string.
[[nodiscard]] Result<bool> verify_pin_blocking(std::string_view pin, std::string_view phc);

/// The outcome of checking a PIN against its stored hash.
struct PinCheck {
    bool match = false;
    // With a match: the stored hash was made with other costs than the policy's now, and
    // the caller should store a new hash of the same PIN (hash_pin) in its place.
    bool needs_rehash = false;
    friend bool operator==(const PinCheck&, const PinCheck&) = default;
};

/// Hashes and checks PINs on the worker pool. Use it on the loop's thread. The PIN moves
/// into the job and is wiped on the worker when the job is done with it; `done` runs on
/// the loop, unless the returned Job is dropped first (then the work may still finish on
/// its worker, but nothing is delivered). Both throw Error(Unavailable) at once, without
/// calling `done`, when too many jobs already wait for a worker (hash_pin also throws the
/// random source's error).
class PinHasher {
  public:
    PinHasher(WorkerPool& pool, RandomSource& random) : pool_(pool), random_(random) {}

    /// A new hash of `pin`: a fresh 16-byte salt from the random source and `params`;
    /// `done` gets the PHC string.
    [[nodiscard]] Job hash_pin(SecretString pin, const Argon2Params& params,
                               Done<std::string> done);

    /// Checks `pin` against the stored `phc`; `current` are the policy's costs, for
    /// PinCheck::needs_rehash. A malformed `phc` gives parse_phc's error.
    [[nodiscard]] Job verify_pin(SecretString pin, std::string phc, const Argon2Params& current,
                                 Done<PinCheck> done);

  private:
    WorkerPool& pool_;
    RandomSource& random_;
};

}  // namespace lwauth::quick
