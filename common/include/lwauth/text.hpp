// Small text jobs done in one place: hex, base64, trimming, and how long a wait is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "lwauth/i18n.hpp"
#include "lwauth/result.hpp"

namespace lwauth {

/// Lowercase base16 (RFC 4648 section 8) of `size` bytes at `data`.
[[nodiscard]] std::string hex_encode(const void* data, size_t size);

/// Base64 with padding (RFC 4648 section 4), as MIME encoded-words
/// (RFC 2047) want it; through OpenSSL (src/base64.cpp).
[[nodiscard]] std::string base64_encode(std::string_view bytes);

/// Base64url without padding (RFC 4648 section 5; RFC 7515 section 2 for JWS).
[[nodiscard]] std::string base64url_encode(std::string_view bytes);

/// The bytes of base64url text without padding, read strictly as a JWS part must be
/// (RFC 7515 section 2): only the 64 characters of the URL-safe alphabet, no "=", no
/// white space, no length of 4n+1 and no bits set past the last byte (so that one value
/// has one text). InvalidArgument saying what is wrong, never quoting the text.
[[nodiscard]] Result<std::string> base64url_decode(std::string_view text);

/// `text` less leading and trailing ASCII white space (" \t\r\n\v\f").
[[nodiscard]] std::string_view trim(std::string_view text);

/// How long a wait lasts, for a user to read: "1 second", "90 seconds" under two minutes,
/// else whole minutes rounded up ("3 minutes" for 121 s), so that whoever waits that long
/// is not refused again. In `language` (i18n.hpp).
[[nodiscard]] std::string duration_text(int64_t seconds, Language language);

/// A wait as duration_text counts it: `count` minutes, or seconds under two minutes.
struct WaitCount {
    int64_t count = 0;
    bool minutes = false;
};
[[nodiscard]] WaitCount wait_count(int64_t seconds);

}  // namespace lwauth
