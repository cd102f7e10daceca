// The JSON text a channel sends or writes.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace lwauth {

/// `document` as compact UTF-8 JSON text (RFC 8259 section 8.1: non-ASCII as it is, not
/// escaped), with a byte that is not well-formed UTF-8 written as U+FFFD where nlohmann
/// would throw: a malformed translation still lets the code in the text go out.
[[nodiscard]] inline std::string json_text(const nlohmann::json& document) {
    return document.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace lwauth
