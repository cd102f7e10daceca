// What a quick-login PIN may be. A PIN guards one machine behind a short failure cap
// ([quick_login] max_failures, at most 10), so what matters is that it is not among the
// first guesses anyone makes: the rules refuse the patterns and PINs that studies of
// chosen PINs find most often, and the digits of the user's own phone numbers.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lwauth/result.hpp"

namespace lwauth::quick {

/// The list of common PINs shipped with lwauthd (daemon/quick/common-pins): one PIN of
/// digits per line; "#" starts a comment line; blank lines are skipped.
class CommonPins {
  public:
    CommonPins() = default;
    explicit CommonPins(std::set<std::string, std::less<>> pins) : pins_(std::move(pins)) {}

    /// Reads the list. Error(Internal) naming the file and line when it cannot be read or
    /// a line is not a PIN of 4 to 32 digits: a damaged list must not pass every PIN.
    [[nodiscard]] static Result<CommonPins> load(const std::filesystem::path& path);

    [[nodiscard]] bool contains(std::string_view pin) const { return pins_.contains(pin); }
    [[nodiscard]] size_t size() const { return pins_.size(); }

  private:
    std::set<std::string, std::less<>> pins_;
};

/// Where lwauthd reads the common PINs from (share/lwauth/common-pins under the prefix).
[[nodiscard]] std::filesystem::path default_common_pins_path();

/// Whether `pin` may be set as a quick-login PIN, the first rule it breaks saying why
/// (InvalidArgument, a sentence for the user that never repeats the PIN or a number):
///  - digits 0-9 only (PINs are typed on keypads), from `min_length` to 32 of them;
///  - not one digit repeated (000000) nor one block repeated (121212, 123123);
///  - not an ascending or descending run, wrapping between 9 and 0 (123456, 987654,
///    890123);
///  - no 4 digits in a row found in a row in one of `phone_numbers` (E.164, "+8190..."),
///    read as written and in national form (a trunk 0 in place of a country code of 1 to 3
///    digits: "090...");
///  - not in `common`.
[[nodiscard]] Result<void> check_pin(std::string_view pin, int min_length,
                                     const std::vector<std::string>& phone_numbers,
                                     const CommonPins& common);

}  // namespace lwauth::quick
