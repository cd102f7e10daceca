// What one LINE Login authorization draws before it starts: PKCE (RFC 7636) with S256,
// the only method LINE takes, and the `state` and `nonce` that bind its callback and its
// ID token to this login.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "clock.hpp"
#include "lwauth/secret.hpp"

namespace lwauth::line {

/// Random bytes behind each value: 256 bits, so the verifier has the 43 characters
/// RFC 7636 section 4.1 asks for at least, and `state` and `nonce` cannot be guessed.
inline constexpr size_t kRandomBytes = 32;

struct AuthRequest {
    std::string state;           // base64url, 43 characters: the callback's key
    std::string nonce;           // base64url, 43 characters: the ID token must carry it
    SecretString code_verifier;  // base64url, 43 characters: only the token request sees it
    std::string code_challenge;  // BASE64URL(SHA-256(code_verifier))
};

/// Draws a new state, nonce and code verifier from `random` (which throws on failure),
/// and the verifier's S256 challenge.
[[nodiscard]] AuthRequest new_auth_request(RandomSource& random);

/// The S256 code challenge of a verifier (RFC 7636 section 4.2):
/// BASE64URL-ENCODE(SHA256(ASCII(code_verifier))).
[[nodiscard]] std::string s256_challenge(std::string_view code_verifier);

}  // namespace lwauth::line
