#include "lwauth/mask.hpp"

#include <algorithm>
#include <cctype>
#include <string>

namespace lwauth {
namespace {

constexpr std::string_view kDot = "\u2022";  // •

std::string dots(size_t count) {
    std::string out;
    out.reserve(count * kDot.size());
    for (size_t i = 0; i < count; ++i) {
        out += kDot;
    }
    return out;
}

bool all_digits(std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

size_t country_code_length(std::string_view digits) {
    if (digits.empty()) {
        return 0;
    }
    // ITU-T E.164 country codes are prefix-free: 1 and 7 stand alone, these two-digit
    // codes are assigned, and every other code has three digits.
    if (digits[0] == '1' || digits[0] == '7') {
        return 1;
    }
    static constexpr std::string_view kTwoDigit[] = {
        "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46",
        "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
        "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98"};
    if (digits.size() >= 2) {
        for (auto code : kTwoDigit) {
            if (digits.substr(0, 2) == code) {
                return 2;
            }
        }
    }
    return std::min<size_t>(3, digits.size());
}

std::string normalize_phone(std::string_view typed) {
    std::string digits;
    bool plus = false;
    for (size_t i = 0; i < typed.size(); ++i) {
        char c = typed[i];
        // "+81 (0)90 ...": the national trunk prefix in brackets is not dialled from abroad.
        if (typed.substr(i, 3) == "(0)" && plus) {
            i += 2;
            continue;
        }
        if (c == '+' && !plus && digits.empty()) {
            plus = true;
        } else if (c >= '0' && c <= '9') {
            digits += c;
        } else if (c == ' ' || c == '-' || c == '(' || c == ')' || c == '.') {
            continue;
        } else {
            return "";
        }
    }
    // E.164: at most 15 digits; a country code and a national number of at least 4 digits.
    if (!plus || digits.size() < 8 || digits.size() > 15 || digits[0] == '0') {
        return "";
    }
    return "+" + digits;
}

std::string normalize_email(std::string_view typed) {
    if (typed.empty() || typed.size() > 254) {
        return "";
    }
    auto at = typed.find('@');
    if (at == std::string_view::npos || at == 0 ||
        typed.find('@', at + 1) != std::string_view::npos) {
        return "";
    }
    std::string_view local = typed.substr(0, at);
    std::string_view domain = typed.substr(at + 1);
    if (local.size() > 64 || domain.size() < 3 || domain.find('.') == std::string_view::npos ||
        domain.front() == '.' || domain.back() == '.' ||
        domain.find("..") != std::string_view::npos) {
        return "";
    }
    for (char c : typed) {
        auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7f || c == '<' || c == '>' || c == '"' || c == ',' || c == ';' ||
            c == '\\' || c == '(' || c == ')' || c == '[' || c == ']') {
            return "";
        }
    }
    std::string out(local);
    out += '@';
    for (char c : domain) {
        out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

std::string mask_phone(std::string_view e164) {
    if (e164.size() < 2 || e164[0] != '+' || !all_digits(e164.substr(1))) {
        std::string tail;
        if (e164.size() > 4) {
            tail = std::string(e164.substr(e164.size() - 2));
            if (!all_digits(tail)) {
                tail.clear();
            }
        }
        return dots(3) + tail;
    }
    std::string_view digits = e164.substr(1);
    size_t cc = country_code_length(digits);
    std::string_view national = digits.substr(cc);
    if (national.size() <= 4) {
        return "+" + std::string(digits.substr(0, cc)) + " " + dots(national.size());
    }
    size_t hidden = national.size() - 4;
    // Group the hidden digits in fours from the right, as numbers are usually written.
    std::string masked;
    size_t first = hidden % 4 == 0 ? 4 : hidden % 4;
    masked += dots(first);
    for (size_t done = first; done < hidden; done += 4) {
        masked += ' ';
        masked += dots(4);
    }
    return "+" + std::string(digits.substr(0, cc)) + " " + masked + " " +
           std::string(national.substr(hidden));
}

std::string mask_email(std::string_view address) {
    auto at = address.rfind('@');
    if (at == std::string_view::npos || at == 0) {
        return dots(3);
    }
    return std::string(address.substr(0, 1)) + dots(3) + std::string(address.substr(at));
}

std::string mask_contact(std::string_view kind, std::string_view value) {
    if (kind == "phone") {
        return mask_phone(value);
    }
    if (kind == "email") {
        return mask_email(value);
    }
    return dots(3);
}

}  // namespace lwauth
