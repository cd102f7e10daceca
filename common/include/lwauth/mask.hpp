// How contacts are shown: never in full.
#pragma once

#include <string>
#include <string_view>

namespace lwauth {

/// "+819012345678" -> "+81 •• •••• 5678": the country code and the last four digits.
/// Anything that is not E.164 shows as "•••" plus at most its last two digits.
[[nodiscard]] std::string mask_phone(std::string_view e164);

/// "taro@example.com" -> "t•••@example.com": the first character and the domain.
[[nodiscard]] std::string mask_email(std::string_view address);

/// Masks a contact of the given kind ("phone" or "email").
[[nodiscard]] std::string mask_contact(std::string_view kind, std::string_view value);

/// Normalizes a phone number typed by a person ("+81 90-1234-5678") to E.164
/// ("+819012345678"); returns "" when it is not a valid international number.
[[nodiscard]] std::string normalize_phone(std::string_view typed);

/// Checks an email address for the shape local@domain.tld (no spaces, one '@', a dot in
/// the domain, at most 254 characters); returns the address lower-cased in the domain,
/// or "" when it is not acceptable.
[[nodiscard]] std::string normalize_email(std::string_view typed);

/// The length of the E.164 country calling code at the start of digits (1, 2 or 3).
[[nodiscard]] size_t country_code_length(std::string_view digits);

}  // namespace lwauth
