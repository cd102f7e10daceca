// The small text jobs: base16 and base64 against RFC 4648 section 10, percent-encoding
// against RFC 3986, trimming, and the wait a user reads.
#include "lwauth/text.hpp"

#include <gtest/gtest.h>

#include <string>

#include "http/url.hpp"

namespace lwauth {
namespace {

// RFC 4648 section 10, base16 in lower case as lwauth writes identifiers, base64url
// without the padding JWS leaves off (RFC 7515 section 2).
struct Rfc4648Vector {
    std::string_view bytes, base16, base64, base64url;
};
constexpr Rfc4648Vector kRfc4648Vectors[] = {
    {"", "", "", ""},
    {"f", "66", "Zg==", "Zg"},
    {"fo", "666f", "Zm8=", "Zm8"},
    {"foo", "666f6f", "Zm9v", "Zm9v"},
    {"foob", "666f6f62", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "666f6f6261", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "666f6f626172", "Zm9vYmFy", "Zm9vYmFy"},
};

TEST(Rfc4648, TestVectors) {
    for (const auto& v : kRfc4648Vectors) {
        EXPECT_EQ(hex_encode(v.bytes.data(), v.bytes.size()), v.base16) << v.bytes;
        EXPECT_EQ(base64_encode(v.bytes), v.base64) << v.bytes;
        EXPECT_EQ(base64url_encode(v.bytes), v.base64url) << v.bytes;
        Result<std::string> decoded = base64url_decode(v.base64url);
        ASSERT_TRUE(decoded.ok()) << v.base64url << ": " << decoded.error().what();
        EXPECT_EQ(*decoded, v.bytes);
    }
}

TEST(Base16, EncodesEveryNibble) {
    EXPECT_EQ(hex_encode("\x00\x0f\xf0\xff\x12\xab", 6), "000ff0ff12ab");
}

TEST(Base64, EncodesEveryByteValue) {
    EXPECT_EQ(base64_encode(std::string("\xfb\xff", 2)), "+/8=");
    EXPECT_EQ(base64_encode(std::string("\0\0\0", 3)), "AAAA");
    // "確認コード" in UTF-8, as a MIME encoded-word carries it.
    EXPECT_EQ(base64_encode("\xe7\xa2\xba\xe8\xaa\x8d\xe3\x82\xb3\xe3\x83\xbc\xe3\x83\x89"),
              "56K66KqN44Kz44O844OJ");
}

TEST(Base64Url, UsesTheUrlSafeAlphabet) {
    EXPECT_EQ(base64url_encode(std::string("\xfb\xff", 2)), "-_8");  // "+/8=" in base64
    EXPECT_EQ(base64url_encode(std::string("\xff\xff\xff", 3)), "____");
    EXPECT_EQ(base64url_encode(std::string("\xf8", 1)), "-A");
    EXPECT_EQ(base64url_encode(std::string("\0\0\0", 3)), "AAAA");
}

TEST(Base64Url, DecodesEveryByteValue) {
    EXPECT_EQ(*base64url_decode("-_8"), std::string("\xfb\xff", 2));
    EXPECT_EQ(*base64url_decode("____"), std::string("\xff\xff\xff", 3));
    EXPECT_EQ(*base64url_decode("AAAA"), std::string("\0\0\0", 3));
}

TEST(Base64Url, RefusesAnythingButOneCanonicalText) {
    for (std::string_view bad :
         {"Zg==", "Zm9v+A", "Zm9v/w", "Zm 9v", "Zm9\nv", "Z", "Zm9vY", "Zh", "Zm9", "-B"}) {
        Result<std::string> decoded = base64url_decode(bad);
        ASSERT_FALSE(decoded.ok()) << bad;
        EXPECT_EQ(decoded.error().code(), Errc::InvalidArgument) << bad;
    }
}

TEST(PercentEncode, KeepsTheUnreservedCharacters) {
    // RFC 3986 section 2.3: ALPHA / DIGIT / "-" / "." / "_" / "~".
    const std::string unreserved =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
    EXPECT_EQ(http::percent_encode(unreserved), unreserved);
    EXPECT_EQ(http::percent_encode(""), "");
}

TEST(PercentEncode, EncodesReservedCharactersWithUpperCaseHex) {
    // RFC 3986 section 2.2 gen-delims and sub-delims, section 2.1 upper-case digits.
    EXPECT_EQ(http::percent_encode(":/?#[]@"), "%3A%2F%3F%23%5B%5D%40");
    EXPECT_EQ(http::percent_encode("!$&'()*+,;="), "%21%24%26%27%28%29%2A%2B%2C%3B%3D");
    EXPECT_EQ(http::percent_encode("a b%"), "a%20b%25");
    EXPECT_EQ(http::percent_encode("+819012345678"), "%2B819012345678");
}

TEST(PercentEncode, EncodesUtf8ByteByByte) {
    // RFC 3986 section 2.5: "À" (U+00C0) is "%C3%80".
    EXPECT_EQ(http::percent_encode("\xc3\x80"), "%C3%80");
    EXPECT_EQ(http::percent_encode("\u2022"), "%E2%80%A2");
    EXPECT_EQ(http::percent_encode(std::string("a\0b", 3)), "a%00b");
}

TEST(Trim, DropsAsciiWhiteSpaceAtBothEnds) {
    EXPECT_EQ(trim(" \t\r\n\v\f123456 \n"), "123456");
    EXPECT_EQ(trim("a b"), "a b");
    EXPECT_EQ(trim("   "), "");
    EXPECT_EQ(trim(""), "");
    EXPECT_EQ(trim("\xc2\xa0x"), "\xc2\xa0x") << "only ASCII white space";
}

TEST(DurationText, ReadsInSecondsUnderTwoMinutesAndInWholeMinutesAbove) {
    EXPECT_EQ(duration_text(1, Language::En), "1 second");
    EXPECT_EQ(duration_text(30, Language::En), "30 seconds");
    EXPECT_EQ(duration_text(60, Language::En), "60 seconds");
    EXPECT_EQ(duration_text(90, Language::En), "90 seconds");
    EXPECT_EQ(duration_text(119, Language::En), "119 seconds");
    EXPECT_EQ(duration_text(120, Language::En), "2 minutes");
    EXPECT_EQ(duration_text(121, Language::En), "3 minutes")
        << "rounded up, so that the wait is enough";
    EXPECT_EQ(duration_text(900, Language::En), "15 minutes");
    EXPECT_EQ(duration_text(3570, Language::En), "60 minutes");
}

}  // namespace
}  // namespace lwauth
