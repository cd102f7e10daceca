#include "totp.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <utility>

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

// The tag that starts a record with parameters. A bare secret (20 random bytes) starts
// with it once in 2^64.
constexpr std::string_view kRecordTag("lwauth-totp\x00\x02", 13);
constexpr size_t kRecordHeader = kRecordTag.size() + 4;  // algorithm, digits, period (2)

// The algorithm's byte in a record: fixed here, not the enum's order.
constexpr std::array<std::pair<policy::TotpAlgorithm, unsigned char>, 3> kAlgorithmBytes{{
    {policy::TotpAlgorithm::Sha1, 1},
    {policy::TotpAlgorithm::Sha256, 2},
    {policy::TotpAlgorithm::Sha512, 3},
}};

}  // namespace

Params params_of(const policy::TotpPolicy& policy) {
    return Params{policy.algorithm, policy.digits, policy.period};
}

SecretString encode(const App& app) {
    auto period = static_cast<uint32_t>(app.params.period.count());
    std::string record(kRecordTag);
    for (const auto& [algorithm, code] : kAlgorithmBytes) {
        if (algorithm == app.params.algorithm) {
            record += static_cast<char>(code);
        }
    }
    record += static_cast<char>(app.params.digits);
    record += static_cast<char>((period >> 8) & 0xff);
    record += static_cast<char>(period & 0xff);
    record.reserve(record.size() + app.key.size());
    record.append(app.key.view());
    SecretString kept(record);
    wipe_string(record);
    return kept;
}

App decode(std::string_view record) {
    if (record.substr(0, kRecordTag.size()) != kRecordTag) {
        return App{SecretString(record), kBareSecretParams};
    }
    if (record.size() <= kRecordHeader) {
        throw Error(Errc::Internal, "a stored authenticator app is damaged");
    }
    auto byte = [&](size_t i) { return static_cast<unsigned char>(record[kRecordTag.size() + i]); };
    Params params;
    const auto* algorithm =
        std::find_if(kAlgorithmBytes.begin(), kAlgorithmBytes.end(),
                     [&](const auto& entry) { return entry.second == byte(0); });
    params.digits = byte(1);
    params.period = std::chrono::seconds((byte(2) << 8) | byte(3));
    if (algorithm == kAlgorithmBytes.end() || params.digits < 6 || params.digits > 9 ||
        params.period.count() == 0) {
        throw Error(Errc::Internal, "a stored authenticator app is damaged");
    }
    params.algorithm = algorithm->first;
    return App{SecretString(record.substr(kRecordHeader)), params};
}

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

std::optional<int64_t> matching_step(const App& app, std::string_view answer, int64_t now,
                                     int window, int64_t last_used) {
    const Params& params = app.params;
    if (answer.size() != static_cast<size_t>(params.digits)) {
        return std::nullopt;
    }
    int64_t current = time_step(now, params.period);
    std::optional<int64_t> found;
    // Every step of the window is computed, so that the time taken does not say which matched.
    for (int64_t step = current - window; step <= current + window; ++step) {
        if (step < 0) {
            continue;
        }
        SecretString code =
            hotp(app.key.view(), static_cast<uint64_t>(step), params.digits, params.algorithm);
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
    out.reserve((bytes.size() * 8 + 4) / 5);  // no reallocation leaves a copy of a secret behind
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

SecretString otpauth_uri(const App& app, const std::string& issuer, const std::string& label) {
    std::string secret = base32(app.key.view());
    std::string head = "otpauth://totp/" + http::percent_encode(issuer) + ":" +
                       http::percent_encode(label) + "?secret=";
    std::string tail = "&issuer=" + http::percent_encode(issuer) +
                       "&algorithm=" + policy::to_string(app.params.algorithm) +
                       "&digits=" + std::to_string(app.params.digits) +
                       "&period=" + std::to_string(app.params.period.count());
    // Sized once, so that no reallocation leaves a copy of the secret in freed memory.
    std::string uri;
    uri.reserve(head.size() + secret.size() + tail.size());
    uri.append(head).append(secret).append(tail);
    SecretString kept(uri);
    wipe_string(secret);
    wipe_string(uri);
    return kept;
}

}  // namespace lwauth::totp
