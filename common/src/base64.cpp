// Base64 through OpenSSL's EVP_EncodeBlock, in an object of its own so that only the
// programs that encode pull it in (pam_lwauth.so does not).
#include <openssl/evp.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "lwauth/error.hpp"
#include "lwauth/text.hpp"

namespace lwauth {

std::string base64_encode(std::string_view bytes) {
    // EVP_EncodeBlock takes an int count and writes 4 bytes per 3 and a final NUL.
    if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()) / 4 * 3) {
        throw Error(Errc::InvalidArgument, "too much data to encode in base64");
    }
    std::string out((bytes.size() + 2) / 3 * 4 + 1, '\0');
    int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data()),
                                  static_cast<int>(bytes.size()));
    out.resize(static_cast<size_t>(written));
    return out;
}

std::string base64url_encode(std::string_view bytes) {
    std::string out = base64_encode(bytes);
    out.erase(out.find_last_not_of('=') + 1);
    std::replace(out.begin(), out.end(), '+', '-');
    std::replace(out.begin(), out.end(), '/', '_');
    return out;
}

Result<std::string> base64url_decode(std::string_view text) {
    auto value = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') {
            return c - 'A';
        }
        if (c >= 'a' && c <= 'z') {
            return c - 'a' + 26;
        }
        if (c >= '0' && c <= '9') {
            return c - '0' + 52;
        }
        return c == '-' ? 62 : c == '_' ? 63 : -1;
    };
    if (text.size() % 4 == 1) {
        return Error(Errc::InvalidArgument, "base64url text of an impossible length");
    }
    std::string out;
    out.reserve(text.size() / 4 * 3 + 2);
    uint32_t bits = 0;
    int count = 0;
    for (char c : text) {
        int v = value(c);
        if (v < 0) {
            return Error(Errc::InvalidArgument, "a character outside the base64url alphabet");
        }
        bits = (bits << 6) | static_cast<uint32_t>(v);
        count += 6;
        if (count >= 8) {
            count -= 8;
            out += static_cast<char>((bits >> count) & 0xff);
        }
    }
    if ((bits & ((1U << count) - 1)) != 0) {
        return Error(Errc::InvalidArgument, "base64url text with bits set past its last byte");
    }
    return out;
}

}  // namespace lwauth
