// SMS through the Vonage SMS API, against the Vonage fake.
#include "gateway_fixture.hpp"

namespace lwauth::test {
namespace {

class VonageDelivery : public GatewayTest {
  protected:
    std::string gateway_channels() override {
        return "[channel.vonage]\ntype = vonage\napi_key = abcd1234\napi_secret_file = " +
               secret_file("vonage", "Vq7tK2pX9mWz4RbN") + "\nfrom = " + from_ +
               "\nbase_url = " + base_url() + "\n" + ca_line() + "timeout = 2s\n";
    }
    std::string from_ = "lwauth";
};

class VonageNumericSender : public VonageDelivery {
  protected:
    VonageNumericSender() { from_ = "+15005550006"; }
};

// Vonage takes a number in E.164 without its "+", and refuses "+1500..." as a sender the
// account does not have (status 15).
TEST_F(VonageNumericSender, SendsTheNumberWithoutItsPlus) {
    ASSERT_EQ(daemon_->ctl("alice", {"contact", "add", "phone", "+819012345678"}).exit_code, 0)
        << daemon_->log();
    auto sent = delivered("vonage");
    ASSERT_EQ(sent.size(), 1u) << read_file(dir_ / "gateway/requests.jsonl") << daemon_->log();
    EXPECT_EQ(sent[0]["from"], "15005550006");
    EXPECT_TRUE(read_outbox(daemon_->outbox()).empty());
}

TEST_F(VonageDelivery, SendsTheCodeThroughVonage) {
    ASSERT_EQ(daemon_->ctl("alice", {"contact", "add", "phone", "+81 90 1234 5678"}).exit_code, 0)
        << daemon_->log();
    auto sent = delivered("vonage");
    ASSERT_EQ(sent.size(), 1u) << read_file(dir_ / "gateway/requests.jsonl");
    EXPECT_EQ(sent[0]["to"], "819012345678") << "E.164 without the '+'";
    EXPECT_EQ(sent[0]["from"], "lwauth");
    EXPECT_EQ(sent[0]["api_key"], "abcd1234");
    EXPECT_EQ(sent[0]["api_secret"], "Vq7tK2pX9mWz4RbN");
    std::string code = code_in(sent[0].value("text", ""));
    ASSERT_FALSE(code.empty());
    EXPECT_EQ(daemon_->ctl("alice", {"contact", "confirm", "phone", code}).exit_code, 0);
    EXPECT_TRUE(read_outbox(daemon_->outbox()).empty());
}

// A user whose [policy] language is ja gets the catalog's Japanese as type=unicode (in
// GSM 7-bit a phone would show question marks), and the code from it confirms.
class VonageToAJapaneseUser : public VonageDelivery {
  protected:
    [[nodiscard]] std::string policy_sections() const override {
        return "[policy]\nlanguage = ja\n\n";
    }
};

TEST_F(VonageToAJapaneseUser, SendsTheCatalogsJapaneseAsUnicodeAndItsCodeConfirms) {
    ASSERT_EQ(daemon_->ctl("alice", {"contact", "add", "phone", "+819012345678"}).exit_code, 0)
        << daemon_->log();
    auto sent = deliveries("vonage");
    ASSERT_EQ(sent.size(), 1u) << read_file(dir_ / "gateway/requests.jsonl") << daemon_->log();
    EXPECT_EQ(sent[0]["params"]["type"], "unicode") << sent[0];
    std::string code = code_in(sent[0]["params"].value("text", ""));
    ASSERT_FALSE(code.empty()) << sent[0];
    EXPECT_EQ(sent[0]["params"]["text"], japanese_confirmation(code));
    EXPECT_EQ(sent[0]["handset_text"], japanese_confirmation(code)) << "what the phone shows";
    EXPECT_EQ(daemon_->ctl("alice", {"contact", "confirm", "phone", code}).exit_code, 0)
        << daemon_->log();
    EXPECT_TRUE(read_outbox(daemon_->outbox()).empty());
}

TEST_F(VonageDelivery, APermanentRefusalIsLoggedWithItsReasonAndFallsBack) {
    control(R"({"service": "vonage", "mode": "permanent:7", "count": 1})");
    ASSERT_EQ(daemon_->ctl("alice", {"contact", "add", "phone", "+819012345678"}).exit_code, 0);
    EXPECT_TRUE(delivered("vonage").empty());
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), 1u) << "one message for one code";
    EXPECT_NE(daemon_->log().find("number is barred"), std::string::npos) << daemon_->log();
    EXPECT_NE(daemon_->log().find("(Vonage status 7)"), std::string::npos);
    EXPECT_NE(daemon_->log().find("retryable=no"), std::string::npos);
    EXPECT_EQ(daemon_->log().find("Number Barred"), std::string::npos) << "no Vonage error-text";
    EXPECT_EQ(daemon_->log().find("9012345678"), std::string::npos) << "no number in the log";
}

TEST_F(VonageDelivery, WrongCredentialsArePermanent) {
    control(R"({"service": "vonage", "mode": "permanent:4", "count": 1})");
    ASSERT_EQ(daemon_->ctl("alice", {"contact", "add", "phone", "+819012345678"}).exit_code, 0);
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), 1u);
    EXPECT_NE(daemon_->log().find("invalid credentials: check api_key and api_secret_file"),
              std::string::npos)
        << daemon_->log();
    EXPECT_EQ(daemon_->log().find("Vq7tK2pX9mWz4RbN"), std::string::npos) << "no secret in the log";
}

TEST_F(VonageDelivery, ThrottlingIsRetryableAndFallsBack) {
    control(R"({"service": "vonage", "mode": "429", "count": 1})");
    ASSERT_EQ(daemon_->ctl("alice", {"contact", "add", "phone", "+819012345678"}).exit_code, 0);
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), 1u);
    EXPECT_NE(daemon_->log().find("throttled"), std::string::npos) << daemon_->log();
    EXPECT_NE(daemon_->log().find("(Vonage status 1)"), std::string::npos);
    EXPECT_NE(daemon_->log().find("retryable=yes"), std::string::npos);
}

TEST_F(VonageDelivery, AServerErrorFallsBack) {
    control(R"({"service": "vonage", "mode": "500", "count": 1})");
    ASSERT_EQ(daemon_->ctl("alice", {"contact", "add", "phone", "+819012345678"}).exit_code, 0);
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), 1u);
    EXPECT_NE(daemon_->log().find("answered HTTP 500"), std::string::npos) << daemon_->log();
    EXPECT_NE(daemon_->log().find("retryable=yes"), std::string::npos);
}

}  // namespace
}  // namespace lwauth::test
