#include "line/pkce.hpp"

#include <openssl/sha.h>

#include <array>
#include <cstdint>

#include "lwauth/text.hpp"

namespace lwauth::line {
namespace {

// base64url of fresh random bytes; the bytes are wiped, the text is the caller's.
std::string random_text(RandomSource& random) {
    std::array<uint8_t, kRandomBytes> bytes{};
    random.fill(bytes.data(), bytes.size());
    std::string text = base64url_encode(
        std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    secure_wipe(bytes.data(), bytes.size());
    return text;
}

}  // namespace

AuthRequest new_auth_request(RandomSource& random) {
    AuthRequest request;
    request.state = random_text(random);
    request.nonce = random_text(random);
    std::string verifier = random_text(random);
    ScopedWipe wipe(verifier);
    request.code_verifier = SecretString(verifier);
    request.code_challenge = s256_challenge(verifier);
    return request;
}

std::string s256_challenge(std::string_view code_verifier) {
    std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
    SHA256(reinterpret_cast<const unsigned char*>(code_verifier.data()), code_verifier.size(),
           digest.data());
    return base64url_encode(
        std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

}  // namespace lwauth::line
