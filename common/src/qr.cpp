// QR codes for a terminal (include/lwauth/qr.hpp).
#include "lwauth/qr.hpp"

#include <qrencode.h>

#include <cerrno>
#include <memory>

#include "lwauth/error.hpp"

namespace lwauth {
namespace {

constexpr int kQuietZone = 4;  // modules of light border, ISO/IEC 18004

// The halves of a character cell, the upper and lower module of a column, when light.
constexpr const char* kUpperHalf = "\u2580";  // ▀
constexpr const char* kLowerHalf = "\u2584";  // ▄
constexpr const char* kFullBlock = "\u2588";  // █

using QrCodePtr = std::unique_ptr<QRcode, decltype(&QRcode_free)>;

}  // namespace

QrModules qr_modules(std::string_view text) {
    if (text.empty()) {
        throw Error(Errc::InvalidArgument, "nothing to encode in a QR code");
    }
    auto too_long = [&text] {
        // The text itself is not named: it is a login's link.
        return Error(Errc::InvalidArgument,
                     "text of " + std::to_string(text.size()) +
                         " bytes is too long for a QR code that fits a terminal (version " +
                         std::to_string(kQrMaxVersion) + ")");
    };
    constexpr size_t kMaxBytes = 2953;  // version 40-L in 8-bit mode: no QR code holds more
    if (text.size() > kMaxBytes) {
        throw too_long();
    }
    errno = 0;
    // Version 0: the smallest that holds the text at level M.
    QrCodePtr code(
        QRcode_encodeData(static_cast<int>(text.size()),
                          reinterpret_cast<const unsigned char*>(text.data()), 0, QR_ECLEVEL_M),
        &QRcode_free);
    if (!code && errno != ERANGE) {
        throw Error(Errc::Internal, "cannot encode a QR code");
    }
    if (!code || code->version > kQrMaxVersion) {
        throw too_long();
    }
    QrModules out;
    out.size = code->width + 2 * kQuietZone;
    out.dark.assign(static_cast<size_t>(out.size) * static_cast<size_t>(out.size), false);
    for (int y = 0; y < code->width; ++y) {
        for (int x = 0; x < code->width; ++x) {
            bool dark = (code->data[y * code->width + x] & 1) != 0;  // bit 0: dark
            out.dark[static_cast<size_t>(y + kQuietZone) * static_cast<size_t>(out.size) +
                     static_cast<size_t>(x + kQuietZone)] = dark;
        }
    }
    return out;
}

std::vector<std::string> qr_lines(std::string_view text) {
    QrModules code = qr_modules(text);
    std::vector<std::string> lines;
    for (int y = 0; y < code.size; y += 2) {
        std::string line;
        for (int x = 0; x < code.size; ++x) {
            bool upper = !code.dark_at(x, y);
            // Below an odd last row is the terminal's own background.
            bool lower = y + 1 < code.size && !code.dark_at(x, y + 1);
            line += upper && lower ? kFullBlock : upper ? kUpperHalf : lower ? kLowerHalf : " ";
        }
        lines.push_back(std::move(line));
    }
    return lines;
}

std::vector<std::string> qr_lines_ascii(std::string_view text) {
    QrModules code = qr_modules(text);
    std::vector<std::string> lines;
    for (int y = 0; y < code.size; ++y) {
        std::string line;
        for (int x = 0; x < code.size; ++x) {
            line += code.dark_at(x, y) ? "  " : "##";
        }
        lines.push_back(std::move(line));
    }
    return lines;
}

}  // namespace lwauth
