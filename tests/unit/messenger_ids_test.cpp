// Who a LINE / LINE WORKS notification goes to: the user_id template and user_map_file.
#include "channels/messenger_ids.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "fakes.hpp"
#include "lwauth/error.hpp"

namespace lwauth {
namespace {

using test::TempDir;

policy::ChannelConfig config(std::map<std::string, std::string> options) {
    policy::ChannelConfig c;
    c.name = "lw";
    c.type = "lineworks";
    c.options = std::move(options);
    return c;
}

std::string write_map(const TempDir& dir, const std::string& text) {
    std::string path = dir.file("users");
    std::ofstream(path) << text;
    ::chmod(path.c_str(), 0600);
    return path;
}

std::string error_of(std::string_view text) {
    try {
        (void)parse_user_map(text, "/etc/lwauth/users");
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

std::optional<std::string> id_of(const Result<std::string>& lookup) {
    return lookup ? std::optional<std::string>(*lookup) : std::nullopt;
}

std::string problem_of(const Result<std::string>& lookup) {
    EXPECT_FALSE(lookup.ok());
    EXPECT_EQ(lookup.ok() ? Errc::Internal : lookup.error().code(), Errc::DeliveryFailed);
    return lookup.ok() ? "" : lookup.error().what();
}

constexpr const char* kLineId = "U0123456789abcdef0123456789abcdef";
constexpr const char* kWorksId = "4f6e1a52-0c1b-4d7e-9a3f-2b8c5d7e9f10";

TEST(MessengerIds, WithoutKeysNobodyHasAnId) {
    MessengerIds ids(config({}), kLineWorksIdForm);
    auto alice = ids.lookup("alice");
    EXPECT_EQ(id_of(alice), std::nullopt) << "the user name is never the ID";
    EXPECT_EQ(problem_of(alice), "the user has no LINE WORKS user ID in user_map_file");
}

TEST(MessengerIds, TheTemplateStandsForEveryUser) {
    MessengerIds ids(config({{"user_id", "{user}@example.com"}}), kLineWorksIdForm);
    EXPECT_EQ(id_of(ids.lookup("alice")), "alice@example.com");
    EXPECT_EQ(policy::expand_user_id("{user}.{user}", "b"), "b.b");
}

TEST(MessengerIds, TheMapWinsOverTheTemplate) {
    TempDir dir;
    MessengerIds ids(config({{"user_id", "{user}@example.com"},
                             {"user_map_file", write_map(dir, std::string("bob ") + kWorksId)}}),
                     kLineWorksIdForm);
    EXPECT_EQ(id_of(ids.lookup("bob")), kWorksId);
    EXPECT_EQ(id_of(ids.lookup("alice")), "alice@example.com");
}

TEST(MessengerIds, WithOnlyAMapOthersHaveNoId) {
    TempDir dir;
    MessengerIds ids(config({{"user_map_file", write_map(dir, std::string("bob ") + kLineId)}}),
                     kLineIdForm);
    EXPECT_EQ(id_of(ids.lookup("bob")), kLineId);
    EXPECT_EQ(id_of(ids.lookup("alice")), std::nullopt);
    EXPECT_EQ(problem_of(ids.lookup("alice")), "the user has no LINE user ID in user_map_file");
}

// An ID of the wrong form is not handed to the channel, and the reason does not carry it.
TEST(MessengerIds, AnIdOfTheWrongFormIsNotGiven) {
    TempDir dir;
    MessengerIds line(config({{"user_map_file", write_map(dir, "bob Ub-typo\ncarol carol\n")}}),
                      kLineIdForm);
    auto bob = line.lookup("bob");
    EXPECT_EQ(id_of(bob), std::nullopt);
    EXPECT_EQ(problem_of(bob),
              "the user's ID in user_map_file is not a LINE user ID (U and 32 hex digits); not "
              "sent");
    EXPECT_EQ(id_of(line.lookup("carol")), std::nullopt) << "a user name is no LINE user ID";

    MessengerIds works(config({{"user_id", "{user}@example.com"}}), kLineWorksIdForm);
    auto odd = works.lookup("a/b");
    EXPECT_EQ(id_of(odd), std::nullopt);
    EXPECT_EQ(problem_of(odd),
              "the ID user_id gives the user is not a LINE WORKS user ID or login ID "
              "(name@domain); not sent");
}

TEST(MessengerIdForms, LineTakesUAnd32LowerCaseHexDigits) {
    EXPECT_TRUE(policy::is_line_user_id(kLineId));
    EXPECT_FALSE(policy::is_line_user_id("U0123456789ABCDEF0123456789abcdef"));
    EXPECT_FALSE(policy::is_line_user_id("C0123456789abcdef0123456789abcdef")) << "a group";
    EXPECT_FALSE(policy::is_line_user_id("U0123456789abcdef0123456789abcde"));
    EXPECT_FALSE(policy::is_line_user_id("alice"));
    EXPECT_FALSE(policy::is_line_user_id(""));
}

TEST(MessengerIdForms, LineWorksTakesAUserIdOrALoginId) {
    EXPECT_TRUE(policy::is_lineworks_user_id(kWorksId));
    EXPECT_TRUE(policy::is_lineworks_user_id("userf7da-f82c-4284-13e7-030f3b4c756x"))
        << "the form of the API reference's example";
    EXPECT_TRUE(policy::is_lineworks_user_id("alice@example.com"));
    EXPECT_TRUE(policy::is_lineworks_user_id("a.b_c-d@works-123"));
    EXPECT_FALSE(policy::is_lineworks_user_id("alice")) << "a bare user name";
    EXPECT_FALSE(policy::is_lineworks_user_id("110002509000000"));
    EXPECT_FALSE(policy::is_lineworks_user_id("4f6e1a52-0c1b-4d7e-9a3f-2b8c5d7e9f1"));
    EXPECT_FALSE(policy::is_lineworks_user_id("4f6e1a52-0c1b-4d7e-9a3f-2b8c5d7e9f100"));
    EXPECT_FALSE(policy::is_lineworks_user_id("4f6e1a52_0c1b-4d7e-9a3f-2b8c5d7e9f10"));
    EXPECT_FALSE(policy::is_lineworks_user_id("a@b@example.com"));
    EXPECT_FALSE(policy::is_lineworks_user_id("@example.com"));
    EXPECT_FALSE(policy::is_lineworks_user_id("alice@"));
    EXPECT_FALSE(policy::is_lineworks_user_id("a/b@example.com"));
    EXPECT_FALSE(policy::is_lineworks_user_id(""));
}

TEST(MessengerIds, AnUnreadableMapThrows) {
    EXPECT_THROW(MessengerIds(config({{"user_map_file", "/nonexistent/users"}}), kLineWorksIdForm),
                 Error);
}

TEST(UserMap, SkipsCommentsBlankLinesAndExtraSpace) {
    auto map = parse_user_map("# user id\n\n  alice\tU1  \r\n   # indented comment\nbob U2", "f");
    ASSERT_EQ(map.size(), 2u);
    EXPECT_EQ(map.at("alice"), "U1");
    EXPECT_EQ(map.at("bob"), "U2");
}

TEST(UserMap, NamesTheLineOfAMistakeWithoutEchoingIt) {
    EXPECT_EQ(error_of("alice U1\nbob\n"), "/etc/lwauth/users:2: expected 'USER ID'");
    EXPECT_EQ(error_of("alice U1 U9-secret\n"), "/etc/lwauth/users:1: expected 'USER ID'");
    EXPECT_EQ(error_of("alice U1\nalice U2\n"), "/etc/lwauth/users:2: user 'alice' appears twice");
}

TEST(UserIdTemplate, AllowsOnlyTheUserPlaceholder) {
    EXPECT_TRUE(policy::user_id_template_valid("{user}"));
    EXPECT_TRUE(policy::user_id_template_valid("{user}@example.com"));
    EXPECT_TRUE(policy::user_id_template_valid("fixed-id"));
    EXPECT_FALSE(policy::user_id_template_valid(""));
    EXPECT_FALSE(policy::user_id_template_valid("{uid}"));
    EXPECT_FALSE(policy::user_id_template_valid("{user"));
    EXPECT_FALSE(policy::user_id_template_valid("{user} x"));
    EXPECT_FALSE(policy::user_id_template_valid("a\x01"));
}

}  // namespace
}  // namespace lwauth
