// Authenticator apps: HOTP (RFC 4226) and TOTP (RFC 6238) over OpenSSL's HMAC, and the
// otpauth:// URI an app reads from a QR code (Google Authenticator's Key Uri Format,
// which FreeOTP, Aegis and oathtool's --totp follow too).
#pragma once

#include <chrono>
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

/// How an app makes its codes: the HMAC, the digits and the time step it was set up with.
/// An app keeps making codes this way whatever [totp] says later, so they are kept with its
/// secret and its codes are checked with them; [totp] only sets up new apps.
struct Params {
    policy::TotpAlgorithm algorithm = policy::TotpAlgorithm::Sha1;
    int digits = 6;
    std::chrono::seconds period{30};
    friend bool operator==(const Params&, const Params&) = default;
};

/// The parameters of an app whose record is its bare secret (set up before records kept
/// them): the [totp] defaults, which were SHA1, 6 digits and 30 s from the first release.
inline constexpr Params kBareSecretParams{};

/// The parameters [totp] gives a new app.
[[nodiscard]] Params params_of(const policy::TotpPolicy& policy);

/// An authenticator app: its secret (raw bytes) and how it makes codes.
struct App {
    SecretString key;
    Params params;
};

/// The record the store seals for an app: a version tag, the algorithm, digits and period,
/// then the secret.
[[nodiscard]] SecretString encode(const App& app);

/// The app of a record encode() made, or of a bare secret (an older record:
/// kBareSecretParams). Throws Error(Internal) for a tagged record that is damaged.
[[nodiscard]] App decode(std::string_view record);

/// The time step of `now` (RFC 6238 section 4.2: T = (now - T0) / X, T0 = 0).
[[nodiscard]] int64_t time_step(int64_t now, std::chrono::seconds period);

/// The time step whose code of `app` `answer` is, among the current one and `window` on
/// each side ([totp] window), compared in constant time; none when it is no such code.
/// Steps at or before `last_used` are not looked at: a code is used once.
[[nodiscard]] std::optional<int64_t> matching_step(const App& app, std::string_view answer,
                                                   int64_t now, int window, int64_t last_used);

/// RFC 4648 base32 without padding, as authenticator apps take a secret.
[[nodiscard]] std::string base32(std::string_view bytes);

/// otpauth://totp/ISSUER:LABEL?secret=...&issuer=...&algorithm=...&digits=...&period=...
[[nodiscard]] SecretString otpauth_uri(const App& app, const std::string& issuer,
                                       const std::string& label);

}  // namespace lwauth::totp
