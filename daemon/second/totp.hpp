// Authenticator apps: HOTP (RFC 4226) and TOTP (RFC 6238) over OpenSSL's HMAC, and the
// otpauth:// URI an app reads from a QR code (Google Authenticator's Key Uri Format,
// which FreeOTP, Aegis and oathtool's --totp follow too).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lwauth/policy.hpp"
#include "lwauth/secret.hpp"

namespace lwauth::totp {

/// The size of a new secret: 160 bits, the output of SHA-1 (RFC 4226 section 4, R6).
inline constexpr size_t kSecretBytes = 20;

/// HOTP(K, C) (RFC 4226 section 5.3) with `digits` digits, the HMAC made with `algorithm`
/// (RFC 6238 allows SHA-256 and SHA-512 beside SHA-1).
[[nodiscard]] SecretString hotp(std::string_view key, uint64_t counter, int digits,
                                policy::TotpAlgorithm algorithm);

/// The time step of `now` (RFC 6238 section 4.2: T = (now - T0) / X, T0 = 0).
[[nodiscard]] int64_t time_step(int64_t now, std::chrono::seconds period);

/// The time step whose code `answer` is, among the current one and `policy.window` on each
/// side, compared in constant time; none when it is no such code. Steps at or before
/// `last_used` are not looked at: a code is used once.
[[nodiscard]] std::optional<int64_t> matching_step(std::string_view key, std::string_view answer,
                                                   int64_t now, const policy::TotpPolicy& policy,
                                                   int64_t last_used);

/// RFC 4648 base32 without padding, as authenticator apps take a secret.
[[nodiscard]] std::string base32(std::string_view bytes);

/// otpauth://totp/ISSUER:LABEL?secret=...&issuer=...&algorithm=...&digits=...&period=...
[[nodiscard]] SecretString otpauth_uri(std::string_view key, const std::string& issuer,
                                       const std::string& label, const policy::TotpPolicy& policy);

}  // namespace lwauth::totp
