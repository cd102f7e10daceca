// Quick login with a PIN through the real PAM stack: the real pam_lwauth.so mode=primary
// loaded by libpam under pam_wrapper, the real lwauthd on a private bus, and the user's
// PIN written to lwauthd's state database before it starts (an Argon2id hash, armed
// now), as setting a PIN leaves it. PAM_RHOST and PAM_TTY come from the test's
// environment (pam_wrapper's pam_set_items), as login and sshd set them.
#include <gtest/gtest.h>
extern "C" {
#include <libpamtest.h>  // a C header without extern "C" of its own
}
#include <security/pam_appl.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "clock.hpp"
#include "conversation.hpp"
#include "harness.hpp"
#include "pam_service.hpp"
#include "seed_pin.hpp"

namespace lwauth::test {
namespace {

constexpr const char* kPassword = "correct horse";
constexpr const char* kPin = "730518";

// The person at the keyboard: `pins` in turn at the PIN prompt (then nothing: the
// conversation fails), the password when asked.
struct Typist {
    std::vector<std::string> pins;
    std::string shown;  // every message and prompt, one a line
    int pin_prompts = 0;
    int password_prompts = 0;
};

int typist_converse(int n, const struct pam_message** msg, struct pam_response** resp,
                    void* data) {
    auto* person = static_cast<Typist*>(data);
    return reply_reading(n, msg, resp, person->shown, [person](const std::string& text) {
        std::optional<std::string> answer;
        if (text.rfind("PIN", 0) == 0) {
            if (person->pin_prompts < static_cast<int>(person->pins.size())) {
                answer = person->pins[static_cast<size_t>(person->pin_prompts)];
            }
            ++person->pin_prompts;
        } else if (text.find("assword") != std::string::npos) {
            ++person->password_prompts;
            answer = kPassword;
        }
        return answer;
    });
}

class PinLogin : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        // The passwordless stage of DESIGN.md's stack, then the password; PAM_RHOST and
        // PAM_TTY set from the environment first.
        make_pam_service("pin", kPassword, [](const std::string& matrix) {
            return passwordless_stack(matrix, "", false);
        });
    }

    void SetUp() override {
        bus_ = std::make_unique<PrivateBus>(dir_.path());
        daemon_ = std::make_unique<Daemon>(
            dir_.path(), bus_->address(),
            default_test_policy(dir_ / "outbox.jsonl",
                                "[quick_login]\npin = allowed\nmax_failures = 3\n"
                                "argon2_memory = 8M\nargon2_time = 1\n"));
        seed_armed_pin(daemon_->state_dir(), "alice", kPin);
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
        // The module runs inside this process: point it at the private bus.
        setenv("DBUS_SYSTEM_BUS_ADDRESS", bus_->address().c_str(), 1);
        // A local login at the console.
        unsetenv("PAM_RHOST");
        setenv("PAM_TTY", "tty1", 1);
    }

    void TearDown() override {
        unsetenv("PAM_RHOST");
        unsetenv("PAM_TTY");
    }


    int authenticate(const std::string& user, Typist& person) {
        struct pam_testcase tests[] = {pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS)};
        _pamtest_conv("pin", user.c_str(), typist_converse, &person, tests, 1, nullptr);
        return tests[0].op_rv;
    }

    // A login of `user`, who would type the PIN if asked, that asks the password alone.
    void expect_password_only(const std::string& user) {
        Typist person;
        person.pins = {kPin};
        EXPECT_EQ(authenticate(user, person), PAM_SUCCESS) << person.shown;
        EXPECT_EQ(person.pin_prompts, 0) << person.shown;
        EXPECT_EQ(person.password_prompts, 1) << person.shown;
    }

    TempDir dir_{"lwauth-pin"};
    std::unique_ptr<PrivateBus> bus_;
    std::unique_ptr<Daemon> daemon_;
};

TEST_F(PinLogin, ALocalLoginWithTheRightPinNeedsNoPassword) {
    Typist alice;
    alice.pins = {kPin};
    EXPECT_EQ(authenticate("alice", alice), PAM_SUCCESS) << alice.shown << daemon_->log();
    EXPECT_EQ(alice.pin_prompts, 1) << alice.shown;
    EXPECT_EQ(alice.password_prompts, 0) << alice.shown;
    EXPECT_NE(alice.shown.find("PIN (p for your password): "), std::string::npos) << alice.shown;
    EXPECT_TRUE(daemon_->log_shows("event=login-pin")) << daemon_->log();
    EXPECT_EQ(daemon_->log().find(kPin), std::string::npos) << "the PIN is never logged";
}

TEST_F(PinLogin, WrongPinsAreToldThenDisableThePin) {
    Typist alice;
    alice.pins = {"111111", "222222", "333333"};
    EXPECT_EQ(authenticate("alice", alice), PAM_AUTH_ERR) << alice.shown << daemon_->log();
    EXPECT_EQ(alice.password_prompts, 0) << alice.shown;
    EXPECT_NE(alice.shown.find("Wrong PIN. 2 tries left before the PIN is disabled.\nPIN: \n"),
              std::string::npos)
        << alice.shown;
    EXPECT_NE(alice.shown.find("Too many wrong PINs: the PIN is disabled. Log in with your "
                               "password to use it again."),
              std::string::npos)
        << alice.shown;
    EXPECT_TRUE(daemon_->log_shows("event=pin-disabled")) << daemon_->log();

    // The next login is not offered the PIN, even the right one: the password.
    Typist again;
    again.pins = {kPin};
    EXPECT_EQ(authenticate("alice", again), PAM_SUCCESS) << again.shown;
    EXPECT_EQ(again.pin_prompts, 0) << again.shown;
    EXPECT_EQ(again.password_prompts, 1) << again.shown;
}

TEST_F(PinLogin, PChoosesThePassword) {
    Typist alice;
    alice.pins = {"p"};
    EXPECT_EQ(authenticate("alice", alice), PAM_SUCCESS) << alice.shown;
    EXPECT_EQ(alice.pin_prompts, 1);
    EXPECT_EQ(alice.password_prompts, 1);
}

TEST_F(PinLogin, ALoginFromARemoteHostOrOverSshIsNotOfferedThePin) {
    setenv("PAM_RHOST", "192.0.2.7", 1);
    expect_password_only("alice");
    unsetenv("PAM_RHOST");
    setenv("PAM_TTY", "ssh", 1);
    expect_password_only("alice");
}

// A process with no logind session on a pseudo-terminal, without a remote host: what
// `systemd-run --user --pty su alice` or a cron job under a pty is for a user logged in
// over SSH. Nothing proves it sits at this machine, so it is not offered the PIN (this test
// runs in no logind session, as those do).
TEST_F(PinLogin, ALoginWithoutASessionOrAConsoleIsNotOfferedThePin) {
    setenv("PAM_TTY", "/dev/pts/3", 1);
    expect_password_only("alice");
    unsetenv("PAM_TTY");
    expect_password_only("alice");
    setenv("PAM_TTY", "/dev/tty1", 1);
    Typist alice;
    alice.pins = {kPin};
    EXPECT_EQ(authenticate("alice", alice), PAM_SUCCESS) << "a virtual console is local";
    EXPECT_EQ(alice.password_prompts, 0) << alice.shown;
}

TEST_F(PinLogin, AUserWithoutAPinGoesToThePassword) {
    expect_password_only("bob");
}

}  // namespace
}  // namespace lwauth::test
