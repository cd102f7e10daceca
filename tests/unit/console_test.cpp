// Which terminals make a login without a logind session count as local.
#include <gtest/gtest.h>

#include "lwauth/console.hpp"

namespace lwauth {
namespace {

TEST(ConsoleTest, VirtualConsolesAndLocalDisplaysAreLocal) {
    for (const char* tty : {"tty1", "/dev/tty1", "tty12", ":0", ":1", ":0.0"}) {
        EXPECT_TRUE(is_local_console(tty)) << tty;
    }
}

TEST(ConsoleTest, PseudoTerminalsRemoteDisplaysAndOtherNamesAreNot) {
    for (const char* tty : {"", "/dev/pts/3", "pts/3", "/dev/tty", "tty", "ttyS0", "ttyUSB0",
                            "ssh", "host:0", ":", ":.", ":0.", "/dev/", "tty1x", "cron"}) {
        EXPECT_FALSE(is_local_console(tty)) << tty;
    }
}

}  // namespace
}  // namespace lwauth
