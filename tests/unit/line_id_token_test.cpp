// LINE ID tokens: JWS verification through libcjose against RFC 7515 Appendix A.1
// (HS256) and A.3 (ES256), LINE's JWKS, and every refusal of verify_id_token. The test
// tokens are signed here with OpenSSL, with keys made here.
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "line/id_token.hpp"
#include "line/jose.hpp"
#include "lwauth/text.hpp"

namespace lwauth::line {
namespace {

using nlohmann::json;

// RFC 7515 Appendix A.1 and A.3: one payload, two signatures.
constexpr const char* kRfcPayload =
    "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";
constexpr const char* kA1Key =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
constexpr const char* kA1Token =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    "."
    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
constexpr const char* kA3Token =
    "eyJhbGciOiJFUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    "."
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
const json kA3PublicJwk = {{"kty", "EC"},
                           {"crv", "P-256"},
                           {"x", "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"},
                           {"y", "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
                           {"kid", "rfc7515-a3"}};

TEST(Jws, VerifiesRfc7515AppendixA1) {
    Result<Jws> jws = parse_jws(kA1Token, IdTokenAlg::Hs256);
    ASSERT_TRUE(jws.ok()) << jws.error().what();
    Result<Jwk> key = Jwk::hmac(*base64url_decode(kA1Key));
    ASSERT_TRUE(key.ok()) << key.error().what();
    Result<SecretString> payload = verify_jws(*jws, *key);
    ASSERT_TRUE(payload.ok()) << payload.error().what();
    EXPECT_EQ(payload->view(), kRfcPayload);
}

TEST(Jws, VerifiesRfc7515AppendixA3WithItsPublicKey) {
    Result<Jwks> jwks = parse_jwks(json{{"keys", {kA3PublicJwk}}}.dump());
    ASSERT_TRUE(jwks.ok()) << jwks.error().what();
    Result<Jws> jws = parse_jws(kA3Token, IdTokenAlg::Es256);
    ASSERT_TRUE(jws.ok()) << jws.error().what();
    const Jwk* key = jwks->find("rfc7515-a3");
    ASSERT_NE(key, nullptr);
    Result<SecretString> payload = verify_jws(*jws, *key);
    ASSERT_TRUE(payload.ok()) << payload.error().what();
    EXPECT_EQ(payload->view(), kRfcPayload);
}

TEST(Jws, RefusesTheAppendixTokensUnderTheOtherAlgorithm) {
    EXPECT_EQ(parse_jws(kA1Token, IdTokenAlg::Es256).error().code(), Errc::AccessDenied);
    EXPECT_EQ(parse_jws(kA3Token, IdTokenAlg::Hs256).error().code(), Errc::AccessDenied);
    // The A.1 key given for an ES256 token: the key's algorithm is not the token's.
    Result<Jws> a3 = parse_jws(kA3Token, IdTokenAlg::Es256);
    Result<Jwk> hmac = Jwk::hmac(*base64url_decode(kA1Key));
    EXPECT_EQ(verify_jws(*a3, *hmac).error().code(), Errc::AccessDenied);
}

// ---- Keys and signatures made here -------------------------------------------------

std::string bytes_of(const unsigned char* data, size_t size) {
    return std::string(reinterpret_cast<const char*>(data), size);
}

std::string hs256(std::string_view key, std::string_view input) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &size);
    return bytes_of(mac, size);
}

struct PkeyFree {
    void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

PkeyPtr new_p256_key() {
    PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    EXPECT_TRUE(key);
    return key;
}

// ES256 is R || S, 32 bytes each (RFC 7518 section 3.4), not OpenSSL's DER.
std::string es256(EVP_PKEY* key, std::string_view input) {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    size_t size = 0;
    EXPECT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key), 1);
    EXPECT_EQ(EVP_DigestSign(ctx.get(), nullptr, &size,
                             reinterpret_cast<const unsigned char*>(input.data()), input.size()),
              1);
    std::string der(size, '\0');
    EXPECT_EQ(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &size,
                             reinterpret_cast<const unsigned char*>(input.data()), input.size()),
              1);
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(size));
    unsigned char rs[64];
    BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs + 32, 32);
    ECDSA_SIG_free(sig);
    return bytes_of(rs, sizeof rs);
}

std::string coordinate(EVP_PKEY* key, const char* name) {
    BIGNUM* value = nullptr;
    EXPECT_EQ(EVP_PKEY_get_bn_param(key, name, &value), 1);
    unsigned char bytes[32];
    BN_bn2binpad(value, bytes, sizeof bytes);
    BN_free(value);
    return base64url_encode(bytes_of(bytes, sizeof bytes));
}

json public_jwk(EVP_PKEY* key, const std::string& kid) {
    return {{"kty", "EC"},
            {"crv", "P-256"},
            {"alg", "ES256"},
            {"use", "sig"},
            {"kid", kid},
            {"x", coordinate(key, OSSL_PKEY_PARAM_EC_PUB_X)},
            {"y", coordinate(key, OSSL_PKEY_PARAM_EC_PUB_Y)}};
}

// A compact JWS of `header` and `claims` with `sign` over its signing input.
using Signer = std::function<std::string(std::string_view input)>;
std::string compact(const json& header, const json& claims, const Signer& sign) {
    std::string input = base64url_encode(header.dump()) + "." + base64url_encode(claims.dump());
    return input + "." + base64url_encode(sign(input));
}

constexpr int64_t kNow = 1'800'000'000;
constexpr const char* kChannelSecret = "8f3c2b1a0d9e8f7a6b5c4d3e2f1a0b9c";  // as LINE's: 32 hex
constexpr const char* kSub = "U4af4980629a0b2c1d3e4f5a6b7c8d9e0";

// The refusal names the check, and never quotes the token, a claim or a secret.
void expect_refused(const Result<IdToken>& result, Errc code, const std::string& says) {
    ASSERT_FALSE(result.ok()) << "accepted; should say: " << says;
    std::string text = result.error().what();
    EXPECT_EQ(result.error().code(), code) << text;
    EXPECT_NE(text.find(says), std::string::npos) << text;
    for (const char* secret : {kSub, kChannelSecret, "n-0S6_WzA2Mj", "eyJ"}) {
        EXPECT_EQ(text.find(secret), std::string::npos) << text;
    }
}

// One LINE login's token, made to be changed by each case: a web login's HS256 token, or
// a LIFF-style ES256 one with the kid of the test's JWKS.
class IdTokenTest : public ::testing::Test {
  protected:
    IdTokenTest() : es_key_(new_p256_key()), other_key_(new_p256_key()) {
        jwks_ = std::move(parse_jwks(json{{"keys",
                                           {public_jwk(es_key_.get(), "line-1"),
                                            public_jwk(other_key_.get(), "line-2")}}}
                                         .dump()))
                    .value();
        expected_.issuer = "https://access.line.me";
        expected_.channel_id = "1234567890";
        expected_.nonce = nonce_;
        expected_.now = kNow;
    }

    json header(const char* alg) const {
        json h = {{"typ", "JWT"}, {"alg", alg}};
        if (std::string_view(alg) == "ES256") {
            h["kid"] = "line-1";
        }
        return h;
    }

    json claims() const {
        return {{"iss", "https://access.line.me"},
                {"sub", kSub},
                {"aud", "1234567890"},
                {"exp", kNow + 3600},
                {"iat", kNow - 5},
                {"nonce", nonce_},
                {"auth_time", kNow - 20},
                {"amr", {"pwd"}}};
    }

    // Signs as the header's alg says: HS256 with the channel secret, ES256 with line-1's
    // key, anything else with 32 bytes of nothing.
    Signer signer_for(const json& h) const {
        std::string alg = h.value("alg", "");
        if (alg == "HS256") {
            return [](std::string_view input) { return hs256(kChannelSecret, input); };
        }
        if (alg == "ES256") {
            return [this](std::string_view input) { return es256(es_key_.get(), input); };
        }
        return [](std::string_view) { return std::string(32, '\0'); };
    }

    Result<IdToken> verify(const std::string& token) const {
        return verify_id_token(SecretString(token), expected_, {&secret_, &jwks_});
    }

    Result<IdToken> verify(const json& h, const json& c) const {
        return verify(compact(h, c, signer_for(h)));
    }

    // The HS256 token with claim `name` set to `value`, or without it for null, is refused.
    void expect_claim_refused(const char* name, const json& value, const std::string& says) const {
        json c = claims();
        if (value.is_null()) {
            c.erase(name);
        } else {
            c[name] = value;
        }
        expect_refused(verify(header("HS256"), c), Errc::AccessDenied, says);
    }

    PkeyPtr es_key_;
    PkeyPtr other_key_;
    Jwks jwks_;
    SecretString secret_{kChannelSecret};
    std::string nonce_ = "n-0S6_WzA2Mj";
    IdTokenExpected expected_;
};

TEST_F(IdTokenTest, AcceptsAWebLoginHs256Token) {
    Result<IdToken> token = verify(header("HS256"), claims());
    ASSERT_TRUE(token.ok()) << token.error().what();
    EXPECT_EQ(token->sub.view(), kSub);
    EXPECT_EQ(token->auth_time, kNow - 20);
}

TEST_F(IdTokenTest, ExpectsWhatTheAuthorizationAndPolicySay) {
    ClientConfig client;
    client.channel_id = "1234567890";
    client.id_token_alg = IdTokenAlg::Es256;
    client.max_age = std::chrono::seconds(300);
    AuthRequest request;
    request.nonce = nonce_;
    IdTokenExpected expected = expected_for(client, request, kNow);
    EXPECT_EQ(expected.alg, IdTokenAlg::Es256);
    EXPECT_EQ(expected.issuer, "https://access.line.me");
    EXPECT_EQ(expected.channel_id, "1234567890");
    EXPECT_EQ(expected.nonce, nonce_);
    EXPECT_EQ(expected.max_age, std::chrono::seconds(300));
    EXPECT_EQ(expected.now, kNow);
    EXPECT_EQ(expected.skew, kMaxClockSkew);
    Result<IdToken> token = verify_id_token(
        SecretString(compact(header("ES256"), claims(), signer_for(header("ES256")))), expected,
        {nullptr, &jwks_});
    ASSERT_TRUE(token.ok()) << token.error().what();
}

TEST_F(IdTokenTest, AcceptsAnEs256TokenByKid) {
    expected_.alg = IdTokenAlg::Es256;
    Result<IdToken> token = verify(header("ES256"), claims());
    ASSERT_TRUE(token.ok()) << token.error().what();
    EXPECT_EQ(token->sub.view(), kSub);
}

TEST_F(IdTokenTest, AcceptsClocksWithinTheSkew) {
    expected_.max_age = std::chrono::seconds(300);
    json c = claims();
    c["exp"] = kNow - 59;
    c["iat"] = kNow + 59;
    c["auth_time"] = kNow - 300 - 59;
    Result<IdToken> token = verify(header("HS256"), c);
    ASSERT_TRUE(token.ok()) << token.error().what();
}

TEST_F(IdTokenTest, AcceptsAMissingTypAndAuthTime) {
    json h = header("HS256");
    h.erase("typ");
    json c = claims();
    c.erase("auth_time");
    Result<IdToken> token = verify(h, c);
    ASSERT_TRUE(token.ok()) << token.error().what();
    EXPECT_FALSE(token->auth_time);
}

std::string unsigned_token(const json& h, const json& c) {
    return base64url_encode(h.dump()) + "." + base64url_encode(c.dump()) + ".";
}

TEST_F(IdTokenTest, RefusesAlgNone) {
    json h = {{"typ", "JWT"}, {"alg", "none"}};
    expect_refused(verify(unsigned_token(h, claims())), Errc::AccessDenied, "alg none");
    h["alg"] = "None";
    expect_refused(verify(h, claims()), Errc::AccessDenied, "alg none");
    expected_.alg = IdTokenAlg::Es256;
    expect_refused(verify(unsigned_token(h, claims())), Errc::AccessDenied, "alg none");
}

TEST_F(IdTokenTest, RefusesAMissingOrOtherAlg) {
    json h = header("HS256");
    h.erase("alg");
    expect_refused(verify(h, claims()), Errc::AccessDenied, "has no alg");
    h["alg"] = "HS512";
    expect_refused(verify(h, claims()), Errc::AccessDenied, "is signed with HS512");
    h["alg"] = "HS256\n<script>";
    expect_refused(verify(h, claims()), Errc::AccessDenied, "is signed with another algorithm");
}

TEST_F(IdTokenTest, RefusesHs256WhenEs256IsPinned) {
    expected_.alg = IdTokenAlg::Es256;
    json h = header("HS256");
    h["kid"] = "line-1";
    expect_refused(verify(h, claims()), Errc::AccessDenied,
                   "is signed with HS256, and [line] id_token_alg is ES256");
}

TEST_F(IdTokenTest, RefusesEs256WhenHs256IsPinned) {
    expect_refused(verify(header("ES256"), claims()), Errc::AccessDenied,
                   "is signed with ES256, and [line] id_token_alg is HS256");
}

// The classic confusion: the ES256 public key, which anyone can fetch, used as the HMAC
// secret of an HS256 token.
TEST_F(IdTokenTest, RefusesThePublicKeyUsedAsAnHmacSecret) {
    json h = {{"typ", "JWT"}, {"alg", "HS256"}, {"kid", "line-1"}};
    std::string public_key = public_jwk(es_key_.get(), "line-1").dump();
    std::string forged =
        compact(h, claims(), [&](std::string_view input) { return hs256(public_key, input); });
    expected_.alg = IdTokenAlg::Es256;
    expect_refused(verify(forged), Errc::AccessDenied, "is signed with HS256");
    expected_.alg = IdTokenAlg::Hs256;
    expect_refused(verify(forged), Errc::AccessDenied, "signature does not verify");
}

TEST_F(IdTokenTest, RefusesABadSignature) {
    std::string other_secret = compact(header("HS256"), claims(), [](std::string_view input) {
        return hs256("0123456789abcdef0123456789abcdef", input);
    });
    expect_refused(verify(other_secret), Errc::AccessDenied, "signature does not verify");

    expected_.alg = IdTokenAlg::Es256;
    std::string other_key = compact(header("ES256"), claims(), [this](std::string_view input) {
        return es256(other_key_.get(), input);
    });
    expect_refused(verify(other_key), Errc::AccessDenied, "signature does not verify");

    // A signature of the right size over other claims.
    std::string token = compact(header("ES256"), claims(), signer_for(header("ES256")));
    json c = claims();
    c["sub"] = "U00000000000000000000000000000000";
    std::string swapped = compact(header("ES256"), c, signer_for(header("ES256")));
    std::string spliced = swapped.substr(0, swapped.rfind('.')) + token.substr(token.rfind('.'));
    expect_refused(verify(spliced), Errc::AccessDenied, "signature does not verify");
}

TEST_F(IdTokenTest, RefusesAnEs256SignatureInDer) {
    expected_.alg = IdTokenAlg::Es256;
    std::string token = compact(header("ES256"), claims(), [this](std::string_view input) {
        std::string rs = es256(es_key_.get(), input);
        return std::string("\x30\x44\x02\x20", 4) + rs.substr(0, 32) + "\x02\x20" + rs.substr(32);
    });
    expect_refused(verify(token), Errc::AccessDenied, "signature is not 64 bytes long");
}

TEST_F(IdTokenTest, RefusesAnUnknownOrMissingKid) {
    expected_.alg = IdTokenAlg::Es256;
    json h = header("ES256");
    h["kid"] = "rotated-away";
    expect_refused(verify(h, claims()), Errc::NotFound, "kid (rotated-away) is not in the JWKS");
    h.erase("kid");
    expect_refused(verify(h, claims()), Errc::AccessDenied, "has no kid");
    h["kid"] = 7;
    expect_refused(verify(h, claims()), Errc::AccessDenied, "kid that is no key ID");
}

TEST_F(IdTokenTest, RefusesAWrongIssuer) {
    expect_claim_refused("iss", "https://access.line.me.example.org", "(iss)");
    expect_claim_refused("iss", nullptr, "(iss)");
}

TEST_F(IdTokenTest, RefusesAWrongAudience) {
    expect_claim_refused("aud", "1234567891", "(aud)");
    expect_claim_refused("aud", 1234567890, "(aud)");
    expect_claim_refused("aud", {"1234567890", "999"}, "(aud)");
}

TEST_F(IdTokenTest, RefusesAnExpiredToken) {
    expect_claim_refused("exp", kNow - 60, "has expired");
    expect_claim_refused("exp", "1900000000", "no exp or iat");
    expect_claim_refused("exp", 1.9e9, "no exp or iat");
    expect_claim_refused("exp", nullptr, "no exp or iat");
}

TEST_F(IdTokenTest, RefusesATokenIssuedInTheFuture) {
    json c = claims();
    c["iat"] = kNow + 61;
    expect_refused(verify(header("HS256"), c), Errc::AccessDenied, "issued in the future");
    // A larger skew than the most allowed is not taken.
    expected_.skew = std::chrono::seconds(3600);
    expect_refused(verify(header("HS256"), c), Errc::AccessDenied, "issued in the future");
}

TEST_F(IdTokenTest, RefusesAMissingOrWrongNonce) {
    json c = claims();
    c["nonce"] = "n-0S6_WzA2Mk";
    expect_refused(verify(header("HS256"), c), Errc::AccessDenied, "(nonce)");
    c.erase("nonce");
    expect_refused(verify(header("HS256"), c), Errc::AccessDenied, "has no nonce");
    // An authorization that sent no nonce matches no token.
    expected_.nonce = "";
    c["nonce"] = "";
    expect_refused(verify(header("HS256"), c), Errc::AccessDenied, "(nonce)");
}

TEST_F(IdTokenTest, RefusesAnAuthTimeTooOldForMaxAge) {
    expected_.max_age = std::chrono::seconds(300);
    json c = claims();
    c["auth_time"] = kNow - 300 - 61;
    expect_refused(verify(header("HS256"), c), Errc::AccessDenied, "longer ago than max_age");
    c.erase("auth_time");
    expect_refused(verify(header("HS256"), c), Errc::AccessDenied, "no auth_time");
    c["auth_time"] = kNow + 120;
    expect_refused(verify(header("HS256"), c), Errc::AccessDenied, "in the future (auth_time)");
}

TEST_F(IdTokenTest, RefusesAMissingOrOddSubject) {
    for (const json& sub : {json(""), json(42), json(std::string(256, 'U')), json("U 1"), json()}) {
        expect_claim_refused("sub", sub, "no usable sub");
    }
}

TEST_F(IdTokenTest, RefusesAnOversizedToken) {
    expect_claim_refused("pad", std::string(kMaxJwsSize, 'x'), "larger than 8 KiB");
}

TEST_F(IdTokenTest, RefusesBadBase64Url) {
    std::string token = compact(header("HS256"), claims(), signer_for(header("HS256")));
    size_t first = token.find('.');
    std::string plus = token;
    plus[first + 5] = '+';
    expect_refused(verify(plus), Errc::AccessDenied, "payload is not base64url");
    std::string padded = token.substr(0, first) + "=" + token.substr(first);
    expect_refused(verify(padded), Errc::AccessDenied, "header is not base64url");
    std::string spaced = token + " ";
    expect_refused(verify(spaced), Errc::AccessDenied, "signature is not base64url");
}

TEST_F(IdTokenTest, RefusesWhatIsNoCompactJws) {
    std::string token = compact(header("HS256"), claims(), signer_for(header("HS256")));
    for (const std::string& bad : {std::string(), std::string("abc"), token + ".e30",
                                   "." + token.substr(token.find('.') + 1)}) {
        expect_refused(verify(bad), Errc::AccessDenied, "not a compact JWS");
    }
    json h = header("HS256");
    std::string array_header = base64url_encode("[1]") + token.substr(token.find('.'));
    expect_refused(verify(array_header), Errc::AccessDenied, "header is not a JSON object");
}

TEST_F(IdTokenTest, RefusesAnotherTypOrCriticalExtensions) {
    json h = header("HS256");
    h["typ"] = "at+jwt";
    expect_refused(verify(h, claims()), Errc::AccessDenied, "typ other than JWT");
    h["typ"] = "jwt";
    EXPECT_TRUE(verify(h, claims()).ok());
    h["crit"] = {"exp"};
    h["exp"] = kNow;
    expect_refused(verify(h, claims()), Errc::AccessDenied, "critical extensions");
}

TEST_F(IdTokenTest, NeedsTheKeyOfThePinnedAlgorithm) {
    std::string token = compact(header("HS256"), claims(), signer_for(header("HS256")));
    Result<IdToken> no_secret = verify_id_token(SecretString(token), expected_, {nullptr, &jwks_});
    EXPECT_EQ(no_secret.error().code(), Errc::InvalidArgument);
    expected_.alg = IdTokenAlg::Es256;
    token = compact(header("ES256"), claims(), signer_for(header("ES256")));
    Result<IdToken> no_jwks = verify_id_token(SecretString(token), expected_, {&secret_, nullptr});
    EXPECT_EQ(no_jwks.error().code(), Errc::InvalidArgument);
}

// ---- LINE's JWKS ----------------------------------------------------------------------

TEST(LineJwks, KeepsTheP256SigningKeysByKid) {
    PkeyPtr key = new_p256_key();
    json rsa = {{"kty", "RSA"}, {"kid", "rsa-1"}, {"n", "sXch"}, {"e", "AQAB"}};
    json enc = public_jwk(key.get(), "enc-1");
    enc["use"] = "enc";
    json bare = public_jwk(key.get(), "bare");
    bare.erase("alg");
    bare.erase("use");
    Result<Jwks> jwks =
        parse_jwks(json{{"keys", {rsa, public_jwk(key.get(), "sig-1"), enc, bare}}}.dump());
    ASSERT_TRUE(jwks.ok()) << jwks.error().what();
    EXPECT_EQ(jwks->size(), 2U);
    EXPECT_NE(jwks->find("sig-1"), nullptr);
    EXPECT_NE(jwks->find("bare"), nullptr);
    EXPECT_EQ(jwks->find("rsa-1"), nullptr);
    EXPECT_EQ(jwks->find("enc-1"), nullptr);
}

TEST(LineJwks, RefusesAnythingElse) {
    PkeyPtr key = new_p256_key();
    json good = public_jwk(key.get(), "k1");
    auto with = [&](const char* name, const json& value) {
        json k = good;
        k[name] = value;
        return json{{"keys", {k}}}.dump();
    };
    json p384 = good;
    p384["crv"] = "P-384";
    json no_kid = good;
    no_kid.erase("kid");
    json many = json::array();
    for (size_t i = 0; i <= kMaxJwksKeys; ++i) {
        many.push_back(public_jwk(key.get(), "k" + std::to_string(i)));
    }
    for (const std::string& bad :
         {std::string("not json"), std::string("[]"), std::string(R"({"keys":{}})"),
          std::string(R"({"keys":[]})"), json{{"keys", {p384}}}.dump(),
          json{{"keys", {no_kid}}}.dump(), with("d", "jpsQnnGQmL-YBIffH1136cLnT8EgfH3cTzP9kGkoFtM"),
          with("x", "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVE"), with("y", 5), with("kid", "a b"),
          json{{"keys", {good, good}}}.dump(), json{{"keys", many}}.dump(),
          std::string(R"({"keys":[1]})"), std::string(kMaxJwksSize + 1, ' ')}) {
        Result<Jwks> jwks = parse_jwks(bad);
        EXPECT_FALSE(jwks.ok()) << bad.substr(0, 200);
        if (!jwks.ok()) {
            EXPECT_EQ(jwks.error().code(), Errc::InvalidArgument);
        }
    }
}

// A point that is not on the curve is not a key, whatever its size.
TEST(LineJwks, RefusesAPointOffTheCurve) {
    json k = kA3PublicJwk;
    k["y"] = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a4";
    EXPECT_FALSE(parse_jwks(json{{"keys", {k}}}.dump()).ok());
}

}  // namespace
}  // namespace lwauth::line
