// Base64 through OpenSSL's EVP_EncodeBlock, in an object of its own so that only the
// programs that encode pull it in (pam_lwauth.so does not).
#include <openssl/evp.h>

#include <algorithm>
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

}  // namespace lwauth
