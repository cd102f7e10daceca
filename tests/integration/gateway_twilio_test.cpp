// SMS through Twilio Programmable Messaging, against the Twilio fake.
#include "gateway_fixture.hpp"

namespace lwauth::test {
namespace {

class TwilioDelivery : public GatewayTest {
  protected:
    std::string gateway_channels() override {
        return "[channel.twilio]\ntype = twilio\naccount_sid = ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
               "auth_token_file = " +
               secret_file("twilio", "twilio-test-token") +
               "\nfrom = +15005550006\nbase_url = " + base_url() + "\n" + ca_line() +
               "timeout = 2s\n";
    }
};

TEST_F(TwilioDelivery, SendsTheCodeThroughTwilio) {
    ASSERT_EQ(daemon_->ctl("alice", {"contact", "add", "phone", "+81 90 1234 5678"}).exit_code, 0)
        << daemon_->log();
    auto sent = delivered("twilio");
    ASSERT_EQ(sent.size(), 1u) << read_file(dir_ / "gateway/requests.jsonl");
    EXPECT_EQ(sent[0]["To"], "+819012345678");
    EXPECT_EQ(sent[0]["From"], "+15005550006");
    OutboxMessage m;
    m.text = sent[0].value("Body", "");
    ASSERT_FALSE(m.code().empty());
    EXPECT_EQ(daemon_->ctl("alice", {"contact", "confirm", "phone", m.code()}).exit_code, 0);
    EXPECT_TRUE(read_outbox(daemon_->outbox()).empty());
}

TEST_F(TwilioDelivery, AsksTwilioToDropTheSmsWhenTheCodeExpires) {
    ASSERT_EQ(daemon_->ctl("alice", {"contact", "add", "phone", "+819012345678"}).exit_code, 0)
        << daemon_->log();
    auto sent = delivered("twilio");
    ASSERT_EQ(sent.size(), 1u) << read_file(dir_ / "gateway/requests.jsonl");
    EXPECT_EQ(sent[0]["ValidityPeriod"], "300") << "the code's default lifetime, 5 minutes";
    EXPECT_TRUE(read_outbox(daemon_->outbox()).empty());
}

TEST_F(TwilioDelivery, APermanentRefusalIsLoggedWithItsReasonAndFallsBack) {
    control(R"({"service": "twilio", "mode": "permanent:21614", "count": 1})");
    ASSERT_EQ(daemon_->ctl("alice", {"contact", "add", "phone", "+819012345678"}).exit_code, 0);
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), 1u) << "one message for one code";
    EXPECT_NE(daemon_->log().find("not a mobile number (Twilio error 21614)"), std::string::npos)
        << daemon_->log();
    EXPECT_NE(daemon_->log().find("retryable=no"), std::string::npos);
    EXPECT_EQ(daemon_->log().find("9012345678"), std::string::npos) << "no number in the log";
}

TEST_F(TwilioDelivery, ThrottlingIsRetryableAndFallsBack) {
    control(R"({"service": "twilio", "mode": "429", "count": 1})");
    ASSERT_EQ(daemon_->ctl("alice", {"contact", "add", "phone", "+819012345678"}).exit_code, 0);
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), 1u);
    EXPECT_NE(daemon_->log().find("(Twilio error 20429)"), std::string::npos) << daemon_->log();
    EXPECT_NE(daemon_->log().find("retryable=yes"), std::string::npos);
}

TEST_F(TwilioDelivery, AServerErrorFallsBack) {
    control(R"({"service": "twilio", "mode": "500", "count": 1})");
    ASSERT_EQ(daemon_->ctl("alice", {"contact", "add", "phone", "+819012345678"}).exit_code, 0);
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), 1u);
    EXPECT_NE(daemon_->log().find("answered HTTP 500"), std::string::npos) << daemon_->log();
}

}  // namespace
}  // namespace lwauth::test
