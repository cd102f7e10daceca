#include "jwt.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <vector>

#include "lwauth/error.hpp"

namespace lwauth {
namespace {

struct BioFree {
    void operator()(BIO* bio) const noexcept { BIO_free(bio); }
};
struct MdCtxFree {
    void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
};

// Refuses to ask for a pass phrase: an encrypted key cannot be used unattended.
int no_passphrase(char*, int, int, void*) {
    return 0;
}

}  // namespace

EvpPkeyPtr load_rsa_private_key(const SecretString& pem) {
    // PEM wants its last line ended; a secret file read back loses its final newline.
    // Reserved up front so that the one buffer holding the key is the one wiped.
    std::string text;
    text.reserve(pem.size() + 1);
    text.append(pem.view());
    text += '\n';
    ScopedWipe wipe(text);
    std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
    if (!bio) {
        throw Error(Errc::Internal, "out of memory reading the private key");
    }
    EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
    ERR_clear_error();
    if (!key) {
        throw Error(Errc::Internal,
                    "private_key_file does not hold an unencrypted PEM private key "
                    "(PKCS#8 or PKCS#1)");
    }
    if (EVP_PKEY_is_a(key.get(), "RSA") != 1) {
        throw Error(Errc::Internal, "private_key_file does not hold an RSA key (RS256 needs one)");
    }
    return key;
}

std::string sign_rs256_jwt(const nlohmann::json& claims, EVP_PKEY* key) {
    static const std::string kHeader = base64url_encode(R"({"alg":"RS256","typ":"JWT"})");
    std::string input = kHeader + "." + base64url_encode(claims.dump());
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
    size_t length = 0;
    if (!ctx || key == nullptr ||
        EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &length,
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
        ERR_clear_error();
        throw Error(Errc::Internal, "cannot sign a JWT with the private key");
    }
    std::vector<unsigned char> signature(length);
    if (EVP_DigestSign(ctx.get(), signature.data(), &length,
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
        ERR_clear_error();
        throw Error(Errc::Internal, "cannot sign a JWT with the private key");
    }
    input += '.';
    input +=
        base64url_encode(std::string_view(reinterpret_cast<const char*>(signature.data()), length));
    return input;
}

}  // namespace lwauth
