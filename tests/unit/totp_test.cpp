// HOTP and TOTP against the RFCs' own test vectors, and the otpauth URI an app reads.
#include "../../daemon/second/totp.hpp"

#include <gtest/gtest.h>

#include "lwauth/error.hpp"

#include <string>

namespace lwauth {
namespace {

using policy::TotpAlgorithm;

// RFC 4226 Appendix D: the secret "12345678901234567890", counters 0 to 9.
TEST(Hotp, MatchesRfc4226AppendixD) {
    const std::string key = "12345678901234567890";
    const char* expected[] = {"755224", "287082", "359152", "969429", "338314",
                              "254676", "287922", "162583", "399871", "520489"};
    for (uint64_t count = 0; count < 10; ++count) {
        EXPECT_EQ(totp::hotp(key, count, 6, TotpAlgorithm::Sha1).view(), expected[count])
            << "count " << count;
    }
}

// RFC 6238 Appendix B: 8 digits, 30 s steps, one seed per hash (20, 32 and 64 bytes).
TEST(Totp, MatchesRfc6238AppendixB) {
    struct Vector {
        int64_t time;
        const char* sha1;
        const char* sha256;
        const char* sha512;
    };
    const Vector vectors[] = {
        {59, "94287082", "46119246", "90693936"},
        {1111111109, "07081804", "68084774", "25091201"},
        {1111111111, "14050471", "67062674", "99943326"},
        {1234567890, "89005924", "91819424", "93441116"},
        {2000000000, "69279037", "90698825", "38618901"},
        {20000000000, "65353130", "77737706", "47863826"},
    };
    const std::string seed20 = "12345678901234567890";
    const std::string seed32 = seed20 + "123456789012";
    const std::string seed64 = seed20 + seed20 + seed20 + "1234";
    for (const Vector& v : vectors) {
        auto step = static_cast<uint64_t>(totp::time_step(v.time, std::chrono::seconds(30)));
        EXPECT_EQ(totp::hotp(seed20, step, 8, TotpAlgorithm::Sha1).view(), v.sha1) << v.time;
        EXPECT_EQ(totp::hotp(seed32, step, 8, TotpAlgorithm::Sha256).view(), v.sha256) << v.time;
        EXPECT_EQ(totp::hotp(seed64, step, 8, TotpAlgorithm::Sha512).view(), v.sha512) << v.time;
    }
}

// An app set up with the defaults (SHA1, 6 digits, 30 s).
totp::App app_of(const std::string& key) {
    return totp::App{SecretString(key), totp::Params{}};
}

std::string code_at(const std::string& key, int64_t now) {
    return std::string(
        totp::hotp(key, static_cast<uint64_t>(now / 30), 6, TotpAlgorithm::Sha1).view());
}

TEST(Totp, AcceptsOneStepEitherSideAndNoFurther) {
    const std::string key = "12345678901234567890";
    const int64_t now = 1111111111;  // step 37037037, 1 s into it
    const int64_t step = now / 30;
    EXPECT_EQ(totp::matching_step(app_of(key), code_at(key, now), now, 1, 0), step);
    EXPECT_EQ(totp::matching_step(app_of(key), code_at(key, now - 30), now, 1, 0), step - 1);
    EXPECT_EQ(totp::matching_step(app_of(key), code_at(key, now + 30), now, 1, 0), step + 1);
    EXPECT_FALSE(totp::matching_step(app_of(key), code_at(key, now - 60), now, 1, 0));
    EXPECT_FALSE(totp::matching_step(app_of(key), code_at(key, now + 60), now, 1, 0));
    EXPECT_FALSE(totp::matching_step(app_of(key), code_at(key, now - 30), now, 0, 0));
}

TEST(Totp, RefusesAStepAlreadyUsed) {
    const std::string key = "12345678901234567890";
    const int64_t now = 1111111111;
    const int64_t step = now / 30;
    EXPECT_FALSE(totp::matching_step(app_of(key), code_at(key, now), now, 1, step));
    // An older code after a newer one was used: refused too.
    EXPECT_FALSE(totp::matching_step(app_of(key), code_at(key, now - 30), now, 1, step));
    EXPECT_EQ(totp::matching_step(app_of(key), code_at(key, now + 30), now, 1, step), step + 1);
}

TEST(Totp, RefusesWrongLengthAndWrongDigits) {
    const std::string key = "12345678901234567890";
    const int64_t now = 1111111111;
    std::string code = code_at(key, now);
    EXPECT_FALSE(totp::matching_step(app_of(key), code + "0", now, 1, 0));
    EXPECT_FALSE(totp::matching_step(app_of(key), code.substr(1), now, 1, 0));
    code[0] = code[0] == '9' ? '0' : static_cast<char>(code[0] + 1);
    EXPECT_FALSE(totp::matching_step(app_of(key), code, now, 1, 0));
}

// RFC 4648 section 10's vectors, without padding.
TEST(Base32, MatchesRfc4648) {
    EXPECT_EQ(totp::base32(""), "");
    EXPECT_EQ(totp::base32("f"), "MY");
    EXPECT_EQ(totp::base32("fo"), "MZXQ");
    EXPECT_EQ(totp::base32("foo"), "MZXW6");
    EXPECT_EQ(totp::base32("foob"), "MZXW6YQ");
    EXPECT_EQ(totp::base32("fooba"), "MZXW6YTB");
    EXPECT_EQ(totp::base32("foobar"), "MZXW6YTBOI");
}

TEST(OtpauthUri, NamesIssuerLabelSecretAndParameters) {
    totp::App app{SecretString("foobar"), {TotpAlgorithm::Sha256, 8, std::chrono::seconds(60)}};
    EXPECT_EQ(totp::otpauth_uri(app, "Example Corp", "alice@host1").view(),
              "otpauth://totp/Example%20Corp:alice%40host1?secret=MZXW6YTBOI&issuer=Example%20Corp"
              "&algorithm=SHA256&digits=8&period=60");
}

// The app's own parameters decide: a code of an 8-digit SHA-256 app is checked as one,
// and a 6-digit SHA-1 code of the same secret is not its code.
TEST(Totp, ChecksCodesWithTheAppsOwnParameters) {
    const std::string key = "12345678901234567890123456789012";
    const int64_t now = 1111111111;
    totp::App app{SecretString(key), {TotpAlgorithm::Sha256, 8, std::chrono::seconds(30)}};
    std::string eight(
        totp::hotp(key, static_cast<uint64_t>(now / 30), 8, TotpAlgorithm::Sha256).view());
    EXPECT_EQ(totp::matching_step(app, eight, now, 1, -1), now / 30);
    EXPECT_FALSE(totp::matching_step(app, code_at(key, now), now, 1, -1));
}

TEST(TotpRecord, KeepsSecretAndParameters) {
    totp::App app{SecretString(std::string(totp::kSecretBytes, '\x07')),
                  {TotpAlgorithm::Sha512, 8, std::chrono::seconds(60)}};
    SecretString record = totp::encode(app);
    EXPECT_EQ(record.view().find(app.key.view()), record.size() - totp::kSecretBytes);
    totp::App back = totp::decode(record.view());
    EXPECT_EQ(back.key.view(), app.key.view());
    EXPECT_EQ(back.params, app.params);
}

// Records written before parameters were kept are the bare secret: such an app was set up
// with the defaults of the time, SHA1, 6 digits, 30 s.
TEST(TotpRecord, ReadsABareSecretAsTheOldDefaults) {
    const std::string bare = "0123456789abcdefghij";
    totp::App app = totp::decode(bare);
    EXPECT_EQ(app.key.view(), bare);
    EXPECT_EQ(app.params.algorithm, TotpAlgorithm::Sha1);
    EXPECT_EQ(app.params.digits, 6);
    EXPECT_EQ(app.params.period, std::chrono::seconds(30));
}

TEST(TotpRecord, RefusesADamagedRecord) {
    totp::App app{SecretString("12345678901234567890"), {}};
    std::string record(totp::encode(app).view());
    std::string bad_algorithm = record;
    bad_algorithm[13] = '\x09';
    EXPECT_THROW((void)totp::decode(bad_algorithm), Error);
    std::string bad_digits = record;
    bad_digits[14] = '\x02';
    EXPECT_THROW((void)totp::decode(bad_digits), Error);
    EXPECT_THROW((void)totp::decode(record.substr(0, 17)), Error);
}

}  // namespace
}  // namespace lwauth
