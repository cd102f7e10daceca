#include "lwauth/text.hpp"

namespace lwauth {
namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

// `form` (tr_n's, for `count`) with the count in it.
std::string counted(const char* form, int64_t count) {
    return format_text(form, {std::to_string(count)});
}

}  // namespace

std::string hex_encode(const void* data, size_t size) {
    static constexpr char kHex[] = "0123456789abcdef";
    const auto* bytes = static_cast<const unsigned char*>(data);
    std::string out;
    out.reserve(size * 2);
    for (size_t i = 0; i < size; ++i) {
        out += kHex[bytes[i] >> 4];
        out += kHex[bytes[i] & 0xf];
    }
    return out;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && is_space(text.front())) {
        text.remove_prefix(1);
    }
    while (!text.empty() && is_space(text.back())) {
        text.remove_suffix(1);
    }
    return text;
}

WaitCount wait_count(int64_t seconds) {
    if (seconds >= 120) {
        return {(seconds + 59) / 60, true};
    }
    return {seconds, false};
}

std::string duration_text(int64_t seconds, Language language) {
    WaitCount wait = wait_count(seconds);
    auto n = static_cast<unsigned long>(wait.count);
    return counted(wait.minutes ? tr_n(language, "%s minute", "%s minutes", n)
                                : tr_n(language, "%s second", "%s seconds", n),
                   wait.count);
}

}  // namespace lwauth
