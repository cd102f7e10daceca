// Apart from secret.cpp so that what links SecretString alone (the PAM module) does not
// need libcrypto.
#include <openssl/crypto.h>

#include "lwauth/secret.hpp"

namespace lwauth {

bool secret_equal(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) {
        return false;
    }
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace lwauth
