// The checks of a LINE ID token (OpenID Connect Core 1.0 section 3.1.3.7; LINE's "Get
// profile information from ID tokens"): the signature with the pinned algorithm, then
// iss, aud, exp, iat, nonce, auth_time and sub. What passes is the pairwise `sub` and
// when the user authenticated; the token itself is the caller's to drop.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "line/jose.hpp"
#include "line/oidc.hpp"
#include "line/pkce.hpp"
#include "lwauth/policy.hpp"
#include "lwauth/result.hpp"
#include "lwauth/secret.hpp"

namespace lwauth::line {

/// The most a clock may be off: exp, iat and auth_time are judged this much in the
/// token's favour, and no more.
inline constexpr std::chrono::seconds kMaxClockSkew{60};

/// The longest `sub` taken (OpenID Connect Core 1.0 section 2: at most 255 ASCII
/// characters; LINE's is "U" and 32 hex digits).
inline constexpr size_t kMaxSubject = 255;

/// What the token must say, from the policy and from this login's authorization.
struct IdTokenExpected {
    IdTokenAlg alg = IdTokenAlg::Hs256;           // [line] id_token_alg
    std::string issuer;                           // [line] issuer: `iss`, exactly
    std::string channel_id;                       // `aud`, exactly (LINE sends a string)
    std::string_view nonce;                       // the AuthRequest's nonce
    std::optional<std::chrono::seconds> max_age;  // when sent: auth_time is required
    int64_t now = 0;                              // the daemon's Clock, seconds
    std::chrono::seconds skew = kMaxClockSkew;    // at most kMaxClockSkew
};

/// What the token of `request`'s authorization must say under `client`, at `now`. The
/// result refers to `request.nonce`: `request` must outlive it.
[[nodiscard]] IdTokenExpected expected_for(const ClientConfig& client, const AuthRequest& request,
                                           int64_t now);

/// The keys a token may be verified with: the channel secret for HS256, LINE's JWKS for
/// ES256. Only the one of the pinned algorithm is used; the other may be absent.
struct IdTokenKeys {
    const SecretString* channel_secret = nullptr;
    const Jwks* jwks = nullptr;
};

struct IdToken {
    SecretString sub;                  // LINE's user ID for this provider: never logged
    std::optional<int64_t> auth_time;  // when the user authenticated, if the token says
};

/// Verifies an ID token: parse_jws with the pinned algorithm; for ES256 a `kid` that
/// names a key of `keys.jwks`; verify_jws; then a payload that is a JSON object with
/// - `iss` equal to `expected.issuer` and `aud` equal to `expected.channel_id` (strings);
/// - integer `exp` and `iat` with now < exp + skew and iat <= now + skew;
/// - a string `nonce` equal to `expected.nonce` (compared in constant time);
/// - when max_age is set, an integer `auth_time` with auth_time + max_age + skew >= now
///   and auth_time <= now + skew (an auth_time sent without max_age is checked the same
///   way against the future, and returned);
/// - a string `sub` of 1 to kMaxSubject printable ASCII characters.
/// Errors: NotFound for an ES256 `kid` the JWKS does not hold (the caller may fetch the
/// JWKS again, once, and retry), InvalidArgument for a key the policy did not provide,
/// AccessDenied for everything else; the text says which check failed and quotes no
/// token, claim value or secret.
[[nodiscard]] Result<IdToken> verify_id_token(const SecretString& token,
                                              const IdTokenExpected& expected,
                                              const IdTokenKeys& keys);

}  // namespace lwauth::line
