// Reading one line of lwauth.conf: the only place a line is parsed.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace lwauth::policy::detail {

// What the reader made of one line.
struct Line {
    enum class Shape { Blank, Section, KeyValue, Malformed } shape = Shape::Blank;
    std::string_view text;   // without comments and surrounding whitespace; a section's name
    std::string_view key;    // for KeyValue: before the first '=', trimmed
    std::string_view value;  // for KeyValue: after it, trimmed
    std::string problem;     // for Malformed
};

// A setting's line, comments and indentation removed, is at most this long
// (lwauth.conf(5)).
inline constexpr size_t kMaxLineLength = 198;

// Comments start a line with '#' or ';', or follow whitespace anywhere in it (" ;", " #").
// Whitespace around keys and values is not part of them; a value never continues on the
// next line.
Line classify_line(std::string_view raw);

}  // namespace lwauth::policy::detail
