// lwauthd opens its LINE Login endpoint on [line] listen when [line] is set up, serving
// the short-link route under public_url's path, holds [line] connections_per_address
// connections from one client address, and refuses to start when it cannot listen there.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "harness.hpp"

namespace lwauth::test {
namespace {

using namespace std::chrono_literals;

class LineEndpoint : public ::testing::Test {
  protected:
    void SetUp() override {
        port_ = pick_free_port();
        ASSERT_GT(port_, 0);
        write_file(dir_ / "channel.secret", "4c8f1e7b2a9d06353e7c1b9f4a8d26e0\n", fs::perms(0600));
        bus_ = std::make_unique<PrivateBus>(dir_.path());
        daemon_ = std::make_unique<Daemon>(dir_.path(), bus_->address(), policy(""));
    }

    // [line] on the test's port, and `more` keys of [line].
    [[nodiscard]] std::string policy(const std::string& more) const {
        return default_test_policy(dir_ / "outbox.jsonl",
                                   "[line]\nchannel_id = 1234567890\nchannel_secret_file = " +
                                       (dir_ / "channel.secret").string() +
                                       "\npublic_url = http://127.0.0.1:" + std::to_string(port_) +
                                       "/lwauth\nlisten = 127.0.0.1:" + std::to_string(port_) +
                                       "\n" + more);
    }

    // The status and body of a GET on the endpoint, from the client address `from`.
    [[nodiscard]] RunResult get(const std::string& path,
                                const std::string& from = "127.0.0.1") const {
        return run({"/usr/bin/curl", "-sS", "--interface", from, "-w", "\n%{http_code}",
                    "http://127.0.0.1:" + std::to_string(port_) + path},
                   base_env());
    }

    // Opens `n` more connections from 127.0.0.1 that send nothing (the endpoint holds each
    // for its 10 s request time), and makes sure that lwauthd has taken them: a request
    // from another address, queued after them, is answered.
    void hold_connections(int n) {
        for (int i = 0; i < n; ++i) {
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            ASSERT_GE(fd, 0);
            held_.push_back(fd);
            sockaddr_in to{};
            to.sin_family = AF_INET;
            to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            to.sin_port = htons(static_cast<uint16_t>(port_));
            ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
        }
        auto other = get("/elsewhere", "127.0.0.2");
        ASSERT_TRUE(other.out.ends_with("\n404")) << other.out << other.err;
    }

    void TearDown() override {
        for (int fd : held_) {
            close(fd);
        }
    }

    TempDir dir_{"lwauth-line-endpoint"};
    int port_ = 0;
    std::unique_ptr<PrivateBus> bus_;
    std::unique_ptr<Daemon> daemon_;
    std::vector<int> held_;  // hold_connections()
};

TEST_F(LineEndpoint, ServesTheShortLinkRouteOnListen) {
    ASSERT_TRUE(daemon_->start()) << daemon_->log();
    auto link = get("/lwauth/l?k=AAAAAAAAAAAAAAAAAAAAAA");
    EXPECT_EQ(link.exit_code, 0) << link.err;
    EXPECT_TRUE(link.out.ends_with("\n404")) << link.out;
    EXPECT_NE(link.out.find("cannot be used"), std::string::npos) << link.out;
    auto other = get("/elsewhere");
    EXPECT_TRUE(other.out.ends_with("\n404")) << other.out;
    EXPECT_EQ(other.out.find("cannot be used"), std::string::npos) << other.out;
}

TEST_F(LineEndpoint, OnLoopbackOneAddressMayHoldMoreThanEightConnections) {
    // Behind the TLS proxy every phone's request comes from the proxy's one address.
    ASSERT_TRUE(daemon_->start()) << daemon_->log();
    hold_connections(32);
    auto link = get("/lwauth/l?k=AAAAAAAAAAAAAAAAAAAAAA");
    EXPECT_EQ(link.exit_code, 0) << link.err;
    EXPECT_TRUE(link.out.ends_with("\n404")) << "the 33rd from 127.0.0.1: " << link.out;
}

TEST_F(LineEndpoint, ConnectionsPerAddressLetsThatManyInAndNotOneMore) {
    daemon_->write_policy(policy("connections_per_address = 3\n"));
    ASSERT_TRUE(daemon_->start()) << daemon_->log();
    hold_connections(2);
    auto third = get("/lwauth/l?k=AAAAAAAAAAAAAAAAAAAAAA");
    EXPECT_TRUE(third.out.ends_with("\n404")) << "the 3rd: " << third.out << third.err;
    hold_connections(1);
    auto fourth = get("/lwauth/l?k=AAAAAAAAAAAAAAAAAAAAAA");
    EXPECT_NE(fourth.exit_code, 0) << "the 4th is closed unanswered: " << fourth.out;
    EXPECT_TRUE(fourth.out.ends_with("\n000")) << fourth.out;
    auto other = get("/lwauth/l?k=AAAAAAAAAAAAAAAAAAAAAA", "127.0.0.3");
    EXPECT_TRUE(other.out.ends_with("\n404")) << "another address: " << other.out;
    // One held connection gone: its address may have one more again.
    close(held_.back());
    held_.pop_back();
    hold_connections(0);
    auto again = get("/lwauth/l?k=AAAAAAAAAAAAAAAAAAAAAA");
    EXPECT_TRUE(again.out.ends_with("\n404")) << again.out << again.err;
}

TEST_F(LineEndpoint, RefusesToStartWhenListenCannotBeBound) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(listen(fd, 1), 0);
    EXPECT_FALSE(daemon_->start());
    close(fd);
    auto status = daemon_->wait_exit(10s);
    EXPECT_EQ(status, 1);
    std::string log = daemon_->log();
    EXPECT_NE(log.find("[line]: cannot listen on 127.0.0.1:" + std::to_string(port_)),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("refusing to start"), std::string::npos) << log;
}

}  // namespace
}  // namespace lwauth::test
