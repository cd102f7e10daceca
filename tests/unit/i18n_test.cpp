// lwauth's catalogs (i18n.hpp): the language of a locale name, the .mo reader on the
// build tree's ja catalog, and the positional placeholders translators reorder.
#include "lwauth/i18n.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

#include "lwauth/text.hpp"

namespace lwauth {
namespace {

TEST(LanguageOfLocale, ReadsTheLanguageOfAPosixLocaleName) {
    EXPECT_EQ(language_of_locale("ja_JP.UTF-8"), Language::Ja);
    EXPECT_EQ(language_of_locale("ja"), Language::Ja);
    EXPECT_EQ(language_of_locale("ja_JP.eucJP@traditional"), Language::Ja);
    EXPECT_EQ(language_of_locale("en_US.UTF-8"), Language::En);
    EXPECT_EQ(language_of_locale("en_GB@euro"), Language::En);
}

TEST(LanguageOfLocale, NamesNoneForCPosixAndLanguagesWithoutLines) {
    EXPECT_EQ(language_of_locale(""), std::nullopt);
    EXPECT_EQ(language_of_locale("C"), std::nullopt);
    EXPECT_EQ(language_of_locale("C.UTF-8"), std::nullopt);
    EXPECT_EQ(language_of_locale("POSIX"), std::nullopt);
    EXPECT_EQ(language_of_locale("fr_FR.UTF-8"), std::nullopt);
    EXPECT_EQ(language_of_locale("jam"), std::nullopt);
}

TEST(FormatText, PutsPositionalArgumentsWhereTheTranslationWantsThem) {
    EXPECT_EQ(format_text("A code was sent %1$s to %2$s.", {"by SMS", "+81 •• 5678"}),
              "A code was sent by SMS to +81 •• 5678.");
    EXPECT_EQ(format_text("確認コードを%2$s宛てに%1$s送信しました。", {"SMS で", "+81 •• 5678"}),
              "確認コードを+81 •• 5678宛てにSMS で送信しました。");
    EXPECT_EQ(format_text("%s or %s, 100%%", {"a", "b"}), "a or b, 100%");
    EXPECT_EQ(format_text("%1$s %1$s", {"x"}), "x x");
    EXPECT_EQ(format_text("%3$s %d %", {"x"}), "%3$s %d %") << "left as written";
}

// The bytes of the build tree's ja catalog, as msgfmt wrote them.
std::string build_tree_mo() {
    std::ifstream in(std::string(LWAUTH_BUILD_LOCALEDIR) + "/ja/LC_MESSAGES/lwauth.mo",
                     std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(Catalog, ReadsTheJapaneseCatalogThatMsgfmtWrote) {
    Catalog ja = Catalog::parse(build_tree_mo());
    ASSERT_FALSE(ja.empty());
    ASSERT_NE(ja.find("Verification code: "), nullptr);
    EXPECT_STREQ(ja.find("Verification code: "), "確認コード: ");
    EXPECT_EQ(ja.find("a line no catalog has"), nullptr);
    // Japanese has one form, whatever the count.
    EXPECT_STREQ(ja.find_plural("%s minute", "%s minutes", 1), "%s分");
    EXPECT_STREQ(ja.find_plural("%s minute", "%s minutes", 15), "%s分");
}

TEST(Catalog, RefusesBytesThatAreNotAnMoFile) {
    EXPECT_TRUE(Catalog::parse("").empty());
    EXPECT_TRUE(Catalog::parse(std::string(64, '\xde')).empty());
    std::string bytes = build_tree_mo();
    ASSERT_GT(bytes.size(), 40u);
    EXPECT_TRUE(Catalog::parse(bytes.substr(0, bytes.size() / 2)).empty())
        << "a cut file points past its end";
}

TEST(Catalog, LoadsByLanguageFromTheLocaleDirectory) {
    ::setenv("LWAUTH_LOCALEDIR", LWAUTH_BUILD_LOCALEDIR, 1);
    EXPECT_STREQ(Catalog::load(Language::Ja).find("PIN: "), "PIN: ");
    EXPECT_TRUE(Catalog::load(Language::En).empty()) << "English is the source text";
    ::setenv("LWAUTH_LOCALEDIR", "/nonexistent", 1);
    EXPECT_TRUE(Catalog::load(Language::Ja).empty()) << "no catalog: English, cleanly";
    ::unsetenv("LWAUTH_LOCALEDIR");
}

TEST(DurationText, CountsInJapanese) {
    ::setenv("LWAUTH_LOCALEDIR", LWAUTH_BUILD_LOCALEDIR, 1);
    EXPECT_EQ(duration_text(1, Language::Ja), "1秒");
    EXPECT_EQ(duration_text(121, Language::Ja), "3分");
    EXPECT_EQ(duration_text(121, Language::En), "3 minutes");
    ::unsetenv("LWAUTH_LOCALEDIR");
}

}  // namespace
}  // namespace lwauth
