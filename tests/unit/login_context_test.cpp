// Where a login comes from: what keeps quick login to this machine.
#include <gtest/gtest.h>

#include "login/step.hpp"

namespace lwauth {
namespace {

LoginContext context(std::string rhost, std::string tty, bool session_remote = false) {
    LoginContext c;
    c.user = "taro";
    c.service = "login";
    c.rhost = std::move(rhost);
    c.tty = std::move(tty);
    c.session_remote = session_remote;
    return c;
}

TEST(LoginContextTest, ARemoteHostOtherThanLocalhostIsRemote) {
    EXPECT_TRUE(context("192.0.2.7", "").remote());
    EXPECT_TRUE(context("client.example.com", "/dev/pts/3").remote());
    EXPECT_TRUE(context("::1", "").remote()) << "only the name localhost reads as local";
}

TEST(LoginContextTest, WithoutARemoteHostTheSessionDecides) {
    EXPECT_FALSE(context("", "tty1").remote());
    EXPECT_FALSE(context("localhost", ":0").remote());
    EXPECT_TRUE(context("", "tty1", true).remote()) << "logind says the session is remote";
    EXPECT_TRUE(context("localhost", "", true).remote());
}

TEST(LoginContextTest, SshdsOwnTerminalNameIsRemote) {
    EXPECT_TRUE(context("", "ssh").remote());
    EXPECT_TRUE(context("localhost", "ssh").remote());
}

}  // namespace
}  // namespace lwauth
