#include "lwauth/secret.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <ostream>
#include <string>
#include <type_traits>
#include <utility>

namespace lwauth {
namespace {

template <class T, class = void>
struct Streamable : std::false_type {};
template <class T>
struct Streamable<T,
                  std::void_t<decltype(std::declval<std::ostream&>() << std::declval<const T&>())>>
    : std::true_type {};

// A secret cannot reach a log by accident: no implicit copy, no stream operator.
static_assert(!std::is_copy_constructible_v<SecretString>);
static_assert(!std::is_copy_assignable_v<SecretString>);
static_assert(std::is_nothrow_move_constructible_v<SecretString>);
static_assert(std::is_nothrow_move_assignable_v<SecretString>);
static_assert(!Streamable<SecretString>::value);
static_assert(!std::is_convertible_v<SecretString, std::string>);
static_assert(!std::is_convertible_v<std::string_view, SecretString>);

TEST(SecretString, HoldsTheValueAsANulTerminatedString) {
    SecretString secret("123456");
    EXPECT_EQ(secret.view(), "123456");
    EXPECT_EQ(secret.size(), 6u);
    EXPECT_FALSE(secret.empty());
    EXPECT_STREQ(secret.c_str(), "123456");
}

TEST(SecretString, KeepsEmbeddedNulBytes) {
    SecretString secret(std::string_view("a\0b", 3));
    EXPECT_EQ(secret.size(), 3u);
    EXPECT_EQ(secret.view(), std::string_view("a\0b", 3));
}

TEST(SecretString, DefaultIsEmptyWithAnEmptyCString) {
    SecretString secret;
    EXPECT_TRUE(secret.empty());
    EXPECT_EQ(secret.size(), 0u);
    EXPECT_STREQ(secret.c_str(), "");
}

TEST(SecretString, MoveLeavesTheSourceEmpty) {
    SecretString source("123456");
    SecretString target(std::move(source));
    EXPECT_EQ(target.view(), "123456");
    EXPECT_TRUE(
        source.empty());  // NOLINT(bugprone-use-after-move): the state after a move is the point
    EXPECT_STREQ(source.c_str(), "");
}

TEST(SecretString, MoveAssignmentReplacesTheOldValueAndEmptiesTheSource) {
    SecretString source("654321");
    SecretString target("old-pin");
    target = std::move(source);
    EXPECT_EQ(target.view(), "654321");
    EXPECT_TRUE(source.empty());  // NOLINT(bugprone-use-after-move)
}

TEST(SecretString, SelfMoveAssignmentKeepsTheValue) {
    SecretString secret("123456");
    SecretString& alias = secret;
    secret = std::move(alias);
    EXPECT_EQ(secret.view(), "123456");
}

TEST(SecretString, ClearEmptiesIt) {
    SecretString secret("123456");
    secret.clear();
    EXPECT_TRUE(secret.empty());
    EXPECT_EQ(secret.view(), "");
    EXPECT_STREQ(secret.c_str(), "");
    secret.clear();  // twice is harmless
    EXPECT_TRUE(secret.empty());
}

TEST(SecretString, CloneIsAnIndependentCopy) {
    SecretString original("123456");
    SecretString copy = original.clone();
    EXPECT_EQ(copy.view(), "123456");
    EXPECT_NE(copy.c_str(), original.c_str());
    original.clear();
    EXPECT_EQ(copy.view(), "123456");
}

TEST(SecureWipe, ZeroesTheBuffer) {
    char buffer[8];
    std::memcpy(buffer, "1234567", 8);
    secure_wipe(buffer, sizeof buffer);
    for (char c : buffer) {
        EXPECT_EQ(c, '\0');
    }
    secure_wipe(nullptr, 4);  // tolerated
}

TEST(WipeString, EmptiesTheString) {
    std::string value = "123456";
    wipe_string(value);
    EXPECT_TRUE(value.empty());
}

TEST(SecretEqual, IsTrueOnlyForIdenticalBytes) {
    EXPECT_TRUE(secret_equal("123456", "123456"));
    EXPECT_TRUE(secret_equal("", ""));
    EXPECT_FALSE(secret_equal("123456", "123457"));
    EXPECT_FALSE(secret_equal("123456", "023456"));
    EXPECT_FALSE(secret_equal("123456", "1234567"));
    EXPECT_FALSE(secret_equal("123456", "12345"));
    EXPECT_FALSE(secret_equal("", "1"));
    EXPECT_FALSE(secret_equal(std::string_view("12\0", 3), std::string_view("12\1", 3)));
}

}  // namespace
}  // namespace lwauth
