#include "contact_cipher.hpp"

#include <openssl/evp.h>

#include <memory>

#include "../clock.hpp"
#include "lwauth/error.hpp"
#include "lwauth/sd_bus.hpp"

namespace lwauth {
namespace {

constexpr size_t kNonceSize = 12;
constexpr size_t kTagSize = 16;
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, Deleter<EVP_CIPHER_CTX_free>>;

const unsigned char* bytes(std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

ContactCipher::ContactCipher(SecretString key, RandomSource& random,
                             std::vector<SecretString> old_keys)
    : key_(std::move(key)),
      old_keys_(std::move(old_keys)),
      random_(random),
      cipher_(EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr), &EVP_CIPHER_free) {
    if (!cipher_) {
        throw Error(Errc::Internal, "AES-256-GCM is not available from OpenSSL");
    }
}

std::string ContactCipher::seal(std::string_view plaintext, std::string_view binding) const {
    std::string out(kNonceSize + plaintext.size() + kTagSize, '\0');
    auto* buf = reinterpret_cast<unsigned char*>(out.data());
    random_.fill(buf, kNonceSize);
    CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
    int len = 0;
    if (!ctx ||
        EVP_EncryptInit_ex(ctx.get(), cipher_.get(), nullptr, bytes(key_.view()), buf) != 1 ||
        EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytes(binding),
                          static_cast<int>(binding.size())) != 1 ||
        EVP_EncryptUpdate(ctx.get(), buf + kNonceSize, &len, bytes(plaintext),
                          static_cast<int>(plaintext.size())) != 1 ||
        EVP_EncryptFinal_ex(ctx.get(), buf + kNonceSize + len, &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize,
                            buf + kNonceSize + plaintext.size()) != 1) {
        throw Error(Errc::Internal, "AES-256-GCM encryption failed");
    }
    return out;
}

std::string ContactCipher::open(std::string_view sealed, std::string_view binding) const {
    if (sealed.size() < kNonceSize + kTagSize) {
        throw Error(Errc::Internal, "a stored contact is damaged");
    }
    auto opened = try_open(sealed, binding);
    if (!opened) {
        throw Error(Errc::Internal,
                    "a stored contact failed authentication (wrong key or altered database)");
    }
    return std::move(opened->plaintext);
}

std::optional<ContactCipher::Opened> ContactCipher::try_open(std::string_view sealed,
                                                             std::string_view binding) const {
    Opened opened;
    if (open_with(key_, sealed, binding, opened.plaintext)) {
        return opened;
    }
    opened.current = false;
    for (const SecretString& key : old_keys_) {
        if (open_with(key, sealed, binding, opened.plaintext)) {
            return opened;
        }
    }
    return std::nullopt;
}

bool ContactCipher::open_with(const SecretString& key, std::string_view sealed,
                              std::string_view binding, std::string& out) const {
    if (sealed.size() < kNonceSize + kTagSize) {
        return false;
    }
    size_t text_size = sealed.size() - kNonceSize - kTagSize;
    out.assign(text_size, '\0');
    CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
    int len = 0;
    std::string tag(sealed.substr(kNonceSize + text_size));
    if (!ctx ||
        EVP_DecryptInit_ex(ctx.get(), cipher_.get(), nullptr, bytes(key.view()), bytes(sealed)) !=
            1 ||
        EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes(binding),
                          static_cast<int>(binding.size())) != 1 ||
        EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                          bytes(sealed.substr(kNonceSize)), static_cast<int>(text_size)) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize, tag.data()) != 1 ||
        EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len, &len) !=
            1) {
        wipe_string(out);
        out.clear();
        return false;
    }
    return true;
}

CopyableSecret ContactCipher::open_secret(std::string_view sealed, std::string_view binding) const {
    std::string plain = open(sealed, binding);
    CopyableSecret secret(plain);
    wipe_string(plain);
    return secret;
}

}  // namespace lwauth
