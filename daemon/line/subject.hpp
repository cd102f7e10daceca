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
// host's code.key. After a rotation the earlier keys ([line] subject_old_key_files, or
// [store] code_old_key_files without a subject_key_file) still find a link made under
// them; the hash is one-way, so such a link can only be kept again under the new key when
// its LINE account next proves itself (a LINE login).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

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

    /// The hash of `sub` under each earlier key, in the policy's order (none without them).
    [[nodiscard]] std::vector<std::string> old_hashes(std::string_view channel_id,
                                                      std::string_view sub) const;

    /// Whether `stored` (a hash() kept by a link) is the hash of `sub`, compared in
    /// constant time.
    [[nodiscard]] bool matches(std::string_view stored, std::string_view channel_id,
                               std::string_view sub) const;

  private:
    Hasher keyed_;
};

/// The hasher the policy names: the key in `line.subject_key_file` (the file's bytes less
/// one trailing newline, at least kMinSubjectKeySize; a secret file that `reader` may
/// read, as read_secret_file checks) with the earlier keys of `line.subject_old_key_files`
/// (each the same), or `host`'s key (code.key, with its own earlier keys) when it is
/// empty. Throws Error(Internal) saying why a file cannot be used, never its content.
[[nodiscard]] SubjectHasher subject_hasher(const policy::LinePolicy& line, const Hasher& host,
                                           const SecretReader& reader);

}  // namespace lwauth::line
