#include "codes.hpp"

#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "lwauth/error.hpp"
#include "lwauth/files.hpp"
#include "lwauth/secret.hpp"
#include "lwauth/text.hpp"

namespace lwauth {

int64_t SystemClock::now() const {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

void OpenSslRandom::fill(uint8_t* buf, size_t len) {
    if (RAND_bytes(buf, static_cast<int>(len)) != 1) {
        throw Error(Errc::Internal, "the random number generator failed");
    }
}

SecretString generate_code(RandomSource& random, int length) {
    if (length < 1 || length > 32) {
        throw Error(Errc::InvalidArgument, "code length out of range");
    }
    char digits[33] = {};
    int have = 0;
    uint8_t pool[64];
    while (have < length) {
        random.fill(pool, sizeof pool);
        for (size_t i = 0; i < sizeof pool && have < length; ++i) {
            if (pool[i] < 250) {
                digits[have++] = static_cast<char>('0' + pool[i] % 10);
            }
        }
    }
    SecretString code(std::string_view(digits, static_cast<size_t>(length)));
    secure_wipe(digits, sizeof digits);
    secure_wipe(pool, sizeof pool);
    return code;
}

Hasher::Hasher(const SecretString& key) {
    std::unique_ptr<EVP_MAC, decltype(&EVP_MAC_free)> mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr),
                                                          &EVP_MAC_free);
    keyed_.reset(mac ? EVP_MAC_CTX_new(mac.get()) : nullptr, &EVP_MAC_CTX_free);
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    if (!keyed_ || EVP_MAC_init(keyed_.get(), reinterpret_cast<const unsigned char*>(key.c_str()),
                                key.size(), params) != 1) {
        throw Error(Errc::Internal, "cannot set up HMAC-SHA256");
    }
}

Digest Hasher::keyed_hash(std::string_view context, std::string_view value) const {
    std::unique_ptr<EVP_MAC_CTX, decltype(&EVP_MAC_CTX_free)> ctx(EVP_MAC_CTX_dup(keyed_.get()),
                                                                  &EVP_MAC_CTX_free);
    // context and value are joined with a NUL so that ("ab","c") and ("a","bc") differ.
    static constexpr unsigned char kNul = 0;
    Digest out{};
    size_t out_len = 0;
    if (!ctx ||
        EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(context.data()),
                       context.size()) != 1 ||
        EVP_MAC_update(ctx.get(), &kNul, 1) != 1 ||
        EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(value.data()),
                       value.size()) != 1 ||
        EVP_MAC_final(ctx.get(), out.data(), &out_len, out.size()) != 1 || out_len != out.size()) {
        throw Error(Errc::Internal, "HMAC-SHA256 failed");
    }
    return out;
}

std::string Hasher::keyed_hex(std::string_view context, std::string_view value) const {
    Digest d = keyed_hash(context, value);
    return hex_encode(d.data(), d.size());
}

bool digest_equal(const Digest& a, const Digest& b) noexcept {
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

SecretString load_or_create_key(const std::string& path, RandomSource& random) {
    constexpr size_t kKeySize = 32;
    // Judged as every state file is: no link, no FIFO (open() would wait on it), no second
    // name, the daemon's own, nothing for group or others.
    auto opened = open_checked(AT_FDCWD, path, O_RDONLY, FileType::Regular,
                               private_file_rule(geteuid()));
    if (!opened && opened.error().code() == Errc::NotFound) {
        uint8_t key[kKeySize];
        random.fill(key, sizeof key);
        std::string tmp = path + ".new";
        // A leftover from a crash may have any mode: start from a fresh 0600 file.
        unlink(tmp.c_str());
        UniqueFd out(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!out.valid()) {
            throw Error(Errc::Internal,
                        "cannot create key file " + tmp + ": " + std::strerror(errno));
        }
        bool ok = write(out.get(), key, sizeof key) == static_cast<ssize_t>(sizeof key) &&
                  fsync(out.get()) == 0;
        out.reset();
        if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
            unlink(tmp.c_str());
            secure_wipe(key, sizeof key);
            throw Error(Errc::Internal,
                        "cannot write key file " + path + ": " + std::strerror(errno));
        }
        SecretString secret(std::string_view(reinterpret_cast<char*>(key), sizeof key));
        secure_wipe(key, sizeof key);
        return secret;
    }
    if (!opened) {
        throw Error(Errc::Internal, "key file " + describe_file_error(opened.error(), path));
    }
    UniqueFd fd = std::move(opened->fd);
    if (opened->st.st_size != static_cast<off_t>(kKeySize)) {
        throw Error(Errc::Internal, "key file " + path + " must hold 32 bytes; it holds " +
                                        std::to_string(opened->st.st_size));
    }
    uint8_t key[kKeySize];
    ssize_t n = read(fd.get(), key, sizeof key);
    fd.reset();
    if (n != static_cast<ssize_t>(kKeySize)) {
        secure_wipe(key, sizeof key);
        throw Error(Errc::Internal, "cannot read key file " + path);
    }
    SecretString secret(std::string_view(reinterpret_cast<char*>(key), sizeof key));
    secure_wipe(key, sizeof key);
    return secret;
}

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

}  // namespace

SecretString read_key_file(const std::string& path, const SecretReader& reader) {
    constexpr size_t kKeySize = 32;
    auto opened = open_checked(AT_FDCWD, path, O_RDONLY, FileType::Regular, secret_file_rule(reader));
    if (!opened) {
        throw Error(Errc::Internal, describe_file_error(opened.error(), path));
    }
    std::string text;
    ScopedWipe wipe_text(text);
    if (int error = read_to_end(opened->fd.get(), text, 4 * kKeySize)) {
        throw Error(Errc::Internal,
                    "cannot read " + path + ": " +
                        (error == EFBIG ? std::string("too large") : std::strerror(error)));
    }
    if (text.size() == kKeySize) {
        return SecretString(text);
    }
    std::string_view hex(text);
    if (hex.ends_with('\n')) {
        hex.remove_suffix(1);
    }
    std::string key(kKeySize, '\0');
    ScopedWipe wipe_key(key);
    bool ok = hex.size() == 2 * kKeySize;
    for (size_t i = 0; ok && i < kKeySize; ++i) {
        int high = hex_value(hex[2 * i]);
        int low = hex_value(hex[2 * i + 1]);
        ok = high >= 0 && low >= 0;
        key[i] = static_cast<char>(high * 16 + low);
    }
    if (!ok) {
        throw Error(Errc::Internal, path + " must hold 32 bytes or 64 hexadecimal digits (make "
                                           "one with: openssl rand -hex 32); it holds " +
                                       std::to_string(text.size()) + " bytes");
    }
    return SecretString(key);
}

bool looks_like_code(std::string_view answer, int length) {
    if (answer.size() != static_cast<size_t>(length)) {
        return false;
    }
    for (char c : answer) {
        if (c < '0' || c > '9') {
            return false;
        }
    }
    return true;
}

}  // namespace lwauth
