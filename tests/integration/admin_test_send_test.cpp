// `lwauthctl admin test-send USER` through the real lwauthd: a message with no code where
// the user's login codes go, through the webhook fake (tests/fakes/gateways.py), counted
// against the caps of the user's login codes and a small test budget (never the host's
// cap), for root and the admin group alone.
#include <unistd.h>

#include <array>
#include <regex>

#include "gateway_fixture.hpp"

namespace lwauth::test {
namespace {

constexpr const char* kAlicePhone = "+819012345678";

class AdminTestSend : public GatewayTest {
  protected:
    void SetUp() override {
        GatewayTest::SetUp();
        if (HasFatalFailure()) {
            return;
        }
        // Phones through the gateway alone (the outbox keeps email), so that a failed
        // gateway has nothing to fall back to; three login codes an hour per user.
        write_file(daemon_->config_dir() / "lwauth.conf.d/50-test-send.conf",
                   "[policy]\nadmin_group = lwadmins\n"
                   "[code]\nmax_sends_per_hour = 3\n"
                   "[channel.outbox]\nserves = email\n");
        ASSERT_EQ(daemon_->ctl("root", {"policy", "reload"}).exit_code, 0) << daemon_->log();
    }

    std::string gateway_channels() override {
        return "[channel.gateway]\ntype = webhook\nserves = sms\nurl = " + base_url() +
               "/webhook\nhmac_secret_file = " + secret_file("webhook", "s3cret") + "\n" +
               ca_line() + "timeout = 2s\n";
    }
    std::string code_channels() const override { return "sms, email"; }

    void enroll_alice() { enroll("alice", kAlicePhone); }

    /// Adds `[code] KEY = VALUE` to the policy and reloads it.
    void set_code_key(const std::string& key, int value) {
        write_file(daemon_->config_dir() / ("lwauth.conf.d/60-" + key + ".conf"),
                   "[code]\n" + key + " = " + std::to_string(value) + "\n");
        ASSERT_EQ(daemon_->ctl("root", {"policy", "reload"}).exit_code, 0) << daemon_->log();
    }

    [[nodiscard]] size_t at_gateway() const { return delivered("webhook").size(); }

    static std::string this_host() {
        std::array<char, 256> name{};
        EXPECT_EQ(gethostname(name.data(), name.size() - 1), 0);
        return name.data();
    }
};

TEST_F(AdminTestSend, RootSendsAMessageWithNoCodeWhereLoginCodesGo) {
    enroll_alice();
    size_t before = at_gateway();
    RunResult r = daemon_->ctl("root", {"admin", "test-send", "alice"});
    ASSERT_EQ(r.exit_code, 0) << r.err << daemon_->log();
    EXPECT_NE(r.out.find("[channel.gateway]"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("5678"), std::string::npos) << "the destination, masked: " << r.out;
    EXPECT_EQ(r.out.find("9012345678"), std::string::npos) << r.out;

    ASSERT_EQ(at_gateway(), before + 1);
    auto message = delivered("webhook").back();
    EXPECT_EQ(message["to"], kAlicePhone);
    EXPECT_EQ(message["user"], "alice");
    EXPECT_EQ(message["text"],
              "lwauth: test message from " + this_host() + ". No action is needed.");
    EXPECT_FALSE(std::regex_search(message.value("text", ""), std::regex("[0-9]")))
        << "no code, nor anything like one";

    EXPECT_TRUE(daemon_->log_shows("[event=test-sent admin_uid=0 user=alice channel=gateway"))
        << daemon_->log();
    EXPECT_EQ(daemon_->log().find("9012345678"), std::string::npos) << "no number in the log";
}

TEST_F(AdminTestSend, TheAdminGroupMaySendAndJsonSaysWhere) {
    enroll_alice();
    RunResult r = daemon_->ctl("frank", {"--json", "admin", "test-send", "alice"});
    ASSERT_EQ(r.exit_code, 0) << r.err << daemon_->log();
    auto out = nlohmann::json::parse(r.out);
    EXPECT_EQ(out["user"], "alice");
    EXPECT_EQ(out["channel"], "gateway");
    EXPECT_EQ(out["destination"].get<std::string>().find("9012345678"), std::string::npos);
    EXPECT_NE(out["destination"].get<std::string>().find("5678"), std::string::npos);
}

TEST_F(AdminTestSend, AGroupMemberTestsTheirOwnContactButNotAnotherMembers) {
    enroll("frank", "+819011112222");
    enroll("grace", "+819033334444");
    size_t before = at_gateway();
    EXPECT_EQ(daemon_->ctl("frank", {"admin", "test-send", "frank"}).exit_code, 0)
        << daemon_->log();
    EXPECT_EQ(at_gateway(), before + 1);
    // It would use up grace's login codes: root's to decide.
    RunResult r = daemon_->ctl("frank", {"admin", "test-send", "grace"});
    EXPECT_EQ(r.exit_code, 3) << r.err;
    EXPECT_EQ(at_gateway(), before + 1);
    EXPECT_EQ(daemon_->ctl("root", {"admin", "test-send", "grace"}).exit_code, 0);
    EXPECT_EQ(at_gateway(), before + 2);
}

TEST_F(AdminTestSend, AUserWithNoContactIsToldSoAndNothingIsSent) {
    RunResult r = daemon_->ctl("root", {"admin", "test-send", "bob"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("has no verified phone number or email address"), std::string::npos)
        << r.err;
    EXPECT_EQ(at_gateway(), 0u);
    EXPECT_TRUE(read_outbox(daemon_->outbox()).empty());
    EXPECT_TRUE(daemon_->log_shows("[event=test-send-failed admin_uid=0 user=bob reason=not-found"))
        << daemon_->log();
}

TEST_F(AdminTestSend, AFailingGatewayGivesTheChannelsReasonAndStatus1) {
    enroll_alice();
    size_t before = at_gateway();
    control(R"({"service": "webhook", "mode": "500", "count": 1})");
    RunResult r = daemon_->ctl("root", {"admin", "test-send", "alice"});
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_NE(r.err.find("gateway"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("HTTP 500"), std::string::npos) << r.err;
    EXPECT_EQ(at_gateway(), before);
    EXPECT_TRUE(read_outbox(daemon_->outbox()).empty()) << "email is not alice's: no fallback";
    EXPECT_TRUE(
        daemon_->log_shows("[event=test-send-failed admin_uid=0 user=alice reason=delivery-failed"))
        << daemon_->log();
    EXPECT_EQ(daemon_->log().find("9012345678"), std::string::npos) << "no number in the log";
}

TEST_F(AdminTestSend, AUserOutsideTheAdminGroupIsRefused) {
    enroll_alice();
    size_t before = at_gateway();
    for (const char* caller : {"bob", "alice"}) {
        RunResult r = daemon_->ctl(caller, {"admin", "test-send", "alice"});
        EXPECT_EQ(r.exit_code, 3) << caller << ": " << r.err;
        EXPECT_NE(r.err.find("Permission denied"), std::string::npos) << r.err;
    }
    EXPECT_EQ(at_gateway(), before);
}

TEST_F(AdminTestSend, TheUsersLoginCodeCapStopsItAndNothingIsSent) {
    enroll_alice();
    // Two login codes an hour: below the test budget, so the user's cap is what stops it.
    set_code_key("max_sends_per_hour", 2);
    size_t before = at_gateway();
    for (int i = 0; i < 2; ++i) {
        ASSERT_EQ(daemon_->ctl("root", {"admin", "test-send", "alice"}).exit_code, 0)
            << daemon_->log();
    }
    RunResult r = daemon_->ctl("root", {"admin", "test-send", "alice"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("send cap"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("nothing was sent"), std::string::npos) << r.err;
    EXPECT_EQ(at_gateway(), before + 2);
    EXPECT_TRUE(daemon_->log_shows("[event=send-capped user=alice")) << daemon_->log();
    EXPECT_TRUE(
        daemon_->log_shows("[event=test-send-failed admin_uid=0 user=alice reason=rate-limited"))
        << daemon_->log();

    // The same cap as the user's login codes: a login now gets no code either.
    LoginResult login = login_as_root(bus_->address(), "alice", "000000");
    EXPECT_NE(login.verdict, "success");
    EXPECT_EQ(at_gateway(), before + 2);
}

TEST_F(AdminTestSend, TestMessagesHaveABudgetOfTheirOwnAndLeaveTheHostsCodes) {
    enroll_alice();
    enroll("bob", "+819055556666");
    // Five codes an hour for the whole host, two of them taken by the enrolments.
    set_code_key("max_sends_per_host_per_hour", 5);
    size_t before = at_gateway();
    for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(daemon_->ctl("root", {"admin", "test-send", "alice"}).exit_code, 0)
            << daemon_->log();
    }
    // The budget of test messages to alice is spent: refused, and said so.
    RunResult r = daemon_->ctl("root", {"admin", "test-send", "alice"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("test message budget is reached (3 an hour to alice, 10 an hour"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("nothing was sent"), std::string::npos) << r.err;
    EXPECT_EQ(at_gateway(), before + 3);
    EXPECT_TRUE(daemon_->log_shows("[event=send-capped user=alice")) << daemon_->log();
    EXPECT_TRUE(
        daemon_->log_shows("[event=test-send-failed admin_uid=0 user=alice reason=rate-limited"))
        << daemon_->log();

    // The tests took nothing from the host's cap: bob still gets his login code.
    LoginResult login = login_as_root(bus_->address(), "bob", "000000");
    EXPECT_NE(login.verdict, "success");
    ASSERT_EQ(at_gateway(), before + 4) << daemon_->log();
    EXPECT_EQ(delivered("webhook").back()["user"], "bob");
}

TEST_F(AdminTestSend, AHostOutOfCodesSendsNoTestMessage) {
    enroll_alice();
    // The enrolment took the host's only code of the hour.
    set_code_key("max_sends_per_host_per_hour", 1);
    size_t before = at_gateway();
    RunResult r = daemon_->ctl("root", {"admin", "test-send", "alice"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("send cap"), std::string::npos) << r.err;
    EXPECT_EQ(at_gateway(), before);
    EXPECT_TRUE(daemon_->log_shows("per-host send cap reached")) << daemon_->log();
}

}  // namespace
}  // namespace lwauth::test
