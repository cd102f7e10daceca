// Reading one line of lwauth.conf.
#include "policy_lines.hpp"

#include "lwauth/text.hpp"
#include "policy_values.hpp"

namespace lwauth::policy::detail {

Line classify_line(std::string_view raw) {
    std::string_view text = trim(raw);
    if (text.empty() || text.front() == '#' || text.front() == ';') {
        return {};
    }
    for (size_t i = 1; i < text.size(); ++i) {
        if ((text[i] == '#' || text[i] == ';') && is_space(text[i - 1])) {
            text = trim(text.substr(0, i));
            break;
        }
    }
    if (text.find('\0') != std::string_view::npos) {
        return {Line::Shape::Malformed, text, {}, {}, "line contains a NUL byte"};
    }
    if (text.front() == '[') {
        std::string_view name = text.substr(1, text.size() - 1);
        if (!text.ends_with(']') || text.size() < 2 ||
            name.substr(0, name.size() - 1).find_first_of("[]") != std::string_view::npos) {
            return {Line::Shape::Malformed, text, {}, {}, "expected a section header like [code]"};
        }
        return {Line::Shape::Section, text.substr(1, text.size() - 2), {}, {}, {}};
    }
    // A ':' before the '=' is refused: INI readers that split at ':' would read the line
    // another way.
    size_t equals = text.find('=');
    if (equals == std::string_view::npos ||
        text.substr(0, equals).find(':') != std::string_view::npos) {
        return {Line::Shape::Malformed, text, {}, {}, "expected 'key = value' or a [section]"};
    }
    std::string_view key = trim(text.substr(0, equals));
    if (key.empty()) {
        return {Line::Shape::Malformed, text, {}, {}, "missing key name before '='"};
    }
    return {Line::Shape::KeyValue, text, key, trim(text.substr(equals + 1)), {}};
}

}  // namespace lwauth::policy::detail
