// The failure matrix every HTTP gateway channel shares: the gateway down, an untrusted
// certificate, no answer in time. Each must fall back to the next channel with one
// message per code and a reason in the log that names neither number nor secret.
#include "gateway_fixture.hpp"

namespace lwauth::test {
namespace {

enum class Fault { Down, UntrustedCertificate, Timeout };

struct Case {
    const char* type;
    bool notification;  // serves notifications (else SMS)
    Fault fault;
};

std::string PrintCase(const ::testing::TestParamInfo<Case>& info) {
    const char* fault = info.param.fault == Fault::Down                   ? "Down"
                        : info.param.fault == Fault::UntrustedCertificate ? "UntrustedCertificate"
                                                                          : "Timeout";
    return std::string(info.param.type) + "_" + fault;
}

class GatewayFailureMatrix : public GatewayTest, public ::testing::WithParamInterface<Case> {
  protected:
    std::string code_channels() const override {
        return GetParam().notification ? "notification, email" : "sms, email";
    }

    std::string gateway_channels() override {
        const Case& c = GetParam();
        std::string base = c.fault == Fault::Down ? "https://127.0.0.1:1" : base_url();
        std::string ca = c.fault == Fault::UntrustedCertificate
                             ? "ca_file = " + (dir_ / "pki/selfsigned.pem").string() + "\n"
                             : ca_line();
        std::string timeout = "timeout = 1s\n";
        std::string type = c.type;
        if (type == "twilio") {
            return "[channel.gw]\ntype = twilio\naccount_sid = ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
                   "auth_token_file = " +
                   secret_file("twilio", "twilio-test-token") +
                   "\nfrom = +15005550006\nbase_url = " + base + "\n" + ca + timeout;
        }
        if (type == "vonage") {
            return "[channel.gw]\ntype = vonage\napi_key = abcd1234\napi_secret_file = " +
                   secret_file("vonage", "abcdef0123456789") +
                   "\nfrom = lwauth\nbase_url = " + base + "\n" + ca + timeout;
        }
        if (type == "webhook") {
            return "[channel.gw]\ntype = webhook\nserves = sms\nurl = " + base +
                   "/webhook\nhmac_secret_file = " + secret_file("hook", "s3cret") + "\n" + ca +
                   timeout;
        }
        if (type == "line") {
            return "[channel.gw]\ntype = line\nchannel_access_token_file = " +
                   secret_file("line", "line-test-channel-token") + "\nbase_url = " + base + "\n" +
                   ca + timeout;
        }
        return "[channel.gw]\ntype = lineworks\nclient_id = lw-test-client-id\nclient_secret_file "
               "= " +
               secret_file("lw-secret", "lw-test-client-secret") +
               "\nservice_account = test.serviceaccount@example\nprivate_key_file = " +
               secret_file("lw-key", read_file(dir_ / "pki/lineworks.key")) +
               "\nbot_id = 2000001\nbase_url = " + base + "\nauth_url = " + base +
               "/oauth2/v2.0/token\n" + ca + timeout;
    }

    std::string fake_service() const {
        std::string type = GetParam().type;
        return type == "lineworks" ? "lineworks-auth" : type;
    }
};

TEST_P(GatewayFailureMatrix, FallsBackWithOneMessageAndAReason) {
    const Case& c = GetParam();
    if (c.fault == Fault::Timeout) {
        control(R"({"service": ")" + fake_service() + R"(", "mode": "timeout", "count": 0})");
    }
    if (c.notification) {
        ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com")) << daemon_->log();
        size_t before = read_outbox(daemon_->outbox()).size();
        LoginResult login = login_as_root_with(
            bus_->address(), "alice", [&] { return read_outbox(daemon_->outbox()).back().code(); });
        EXPECT_EQ(login.verdict, "success") << daemon_->log();
        EXPECT_EQ(read_outbox(daemon_->outbox()).size(), before + 1) << "one message for one code";
    } else {
        ASSERT_EQ(daemon_->ctl("alice", {"contact", "add", "phone", "+819012345678"}).exit_code, 0)
            << daemon_->log();
        EXPECT_EQ(read_outbox(daemon_->outbox()).size(), 1u) << "one message for one code";
    }
    std::string log = daemon_->log();
    EXPECT_NE(log.find("event=delivery-failed"), std::string::npos) << log;
    EXPECT_NE(log.find("retryable=yes"), std::string::npos) << log;
    EXPECT_EQ(log.find("9012345678"), std::string::npos) << "no number in the log";
    for (const char* secret : {"twilio-test-token", "abcdef0123456789", "s3cret",
                               "line-test-channel-token", "lw-test-client-secret"}) {
        EXPECT_EQ(log.find(secret), std::string::npos) << secret << " in the log";
    }
}

std::vector<Case> all_cases() {
    std::vector<Case> cases;
    for (auto [type, notification] :
         std::vector<std::pair<const char*, bool>>{{"twilio", false},
                                                   {"vonage", false},
                                                   {"webhook", false},
                                                   {"line", true},
                                                   {"lineworks", true}}) {
        for (Fault fault : {Fault::Down, Fault::UntrustedCertificate, Fault::Timeout}) {
            cases.push_back({type, notification, fault});
        }
    }
    return cases;
}

INSTANTIATE_TEST_SUITE_P(EveryHttpGateway, GatewayFailureMatrix, ::testing::ValuesIn(all_cases()),
                         PrintCase);

}  // namespace
}  // namespace lwauth::test
