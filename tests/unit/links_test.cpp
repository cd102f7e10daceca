// The short-link registry of LINE Login under a fake clock: single use, expiry, removal
// with the login, the bound on live links, and tokens of 128 random bits.
#include "line/links.hpp"

#include <gtest/gtest.h>

#include <set>

#include "fakes.hpp"

namespace lwauth::test {
namespace {

using line::Link;
using line::Links;

Link link_for(const std::string& owner, const std::string& state = "state-1") {
    Link link;
    link.owner = owner;
    link.values.emplace("state", SecretString(state));
    link.values.emplace("code_verifier", SecretString(std::string(43, 'v')));
    return link;
}

class LinksTest : public ::testing::Test {
  protected:
    FakeClock clock;
    SeededRandom random;
    Links links{clock, random, 4};
};

TEST_F(LinksTest, GivesBackWhatTheLinkStandsForOnce) {
    std::string token = links.add(link_for("login-1", "s-42"), 120).value();
    Result<Link> taken = links.take(token);
    ASSERT_TRUE(taken.ok()) << taken.error().what();
    EXPECT_EQ(taken->owner, "login-1");
    EXPECT_EQ(taken->values.at("state").view(), "s-42");
    EXPECT_EQ(taken->values.at("code_verifier").view(), std::string(43, 'v'));
    EXPECT_EQ(taken->expires_at, clock.now() + 120);

    Result<Link> again = links.take(token);
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code(), Errc::NotFound);
    EXPECT_EQ(links.size(), 0u);
}

TEST_F(LinksTest, TokensAre128RandomBitsInBase64url) {
    std::set<std::string> seen;
    for (int i = 0; i < 4; ++i) {
        std::string token = links.add(link_for("login-" + std::to_string(i)), 60).value();
        EXPECT_EQ(token.size(), Links::kTokenLength);
        EXPECT_EQ(token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                          "0123456789-_"),
                  std::string::npos);
        seen.insert(token);
    }
    EXPECT_EQ(seen.size(), 4u);
}

TEST_F(LinksTest, ExpiresAtItsDeadline) {
    std::string token = links.add(link_for("login-1"), 120).value();
    clock.advance(119);
    std::string other = links.add(link_for("login-2"), 120).value();
    clock.advance(1);
    Result<Link> late = links.take(token);
    ASSERT_FALSE(late.ok());
    EXPECT_EQ(late.error().code(), Errc::Expired);
    EXPECT_EQ(links.take(token).error().code(), Errc::NotFound);  // and forgotten
    EXPECT_TRUE(links.take(other).ok());
}

TEST_F(LinksTest, PruneForgetsExpiredLinksOnly) {
    (void)links.add(link_for("login-1"), 30).value();
    std::string later = links.add(link_for("login-2"), 90).value();
    clock.advance(60);
    EXPECT_EQ(links.prune(), 1u);
    EXPECT_EQ(links.size(), 1u);
    EXPECT_TRUE(links.take(later).ok());
}

TEST_F(LinksTest, GoesWhenItsLoginEnds) {
    std::string first = links.add(link_for("login-1"), 120).value();
    std::string second = links.add(link_for("login-1"), 120).value();
    std::string other = links.add(link_for("login-2"), 120).value();
    EXPECT_EQ(links.remove_owner("login-1"), 2u);
    EXPECT_EQ(links.take(first).error().code(), Errc::NotFound);
    EXPECT_EQ(links.take(second).error().code(), Errc::NotFound);
    EXPECT_TRUE(links.take(other).ok());
    EXPECT_EQ(links.remove_owner("login-1"), 0u);
}

TEST_F(LinksTest, RefusesMoreThanItsCapacityUntilOneExpires) {
    for (int i = 0; i < 4; ++i) {
        ASSERT_TRUE(links.add(link_for("login-" + std::to_string(i)), 60 + i).ok());
    }
    Result<std::string> full = links.add(link_for("login-4"), 60);
    ASSERT_FALSE(full.ok());
    EXPECT_EQ(full.error().code(), Errc::RateLimited);
    clock.advance(60);  // the first one expires: room for one
    EXPECT_TRUE(links.add(link_for("login-4"), 60).ok());
    EXPECT_EQ(links.size(), 4u);
}

TEST_F(LinksTest, MalformedAndUnknownTokensFindNothing) {
    std::string token = links.add(link_for("login-1"), 120).value();
    std::string flipped = token;
    flipped[0] = flipped[0] == 'A' ? 'B' : 'A';
    for (const std::string& guess :
         {std::string(), token.substr(1), token + "A", flipped, std::string(22, '.')}) {
        Result<Link> r = links.take(guess);
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error().code(), Errc::NotFound);
    }
    EXPECT_TRUE(links.take(token).ok());
}

}  // namespace
}  // namespace lwauth::test
