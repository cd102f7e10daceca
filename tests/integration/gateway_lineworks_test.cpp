// Service notifications through a LINE WORKS bot, against the LINE WORKS fake: a token
// from a service-account JWT, then a bot message to the user. The members log in to LINE
// WORKS as NAME@example.com; the fake's domain has alice, bob and one user ID.
#include "gateway_fixture.hpp"

namespace lwauth::test {
namespace {

class LineWorksDelivery : public GatewayTest {
  protected:
    std::string code_channels() const override { return "notification, email"; }

    std::string gateway_channels() override {
        return lineworks_channel("timeout = 2s\n" + user_id_lines());
    }
    virtual std::string user_id_lines() { return "user_id = {user}@example.com\n"; }

    /// The code in the last bot message the fake accepted.
    [[nodiscard]] std::string last_lineworks_code() const {
        auto sent = delivered("lineworks");
        return sent.empty() ? std::string("000000")
                            : code_in(sent.back()["content"].value("text", ""));
    }

    /// Turns on 2-step for alice: her email, confirmed through the outbox.
    void enroll_alice() {
        ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com")) << daemon_->log();
        ASSERT_TRUE(delivered("lineworks").empty()) << "a confirmation goes to the address";
    }

    void login_through_lineworks() {
        LoginResult login =
            login_as_root_with(bus_->address(), "alice", [&] { return last_lineworks_code(); });
        EXPECT_EQ(login.verdict, "success") << daemon_->log();
    }

    void expect_no_secrets_in_log() {
        std::string log = daemon_->log();
        EXPECT_EQ(log.find("kr1AAA"), std::string::npos) << "no access token in the log";
        EXPECT_EQ(log.find("lw-test-client-secret"), std::string::npos);
        EXPECT_EQ(log.find("eyJ"), std::string::npos) << "no assertion in the log";
    }
};

TEST_F(LineWorksDelivery, TheLoginCodeGoesAsABotMessage) {
    enroll_alice();
    size_t outbox_before = read_outbox(daemon_->outbox()).size();
    login_through_lineworks();

    auto tokens = requests("lineworks-auth");
    ASSERT_EQ(tokens.size(), 1u) << read_file(dir_ / "gateway/requests.jsonl");
    EXPECT_EQ(tokens[0]["status"], 200) << "the fake verified the JWT";
    EXPECT_EQ(tokens[0]["params"]["grant_type"], "urn:ietf:params:oauth:grant-type:jwt-bearer");
    EXPECT_EQ(tokens[0]["params"]["client_id"], "lw-test-client-id");
    EXPECT_EQ(tokens[0]["params"]["scope"], "bot.message") << "all that sending needs";

    auto messages = requests("lineworks");
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0]["status"], 201);
    EXPECT_EQ(messages[0]["path"], "/v1.0/bots/2000001/users/alice@example.com/messages");
    EXPECT_EQ(messages[0]["params"]["content"]["type"], "text");
    std::string auth = messages[0]["headers"].value("Authorization", "");
    EXPECT_EQ(auth.rfind("Bearer kr1AAA", 0), 0u) << auth;
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), outbox_before) << "nothing fell back";
    expect_no_secrets_in_log();
}

TEST_F(LineWorksDelivery, OneTokenServesManyMessages) {
    enroll_alice();
    login_through_lineworks();
    login_through_lineworks();
    EXPECT_EQ(delivered("lineworks").size(), 2u) << read_file(dir_ / "gateway/requests.jsonl");
    EXPECT_EQ(requests("lineworks-auth").size(), 1u) << "the token was reused";
}

TEST_F(LineWorksDelivery, SendsWaitForTheTokenRequestInFlight) {
    enroll_alice();
    ASSERT_TRUE(daemon_->enroll("bob", "email", "bob@example.com")) << daemon_->log();
    // The token endpoint holds its answer, so the second login's message is asked for
    // while the first login's token request is still in flight.
    control(R"({"service": "lineworks-auth", "mode": "slow:1500", "count": 1})");
    auto code_for = [&](const std::string& user) {
        std::string code = "000000";
        for (const auto& request : requests("lineworks")) {
            if (request["delivered"] == true &&
                request["path"] == "/v1.0/bots/2000001/users/" + user + "@example.com/messages") {
                code = code_in(request["params"]["content"].value("text", ""));
            }
        }
        return code;
    };
    LoginResult bob;
    std::thread second([&] {
        // Bob starts once alice's login is under way and her token request has gone out.
        for (int i = 0;
             i < 500 && daemon_->log().find("login-start user=alice") == std::string::npos; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        bob = login_as_root_with(bus_->address(), "bob", [&] { return code_for("bob"); });
    });
    LoginResult alice =
        login_as_root_with(bus_->address(), "alice", [&] { return code_for("alice"); });
    second.join();
    EXPECT_EQ(alice.verdict, "success") << daemon_->log();
    EXPECT_EQ(bob.verdict, "success") << daemon_->log();

    auto tokens = requests("lineworks-auth");
    ASSERT_EQ(tokens.size(), 1u) << "one token request served both messages";
    EXPECT_EQ(tokens[0]["fault"], "slow:1500");
    auto messages = requests("lineworks");
    ASSERT_EQ(messages.size(), 2u) << read_file(dir_ / "gateway/requests.jsonl");
    EXPECT_EQ(messages[0]["headers"]["Authorization"], messages[1]["headers"]["Authorization"]);
    expect_no_secrets_in_log();
}

TEST_F(LineWorksDelivery, AnExpiredTokenIsRefreshedOnceAndTheMessageSent) {
    enroll_alice();
    login_through_lineworks();
    control(R"({"service": "lineworks", "action": "expire_tokens"})");
    size_t outbox_before = read_outbox(daemon_->outbox()).size();
    login_through_lineworks();

    auto messages = requests("lineworks");
    ASSERT_EQ(messages.size(), 3u) << read_file(dir_ / "gateway/requests.jsonl");
    EXPECT_EQ(messages[1]["status"], 403) << "the expired token was refused";
    EXPECT_EQ(messages[2]["status"], 201) << "the message went with a new token";
    EXPECT_NE(messages[1]["headers"]["Authorization"], messages[2]["headers"]["Authorization"]);
    EXPECT_EQ(requests("lineworks-auth").size(), 2u);
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), outbox_before) << "nothing fell back";
    expect_no_secrets_in_log();
}

TEST_F(LineWorksDelivery, ARefusedRefreshIsFinalAndFallsBack) {
    enroll_alice();
    login_through_lineworks();
    control(R"({"service": "lineworks", "action": "expire_tokens"})");
    control(R"({"service": "lineworks-auth", "mode": "permanent:invalid_grant", "count": 1})");
    LoginResult login = login_as_root_with(bus_->address(), "alice", [&] {
        auto outbox = read_outbox(daemon_->outbox());
        return outbox.empty() ? std::string("000000") : outbox.back().code();
    });
    EXPECT_EQ(login.verdict, "success") << daemon_->log();
    EXPECT_EQ(delivered("lineworks").size(), 1u);
    EXPECT_EQ(requests("lineworks-auth").size(), 2u) << "one refresh, no more";
    EXPECT_NE(daemon_->log().find("token request answered HTTP 400 (invalid_grant)"),
              std::string::npos)
        << daemon_->log();
}

TEST_F(LineWorksDelivery, ThrottlingFallsBackToTheOutbox) {
    enroll_alice();
    control(R"({"service": "lineworks", "mode": "429", "count": 1})");
    size_t outbox_before = read_outbox(daemon_->outbox()).size();
    LoginResult login = login_as_root_with(bus_->address(), "alice", [&] {
        auto outbox = read_outbox(daemon_->outbox());
        return outbox.empty() ? std::string("000000") : outbox.back().code();
    });
    EXPECT_EQ(login.verdict, "success") << daemon_->log();
    EXPECT_TRUE(delivered("lineworks").empty());
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), outbox_before + 1) << "one message, one code";
    EXPECT_NE(daemon_->log().find("answered HTTP 429 (TOO_MANY_REQUESTS): rate limited"),
              std::string::npos)
        << daemon_->log();
    EXPECT_NE(daemon_->log().find("retryable=yes"), std::string::npos);
    expect_no_secrets_in_log();
}

// Bob's user ID, carol's (which the domain does not have) and dave's (a mistake: a bare
// name) are in a map; everyone else gets the template.
const std::string kBobsUserId = "4f6e1a52-0c1b-4d7e-9a3f-2b8c5d7e9f10";
const std::string kUnknownUserId = "0b7d3c1e-5a2f-4e8b-9c6d-1f0e2d3c4b5a";

class LineWorksWithUserIds : public LineWorksDelivery {
  protected:
    std::string user_id_lines() override {
        return "user_id = {user}@example.com\nuser_map_file = " +
               secret_file("lineworks-users",
                           "bob " + kBobsUserId + "\ncarol " + kUnknownUserId + "\ndave dave\n") +
               "\n";
    }

    /// Has `user` log in with an email contact, the code read from the outbox.
    LoginResult login_through_the_outbox(const std::string& user) {
        EXPECT_TRUE(daemon_->enroll(user, "email", user + "@example.com")) << daemon_->log();
        return login_as_root_with(bus_->address(), user, [&] {
            auto outbox = read_outbox(daemon_->outbox());
            return outbox.empty() ? std::string("000000") : outbox.back().code();
        });
    }
};

TEST_F(LineWorksWithUserIds, MessagesGoToTheMappedIds) {
    enroll_alice();
    login_through_lineworks();
    ASSERT_TRUE(daemon_->enroll("bob", "email", "bob@example.com")) << daemon_->log();
    LoginResult bob =
        login_as_root_with(bus_->address(), "bob", [&] { return last_lineworks_code(); });
    EXPECT_EQ(bob.verdict, "success") << daemon_->log();

    auto messages = requests("lineworks");
    ASSERT_EQ(messages.size(), 2u) << read_file(dir_ / "gateway/requests.jsonl");
    EXPECT_EQ(messages[0]["path"], "/v1.0/bots/2000001/users/alice@example.com/messages");
    EXPECT_EQ(messages[1]["path"], "/v1.0/bots/2000001/users/" + kBobsUserId + "/messages");
    EXPECT_EQ(daemon_->log().find(kBobsUserId), std::string::npos) << "no ID in the log";
    EXPECT_EQ(daemon_->log().find("alice@example.com/"), std::string::npos);
}

// LINE WORKS answers an ID its domain does not have with 404: permanent, and the code
// goes to the next channel.
TEST_F(LineWorksWithUserIds, AUserLineWorksDoesNotKnowIsPermanentAndFallsBack) {
    size_t outbox_before = read_outbox(daemon_->outbox()).size();
    LoginResult carol = login_through_the_outbox("carol");
    EXPECT_EQ(carol.verdict, "success") << daemon_->log();
    auto messages = requests("lineworks");
    ASSERT_EQ(messages.size(), 1u) << read_file(dir_ / "gateway/requests.jsonl");
    EXPECT_EQ(messages[0]["status"], 404);
    EXPECT_EQ(messages[0]["path"], "/v1.0/bots/2000001/users/" + kUnknownUserId + "/messages");
    EXPECT_TRUE(delivered("lineworks").empty());
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), outbox_before + 2)
        << "the confirmation and one message for the login code";
    EXPECT_NE(daemon_->log().find("answered HTTP 404 (NOT_FOUND): no such bot or user; check "
                                  "bot_id and the user's LINE WORKS ID"),
              std::string::npos)
        << daemon_->log();
    EXPECT_NE(daemon_->log().find("retryable=no"), std::string::npos);
    EXPECT_EQ(daemon_->log().find(kUnknownUserId), std::string::npos) << "no ID in the log";
}

// A bare name in the map is neither a user ID nor a login ID: it is not sent.
TEST_F(LineWorksWithUserIds, AnIdOfNeitherFormIsNotSentAndFallsBack) {
    LoginResult dave = login_through_the_outbox("dave");
    EXPECT_EQ(dave.verdict, "success") << daemon_->log();
    EXPECT_TRUE(requests("lineworks").empty()) << "LINE WORKS was not asked";
    EXPECT_TRUE(requests("lineworks-auth").empty()) << "not even for a token";
    EXPECT_NE(daemon_->log().find("lineworks lineworks: the user's ID in user_map_file is not a "
                                  "LINE WORKS user ID or login ID (name@domain); not sent"),
              std::string::npos)
        << daemon_->log();
    EXPECT_NE(daemon_->log().find("retryable=no"), std::string::npos);
}

// An app granted only bot.message (least privilege) gets its token: lwauthd asks for no
// more than the channel's scope, bot.message by default.
class LineWorksLeastPrivilegeApp : public LineWorksDelivery {
  protected:
    std::vector<std::string> gateway_args() const override {
        return {"--lineworks-scope", "bot.message"};
    }
};

TEST_F(LineWorksLeastPrivilegeApp, TheDefaultScopeIsGranted) {
    enroll_alice();
    size_t outbox_before = read_outbox(daemon_->outbox()).size();
    login_through_lineworks();
    auto tokens = requests("lineworks-auth");
    ASSERT_EQ(tokens.size(), 1u) << read_file(dir_ / "gateway/requests.jsonl");
    EXPECT_EQ(tokens[0]["status"], 200);
    EXPECT_EQ(tokens[0]["params"]["scope"], "bot.message");
    EXPECT_EQ(delivered("lineworks").size(), 1u);
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), outbox_before) << "nothing fell back";
}

// The scope key is what the token request asks for; a scope the app is not granted is
// refused (invalid_scope): a permanent failure that says what to change, and the code
// goes to the next channel.
class LineWorksScopeBeyondTheGrant : public LineWorksLeastPrivilegeApp {
  protected:
    std::string user_id_lines() override {
        return "user_id = {user}@example.com\nscope = bot.message user.read\n";
    }
};

TEST_F(LineWorksScopeBeyondTheGrant, IsPermanentSaysWhyAndFallsBack) {
    enroll_alice();
    size_t outbox_before = read_outbox(daemon_->outbox()).size();
    LoginResult login = login_as_root_with(bus_->address(), "alice", [&] {
        auto outbox = read_outbox(daemon_->outbox());
        return outbox.empty() ? std::string("000000") : outbox.back().code();
    });
    EXPECT_EQ(login.verdict, "success") << daemon_->log();
    auto tokens = requests("lineworks-auth");
    ASSERT_EQ(tokens.size(), 1u) << read_file(dir_ / "gateway/requests.jsonl");
    EXPECT_EQ(tokens[0]["params"]["scope"], "bot.message user.read");
    EXPECT_EQ(tokens[0]["status"], 400);
    EXPECT_TRUE(requests("lineworks").empty());
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), outbox_before + 1) << "one message, one code";
    EXPECT_NE(daemon_->log().find("token request answered HTTP 400 (invalid_scope): the app is not "
                                  "granted the scope 'bot.message user.read'; add it to the app's "
                                  "OAuth scopes in the Developer Console, or set scope"),
              std::string::npos)
        << daemon_->log();
    EXPECT_NE(daemon_->log().find("retryable=no"), std::string::npos);
    expect_no_secrets_in_log();
}

// policy check (the loader lwauthd uses) refuses a lineworks channel whose IDs cannot work.
TEST_F(LineWorksDelivery, PolicyCheckRefusesBareUserNamesAsLineWorksIds) {
    TempDir policy_dir("lwauth-policy");
    std::string section = gateway_channels();
    section = section.substr(0, section.find("user_id = "));
    for (const auto& [ids, expected] : std::vector<std::pair<std::string, std::string>>{
             {"",
              "[channel.lineworks]: channel type lineworks has no user's ID on the messenger: "
              "set user_id = {user}@example.com"},
             {"user_id = {user}\n",
              "bad value '{user}' for user_id: LINE WORKS takes a login ID (name@domain) or a "
              "user ID, never a bare user name"},
             {"user_id = {user}@example.com\nscope = user.read\n",
              "bad value 'user.read' for scope: sending a bot message needs the scope "
              "bot.message (or bot)"}}) {
        write_file(policy_dir / "lwauth.conf", section + ids);
        auto check = daemon_->ctl("root", {"policy", "check", policy_dir.path().string()});
        EXPECT_EQ(check.exit_code, 5) << check.out << check.err;
        EXPECT_NE(check.err.find(expected), std::string::npos) << check.err;
    }
    write_file(policy_dir / "lwauth.conf", section + "user_id = {user}@example.com\n");
    auto check = daemon_->ctl("root", {"policy", "check", policy_dir.path().string()});
    EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
}

}  // namespace
}  // namespace lwauth::test
