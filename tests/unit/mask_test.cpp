#include "lwauth/mask.hpp"

#include <gtest/gtest.h>

#include <string>

namespace lwauth {
namespace {

// ---- Masking ----------------------------------------------------------------------------

TEST(MaskPhone, JapaneseMobileShowsCountryCodeAndLastFourDigits) {
    std::string shown = mask_phone("+819012345678");
    EXPECT_EQ(shown, "+81 •• •••• 5678");
    EXPECT_EQ(shown.find("9012345678"), std::string::npos);
    EXPECT_EQ(shown.find("1234"), std::string::npos);
}

TEST(MaskPhone, NorthAmericanNumberShowsCountryCodeAndLastFourDigits) {
    std::string shown = mask_phone("+14155552671");
    EXPECT_EQ(shown, "+1 •• •••• 2671");
    EXPECT_EQ(shown.find("14155552671"), std::string::npos);
    EXPECT_EQ(shown.find("4155"), std::string::npos);
}

TEST(MaskPhone, ThreeDigitCountryCodeIsKeptWhole) {
    EXPECT_EQ(mask_phone("+8801712345678"), "+880 •• •••• 5678");
}

TEST(MaskPhone, HiddenDigitsAreGroupedInFoursFromTheRight) {
    // +44 7911 123456: national number of ten digits, six hidden.
    EXPECT_EQ(mask_phone("+447911123456"), "+44 •• •••• 3456");
    // Eight hidden digits: two full groups.
    EXPECT_EQ(mask_phone("+81901234567890"), "+81 •••• •••• 7890");
}

TEST(MaskPhone, ShortNationalNumberShowsNoDigits) {
    EXPECT_EQ(mask_phone("+811234"), "+81 ••••");
}

TEST(MaskPhone, AnythingNotE164ShowsAtMostItsLastTwoDigits) {
    EXPECT_EQ(mask_phone("09012345678"), "•••78");
    EXPECT_EQ(mask_phone("abc"), "•••");
    EXPECT_EQ(mask_phone(""), "•••");
    EXPECT_EQ(mask_phone("+81-90-1234-5678"), "•••78");
}

TEST(MaskEmail, ShowsFirstCharacterAndDomain) {
    std::string shown = mask_email("taro@example.com");
    EXPECT_EQ(shown, "t•••@example.com");
    EXPECT_EQ(shown.find("taro"), std::string::npos);
}

TEST(MaskEmail, NoLocalPartShowsOnlyDots) {
    EXPECT_EQ(mask_email("@example.com"), "•••");
    EXPECT_EQ(mask_email("not-an-address"), "•••");
}

TEST(MaskContact, PicksTheMaskByKind) {
    EXPECT_EQ(mask_contact("phone", "+819012345678"), "+81 •• •••• 5678");
    EXPECT_EQ(mask_contact("email", "taro@example.com"), "t•••@example.com");
    EXPECT_EQ(mask_contact("line", "U1234567890"), "•••");
}

// ---- Phone numbers ----------------------------------------------------------------------

TEST(NormalizePhone, AcceptsTheWaysPeopleTypeAnInternationalNumber) {
    EXPECT_EQ(normalize_phone("+819012345678"), "+819012345678");
    EXPECT_EQ(normalize_phone("+81 90 1234 5678"), "+819012345678");
    EXPECT_EQ(normalize_phone("+81-90-1234-5678"), "+819012345678");
    EXPECT_EQ(normalize_phone("+1 (415) 555-2671"), "+14155552671");
    EXPECT_EQ(normalize_phone("+44.7911.123456"), "+447911123456");
}

TEST(NormalizePhone, RefusesANumberWithoutPlus) {
    EXPECT_EQ(normalize_phone("819012345678"), "");
    EXPECT_EQ(normalize_phone("090-1234-5678"), "");
}

TEST(NormalizePhone, RefusesTooShortAndTooLongNumbers) {
    EXPECT_EQ(normalize_phone("+8190123"), "");            // 7 digits
    EXPECT_EQ(normalize_phone("+81901234"), "+81901234");  // 8 digits: the shortest accepted
    EXPECT_EQ(normalize_phone("+819012345678901"), "+819012345678901");  // 15: the longest
    EXPECT_EQ(normalize_phone("+8190123456789012"), "");                 // 16 digits
    EXPECT_EQ(normalize_phone("+"), "");
    EXPECT_EQ(normalize_phone(""), "");
}

TEST(NormalizePhone, RefusesLettersSecondPlusAndLeadingZeroCountryCode) {
    EXPECT_EQ(normalize_phone("+81 90 1234 567x"), "");
    EXPECT_EQ(normalize_phone("++819012345678"), "");
    EXPECT_EQ(normalize_phone("+8190+12345678"), "");
    EXPECT_EQ(normalize_phone("+0819012345678"), "");
    EXPECT_EQ(normalize_phone("+81\t9012345678"), "");
}

TEST(CountryCodeLength, KnowsOneTwoAndThreeDigitCodes) {
    EXPECT_EQ(country_code_length("14155552671"), 1u);    // NANP
    EXPECT_EQ(country_code_length("74951234567"), 1u);    // Russia
    EXPECT_EQ(country_code_length("447911123456"), 2u);   // UK
    EXPECT_EQ(country_code_length("819012345678"), 2u);   // Japan
    EXPECT_EQ(country_code_length("8801712345678"), 3u);  // Bangladesh
    EXPECT_EQ(country_code_length("1"), 1u);
    EXPECT_EQ(country_code_length("81"), 2u);
    EXPECT_EQ(country_code_length("880"), 3u);
    EXPECT_EQ(country_code_length(""), 0u);
}

// ---- Email addresses --------------------------------------------------------------------

TEST(NormalizeEmail, LowerCasesTheDomainOnly) {
    EXPECT_EQ(normalize_email("Taro@Example.COM"), "Taro@example.com");
    EXPECT_EQ(normalize_email("taro@example.com"), "taro@example.com");
}

TEST(NormalizeEmail, RefusesAddressesOfTheWrongShape) {
    for (const char* bad : {"",
                            "taro",
                            "taro@",
                            "@example.com",
                            "taro@@example.com",
                            "taro@exa@mple.com",
                            "taro@example",
                            "taro@.example.com",
                            "taro@example.com.",
                            "taro@example..com",
                            "ta ro@example.com",
                            "taro@example.com ",
                            "<taro@example.com>",
                            "taro,jiro@example.com",
                            "taro;@example.com",
                            "taro\\@example.com",
                            "\"taro\"@example.com",
                            "taro@[127.0.0.1]",
                            "tarö@example.com",
                            "taro@e.c\x7f"}) {
        EXPECT_EQ(normalize_email(bad), "") << "accepted: " << bad;
    }
}

TEST(NormalizeEmail, RefusesOverlongParts) {
    EXPECT_EQ(normalize_email(std::string(65, 'a') + "@example.com"), "");
    EXPECT_NE(normalize_email(std::string(64, 'a') + "@example.com"), "");
    std::string long_domain = std::string(250, 'd') + ".com";
    EXPECT_EQ(normalize_email("a@" + long_domain), "");
}

}  // namespace
}  // namespace lwauth

namespace {
TEST(NormalizePhoneTrunk, DropsABracketedTrunkPrefix) {
    EXPECT_EQ(lwauth::normalize_phone("+81 (0)90 1234 5678"), "+819012345678");
    EXPECT_EQ(lwauth::normalize_phone("+44 (0)20 7946 0958"), "+442079460958");
    EXPECT_EQ(lwauth::normalize_phone("(0)90 1234 5678"), "");
}
}  // namespace
