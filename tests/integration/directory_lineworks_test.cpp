// [directory] backend = lineworks: the real lwauthd reads members from the LINE WORKS
// fake's Directory API (GET /v1.0/users/{userId}) with the service account of its
// lineworks channel, and the codes of a login go to the numbers it read. The fake's
// domain has alice@example.com (a cellPhone) and bob@example.com (none); every other
// user of the host is unknown to it (404).
#include <chrono>
#include <thread>

#include "gateway_fixture.hpp"

namespace lwauth::test {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kAlicePhone = "+819012345678";

class LineWorksDirectoryTest : public GatewayTest {
  protected:
    std::vector<std::string> gateway_args() const override {
        return {"--lineworks-scope", "bot,bot.message,user.read"};
    }
    std::string policy_sections() const override {
        return "[policy]\ntwo_step = optional\ncontacts = admin\n\n[directory]\n"
               "backend = lineworks\nlineworks_channel = lineworks\n" +
               directory_lines() + "\n";
    }
    /// More [directory] lines.
    [[nodiscard]] virtual std::string directory_lines() const { return ""; }
    std::string code_channels() const override { return "sms, email"; }
    std::string gateway_channels() override {
        return lineworks_channel("timeout = 5s\nuser_id = {user}@example.com\n");
    }

    /// Waits (a minute at most: a pass is one HTTPS request a user on a loaded machine)
    /// until the log has `text` `count` times.
    [[nodiscard]] bool log_reaches(const std::string& text, size_t count = 1) const {
        for (int i = 0; i < 6; ++i) {
            if (daemon_->log_shows(text, count)) {
                return true;
            }
        }
        return false;
    }

    json status(const std::string& user) {
        RunResult r = daemon_->ctl(user, {"status", "--json"});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return json::parse(r.out, nullptr, false);
    }

    std::string last_code() { return read_outbox(daemon_->outbox()).back().code(); }

    /// After a good pass, the fake's Directory API answers `mode` from now on: the next
    /// pass fails saying `why`, and alice keeps her contacts.
    void expect_failed_pass(const std::string& mode, const std::string& why) {
        ASSERT_TRUE(log_reaches("directory-synced")) << daemon_->log();
        control(R"({"service": "lineworks-users", "mode": ")" + mode + R"(", "count": 0})");
        daemon_->reload();
        ASSERT_TRUE(log_reaches("directory-sync-failed")) << daemon_->log();
        EXPECT_NE(daemon_->log().find(why), std::string::npos) << daemon_->log();
        EXPECT_EQ(status("alice")["phone_source"], "admin") << "nothing changed";
    }

    void expect_no_secrets_in_log() {
        std::string log = daemon_->log();
        EXPECT_EQ(log.find("kr1AAA"), std::string::npos) << "no access token in the log";
        EXPECT_EQ(log.find("lw-test-client-secret"), std::string::npos);
        EXPECT_EQ(log.find("9012345678"), std::string::npos) << "never the number";
    }
};

TEST_F(LineWorksDirectoryTest, MembersContactsServeALogin) {
    ASSERT_TRUE(log_reaches("directory-synced")) << daemon_->log();
    json alice = status("alice");
    EXPECT_EQ(alice["phone_source"], "admin") << alice.dump();
    EXPECT_EQ(alice["email_source"], "admin") << alice.dump();
    json bob = status("bob");
    EXPECT_EQ(bob["email_source"], "admin") << bob.dump();
    EXPECT_FALSE(bob.contains("phone")) << "bob's cellPhone is null";

    auto tokens = requests("lineworks-auth");
    ASSERT_EQ(tokens.size(), 1u) << "one token for the pass";
    EXPECT_EQ(tokens[0]["status"], 200);
    EXPECT_EQ(tokens[0]["params"]["scope"], "user.read") << "the scope that reads members";
    bool asked_alice = false;
    for (const auto& r : requests("lineworks-users")) {
        EXPECT_EQ(r["method"], "GET");
        asked_alice = asked_alice || r["path"] == "/v1.0/users/alice@example.com";
    }
    EXPECT_TRUE(asked_alice) << "the channel's user_id template names the member";

    ASSERT_EQ(daemon_->ctl("alice", {"two-step", "on"}).exit_code, 0) << daemon_->log();
    LoginResult login = login_as_root_with(bus_->address(), "alice", [&] { return last_code(); });
    EXPECT_EQ(login.verdict, "success") << daemon_->log();
    EXPECT_EQ(read_outbox(daemon_->outbox()).back().destination, kAlicePhone);

    RunResult add = daemon_->ctl("alice", {"contact", "add", "phone", "+819011112222"});
    EXPECT_EQ(add.exit_code, 1) << "the directory's contacts are not the user's to change";
    expect_no_secrets_in_log();
}

TEST_F(LineWorksDirectoryTest, AMemberLineWorksNoLongerKnowsLosesItsContacts) {
    ASSERT_TRUE(log_reaches("directory-synced")) << daemon_->log();
    ASSERT_EQ(status("alice")["phone_source"], "admin");
    control(R"({"service": "lineworks-users", "mode": "permanent:404", "count": 0})");
    daemon_->reload();
    ASSERT_TRUE(log_reaches("directory-synced", 2)) << daemon_->log();
    json alice = status("alice");
    EXPECT_FALSE(alice.contains("phone")) << alice.dump();
    EXPECT_FALSE(alice.contains("email")) << alice.dump();
}

TEST_F(LineWorksDirectoryTest, AServerErrorChangesNothingAndTheCacheServes) {
    ASSERT_TRUE(log_reaches("directory-synced")) << daemon_->log();
    ASSERT_EQ(daemon_->ctl("alice", {"two-step", "on"}).exit_code, 0);
    control(R"({"service": "lineworks-users", "mode": "500", "count": 0})");
    daemon_->reload();
    ASSERT_TRUE(log_reaches("directory-sync-failed")) << daemon_->log();
    EXPECT_NE(daemon_->log().find("HTTP 500 (INTERNAL_SERVER_ERROR)"), std::string::npos)
        << daemon_->log();
    EXPECT_EQ(status("alice")["phone_source"], "admin");
    LoginResult login = login_as_root_with(bus_->address(), "alice", [&] { return last_code(); });
    EXPECT_EQ(login.verdict, "success") << daemon_->log();
    EXPECT_EQ(read_outbox(daemon_->outbox()).back().destination, kAlicePhone);
}

TEST_F(LineWorksDirectoryTest, AnAnswerThatIsNotJsonFailsThePass) {
    expect_failed_pass("garbage", "not a member's JSON");
}

TEST_F(LineWorksDirectoryTest, AnUnansweredRequestFailsThePass) {
    expect_failed_pass("timeout", "no answer");
}

TEST_F(LineWorksDirectoryTest, AnAppWithoutTheScopeIsToldWhichOne) {
    expect_failed_pass("permanent:403", "grant it the OAuth scope user.read");
}

TEST_F(LineWorksDirectoryTest, ARefusedTokenIsReplacedOnce) {
    ASSERT_TRUE(log_reaches("directory-synced")) << daemon_->log();
    control(R"({"service": "lineworks-users", "mode": "permanent:401", "count": 1})");
    daemon_->reload();
    ASSERT_TRUE(log_reaches("directory-synced", 2)) << daemon_->log();
    EXPECT_EQ(requests("lineworks-auth").size(), 3u) << "each pass's token, and one more";
    EXPECT_EQ(status("alice")["phone_source"], "admin");

    // Refused again after the new one: the pass fails, changing nothing.
    control(R"({"service": "lineworks-users", "mode": "permanent:401", "count": 2})");
    daemon_->reload();
    ASSERT_TRUE(log_reaches("directory-sync-failed")) << daemon_->log();
    EXPECT_NE(daemon_->log().find("refused again after a refresh"), std::string::npos)
        << daemon_->log();
    EXPECT_EQ(status("alice")["phone_source"], "admin");
    expect_no_secrets_in_log();
}

TEST_F(LineWorksDirectoryTest, ARateLimitedPassWaitsAndFinishes) {
    ASSERT_TRUE(log_reaches("directory-synced")) << daemon_->log();
    control(R"({"service": "lineworks-users", "mode": "429", "count": 2})");
    daemon_->reload();
    ASSERT_TRUE(log_reaches("directory-synced", 2)) << daemon_->log();
    EXPECT_EQ(daemon_->log_count("directory-sync-failed"), 0u) << daemon_->log();
    auto users = requests("lineworks-users");
    size_t limited = 0;
    for (size_t i = 0; i < users.size(); ++i) {
        if (users[i]["status"] == 429) {
            ++limited;
            ASSERT_LT(i + 1, users.size());
            // rateLimit-reset: 1 — the next request waited at least that long.
            EXPECT_GE(users[i + 1]["at"].get<double>() - users[i]["at"].get<double>(), 0.9);
        }
    }
    EXPECT_EQ(limited, 2u);
    EXPECT_EQ(status("alice")["phone_source"], "admin");
}

// lineworks_rate below the number of users (the test's NSS has eleven): the fake sees no
// more than that in any minute, and the pass still reads everyone, in a minute and more.
constexpr size_t kTestRate = 8;

class LineWorksDirectoryPacing : public LineWorksDirectoryTest {
  protected:
    std::string directory_lines() const override {
        return "lineworks_rate = " + std::to_string(kTestRate) + "\n";
    }
};

TEST_F(LineWorksDirectoryPacing, NoMoreThanTheRateInAnyMinute) {
    for (int i = 0; i < 12 && daemon_->log_count("directory-synced") == 0; ++i) {
        (void)daemon_->log_shows("directory-synced");
    }
    ASSERT_EQ(daemon_->log_count("directory-synced"), 1u) << daemon_->log();
    auto users = requests("lineworks-users");
    ASSERT_GT(users.size(), kTestRate) << "more users than the rate";
    for (size_t i = 0; i + kTestRate < users.size(); ++i) {
        EXPECT_GE(users[i + kTestRate]["at"].get<double>() - users[i]["at"].get<double>(), 60.0)
            << kTestRate + 1 << " requests within a minute, from request " << i;
    }
    for (const auto& r : users) {
        EXPECT_NE(r["status"], 429) << "the fake's own limit is 240";
    }
    EXPECT_EQ(status("alice")["phone_source"], "admin");
}

}  // namespace
}  // namespace lwauth::test
