#include "totp.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>

#include "../http/url.hpp"
#include "lwauth/error.hpp"

namespace lwauth::totp {
namespace {

const EVP_MD* digest_of(policy::TotpAlgorithm algorithm) {
    switch (algorithm) {
        case policy::TotpAlgorithm::Sha256:
            return EVP_sha256();
        case policy::TotpAlgorithm::Sha512:
            return EVP_sha512();
        case policy::TotpAlgorithm::Sha1:
            break;
    }
    return EVP_sha1();
}

}  // namespace

SecretString hotp(std::string_view key, uint64_t counter, int digits,
                  policy::TotpAlgorithm algorithm) {
    if (digits < 6 || digits > 9) {
        throw Error(Errc::InvalidArgument, "HOTP digits out of range");
    }
    std::array<unsigned char, 8> message{};
    for (int i = 7; i >= 0; --i) {
        message[static_cast<size_t>(i)] = static_cast<unsigned char>(counter & 0xff);
        counter >>= 8;
    }
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    unsigned int mac_size = 0;
    if (HMAC(digest_of(algorithm), key.data(), static_cast<int>(key.size()), message.data(),
             message.size(), mac.data(), &mac_size) == nullptr ||
        mac_size < 20) {
        throw Error(Errc::Internal, "HMAC failed");
    }
    // Dynamic truncation (RFC 4226 section 5.3): the low 4 bits of the last byte.
    size_t offset = mac[mac_size - 1] & 0x0f;
    uint32_t binary = (static_cast<uint32_t>(mac[offset] & 0x7f) << 24) |
                      (static_cast<uint32_t>(mac[offset + 1]) << 16) |
                      (static_cast<uint32_t>(mac[offset + 2]) << 8) | mac[offset + 3];
    OPENSSL_cleanse(mac.data(), mac.size());
    uint32_t modulus = 1;
    for (int i = 0; i < digits; ++i) {
        modulus *= 10;
    }
    uint32_t value = binary % modulus;
    char text[10] = {};
    for (int i = digits - 1; i >= 0; --i) {
        text[i] = static_cast<char>('0' + value % 10);
        value /= 10;
    }
    SecretString code(std::string_view(text, static_cast<size_t>(digits)));
    secure_wipe(text, sizeof text);
    return code;
}

int64_t time_step(int64_t now, std::chrono::seconds period) {
    return now / period.count();
}

std::optional<int64_t> matching_step(std::string_view key, std::string_view answer, int64_t now,
                                     const policy::TotpPolicy& policy, int64_t last_used) {
    if (answer.size() != static_cast<size_t>(policy.digits)) {
        return std::nullopt;
    }
    int64_t current = time_step(now, policy.period);
    std::optional<int64_t> found;
    // Every step of the window is computed, so that the time taken does not say which matched.
    for (int64_t step = current - policy.window; step <= current + policy.window; ++step) {
        if (step < 0) {
            continue;
        }
        SecretString code = hotp(key, static_cast<uint64_t>(step), policy.digits, policy.algorithm);
        if (CRYPTO_memcmp(code.view().data(), answer.data(), answer.size()) == 0 &&
            step > last_used && !found) {
            found = step;
        }
    }
    return found;
}

std::string base32(std::string_view bytes) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    std::string out;
    uint32_t buffer = 0;
    int bits = 0;
    for (unsigned char byte : bytes) {
        buffer = (buffer << 8) | byte;
        bits += 8;
        while (bits >= 5) {
            out += kAlphabet[(buffer >> (bits - 5)) & 0x1f];
            bits -= 5;
        }
    }
    if (bits > 0) {
        out += kAlphabet[(buffer << (5 - bits)) & 0x1f];
    }
    return out;
}

SecretString otpauth_uri(std::string_view key, const std::string& issuer, const std::string& label,
                         const policy::TotpPolicy& policy) {
    std::string secret = base32(key);
    std::string uri = "otpauth://totp/" + http::percent_encode(issuer) + ":" +
                      http::percent_encode(label) + "?secret=" + secret +
                      "&issuer=" + http::percent_encode(issuer) +
                      "&algorithm=" + policy::to_string(policy.algorithm) +
                      "&digits=" + std::to_string(policy.digits) +
                      "&period=" + std::to_string(policy.period.count());
    SecretString kept(uri);
    wipe_string(secret);
    wipe_string(uri);
    return kept;
}

}  // namespace lwauth::totp
