// Notifications through the LINE Messaging API (push), against the LINE fake.
//
// A login code goes out as a notification when the user has no phone or email: the
// [code] channels of GatewayTest end with notification, the line channel comes before
// the outbox, and the users here have 2-step required without any contact. The channel's
// user_map_file gives bob a LINE user ID, carol something that is no LINE user ID, dave a
// well-formed ID that this provider has no user for, and alice none.
#include "gateway_fixture.hpp"

namespace lwauth::test {
namespace {

const std::string kLineUser = "U0123456789abcdef0123456789abcdef";
const std::string kOtherProvidersUser = "Ufedcba9876543210fedcba9876543210";

class LineDelivery : public GatewayTest {
  protected:
    std::string gateway_channels() override {
        return "[channel.line]\ntype = line\nchannel_access_token_file = " +
               secret_file("line", token()) + "\nbase_url = " + base_url() + "\n" + ca_line() +
               "timeout = " + timeout_ + "\nuser_map_file = " +
               secret_file("line-users", "# user  LINE user ID\nbob " + kLineUser +
                                             "\n\ncarol\tnot-a-line-user-id\ndave " +
                                             kOtherProvidersUser + "\n") +
               // No user has a phone or an email: the code can only be a notification.
               "\n[user:bob]\ntwo_step = required\n\n[user:alice]\ntwo_step = required\n"
               "\n[user:carol]\ntwo_step = required\n\n[user:dave]\ntwo_step = required\n";
    }
    virtual std::string token() { return "line-test-channel-token"; }
    std::string timeout_ = "2s";

    /// The journal entries of the LINE service, oldest first.
    [[nodiscard]] std::vector<nlohmann::json> line_requests() const {
        std::vector<nlohmann::json> out;
        std::ifstream in(dir_ / "gateway/requests.jsonl");
        std::string line;
        while (std::getline(in, line)) {
            auto entry = nlohmann::json::parse(line);
            if (entry.value("service", "") == "line") {
                out.push_back(entry);
            }
        }
        return out;
    }

    /// Logs `user` in, answering with the latest code LINE took, else the outbox's.
    LoginResult login(const std::string& user) {
        return login_as_root_with(bus_->address(), user, [&] {
            auto sent = delivered("line");
            if (!sent.empty()) {
                return code_in(sent.back()["messages"][0].value("text", ""));
            }
            auto outbox = read_outbox(daemon_->outbox());
            return outbox.empty() ? std::string("000000") : outbox.back().code();
        });
    }
};

TEST_F(LineDelivery, PushesTheLoginCodeThroughLine) {
    LoginResult result = login("bob");
    EXPECT_EQ(result.verdict, "success") << daemon_->log();
    auto sent = delivered("line");
    ASSERT_EQ(sent.size(), 1u) << read_file(dir_ / "gateway/requests.jsonl");
    EXPECT_EQ(sent[0]["to"], kLineUser);
    ASSERT_EQ(sent[0]["messages"].size(), 1u);
    EXPECT_EQ(sent[0]["messages"][0]["type"], "text");
    EXPECT_FALSE(code_in(sent[0]["messages"][0].value("text", "")).empty());
    auto requests = line_requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0]["headers"]["Authorization"], "Bearer line-test-channel-token");
    EXPECT_EQ(requests[0]["headers"]["Content-Type"], "application/json");
    EXPECT_EQ(requests[0]["headers"].value("X-Line-Retry-Key", "").size(), 36u);
    EXPECT_TRUE(read_outbox(daemon_->outbox()).empty());
    EXPECT_EQ(daemon_->log().find(kLineUser), std::string::npos) << "the LINE ID is not logged";
}

TEST_F(LineDelivery, EveryMessageHasItsOwnRetryKey) {
    EXPECT_EQ(login("bob").verdict, "success");
    EXPECT_EQ(login("bob").verdict, "success");
    auto requests = line_requests();
    ASSERT_EQ(requests.size(), 2u);
    EXPECT_NE(requests[0]["headers"]["X-Line-Retry-Key"],
              requests[1]["headers"]["X-Line-Retry-Key"]);
    EXPECT_EQ(delivered("line").size(), 2u) << "no 409: the keys differ";
}

TEST_F(LineDelivery, AUserWithoutALineIdFallsBackWithoutAsking) {
    LoginResult result = login("alice");
    EXPECT_EQ(result.verdict, "success") << daemon_->log();
    EXPECT_TRUE(line_requests().empty()) << "LINE was not asked";
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), 1u) << "one message for one code";
    EXPECT_NE(daemon_->log().find("the user has no LINE user ID in user_map_file"),
              std::string::npos)
        << daemon_->log();
    EXPECT_NE(daemon_->log().find("retryable=no"), std::string::npos);
}

// A mistake in the map file: LINE would refuse it, so it is not sent at all.
TEST_F(LineDelivery, AnIdThatIsNoLineUserIdIsNotSentAndFallsBack) {
    LoginResult result = login("carol");
    EXPECT_EQ(result.verdict, "success") << daemon_->log();
    EXPECT_TRUE(line_requests().empty()) << "LINE was not asked";
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), 1u) << "one message for one code";
    EXPECT_NE(daemon_->log().find("line line: the user's ID in user_map_file is not a LINE user "
                                  "ID (U and 32 hex digits); not sent"),
              std::string::npos)
        << daemon_->log();
    EXPECT_NE(daemon_->log().find("retryable=no"), std::string::npos);
    EXPECT_EQ(daemon_->log().find("not-a-line-user-id"), std::string::npos) << "no ID in the log";
}

// LINE answers a user ID it has no user for (another provider's) 400 "Failed to send
// messages": permanent, with a reason for the administrator, and the outbox gets the code.
TEST_F(LineDelivery, AUserLineDoesNotKnowIsPermanentAndFallsBack) {
    LoginResult result = login("dave");
    EXPECT_EQ(result.verdict, "success") << daemon_->log();
    EXPECT_TRUE(delivered("line").empty());
    auto requests = line_requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0]["status"], 400);
    EXPECT_EQ(requests[0]["params"]["to"], kOtherProvidersUser);
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), 1u) << "one message for one code";
    EXPECT_NE(daemon_->log().find("line line: LINE has no such user for this channel's provider: "
                                  "check the user's LINE user ID in user_map_file (HTTP 400)"),
              std::string::npos)
        << daemon_->log();
    EXPECT_NE(daemon_->log().find("retryable=no"), std::string::npos);
    EXPECT_EQ(daemon_->log().find("Failed to send messages"), std::string::npos)
        << "LINE's own message is not logged";
    EXPECT_EQ(daemon_->log().find(kOtherProvidersUser), std::string::npos) << "no ID in the log";
}

// policy check (the loader lwauthd uses) refuses a line channel that can reach nobody.
TEST_F(LineDelivery, PolicyCheckRefusesALineChannelWithoutLineUserIds) {
    TempDir policy_dir("lwauth-policy");
    std::string section =
        "[channel.line]\ntype = line\nchannel_access_token_file = " + secret_file("line", token()) +
        "\n";
    write_file(policy_dir / "lwauth.conf", section);
    auto check = daemon_->ctl("root", {"policy", "check", policy_dir.path().string()});
    EXPECT_EQ(check.exit_code, 5) << check.out << check.err;
    EXPECT_NE(check.err.find("lwauth.conf:1: [channel.line]: channel type line has no user's ID "
                             "on the messenger: set user_map_file"),
              std::string::npos)
        << check.err;

    write_file(policy_dir / "lwauth.conf", section + "user_id = {user}\n");
    check = daemon_->ctl("root", {"policy", "check", policy_dir.path().string()});
    EXPECT_EQ(check.exit_code, 5) << check.out << check.err;
    EXPECT_NE(check.err.find("lwauth.conf:4: bad value '{user}' for user_id: a LINE user ID is "
                             "issued by LINE"),
              std::string::npos)
        << check.err;

    write_file(policy_dir / "lwauth.conf",
               section + "user_map_file = " + secret_file("map", "bob " + kLineUser) + "\n");
    check = daemon_->ctl("root", {"policy", "check", policy_dir.path().string()});
    EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
}

TEST_F(LineDelivery, APermanentRefusalIsLoggedWithItsReasonAndFallsBack) {
    control(R"({"service": "line", "mode": "permanent:403", "count": 1})");
    EXPECT_EQ(login("bob").verdict, "success") << daemon_->log();
    EXPECT_TRUE(delivered("line").empty());
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), 1u) << "one message for one code";
    EXPECT_NE(
        daemon_->log().find("not allowed to use the push API (plan or permissions) (HTTP 403)"),
        std::string::npos)
        << daemon_->log();
    EXPECT_NE(daemon_->log().find("retryable=no"), std::string::npos);
}

TEST_F(LineDelivery, TheMonthlyLimitIsPermanent) {
    control(R"({"service": "line", "mode": "permanent:429", "count": 1})");
    EXPECT_EQ(login("bob").verdict, "success") << daemon_->log();
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), 1u);
    EXPECT_NE(daemon_->log().find("monthly message limit"), std::string::npos) << daemon_->log();
    EXPECT_NE(daemon_->log().find("retryable=no"), std::string::npos);
}

TEST_F(LineDelivery, ThrottlingIsRetryableAndFallsBack) {
    control(R"({"service": "line", "mode": "429", "count": 1})");
    EXPECT_EQ(login("bob").verdict, "success") << daemon_->log();
    EXPECT_TRUE(delivered("line").empty());
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), 1u) << "one message for one code";
    EXPECT_NE(daemon_->log().find("rate limited by LINE (HTTP 429)"), std::string::npos)
        << daemon_->log();
    EXPECT_NE(daemon_->log().find("retryable=yes"), std::string::npos);
}

TEST_F(LineDelivery, AServerErrorIsAskedOnceMoreWithTheSameRetryKey) {
    control(R"({"service": "line", "mode": "500", "count": 1})");
    EXPECT_EQ(login("bob").verdict, "success") << daemon_->log();
    EXPECT_TRUE(read_outbox(daemon_->outbox()).empty()) << daemon_->log();
    auto requests = line_requests();
    ASSERT_EQ(requests.size(), 2u) << read_file(dir_ / "gateway/requests.jsonl");
    EXPECT_EQ(requests[0]["status"], 500);
    EXPECT_EQ(requests[1]["status"], 200);
    EXPECT_EQ(requests[0]["headers"]["X-Line-Retry-Key"], requests[1]["headers"]["X-Line-Retry-Key"]);
    EXPECT_NE(daemon_->log().find("event=gateway-repeat"), std::string::npos) << daemon_->log();
}

TEST_F(LineDelivery, TwoServerErrorsFallBack) {
    control(R"({"service": "line", "mode": "500", "count": 2})");
    EXPECT_EQ(login("bob").verdict, "success") << daemon_->log();
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), 1u);
    EXPECT_EQ(line_requests().size(), 2u) << "asked once more, not more";
    EXPECT_NE(daemon_->log().find("answered HTTP 500"), std::string::npos) << daemon_->log();
    EXPECT_NE(daemon_->log().find("retryable=yes"), std::string::npos);
}

// LINE took the message and answered 500: the repeat with the same key gets 409, which
// counts as delivered. Without the repeat the outbox would send the code a second time.
TEST_F(LineDelivery, ATakenMessageWhoseAnswerWasLostIsSentOnce) {
    control(R"({"service": "line", "mode": "taken:500", "count": 1})");
    EXPECT_EQ(login("bob").verdict, "success") << daemon_->log();
    EXPECT_TRUE(read_outbox(daemon_->outbox()).empty()) << daemon_->log();
    EXPECT_EQ(delivered("line").size(), 1u);
    auto requests = line_requests();
    ASSERT_EQ(requests.size(), 2u) << read_file(dir_ / "gateway/requests.jsonl");
    EXPECT_EQ(requests[1]["status"], 409);
    EXPECT_NE(daemon_->log().find("the retry key was already accepted"), std::string::npos)
        << daemon_->log();
}

class LineSlowToAnswer : public LineDelivery {
  protected:
    LineSlowToAnswer() { timeout_ = "4s"; }
};

// The first request gets two thirds of the channel's timeout; the repeat what is left.
TEST_F(LineSlowToAnswer, ATakenMessageThatTimedOutIsSentOnce) {
    control(R"({"service": "line", "mode": "taken:timeout", "count": 1})");
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(login("bob").verdict, "success") << daemon_->log();
    EXPECT_TRUE(read_outbox(daemon_->outbox()).empty()) << daemon_->log();
    auto requests = line_requests();
    ASSERT_EQ(requests.size(), 2u) << read_file(dir_ / "gateway/requests.jsonl");
    EXPECT_EQ(requests[1]["status"], 409);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(6))
        << "within the channel's timeout, and the login's";
}

class LineWrongToken : public LineDelivery {
  protected:
    std::string token() override { return "not-the-channel-token"; }
};

TEST_F(LineWrongToken, AnInvalidTokenIsPermanentAndFallsBack) {
    EXPECT_EQ(login("bob").verdict, "success") << daemon_->log();
    EXPECT_TRUE(delivered("line").empty());
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), 1u);
    EXPECT_NE(daemon_->log().find("invalid channel access token: check channel_access_token_file"),
              std::string::npos)
        << daemon_->log();
    EXPECT_EQ(daemon_->log().find("not-the-channel-token"), std::string::npos)
        << "no token in the log";
}

}  // namespace
}  // namespace lwauth::test
