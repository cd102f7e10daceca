// QR codes for a terminal: the link a phone opens, drawn with text (libqrencode).
//
// Error correction level M, 8-bit mode, with the 4-module quiet zone QR codes need
// around them (ISO/IEC 18004). The drawing follows `qrencode -t UTF8`: a glyph draws a
// LIGHT module and a blank a dark one, because the terminals ssh logins are read in
// mostly draw light text on a dark background; there the code shows dark on light, the
// way phone cameras read it, quiet zone included. On a light background it shows
// inverted, which most phone cameras read too.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lwauth {

/// The largest QR version drawn: 57 modules, 65 with the quiet zone, so that a code fits
/// an 80-column terminal. Version 10-M holds 213 bytes, plenty for a short link.
inline constexpr int kQrMaxVersion = 10;

/// A QR code's modules, quiet zone included: `size` rows of `size` modules.
struct QrModules {
    int size = 0;
    std::vector<bool> dark;  // row by row; true: a dark module

    [[nodiscard]] bool dark_at(int x, int y) const {
        return dark[static_cast<size_t>(y) * static_cast<size_t>(size) + static_cast<size_t>(x)];
    }
};

/// Encodes `text` (bytes, 8-bit mode, level M) with a 4-module quiet zone. Throws
/// Error(InvalidArgument) when it does not fit version kQrMaxVersion, or is empty.
[[nodiscard]] QrModules qr_modules(std::string_view text);

/// The code as UTF-8 lines of half blocks: each character is two module rows (upper
/// and lower half), so a link of up to 42 bytes (version 3: 29 modules, 37 with the
/// quiet zone) takes 19 lines of 37 columns. A glyph half is a light module (see above). Throws as
/// qr_modules.
[[nodiscard]] std::vector<std::string> qr_lines(std::string_view text);

/// The same in ASCII, for a conversation that cannot show UTF-8: each module row is a
/// line, each module two characters ("##" light, "  " dark), so it is about square.
[[nodiscard]] std::vector<std::string> qr_lines_ascii(std::string_view text);

}  // namespace lwauth
