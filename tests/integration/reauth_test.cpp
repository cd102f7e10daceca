// Proof before a user's own change that weakens their login ([policy]
// self_service_reauth), through the real lwauthd, the shipped bus policy and lwauthctl:
// any process running as the user could otherwise turn 2-step off or redirect its codes.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "harness.hpp"

namespace lwauth::test {
namespace {

class Reauth : public ::testing::Test {
  protected:
    void SetUp() override {
        bus_ = std::make_unique<PrivateBus>(dir_.path(), false);
        daemon_ = std::make_unique<Daemon>(dir_.path(), bus_->address(),
                                           default_test_policy(dir_ / "outbox.jsonl"));
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
        ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com")) << daemon_->log();
    }

    [[nodiscard]] std::string status() const {
        return daemon_->ctl("alice", {"--json", "status"}).out;
    }

    // SetTwoStep(false) straight on the bus as alice, as any of her processes could.
    [[nodiscard]] std::string two_step_off_on_the_bus() const {
        return call_as(bus_->address(), uid_of("alice"), "org.lwauth.Auth1.Account", "SetTwoStep",
                       [](sd_bus_message* m) { sd_bus_message_append(m, "b", 0); });
    }

    TempDir dir_{"lwauth-reauth"};
    std::unique_ptr<PrivateBus> bus_;
    std::unique_ptr<Daemon> daemon_;
};

TEST_F(Reauth, AProcessOfTheUserCannotTurnTwoStepOffWithoutTheCode) {
    EXPECT_EQ(two_step_off_on_the_bus(), "org.lwauth.Auth1.Error.ReauthRequired");
    EXPECT_NE(status().find("\"two_step\": true"), std::string::npos) << status();

    // lwauthctl without a code to give: nothing changes.
    auto none = daemon_->ctl("alice", {"two-step", "off"});
    EXPECT_EQ(none.exit_code, 1) << none.out << none.err;
    EXPECT_NE(
        none.err.find("To confirm it is you, a code was sent to a\u2022\u2022\u2022@example.com."),
        std::string::npos)
        << none.err;
    EXPECT_NE(none.err.find("No code was entered; nothing was changed."), std::string::npos)
        << none.err;
    EXPECT_NE(status().find("\"two_step\": true"), std::string::npos) << status();
}

TEST_F(Reauth, LwauthctlAsksForTheCodeAndMakesTheChange) {
    auto off = daemon_->ctl_with_code("alice", {"two-step", "off"});
    EXPECT_EQ(off.exit_code, 0) << off.out << off.err;
    EXPECT_NE(off.out.find("2-step verification is off."), std::string::npos) << off.out;
    auto sent = read_outbox(daemon_->outbox());
    EXPECT_EQ(sent.back().destination, "alice@example.com");
    EXPECT_NE(sent.back().text.find("your code to change your login settings is"),
              std::string::npos)
        << sent.back().text;
    EXPECT_NE(status().find("\"two_step\": false"), std::string::npos) << status();
    // The code was for that lwauthctl's connection: another process still needs one.
    ASSERT_EQ(daemon_->ctl("alice", {"two-step", "on"}).exit_code, 0);
    EXPECT_EQ(two_step_off_on_the_bus(), "org.lwauth.Auth1.Error.ReauthRequired");
}

TEST_F(Reauth, AWrongCodeIsAskedAgainWhileTriesAreLeft) {
    auto off = daemon_->ctl_with_code("alice", {"contact", "remove", "email"}, "000000\n");
    EXPECT_EQ(off.exit_code, 0) << off.out << off.err;
    EXPECT_NE(off.err.find("Wrong code; 2 tries left."), std::string::npos) << off.err;
    EXPECT_EQ(status().find("\"email\""), std::string::npos) << status();
}

// Each lwauthctl is a bus connection of its own, and each sends a new code: the tries of
// [code] (3) are still the user's, in total.
TEST_F(Reauth, WrongAnswersOverThreeConnectionsStopAtTheTriesInTotal) {
    const char* expected[] = {"Wrong code; 2 tries left.", "Wrong code; 1 try left.",
                              "Wrong code, and no tries are left; try again in a few minutes."};
    for (const char* said : expected) {
        auto wrong = daemon_->ctl("alice", {"two-step", "off"}, "000000\n");
        EXPECT_EQ(wrong.exit_code, 1) << wrong.out << wrong.err;
        EXPECT_NE(wrong.err.find(said), std::string::npos) << wrong.err;
    }
    // A fourth connection is refused before any code is sent to it.
    size_t sent = read_outbox(daemon_->outbox()).size();
    auto fourth = daemon_->ctl("alice", {"two-step", "off"}, "000000\n");
    EXPECT_NE(fourth.exit_code, 0) << fourth.out << fourth.err;
    EXPECT_NE(fourth.err.find("No tries are left; try again in a few minutes."), std::string::npos)
        << fourth.err;
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), sent);
    EXPECT_NE(status().find("\"two_step\": true"), std::string::npos) << status();
    EXPECT_TRUE(daemon_->log_shows("event=reauth-wrong", 3)) << daemon_->log();
    EXPECT_EQ(daemon_->log_count("event=reauth-wrong"), 3u) << daemon_->log();
}

TEST_F(Reauth, ReplacingAContactNeedsTheCodeToTheOldOneBeforeAnythingGoesToTheNew) {
    size_t before = read_outbox(daemon_->outbox()).size();
    auto refused = call_as(
        bus_->address(), uid_of("alice"), "org.lwauth.Auth1.Account", "AddContact",
        [](sd_bus_message* m) { sd_bus_message_append(m, "ss", "email", "mallory@example.com"); });
    EXPECT_EQ(refused, "org.lwauth.Auth1.Error.ReauthRequired");
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), before) << "nothing sent to the new address";

    auto add = daemon_->ctl_with_code("alice", {"contact", "add", "phone", "+81 90 1234 5678"});
    ASSERT_EQ(add.exit_code, 0) << add.out << add.err;
    auto sent = read_outbox(daemon_->outbox());
    ASSERT_EQ(sent.size(), before + 2);
    EXPECT_EQ(sent[before].destination, "alice@example.com") << "the proof, to the old contact";
    EXPECT_EQ(sent[before + 1].destination, "+819012345678") << "then the confirmation";
}

// A number started while bob had nothing to prove with, confirmed after he verified an
// address: by then it needs the proof as any new contact does, and lwauthctl asks for it.
TEST_F(Reauth, AConfirmationStartedBeforeTheFirstContactIsProvedWhenItIsConfirmed) {
    ASSERT_EQ(daemon_->ctl("bob", {"contact", "add", "phone", "+81 90 1111 2222"}).exit_code, 0);
    std::string phone_code = read_outbox(daemon_->outbox()).back().code();
    ASSERT_TRUE(daemon_->enroll("bob", "email", "bob@example.com"));

    auto bare = call_as(
        bus_->address(), uid_of("bob"), "org.lwauth.Auth1.Account", "ConfirmContact",
        [&](sd_bus_message* m) { sd_bus_message_append(m, "ss", "phone", phone_code.c_str()); });
    EXPECT_EQ(bare, "org.lwauth.Auth1.Error.ReauthRequired");

    auto confirm =
        daemon_->ctl_with_code("bob", {"contact", "confirm", "phone"}, phone_code + "\n");
    EXPECT_EQ(confirm.exit_code, 0) << confirm.out << confirm.err;
    EXPECT_NE(confirm.err.find("a code was sent to b\u2022\u2022\u2022@example.com"),
              std::string::npos)
        << confirm.err;
    EXPECT_NE(daemon_->ctl("bob", {"--json", "status"}).out.find("\"phone\""), std::string::npos);
}

TEST_F(Reauth, JsonOutputGivesTheErrorAsJson) {
    auto off = daemon_->ctl("alice", {"--json", "two-step", "off"});
    EXPECT_EQ(off.exit_code, 1);
    EXPECT_NE(off.out.find("\"error\": \"reauth-required\""), std::string::npos) << off.out;
}

TEST_F(Reauth, SelfServiceReauthNoneKeepsTheOldBehaviour) {
    daemon_->write_policy(
        default_test_policy(dir_ / "outbox.jsonl", "[user:alice]\nself_service_reauth = none\n"));
    ASSERT_EQ(daemon_->ctl("root", {"policy", "reload"}).exit_code, 0);
    EXPECT_EQ(two_step_off_on_the_bus(), "");
    EXPECT_NE(status().find("\"two_step\": false"), std::string::npos) << status();
}

}  // namespace
}  // namespace lwauth::test
