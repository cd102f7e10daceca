// Codes through the webhook channel: signed JSON to the site's HTTPS gateway.
#include <atomic>
#include <thread>

#include "gateway_fixture.hpp"

namespace lwauth::test {
namespace {

class WebhookDelivery : public GatewayTest {
  protected:
    std::string gateway_channels() override {
        return "[channel.gateway]\ntype = webhook\nserves = sms\nurl = " + base_url() +
               "/webhook\nhmac_secret_file = " + secret_file("webhook", "s3cret") + "\n" +
               ca_line() + "timeout = 2s\n";
    }
};

TEST_F(WebhookDelivery, CodesTravelSignedThroughTheGateway) {
    ASSERT_EQ(daemon_->ctl("alice", {"contact", "add", "phone", "+81 90 1234 5678"}).exit_code, 0)
        << daemon_->log();
    auto texts = delivered("webhook");
    ASSERT_EQ(texts.size(), 1u) << read_file(dir_ / "gateway/requests.jsonl");
    EXPECT_EQ(texts[0]["to"], "+819012345678");
    EXPECT_EQ(texts[0]["kind"], "sms");
    EXPECT_EQ(texts[0]["user"], "alice");
    ASSERT_EQ(daemon_
                  ->ctl("alice", {"contact", "confirm", "phone",
                                  code_in(delivered("webhook").back().value("text", ""))})
                  .exit_code,
              0);

    LoginResult login = login_as_root_with(bus_->address(), "alice", [&] {
        return code_in(delivered("webhook").back().value("text", ""));
    });
    EXPECT_EQ(login.verdict, "success");
    EXPECT_EQ(delivered("webhook").size(), 2u);
    EXPECT_TRUE(read_outbox(daemon_->outbox()).empty()) << "the gateway took every message";
}

TEST_F(WebhookDelivery, AGatewayErrorFallsBackToTheNextChannel) {
    control(R"({"service": "webhook", "mode": "500", "count": 1})");
    ASSERT_EQ(daemon_->ctl("alice", {"contact", "add", "phone", "+819012345678"}).exit_code, 0);
    EXPECT_TRUE(delivered("webhook").empty());
    auto outbox = read_outbox(daemon_->outbox());
    ASSERT_EQ(outbox.size(), 1u) << "one message for one code";
    EXPECT_NE(daemon_->log().find("answered HTTP 500"), std::string::npos) << daemon_->log();
    EXPECT_EQ(daemon_->log().find("9012345678"), std::string::npos) << "no number in the log";
}

TEST_F(WebhookDelivery, AHangingGatewayDoesNotHoldUpTheDaemon) {
    ASSERT_EQ(daemon_->ctl("alice", {"contact", "add", "phone", "+819012345678"}).exit_code, 0);
    ASSERT_EQ(daemon_
                  ->ctl("alice", {"contact", "confirm", "phone",
                                  code_in(delivered("webhook").back().value("text", ""))})
                  .exit_code,
              0);
    control(R"({"service": "webhook", "mode": "timeout", "count": 1})");
    std::atomic<bool> finished{false};
    LoginResult login;
    std::thread user([&] {
        login = login_as_root_with(bus_->address(), "alice", [&] {
            auto outbox = read_outbox(daemon_->outbox());
            return outbox.empty() ? std::string("000000") : outbox.back().code();
        });
        finished = true;
    });
    // Wait until the login is waiting on the gateway, then ask lwauthd something else.
    for (int i = 0;
         i < 500 &&
         read_file(dir_ / "gateway/requests.jsonl").find("\"status\": null") == std::string::npos;
         ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    auto status = daemon_->ctl("bob", {"status"});
    bool answered_while_waiting = !finished;
    user.join();
    EXPECT_EQ(status.exit_code, 0);
    EXPECT_TRUE(answered_while_waiting) << "Status waited for the login's gateway call";
    EXPECT_EQ(login.verdict, "success") << "the code fell back to the outbox after the timeout";
    EXPECT_NE(daemon_->log().find("no answer in time"), std::string::npos) << daemon_->log();
}

}  // namespace
}  // namespace lwauth::test
