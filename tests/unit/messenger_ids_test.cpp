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

TEST(MessengerIds, WithoutKeysTheUserNameIsTheId) {
    MessengerIds ids(config({}));
    EXPECT_EQ(ids.id_for("alice"), "alice");
}

TEST(MessengerIds, TheTemplateStandsForEveryUser) {
    MessengerIds ids(config({{"user_id", "{user}@example.com"}}));
    EXPECT_EQ(ids.id_for("alice"), "alice@example.com");
    EXPECT_EQ(policy::expand_user_id("{user}.{user}", "b"), "b.b");
}

TEST(MessengerIds, TheMapWinsOverTheTemplate) {
    TempDir dir;
    MessengerIds ids(config({{"user_id", "{user}@example.com"},
                             {"user_map_file", write_map(dir, "bob 110002509000000\n")}}));
    EXPECT_EQ(ids.id_for("bob"), "110002509000000");
    EXPECT_EQ(ids.id_for("alice"), "alice@example.com");
}

TEST(MessengerIds, WithOnlyAMapOthersHaveNoId) {
    TempDir dir;
    MessengerIds ids(config({{"user_map_file", write_map(dir, "bob Ub\n")}}));
    EXPECT_EQ(ids.id_for("bob"), "Ub");
    EXPECT_EQ(ids.id_for("alice"), std::nullopt);
}

TEST(MessengerIds, AnUnreadableMapThrows) {
    EXPECT_THROW(MessengerIds(config({{"user_map_file", "/nonexistent/users"}})), Error);
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
