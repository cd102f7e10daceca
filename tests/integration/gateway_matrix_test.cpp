// The failure matrix every HTTP gateway channel shares: the gateway down, a certificate
// from a CA the channel does not trust, a self-signed certificate, a certificate for
// another host, no answer in time. Each must fall back to the next channel with one
// message per code and a reason in the log that names neither number nor secret.
//
// A malformed body in a success answer is the other half: the gateway may well have
// sent the message, so it counts as accepted and nothing goes a second time — except
// from the LINE WORKS token endpoint, where no token means no message was sent.
#include <algorithm>
#include <tuple>

#include "gateway_fixture.hpp"

namespace lwauth::test {
namespace {

enum class Fault { None, Down, UntrustedCertificate, SelfSigned, WrongHost, Timeout };

struct Case {
    const char* type;
    bool notification;  // serves notifications (else SMS)
    Fault fault;
};

std::string PrintCase(const ::testing::TestParamInfo<Case>& info) {
    static constexpr const char* kNames[] = {"None",       "Down",      "UntrustedCertificate",
                                             "SelfSigned", "WrongHost", "Timeout"};
    return std::string(info.param.type) + "_" + kNames[static_cast<int>(info.param.fault)];
}

// The [channel.gw] section of each gateway type, with the fault's URL and CA.
class GatewayCase : public GatewayTest {
  protected:
    GatewayCase(const char* type, bool notification, Fault fault)
        : type_(type), notification_(notification), fault_(fault) {}

    std::string code_channels() const override {
        return notification_ ? "notification, email" : "sms, email";
    }

    std::string server_cert() const override {
        return fault_ == Fault::SelfSigned  ? "selfsigned"
               : fault_ == Fault::WrongHost ? "wronghost"
                                            : "server";
    }

    std::string gateway_channels() override {
        std::string base = fault_ == Fault::Down ? "https://127.0.0.1:1" : base_url();
        std::string ca = fault_ == Fault::UntrustedCertificate
                             ? "ca_file = " + (dir_ / "pki/selfsigned.pem").string() + "\n"
                             : ca_line();
        std::string timeout = "timeout = 1s\n";
        std::string type = type_;
        if (type == "twilio") {
            return "[channel.gw]\ntype = twilio\naccount_sid = ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
                   "auth_token_file = " +
                   secret_file("twilio", "twilio-test-token") +
                   "\nfrom = +15005550006\nbase_url = " + base + "\n" + ca + timeout;
        }
        if (type == "vonage") {
            return "[channel.gw]\ntype = vonage\napi_key = abcd1234\napi_secret_file = " +
                   secret_file("vonage", "Vq7tK2pX9mWz4RbN") +
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
                   "user_map_file = " +
                   secret_file("line-users", "alice U0123456789abcdef0123456789abcdef") + "\n" +
                   ca + timeout;
        }
        return "[channel.gw]\ntype = lineworks\nclient_id = lw-test-client-id\nclient_secret_file "
               "= " +
               secret_file("lw-secret", "lw-test-client-secret") +
               "\nservice_account = test.serviceaccount@example\nprivate_key_file = " +
               secret_file("lw-key", read_file(dir_ / "pki/lineworks.key")) +
               "\nbot_id = 2000001\nbase_url = " + base + "\nauth_url = " + base +
               "/oauth2/v2.0/token\n" + ca + timeout + "user_id = {user}@example.com\n";
    }

    std::string fake_service() const {
        std::string type = type_;
        return type == "lineworks" ? "lineworks-auth" : type;
    }

    /// Has one code sent through the gateway (a login's code for a notification gateway,
    /// a phone's confirmation code for an SMS one), expecting it to arrive by the outbox,
    /// in one message.
    void send_one_code_that_falls_back() {
        if (notification_) {
            ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com")) << daemon_->log();
            size_t before = read_outbox(daemon_->outbox()).size();
            LoginResult login = login_as_root_with(bus_->address(), "alice", [&] {
                return read_outbox(daemon_->outbox()).back().code();
            });
            EXPECT_EQ(login.verdict, "success") << daemon_->log();
            EXPECT_EQ(read_outbox(daemon_->outbox()).size(), before + 1)
                << "one message for one code";
        } else {
            ASSERT_EQ(daemon_->ctl("alice", {"contact", "add", "phone", "+819012345678"}).exit_code,
                      0)
                << daemon_->log();
            EXPECT_EQ(read_outbox(daemon_->outbox()).size(), 1u) << "one message for one code";
        }
    }

    void expect_nothing_secret_in_log() {
        std::string log = daemon_->log();
        EXPECT_EQ(log.find("9012345678"), std::string::npos) << "no number in the log";
        for (const char* secret : {"twilio-test-token", "Vq7tK2pX9mWz4RbN", "s3cret",
                                   "line-test-channel-token", "lw-test-client-secret", "kr1AAA"}) {
            EXPECT_EQ(log.find(secret), std::string::npos) << secret << " in the log";
        }
    }

    std::string type_;
    bool notification_;
    Fault fault_;
};

class GatewayFailureMatrix : public GatewayCase, public ::testing::WithParamInterface<Case> {
  protected:
    GatewayFailureMatrix()
        : GatewayCase(GetParam().type, GetParam().notification, GetParam().fault) {}
};

TEST_P(GatewayFailureMatrix, FallsBackWithOneMessageAndAReason) {
    const Case& c = GetParam();
    if (c.fault == Fault::Timeout) {
        control(R"({"service": ")" + fake_service() + R"(", "mode": "timeout", "count": 0})");
    }
    send_one_code_that_falls_back();
    std::string log = daemon_->log();
    EXPECT_NE(log.find("event=delivery-failed"), std::string::npos) << log;
    EXPECT_NE(log.find("retryable=yes"), std::string::npos) << log;
    if (c.fault == Fault::WrongHost) {
        EXPECT_NE(log.find("127.0.0.1"), std::string::npos) << "the name that did not match";
    }
    expect_nothing_secret_in_log();
}

std::vector<Case> all_cases() {
    std::vector<Case> cases;
    for (auto [type, notification] :
         std::vector<std::pair<const char*, bool>>{{"twilio", false},
                                                   {"vonage", false},
                                                   {"webhook", false},
                                                   {"line", true},
                                                   {"lineworks", true}}) {
        for (Fault fault : {Fault::Down, Fault::UntrustedCertificate, Fault::SelfSigned,
                            Fault::WrongHost, Fault::Timeout}) {
            cases.push_back({type, notification, fault});
        }
    }
    return cases;
}

INSTANTIATE_TEST_SUITE_P(EveryHttpGateway, GatewayFailureMatrix, ::testing::ValuesIn(all_cases()),
                         PrintCase);

// A server error or throttling, from every service (and the LINE WORKS token endpoint):
// worth another try later, so the code goes by the next channel now, once.
struct RefusalCase {
    const char* type;
    bool notification;
    const char* service;
    const char* mode;  // the fake's fault mode: "500" or "429"
};

class RetryableRefusal : public GatewayCase, public ::testing::WithParamInterface<RefusalCase> {
  protected:
    RetryableRefusal() : GatewayCase(GetParam().type, GetParam().notification, Fault::None) {}
};

TEST_P(RetryableRefusal, FallsBackWithOneMessage) {
    const RefusalCase& c = GetParam();
    // Every request: a service with an idempotency key (LINE) is asked twice.
    control(std::string(R"({"service": ")") + c.service + R"(", "mode": ")" + c.mode +
            R"(", "count": 0})");
    send_one_code_that_falls_back();
    EXPECT_TRUE(delivered(c.service).empty());
    std::string log = daemon_->log();
    EXPECT_NE(log.find("event=delivery-failed"), std::string::npos) << log;
    EXPECT_NE(log.find("retryable=yes"), std::string::npos) << log;
    expect_nothing_secret_in_log();
}

std::vector<RefusalCase> refusal_cases() {
    std::vector<RefusalCase> cases;
    for (auto [type, notification, service] :
         std::vector<std::tuple<const char*, bool, const char*>>{
             {"twilio", false, "twilio"},
             {"vonage", false, "vonage"},
             {"webhook", false, "webhook"},
             {"line", true, "line"},
             {"lineworks", true, "lineworks"},
             {"lineworks", true, "lineworks-auth"}}) {
        for (const char* mode : {"500", "429"}) {
            cases.push_back({type, notification, service, mode});
        }
    }
    return cases;
}

std::string PrintRefusal(const ::testing::TestParamInfo<RefusalCase>& info) {
    std::string name = std::string(info.param.service) + "_" + info.param.mode;
    std::replace(name.begin(), name.end(), '-', '_');
    return name;
}

INSTANTIATE_TEST_SUITE_P(EveryHttpGateway, RetryableRefusal, ::testing::ValuesIn(refusal_cases()),
                         PrintRefusal);

// The service took the message and its answer was lost (a 500 came back instead). LINE
// knows the repeat by its X-Line-Retry-Key and answers 409: one message. The others have
// no idempotency key: the code goes by the next channel too, and reaches the user twice.
class TakenButAnswered500 : public GatewayCase, public ::testing::WithParamInterface<Case> {
  protected:
    TakenButAnswered500() : GatewayCase(GetParam().type, GetParam().notification, Fault::None) {}
};

TEST_P(TakenButAnswered500, IsRepeatedWithItsKeyOrFallsBack) {
    const bool idempotent = std::string(GetParam().type) == "line";
    control(R"({"service": ")" + fake_service() + R"(", "mode": "taken:500", "count": 1})");
    if (GetParam().notification) {
        ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com")) << daemon_->log();
        size_t before = read_outbox(daemon_->outbox()).size();
        LoginResult login = login_as_root_with(bus_->address(), "alice", [&] {
            auto outbox = read_outbox(daemon_->outbox());
            if (outbox.size() > before) {
                return outbox.back().code();
            }
            auto sent = delivered(fake_service());
            return sent.empty() ? std::string("000000")
                                : code_in(sent.back()["messages"][0].value("text", ""));
        });
        EXPECT_EQ(login.verdict, "success") << daemon_->log();
        EXPECT_EQ(read_outbox(daemon_->outbox()).size(), before + (idempotent ? 0 : 1))
            << daemon_->log();
    } else {
        ASSERT_EQ(daemon_->ctl("alice", {"contact", "add", "phone", "+819012345678"}).exit_code,
                  0)
            << daemon_->log();
        EXPECT_EQ(read_outbox(daemon_->outbox()).size(), 1u) << "sent again by the next channel";
    }
    EXPECT_EQ(delivered(fake_service()).size(), 1u) << "the service took the first";
    if (idempotent) {
        EXPECT_NE(daemon_->log().find("event=gateway-repeat"), std::string::npos)
            << daemon_->log();
    }
    expect_nothing_secret_in_log();
}

INSTANTIATE_TEST_SUITE_P(EveryHttpGateway, TakenButAnswered500,
                         ::testing::Values(Case{"twilio", false, Fault::None},
                                           Case{"vonage", false, Fault::None},
                                           Case{"webhook", false, Fault::None},
                                           Case{"line", true, Fault::None}),
                         PrintCase);

// A 2xx answer whose body is not what the service documents.
struct MalformedCase {
    const char* type;
    bool notification;
    const char* service;  // the fake endpoint that answers garbage
    bool falls_back;      // else: counted as accepted, nothing sent again
    const char* log_line;
};

class MalformedSuccessBody : public GatewayCase,
                             public ::testing::WithParamInterface<MalformedCase> {
  protected:
    MalformedSuccessBody() : GatewayCase(GetParam().type, GetParam().notification, Fault::None) {}
};

TEST_P(MalformedSuccessBody, IsNeverSentTwice) {
    const MalformedCase& c = GetParam();
    control(std::string(R"({"service": ")") + c.service + R"(", "mode": "garbage", "count": 1})");
    size_t outbox_before = 0;
    if (c.notification) {
        ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com")) << daemon_->log();
        outbox_before = read_outbox(daemon_->outbox()).size();
        LoginResult login = login_as_root_with(bus_->address(), "alice", [&] {
            auto outbox = read_outbox(daemon_->outbox());
            return outbox.size() > outbox_before ? outbox.back().code() : std::string("000000");
        });
        EXPECT_EQ(login.verdict, c.falls_back ? "success" : "denied") << daemon_->log();
    } else {
        ASSERT_EQ(daemon_->ctl("alice", {"contact", "add", "phone", "+819012345678"}).exit_code, 0)
            << daemon_->log();
    }
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), outbox_before + (c.falls_back ? 1 : 0))
        << "one message for one code";
    EXPECT_NE(daemon_->log().find(c.log_line), std::string::npos) << daemon_->log();
    expect_nothing_secret_in_log();
}

std::string PrintMalformed(const ::testing::TestParamInfo<MalformedCase>& info) {
    std::string name = info.param.service;
    std::replace(name.begin(), name.end(), '-', '_');
    return name;
}

INSTANTIATE_TEST_SUITE_P(
    EveryHttpGateway, MalformedSuccessBody,
    ::testing::Values(
        MalformedCase{"twilio", false, "twilio", false, "counting the message as accepted"},
        MalformedCase{"vonage", false, "vonage", false, "counting the message as accepted"},
        MalformedCase{"webhook", false, "webhook", false, "event=code-sent user=alice channel=gw"},
        MalformedCase{"line", true, "line", false, "counting the message as accepted"},
        MalformedCase{"lineworks", true, "lineworks", false,
                      "event=code-sent user=alice channel=gw"},
        MalformedCase{"lineworks", true, "lineworks-auth", true,
                      "token request answered HTTP 200"}),
    PrintMalformed);

}  // namespace
}  // namespace lwauth::test
