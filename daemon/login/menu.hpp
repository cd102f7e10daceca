// A numbered choice in one prompt, as the passwordless menu and the choice of a second
// factor ask it: a title, one line per choice ("  1  a code sent to ..."), and the
// answer read as the number of a line.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "lwauth/text.hpp"
#include "step.hpp"

namespace lwauth {

/// Adds "  N  label" to `step`, N counting from 1.
inline void add_menu_line(Step& step, size_t index, const std::string& label) {
    step.info("  " + std::to_string(index + 1) + "  " + label);
}

/// The index of the line an answer chooses out of `count` (at most 9): its number,
/// spaces around allowed; nullopt for anything else.
[[nodiscard]] inline std::optional<size_t> menu_choice(std::string_view answer, size_t count) {
    answer = trim(answer);
    if (answer.size() != 1 || answer[0] < '1' || answer[0] > '9') {
        return std::nullopt;
    }
    auto index = static_cast<size_t>(answer[0] - '1');
    return index < count ? std::optional<size_t>(index) : std::nullopt;
}

}  // namespace lwauth
