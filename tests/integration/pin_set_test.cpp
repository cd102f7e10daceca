// Setting the quick-login PIN, through the real lwauthd on the private bus (the shipped
// bus policy), the real lwauthctl and full logins run over the Login interface as
// pam_lwauth.so runs them: the 10-minute window after a full login, the step-up outside
// it, the PIN rules, the two entries, removal, what status says, a policy that refuses,
// and what the state database keeps. lwauthd has no clock of its own to move, so a
// recorded full login is aged in the database (sqlite3) instead.
#include <gtest/gtest.h>

#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "harness.hpp"

namespace lwauth::test {
namespace {

using json = nlohmann::json;

constexpr const char* kPin = "480213";
// Small Argon2id costs keep the tests quick; the PHC string must carry them.
constexpr const char* kQuickLogin =
    "[quick_login]\npin = allowed\nargon2_memory = 8M\nargon2_time = 1\n"
    "[user:carol]\nquick_login.pin = disabled\n";

class PinSet : public ::testing::Test {
  protected:
    void SetUp() override {
        keep_note("answers", kPin);  // set through the bus, not typed: for tests/leak_audit.py
        bus_ = std::make_unique<PrivateBus>(dir_.path());
        daemon_ = std::make_unique<Daemon>(dir_.path(), bus_->address(),
                                           default_test_policy(dir_ / "outbox.jsonl", kQuickLogin));
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
        ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com")) << daemon_->log();
    }

    [[nodiscard]] size_t sent() const { return read_outbox(daemon_->outbox()).size(); }

    /// A mode=second_factor login let in, and confirmed as pam_setcred confirms it after
    /// the whole stack succeeded: alice types the code sent, bob (no contact) is let in
    /// with the password alone (ignore). Without `confirm`, the stack refused it after.
    void full_login(const std::string& user, const std::string& verdict = "success",
                    bool confirm = true) {
        LoginPlace place;
        place.confirm = confirm;
        LoginResult result = login_as_root_from(bus_->address(), user, place, [&] {
            return read_outbox(daemon_->outbox()).back().code();
        });
        ASSERT_EQ(result.verdict, verdict) << daemon_->log();
        ASSERT_EQ(result.confirmed, confirm ? "ok" : "") << daemon_->log();
    }

    /// Moves the user's last full login `seconds` into the past.
    void age_full_login(const std::string& user, int seconds) {
        ASSERT_EQ(daemon_->sql("UPDATE users SET full_login_at = full_login_at - " +
                               std::to_string(seconds) + " WHERE name = '" + user +
                               "' AND full_login_at > 0; SELECT changes();"),
                  "1\n");
    }

    RunResult pin_set(const std::string& user, const std::string& first,
                      const std::string& second) {
        return daemon_->ctl(user, {"pin", "set"}, first + "\n" + second + "\n");
    }

    [[nodiscard]] std::string pin_line(const std::string& user) const {
        RunResult r = daemon_->ctl(user, {"status"});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        auto at = r.out.find("Quick-login PIN:");
        return at == std::string::npos ? std::string()
                                       : r.out.substr(at, r.out.find('\n', at) - at);
    }

    [[nodiscard]] json status(const std::string& user) const {
        return json::parse(daemon_->ctl(user, {"--json", "status"}).out, nullptr, false);
    }

    TempDir dir_{"lwauth-pinset"};
    std::unique_ptr<PrivateBus> bus_;
    std::unique_ptr<Daemon> daemon_;
};

TEST_F(PinSet, APinIsSetWithinTenMinutesOfAFullLoginAndKeptOnlyAsItsHash) {
    EXPECT_EQ(pin_line("alice"), "Quick-login PIN:       not set");
    int64_t t0 = std::time(nullptr);
    full_login("alice");
    int64_t t1 = std::time(nullptr);
    size_t before = sent();
    RunResult set = pin_set("alice", kPin, kPin);
    ASSERT_EQ(set.exit_code, 0) << set.out << set.err << daemon_->log();
    EXPECT_NE(set.out.find("Your quick-login PIN is set, until "), std::string::npos) << set.out;
    EXPECT_EQ(sent(), before) << "no step-up inside the window";

    json s = status("alice");
    EXPECT_EQ(s["pin_set"], true) << s.dump();
    EXPECT_GE(s["pin_until"].get<int64_t>(), t0 + 30 * 86400) << "armed from the full login";
    EXPECT_LE(s["pin_until"].get<int64_t>(), t1 + 30 * 86400) << "not from the setting";
    EXPECT_FALSE(s.contains("pin_disabled"));
    EXPECT_TRUE(pin_line("alice").starts_with("Quick-login PIN:       set, until "))
        << pin_line("alice");

    std::string dump = daemon_->sql(".dump users");
    EXPECT_NE(dump.find("$argon2id$v=19$m=8192,t=1,p=1$"), std::string::npos) << dump;
    EXPECT_EQ(dump.find(kPin), std::string::npos) << "the PIN itself is never stored";
    EXPECT_EQ(daemon_->log().find(kPin), std::string::npos) << "nor logged";
    EXPECT_TRUE(daemon_->log_shows("event=pin-set"));
}

TEST_F(PinSet, OutsideTheWindowTheStepUpIsAskedAndThenThePinIsSet) {
    full_login("alice");
    age_full_login("alice", 601);
    // Any process of alice's, straight on the bus.
    EXPECT_EQ(call_as(bus_->address(), uid_of("alice"), "org.lwauth.Auth1.Account", "SetPin",
                      [](sd_bus_message* m) { sd_bus_message_append(m, "s", kPin); }),
              "org.lwauth.Auth1.Error.ReauthRequired");
    RunResult none = pin_set("alice", kPin, kPin);
    EXPECT_EQ(none.exit_code, 1) << none.out << none.err;
    EXPECT_NE(none.err.find("No code was entered; nothing was changed."), std::string::npos)
        << none.err;
    EXPECT_FALSE(status("alice")["pin_set"].get<bool>());

    RunResult set =
        daemon_->ctl_with_code("alice", {"pin", "set"}, std::string(kPin) + "\n" + kPin + "\n");
    EXPECT_EQ(set.exit_code, 0) << set.out << set.err << daemon_->log();
    EXPECT_NE(set.err.find("To confirm it is you, a code was sent to"), std::string::npos)
        << set.err;
    EXPECT_TRUE(status("alice")["pin_set"].get<bool>());
}

TEST_F(PinSet, TheStepUpAloneSetsAPinButDoesNotStartQuickLogin) {
    ASSERT_TRUE(daemon_->enroll("dave", "email", "dave@example.com")) << daemon_->log();
    RunResult set =
        daemon_->ctl_with_code("dave", {"pin", "set"}, std::string(kPin) + "\n" + kPin + "\n");
    EXPECT_EQ(set.exit_code, 0) << set.out << set.err << daemon_->log();
    EXPECT_NE(set.out.find("Your quick-login PIN is set. It can be used after your next login "
                           "with your password."),
              std::string::npos)
        << set.out;
    EXPECT_EQ(daemon_->sql("SELECT quick_armed_at FROM users WHERE name = 'dave';"), "0\n")
        << "no full login ever: quick login is not armed";
}

TEST_F(PinSet, ThePasswordAloneIsAFullLoginAndWithoutAContactTheWindowIsTheOnlyWay) {
    // bob has no contact: 2-step does not apply, and his login is let in (ignore).
    RunResult early = pin_set("bob", kPin, kPin);
    EXPECT_EQ(early.exit_code, 1) << early.out << early.err;
    EXPECT_NE(early.err.find("Setting a PIN needs a full login on this host in the last 10 "
                             "minutes: log in again with your password, then set the PIN "
                             "within 10 minutes."),
              std::string::npos)
        << early.err;
    full_login("bob", "ignore");
    RunResult set = pin_set("bob", kPin, kPin);
    EXPECT_EQ(set.exit_code, 0) << set.out << set.err << daemon_->log();
    age_full_login("bob", 601);
    RunResult late = pin_set("bob", "730491", "730491");
    EXPECT_EQ(late.exit_code, 1) << late.out << late.err;
    EXPECT_EQ(call_as(bus_->address(), uid_of("bob"), "org.lwauth.Auth1.Account", "SetPin",
                      [](sd_bus_message* m) { sd_bus_message_append(m, "s", "730491"); }),
              "org.lwauth.Auth1.Error.PolicyForbids");
}

TEST_F(PinSet, AVerdictThatNoConfirmFollowsIsNoFullLogin) {
    // The stack refused bob after lwauth's ignore (pam_deny after an SSH key): no
    // pam_setcred, no Confirm, no window.
    full_login("bob", "ignore", false);
    EXPECT_EQ(daemon_->sql("SELECT COALESCE(MAX(full_login_at), 0) FROM users WHERE name = 'bob'"),
              "0\n");
    EXPECT_EQ(call_as(bus_->address(), uid_of("bob"), "org.lwauth.Auth1.Account", "SetPin",
                      [](sd_bus_message* m) { sd_bus_message_append(m, "s", kPin); }),
              "org.lwauth.Auth1.Error.PolicyForbids");
    full_login("bob", "ignore");
    EXPECT_EQ(pin_set("bob", kPin, kPin).exit_code, 0) << daemon_->log();
}

TEST_F(PinSet, EachRuleRefusesItsPinWithItsReason) {
    ASSERT_TRUE(daemon_->enroll("dave", "phone", "+81 90 5831 7264")) << daemon_->log();
    full_login("dave");
    const std::vector<std::pair<std::string, std::string>> refused = {
        {"48a213", "A PIN may contain only the digits 0 to 9."},
        {"48021", "A PIN needs at least 6 digits."},
        {"777777", "A PIN of one digit repeated is too easy to guess."},
        {"480480", "A PIN of a few digits repeated is too easy to guess."},
        {"567890", "A PIN of consecutive digits, up or down, is too easy to guess."},
        {"172649", "A PIN must not contain digits of your phone number."},
        {"159753", "This PIN is one of the most common PINs, too easy to guess."},
    };
    for (const auto& [pin, why] : refused) {
        RunResult r = pin_set("dave", pin, pin);
        EXPECT_EQ(r.exit_code, 1) << pin << ": " << r.out << r.err;
        EXPECT_NE(r.err.find(why), std::string::npos) << pin << ": " << r.err;
        EXPECT_EQ(r.err.find(pin), std::string::npos) << "the PIN is not repeated";
    }
    EXPECT_FALSE(status("dave")["pin_set"].get<bool>());
    EXPECT_EQ(pin_set("dave", kPin, kPin).exit_code, 0);
}

TEST_F(PinSet, OutsideTheWindowTheRulesTellNothingOfThePhoneNumber) {
    ASSERT_TRUE(daemon_->enroll("dave", "phone", "+81 90 5831 7264")) << daemon_->log();
    // Any process of dave's, straight on the bus, with no full login in the window: a PIN
    // with 4 digits of his phone and one without get the same answer.
    auto set_pin = [&](const char* pin) {
        return call_as(bus_->address(), uid_of("dave"), "org.lwauth.Auth1.Account", "SetPin",
                       [pin](sd_bus_message* m) { sd_bus_message_append(m, "s", pin); });
    };
    const std::set<std::string> window = {"org.lwauth.Auth1.Error.ReauthRequired",
                                          "org.lwauth.Auth1.Error.PolicyForbids"};
    EXPECT_TRUE(window.contains(set_pin("172649"))) << set_pin("172649");
    EXPECT_EQ(set_pin("172649"), set_pin(kPin));
    full_login("dave");
    age_full_login("dave", 601);
    EXPECT_TRUE(window.contains(set_pin("172649"))) << set_pin("172649");
    EXPECT_EQ(set_pin("172649"), set_pin(kPin));
    EXPECT_FALSE(status("dave")["pin_set"].get<bool>());
}

TEST_F(PinSet, TheTwoEntriesMustBeTheSame) {
    full_login("alice");
    RunResult r = pin_set("alice", kPin, "480214");
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.err.find("The two PINs are not the same; nothing was changed."), std::string::npos)
        << r.err;
    RunResult once = daemon_->ctl("alice", {"pin", "set"}, std::string(kPin) + "\n");
    EXPECT_EQ(once.exit_code, 1) << once.out << once.err;
    EXPECT_FALSE(status("alice")["pin_set"].get<bool>());
}

TEST_F(PinSet, StatusSaysUntilWhenOrWhyNotAndRemoveNeedsNoProof) {
    full_login("alice");
    ASSERT_EQ(pin_set("alice", kPin, kPin).exit_code, 0);

    daemon_->sql("UPDATE users SET pin_failures = 5 WHERE name = 'alice'");
    EXPECT_EQ(pin_line("alice"),
              "Quick-login PIN:       disabled after too many wrong PINs: log in with your "
              "password to use it again");
    EXPECT_EQ(status("alice")["pin_disabled"], true);
    full_login("alice");  // clears the wrong PINs and re-arms
    EXPECT_TRUE(pin_line("alice").starts_with("Quick-login PIN:       set, until "))
        << pin_line("alice");

    daemon_->sql(
        "UPDATE users SET quick_armed_at = quick_armed_at - 31 * 86400 WHERE name = 'alice'");
    EXPECT_TRUE(pin_line("alice").starts_with("Quick-login PIN:       set, expired on "))
        << pin_line("alice");

    // Long after the full login: removing needs no code.
    age_full_login("alice", 3600);
    size_t before = sent();
    RunResult removed = daemon_->ctl("alice", {"pin", "remove"});
    EXPECT_EQ(removed.exit_code, 0) << removed.err;
    EXPECT_EQ(removed.out, "Your quick-login PIN is removed.\n");
    EXPECT_EQ(sent(), before);
    EXPECT_EQ(pin_line("alice"), "Quick-login PIN:       not set");
    EXPECT_EQ(daemon_->ctl("alice", {"pin", "remove"}).out, "No quick-login PIN was set.\n");
    EXPECT_EQ(daemon_->sql("SELECT pin_hash FROM users WHERE name = 'alice'"), "\n");
}

TEST_F(PinSet, APolicyWithoutThePinRefusesIt) {
    full_login("carol", "ignore");
    RunResult r = pin_set("carol", kPin, kPin);
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.err.find("Quick login with a PIN is not allowed for you on this host."),
              std::string::npos)
        << r.err;
    EXPECT_EQ(pin_line("carol"), "") << "not offered: no line";
}

}  // namespace
}  // namespace lwauth::test
