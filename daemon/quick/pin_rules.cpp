#include "quick/pin_rules.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>

#include "lwauth/bus_texts.hpp"
#include "lwauth/policy.hpp"
#include "lwauth/text.hpp"

namespace lwauth::quick {

namespace {

constexpr size_t kPhoneRun = 4;  // digits in a row shared with a phone number

bool is_digits(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// One block repeated to fill the PIN: "000000" (a block of one), "121212", "123123".
size_t repeated_block(std::string_view pin) {
    for (size_t period = 1; period <= pin.size() / 2; ++period) {
        if (pin.size() % period != 0) {
            continue;
        }
        bool repeats = true;
        for (size_t i = period; i < pin.size() && repeats; ++i) {
            repeats = pin[i] == pin[i - period];
        }
        if (repeats) {
            return period;
        }
    }
    return 0;
}

// Each digit `step` (1 or 9, that is -1) after the one before it, modulo 10.
bool is_run(std::string_view pin, int step) {
    for (size_t i = 1; i < pin.size(); ++i) {
        if ((pin[i - 1] - '0' + step) % 10 != pin[i] - '0') {
            return false;
        }
    }
    return true;
}

// The digits of an E.164 number as written, and as dialled within its country: a trunk
// "0" in place of the country code, which E.164 gives 1 to 3 digits (+1, +44, +358).
std::vector<std::string> phone_forms(const std::string& number) {
    std::string digits;
    std::copy_if(number.begin(), number.end(), std::back_inserter(digits),
                 [](char c) { return c >= '0' && c <= '9'; });
    std::vector<std::string> forms{digits};
    for (size_t country = 1; country <= 3 && digits.size() > country + 1; ++country) {
        forms.push_back("0" + digits.substr(country));
    }
    return forms;
}

bool shares_phone_digits(std::string_view pin, const std::vector<std::string>& phone_numbers) {
    for (const auto& number : phone_numbers) {
        for (const auto& form : phone_forms(number)) {
            for (size_t at = 0; at + kPhoneRun <= pin.size(); ++at) {
                if (form.find(pin.substr(at, kPhoneRun)) != std::string::npos) {
                    return true;
                }
            }
        }
    }
    return false;
}

Error refuse(const std::string& why) { return Error(Errc::InvalidArgument, why); }

}  // namespace

Result<CommonPins> CommonPins::load(const std::filesystem::path& path) {
    std::ifstream in(path);
    if (!in) {
        return Error(Errc::Internal, "cannot read the common PINs from " + path.string());
    }
    std::set<std::string, std::less<>> pins;
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
        std::string_view pin = trim(line);
        if (pin.empty() || pin.front() == '#') {
            continue;
        }
        if (!is_digits(pin) || pin.size() < 4 ||
            pin.size() > static_cast<size_t>(policy::QuickLoginPolicy::kMaxPinLength)) {
            return Error(Errc::Internal, path.string() + ":" + std::to_string(number) +
                                             ": not a PIN of 4 to 32 digits");
        }
        pins.emplace(pin);
    }
    if (in.bad()) {
        return Error(Errc::Internal, "cannot read the common PINs from " + path.string());
    }
    return CommonPins(std::move(pins));
}

std::filesystem::path default_common_pins_path() {
    return std::filesystem::path(LWAUTH_DATADIR) / "common-pins";
}

Result<void> check_pin(std::string_view pin, int min_length,
                       const std::vector<std::string>& phone_numbers, const CommonPins& common) {
    const auto max_length = static_cast<size_t>(policy::QuickLoginPolicy::kMaxPinLength);
    if (!is_digits(pin)) {
        return refuse(N_("A PIN may contain only the digits 0 to 9."));
    }
    if (pin.size() < static_cast<size_t>(min_length)) {
        return refuse(bus_text(bus_texts::kPinTooShort, {std::to_string(min_length)},
                               static_cast<unsigned long>(min_length)));
    }
    if (pin.size() > max_length) {
        return refuse(bus_text(bus_texts::kPinTooLong, {std::to_string(max_length)}, max_length));
    }
    if (size_t block = repeated_block(pin); block != 0) {
        return refuse(block == 1 ? N_("A PIN of one digit repeated is too easy to guess.")
                                 : N_("A PIN of a few digits repeated is too easy to guess."));
    }
    if (is_run(pin, 1) || is_run(pin, 9)) {
        return refuse(N_("A PIN of consecutive digits, up or down, is too easy to guess."));
    }
    if (shares_phone_digits(pin, phone_numbers)) {
        return refuse(N_("A PIN must not contain digits of your phone number."));
    }
    if (common.contains(pin)) {
        return refuse(N_("This PIN is one of the most common PINs, too easy to guess."));
    }
    return {};
}

}  // namespace lwauth::quick
