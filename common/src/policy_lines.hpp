// Reading one line of lwauth.conf, before libinih sees it.
#pragma once

#include <string>
#include <string_view>

namespace lwauth::policy::detail {

// What the reader made of one line.
struct Line {
    enum class Shape { Blank, Section, KeyValue, Malformed } shape = Shape::Blank;
    std::string_view text;  // without comments and surrounding whitespace
    std::string problem;    // for Malformed
};

// Comments start a line with '#' or ';', or follow whitespace anywhere in it (" ;", " #").
// Inline comments are handled here rather than by libinih, whose prefixes are a build
// option (Debian's build knows only ';').
Line classify_line(std::string_view raw);

}  // namespace lwauth::policy::detail
