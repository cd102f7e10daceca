// RS256 JWTs: signing, and loading service-account keys.
#include "channels/jwt.hpp"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lwauth/error.hpp"

namespace lwauth {
namespace {

std::string b64url_decode(std::string_view text) {
    static const std::string kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    uint32_t bits = 0;
    int count = 0;
    for (char c : text) {
        auto at = kAlphabet.find(c);
        EXPECT_NE(at, std::string::npos) << "not base64url: " << c;
        bits = (bits << 6) | static_cast<uint32_t>(at);
        count += 6;
        if (count >= 8) {
            count -= 8;
            out += static_cast<char>((bits >> count) & 0xff);
        }
    }
    return out;
}

std::vector<std::string> split(const std::string& jwt) {
    std::vector<std::string> parts;
    size_t start = 0;
    for (size_t dot = jwt.find('.'); dot != std::string::npos; dot = jwt.find('.', start)) {
        parts.push_back(jwt.substr(start, dot - start));
        start = dot + 1;
    }
    parts.push_back(jwt.substr(start));
    return parts;
}

EvpPkeyPtr generate_rsa() {
    EvpPkeyPtr key(EVP_RSA_gen(2048));
    EXPECT_TRUE(key);
    return key;
}

std::string pem_of(EVP_PKEY* key, bool traditional) {
    BIO* bio = BIO_new(BIO_s_mem());
    int ok =
        traditional
            ? PEM_write_bio_PrivateKey_traditional(bio, key, nullptr, nullptr, 0, nullptr, nullptr)
            : PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
    EXPECT_EQ(ok, 1);
    char* data = nullptr;
    long size = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<size_t>(size));
    BIO_free(bio);
    return out;
}

bool verifies(const std::string& signed_part, const std::string& signature, EVP_PKEY* key) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
              EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()),
                               signature.size(),
                               reinterpret_cast<const unsigned char*>(signed_part.data()),
                               signed_part.size()) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

// The public half only, as the service holds it.
EvpPkeyPtr public_of(EVP_PKEY* key) {
    BIO* bio = BIO_new(BIO_s_mem());
    EXPECT_EQ(PEM_write_bio_PUBKEY(bio, key), 1);
    EvpPkeyPtr pub(PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr));
    BIO_free(bio);
    EXPECT_TRUE(pub);
    return pub;
}

TEST(Jwt, SignsRs256ThatVerifiesWithThePublicKey) {
    EvpPkeyPtr key = generate_rsa();
    nlohmann::json claims = {
        {"iss", "client"}, {"sub", "account@example"}, {"iat", 1700000000}, {"exp", 1700003600}};
    std::string jwt = sign_rs256_jwt(claims, key.get());
    auto parts = split(jwt);
    ASSERT_EQ(parts.size(), 3u) << jwt;
    EXPECT_EQ(jwt.find('='), std::string::npos) << "no padding";
    EXPECT_EQ(nlohmann::json::parse(b64url_decode(parts[0])),
              nlohmann::json({{"alg", "RS256"}, {"typ", "JWT"}}));
    EXPECT_EQ(nlohmann::json::parse(b64url_decode(parts[1])), claims);
    std::string signature = b64url_decode(parts[2]);
    EXPECT_EQ(signature.size(), 256u);
    EvpPkeyPtr pub = public_of(key.get());
    EXPECT_TRUE(verifies(parts[0] + "." + parts[1], signature, pub.get()));

    nlohmann::json tampered = claims;
    tampered["sub"] = "someone.else@example";
    EXPECT_FALSE(
        verifies(parts[0] + "." + base64url_encode(tampered.dump()), signature, pub.get()));
    std::string flipped = parts[1];
    flipped[3] = flipped[3] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(verifies(parts[0] + "." + flipped, signature, pub.get()));
}

TEST(Jwt, LoadsPkcs8AndPkcs1PemKeys) {
    EvpPkeyPtr key = generate_rsa();
    EvpPkeyPtr pub = public_of(key.get());
    for (bool traditional : {false, true}) {
        std::string pem = pem_of(key.get(), traditional);
        EXPECT_NE(pem.find(traditional ? "BEGIN RSA PRIVATE KEY" : "BEGIN PRIVATE KEY"),
                  std::string::npos);
        pem.pop_back();  // as read_secret_file gives it: without the last newline
        EvpPkeyPtr loaded = load_rsa_private_key(SecretString(pem));
        ASSERT_TRUE(loaded);
        auto parts = split(sign_rs256_jwt({{"iss", "x"}}, loaded.get()));
        EXPECT_TRUE(verifies(parts[0] + "." + parts[1], b64url_decode(parts[2]), pub.get()));
    }
}

TEST(Jwt, RefusesWhatIsNotAnRsaPrivateKey) {
    EXPECT_THROW((void)load_rsa_private_key(SecretString("not a key")), Error);
    EXPECT_THROW((void)load_rsa_private_key(SecretString("")), Error);
    EvpPkeyPtr ec(EVP_EC_gen("P-256"));
    ASSERT_TRUE(ec);
    try {
        (void)load_rsa_private_key(SecretString(pem_of(ec.get(), false)));
        ADD_FAILURE() << "an EC key was accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("RSA"), std::string::npos);
    }
}

}  // namespace
}  // namespace lwauth
