// JWS compact serialization (RFC 7515) verified with libcjose, the JOSE library
// mod_auth_openidc uses, for LINE's ID tokens: HS256 with the channel secret, ES256 with
// a P-256 key of LINE's JWKS (RFC 7517) named by the header's `kid`. Only the algorithm
// the policy pins is ever accepted; the checks before libcjose sees a token (size, form,
// base64url, header) are lwauth's own, so that every refusal says what was wrong.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "lwauth/policy.hpp"
#include "lwauth/result.hpp"
#include "lwauth/secret.hpp"

struct _cjose_jwk_int;  // cjose_jwk_t, kept out of this header

namespace lwauth::line {

using policy::IdTokenAlg;

/// The largest compact JWS read, whole: LINE's ID tokens with `scope=openid` are under
/// 1 KiB.
inline constexpr size_t kMaxJwsSize = 8 * 1024;

/// The largest JWKS document read, and the most keys it may hold.
inline constexpr size_t kMaxJwksSize = 64 * 1024;
inline constexpr size_t kMaxJwksKeys = 32;

/// "HS256" or "ES256".
[[nodiscard]] const char* jws_alg_name(IdTokenAlg alg) noexcept;

class Jwks;

/// A key for one algorithm, owning its libcjose JWK.
class Jwk {
  public:
    /// An HS256 key: `secret`'s bytes as they are (a LINE channel secret is its UTF-8
    /// text), as the oct JWK libcjose wants. InvalidArgument for an empty secret.
    [[nodiscard]] static Result<Jwk> hmac(std::string_view secret);

    [[nodiscard]] IdTokenAlg alg() const noexcept { return alg_; }
    [[nodiscard]] const _cjose_jwk_int* get() const noexcept { return key_.get(); }

  private:
    struct Release {
        void operator()(_cjose_jwk_int* key) const noexcept;
    };
    Jwk(_cjose_jwk_int* key, IdTokenAlg alg) : key_(key), alg_(alg) {}
    friend Result<Jwks> parse_jwks(std::string_view document);

    std::unique_ptr<_cjose_jwk_int, Release> key_;
    IdTokenAlg alg_;
};

/// The ES256 keys of a JWKS document, by `kid`.
class Jwks {
  public:
    /// The key named `kid`, or nullptr.
    [[nodiscard]] const Jwk* find(std::string_view kid) const;
    [[nodiscard]] size_t size() const noexcept { return keys_.size(); }

  private:
    friend Result<Jwks> parse_jwks(std::string_view document);
    std::map<std::string, Jwk, std::less<>> keys_;
};

/// Reads a JWKS document such as LINE's certs endpoint serves: an object whose `keys` is
/// an array of public JWKs. A key with kty "EC", crv "P-256", x and y of 32 bytes each, a
/// `kid` of 1 to 128 printable characters, `alg` "ES256" or none and `use` "sig" or none
/// is kept; a key for anything else (RSA, another curve or algorithm, encryption) is left
/// out. InvalidArgument for a document too large, not JSON, without `keys`, with more
/// than kMaxJwksKeys keys, with a private key (`d`), a malformed P-256 key, two keys of
/// one `kid`, or no ES256 key at all.
[[nodiscard]] Result<Jwks> parse_jwks(std::string_view document);

/// A compact JWS whose form and protected header were checked (see parse_jws).
struct Jws {
    std::string_view compact;  // the token, which the caller keeps alive
    IdTokenAlg alg;
    std::optional<std::string> kid;
};

/// Checks a compact JWS before any key is used: at most kMaxJwsSize bytes, three
/// non-empty base64url parts (strict: see base64url_decode), a header that is a JSON
/// object whose `alg` is exactly the pinned one ("none", the other algorithm or a
/// missing `alg` are refused), whose `typ`, if there, is "JWT", with no `crit`, and whose
/// `kid`, if there, is a string of 1 to 128 characters; a signature of the algorithm's
/// length (32 bytes for HS256, 64 for ES256: R || S). AccessDenied saying which.
[[nodiscard]] Result<Jws> parse_jws(std::string_view compact, IdTokenAlg pinned);

/// Verifies `jws` with `key` through libcjose (cjose_jws_import, cjose_jws_verify) and
/// returns its payload's bytes. AccessDenied when the key is of another algorithm than
/// the token, libcjose reads another `alg` than parse_jws did, or the signature does not
/// verify.
[[nodiscard]] Result<SecretString> verify_jws(const Jws& jws, const Jwk& key);

}  // namespace lwauth::line
