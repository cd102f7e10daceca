// The rules a quick-login PIN must pass, each refused with the reason a user reads, and
// the shipped list of common PINs.
#include "quick/pin_rules.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace lwauth::quick {
namespace {

namespace fs = std::filesystem;

const fs::path kShippedList = fs::path(LWAUTH_SOURCE_DIR) / "daemon/quick/common-pins";

const CommonPins& shipped() {
    static const CommonPins pins = CommonPins::load(kShippedList).value();
    return pins;
}

// The reason `pin` is refused, or "" when it is accepted.
std::string refusal(const std::string& pin, int min_length = 6,
                    const std::vector<std::string>& phones = {}) {
    auto checked = check_pin(pin, min_length, phones, shipped());
    if (checked.ok()) {
        return "";
    }
    EXPECT_EQ(checked.error().code(), Errc::InvalidArgument);
    std::string why = checked.error().what();
    if (!pin.empty()) {
        EXPECT_EQ(why.find(pin), std::string::npos) << "the reason repeats the PIN: " << why;
    }
    return why;
}

TEST(PinRules, AcceptsAnUnremarkablePin) {
    EXPECT_EQ(refusal("482915"), "");
    EXPECT_EQ(refusal("3062", 4), "");
    EXPECT_EQ(refusal("30617485920173"), "");
}

TEST(PinRules, DigitsOnly) {
    for (std::string pin : {"48291a", "4829 15", "482-915", "４８２９１５", "+48291"}) {
        EXPECT_EQ(refusal(pin), "A PIN may contain only the digits 0 to 9.") << pin;
    }
}

TEST(PinRules, AtLeastTheMinimumAndAtMost32Digits) {
    EXPECT_EQ(refusal("48291"), "A PIN needs at least 6 digits.");
    EXPECT_EQ(refusal("482915", 8), "A PIN needs at least 8 digits.");
    EXPECT_EQ(refusal(""), "A PIN needs at least 6 digits.");
    EXPECT_EQ(refusal("48291573064829157306482915730648"), "");  // 32
    EXPECT_EQ(refusal("482915730648291573064829157306481"), "A PIN may have at most 32 digits.");
}

TEST(PinRules, OneRepeatedDigit) {
    for (std::string pin : {"000000", "777777", "4444", "99999999"}) {
        EXPECT_EQ(refusal(pin, 4), "A PIN of one digit repeated is too easy to guess.") << pin;
    }
}

TEST(PinRules, OneRepeatedBlock) {
    for (std::string pin : {"121212", "123123", "3838", "40794079", "905905905"}) {
        EXPECT_EQ(refusal(pin, 4), "A PIN of a few digits repeated is too easy to guess.") << pin;
    }
    EXPECT_EQ(refusal("1212123", 4), "");  // not a whole number of blocks
}

TEST(PinRules, RunsUpOrDownAlsoWrappingBetweenNineAndZero) {
    for (std::string pin : {"123456", "987654", "890123", "210987", "0123", "56789012", "3210"}) {
        EXPECT_EQ(refusal(pin, 4), "A PIN of consecutive digits, up or down, is too easy to guess.")
            << pin;
    }
    EXPECT_EQ(refusal("123457"), "");  // a run broken once is not a run
}

TEST(PinRules, NoFourDigitsInARowOfThePhoneNumbers) {
    const std::vector<std::string> phones{"+819012345678", "+14155550132"};
    const std::string why = "A PIN must not contain digits of your phone number.";
    EXPECT_EQ(refusal("905678", 6, phones), why);  // the end of the number
    EXPECT_EQ(refusal("823457", 6, phones), why);  // four of them in the PIN's middle
    EXPECT_EQ(refusal("090128", 6, phones), why);  // the national form, 090-1234-5678
    EXPECT_EQ(refusal("415599", 6, phones), why);  // the other number
    EXPECT_EQ(refusal("550132", 6, phones), why);
    EXPECT_EQ(refusal("729045", 6, phones), "");  // no four in a row in either
    EXPECT_EQ(refusal("905678"), "");             // without the numbers, nothing to match
}

TEST(PinRules, TheShippedCommonPins) {
    EXPECT_GT(shipped().size(), 100u);
    const std::string why = "This PIN is one of the most common PINs, too easy to guess.";
    for (std::string pin : {"1004", "2580", "1984", "2000", "1122", "1470"}) {
        EXPECT_EQ(refusal(pin, 4), why) << pin;
    }
    for (std::string pin : {"123321", "112233", "789456", "159753", "147258", "8675309"}) {
        EXPECT_EQ(refusal(pin), why) << pin;
    }
}

TEST(PinRules, EveryShippedPinIsACandidateTheOtherRulesLetThrough) {
    // Lines the rules refuse anyway would only be noise in the list; the file says so.
    std::ifstream in(kShippedList);
    std::string line;
    int listed = 0;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') {
            continue;
        }
        ++listed;
        EXPECT_EQ(check_pin(line, 4, {}, CommonPins()).ok(), true) << line;
    }
    EXPECT_EQ(static_cast<size_t>(listed), shipped().size());  // and none twice
}

TEST(PinRules, ADamagedListIsAnErrorNotAnEmptyList) {
    const fs::path dir = fs::temp_directory_path() / ("lwauth-pins-" + std::to_string(getpid()));
    fs::create_directories(dir);
    std::ofstream(dir / "pins") << "# comment\n\n1234\n12a4\n";
    auto loaded = CommonPins::load(dir / "pins");
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.error().code(), Errc::Internal);
    EXPECT_NE(std::string(loaded.error().what()).find("pins:4: not a PIN"), std::string::npos);
    EXPECT_FALSE(CommonPins::load(dir / "missing").ok());
    std::ofstream(dir / "good") << "# comment\n\n  2580  \n1004\n";
    auto good = CommonPins::load(dir / "good");
    ASSERT_TRUE(good.ok()) << good.error().what();
    EXPECT_EQ(good->size(), 2u);
    EXPECT_TRUE(good->contains("2580"));
    fs::remove_all(dir);
}

TEST(PinRules, TheDefaultListIsTheInstalledOne) {
    EXPECT_EQ(default_common_pins_path().filename(), "common-pins");
    EXPECT_EQ(default_common_pins_path().parent_path().filename(), "lwauth");
}

}  // namespace
}  // namespace lwauth::quick
