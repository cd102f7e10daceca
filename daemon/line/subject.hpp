// What lwauth keeps of a LINE account: a keyed hash of the `sub` of its ID tokens.
//
// `sub` is LINE's opaque, per-provider identifier of the user. lwauth never stores, logs
// or shows it: a link keeps only
//
//     HMAC-SHA256(key, "line-sub" 0x00 channel_id 0x00 sub)   in lower-case hex
//
// (64 characters). The context "line-sub" separates it from every other hash made with
// the same key (codes, destinations: codes.hpp), the channel ID from the links of another
// LINE Login channel. The key is [line] subject_key_file, shared by a fleet, or else the
// host's code.key.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "codes.hpp"
#include "lwauth/policy.hpp"

namespace lwauth::line {

/// The context of the hash, written before the channel ID.
inline constexpr std::string_view kSubjectContext = "line-sub";

/// The shortest subject_key_file accepted: 32 bytes, as much as SHA-256 can use.
inline constexpr size_t kMinSubjectKeySize = 32;

class SubjectHasher {
  public:
    /// Hashes with `keyed`'s key.
    explicit SubjectHasher(Hasher keyed) : keyed_(std::move(keyed)) {}

    /// The hash a link keeps for `sub` of the LINE Login channel `channel_id`.
    [[nodiscard]] std::string hash(std::string_view channel_id, std::string_view sub) const;

    /// Whether `stored` (a hash() kept by a link) is the hash of `sub`, compared in
    /// constant time.
    [[nodiscard]] bool matches(std::string_view stored, std::string_view channel_id,
                               std::string_view sub) const;

  private:
    Hasher keyed_;
};

/// The hasher the policy names: the key in `line.subject_key_file` (the file's bytes less
/// one trailing newline, at least kMinSubjectKeySize; a secret file that `reader` may
/// read, as read_secret_file checks), or `host`'s key (code.key) when it is
/// empty. Throws Error(Internal) saying why the file cannot be used, never its content.
[[nodiscard]] SubjectHasher subject_hasher(const policy::LinePolicy& line, const Hasher& host,
                                           const SecretReader& reader);

}  // namespace lwauth::line
