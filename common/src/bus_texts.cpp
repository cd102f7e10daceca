#include "lwauth/bus_texts.hpp"

#include <regex>

namespace lwauth {
namespace {

// The pattern as a regular expression: its literal text escaped, each directive ("%s",
// "%2$s") a capture; the captures' order in the pattern, by directive number.
std::regex pattern_regex(std::string_view pattern, std::vector<size_t>& order) {
    std::string re = "^";
    size_t next = 0;
    for (size_t i = 0; i < pattern.size(); ++i) {
        char c = pattern[i];
        if (c == '%' && i + 1 < pattern.size() && pattern[i + 1] == '%') {
            re += '%';
            ++i;
        } else if (c == '%') {
            size_t end = pattern.find('s', i);
            std::string_view directive = pattern.substr(i + 1, end - i - 1);
            order.push_back(
                directive.ends_with('$')
                    ? std::stoul(std::string(directive.substr(0, directive.size() - 1))) - 1
                    : next);
            ++next;
            re += "(.+)";
            i = end;
        } else {
            if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) {
                re += '\\';
            }
            re += c;
        }
    }
    return std::regex(re + "$");
}

std::optional<std::vector<std::string>> match_pattern(std::string_view pattern,
                                                      std::string_view message) {
    std::vector<size_t> order;
    std::regex re = pattern_regex(pattern, order);
    std::match_results<std::string_view::const_iterator> m;
    if (!std::regex_match(message.begin(), message.end(), m, re)) {
        return std::nullopt;
    }
    std::vector<std::string> args(order.size());
    for (size_t i = 0; i < order.size(); ++i) {
        if (order[i] < args.size()) {
            args[order[i]] = m[i + 1].str();
        }
    }
    return args;
}

}  // namespace

std::string bus_text(const BusText& text, std::initializer_list<std::string_view> args,
                     unsigned long n) {
    return bus_text(Language::En, text, args, n);
}

std::string bus_text(Language language, const BusText& text,
                     std::initializer_list<std::string_view> args, unsigned long n) {
    return format_text(text.plural != nullptr ? tr_n(language, text.singular, text.plural, n)
                                              : tr(language, text.singular),
                       args);
}

std::optional<BusTextMatch> match_bus_text(std::string_view message) {
    for (const BusText& text : bus_texts::kAll) {
        for (const char* pattern : {text.singular, text.plural}) {
            if (pattern == nullptr) {
                continue;
            }
            if (auto args = match_pattern(pattern, message)) {
                return BusTextMatch{&text, std::move(*args)};
            }
        }
    }
    return std::nullopt;
}

}  // namespace lwauth
