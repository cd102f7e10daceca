// Quick login from start to end, as a user meets it: a full login through the real PAM
// stack (password, then the 2-step code from the outbox, then pam_setcred) is recorded
// in lwauthd; the
// user sets a PIN with the real lwauthctl within the window it opens; later local logins
// offer the PIN and the fingerprint (enrolled in the fake fprintd on the same private bus)
// in one menu, and each logs in without the password. A remote session is offered
// neither. The real pam_lwauth.so under libpam and pam_wrapper, the real lwauthd.
#include <gtest/gtest.h>
extern "C" {
#include <libpamtest.h>  // a C header without extern "C" of its own
}
#include <security/pam_appl.h>

#include <chrono>
#include <cstdlib>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "conversation.hpp"
#include "fake_fprintd.hpp"
#include "harness.hpp"
#include "pam_service.hpp"

namespace lwauth::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kPassword = "correct horse";
constexpr const char* kPin = "730518";

// The person at the terminal: the menu choices in turn, the PIN, a touch of the reader
// (then Enter), the password and the code from the outbox, each when asked.
struct User {
    std::deque<std::string> choices;
    std::function<void()> touch;  // waits until the reader has read the finger
    OutboxFd* outbox = nullptr;
    std::string shown;
    int password_prompts = 0;
    int pin_prompts = 0;
    int touch_prompts = 0;
};

int user_converse(int n, const struct pam_message** msg, struct pam_response** resp, void* data) {
    auto* user = static_cast<User*>(data);
    return reply_reading(n, msg, resp, user->shown, [user](const std::string& text) {
        std::optional<std::string> answer;
        if (text.starts_with("Choice") && !user->choices.empty()) {
            answer = user->choices.front();
            user->choices.pop_front();
        } else if (text.starts_with("PIN")) {
            ++user->pin_prompts;
            answer = kPin;
        } else if (text.starts_with("Touch the fingerprint reader")) {
            ++user->touch_prompts;
            user->touch();
            answer = "";
        } else if (text.find("assword") != std::string::npos) {
            ++user->password_prompts;
            answer = kPassword;
        } else if (text.find("code") != std::string::npos && user->outbox != nullptr) {
            answer = user->outbox->next_code();
        }
        return answer;
    });
}

class QuickLogin : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        // DESIGN.md's whole stack; PAM_RHOST and PAM_TTY from the environment.
        make_pam_service("quick", kPassword, [](const std::string& matrix) {
            return passwordless_stack(matrix, " timeout=60", true);
        });
    }

    void SetUp() override {
        bus_ = std::make_unique<PrivateBus>(dir_.path(), false, kFprintdBusPolicy);
        fake_ = std::make_unique<FakeFprintd>(dir_.path(), bus_->address());
        daemon_ = std::make_unique<Daemon>(
            dir_.path(), bus_->address(),
            default_test_policy(dir_ / "outbox.jsonl") +
                "[quick_login]\npin = allowed\nfingerprint = allowed\nargon2_memory = 8M\n"
                "argon2_time = 1\n");
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
        ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com")) << daemon_->log();
        setenv("DBUS_SYSTEM_BUS_ADDRESS", bus_->address().c_str(), 1);
        setenv("PAM_TTY", "tty1", 1);
        unsetenv("PAM_RHOST");
    }
    void TearDown() override {
        unsetenv("PAM_TTY");
        unsetenv("PAM_RHOST");
    }

    static int authenticate(User& user) {
        struct pam_testcase tests[] = {pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS)};
        _pamtest_conv("quick", "alice", user_converse, &user, tests, 1, nullptr);
        return tests[0].op_rv;
    }

    // The full login: nothing quick is armed yet, so the password, then the code; the
    // application then establishes the credentials, which records it in lwauthd.
    void full_login() {
        OutboxFd outbox(daemon_->outbox());
        User user;
        user.outbox = &outbox;
        struct pam_testcase tests[] = {
            pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS),
            pam_test_flags(PAMTEST_SETCRED, PAM_SUCCESS, PAM_ESTABLISH_CRED)};
        _pamtest_conv("quick", "alice", user_converse, &user, tests, 2, nullptr);
        ASSERT_EQ(tests[0].op_rv, PAM_SUCCESS) << user.shown << daemon_->log();
        ASSERT_EQ(tests[1].op_rv, PAM_SUCCESS) << user.shown << daemon_->log();
        ASSERT_EQ(user.password_prompts, 1) << user.shown;
        ASSERT_EQ(user.pin_prompts + user.touch_prompts, 0) << user.shown;
    }

    TempDir dir_{"lwauth-quick-login"};
    std::unique_ptr<PrivateBus> bus_;
    std::unique_ptr<FakeFprintd> fake_;
    std::unique_ptr<Daemon> daemon_;
};

TEST_F(QuickLogin, AFullLoginLetsTheUserSetAPinThenThePinAndTheFingerprintEachLogIn) {
    std::string reader = fake_->add_reader("alice", {"right-index-finger"}, {});
    OutboxFd outbox(daemon_->outbox());
    User unestablished;
    unestablished.outbox = &outbox;
    ASSERT_EQ(authenticate(unestablished), PAM_SUCCESS) << unestablished.shown;
    RunResult refused = daemon_->ctl("alice", {"pin", "set"}, std::string(kPin) + "\n" + kPin + "\n");
    EXPECT_NE(refused.exit_code, 0)
        << "no full login without pam_setcred, and no step-up: " << refused.out;

    full_login();
    RunResult set = daemon_->ctl("alice", {"pin", "set"}, std::string(kPin) + "\n" + kPin + "\n");
    ASSERT_EQ(set.exit_code, 0) << set.out << set.err << daemon_->log();
    RunResult status = daemon_->ctl("alice", {"status"});
    EXPECT_NE(status.out.find("Quick-login PIN"), std::string::npos) << status.out;
    EXPECT_NE(status.out.find("set, until"), std::string::npos) << status.out;

    // The PIN, chosen from the menu that offers both.
    User by_pin;
    by_pin.choices = {"1"};
    ASSERT_EQ(authenticate(by_pin), PAM_SUCCESS) << by_pin.shown << daemon_->log();
    EXPECT_NE(by_pin.shown.find("  1  your PIN\n  2  your fingerprint\n  p  your password"),
              std::string::npos)
        << by_pin.shown;
    EXPECT_EQ(by_pin.pin_prompts, 1);
    EXPECT_EQ(by_pin.password_prompts, 0) << by_pin.shown;
    EXPECT_TRUE(daemon_->log_shows("event=login-pin")) << daemon_->log();

    // The fingerprint, chosen from the same menu.
    fake_->script(reader, {{"verify-match", true}});
    User by_finger;
    by_finger.choices = {"2"};
    by_finger.touch = [&] {
        auto deadline = std::chrono::steady_clock::now() + 20s;
        while (fake_->calls(reader).size() < 5 && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(20ms);
        }
        std::this_thread::sleep_for(300ms);  // lwauthd takes the answer
    };
    ASSERT_EQ(authenticate(by_finger), PAM_SUCCESS) << by_finger.shown << daemon_->log();
    EXPECT_EQ(by_finger.touch_prompts, 1) << by_finger.shown;
    EXPECT_EQ(by_finger.password_prompts, 0) << by_finger.shown;
    EXPECT_TRUE(daemon_->log_shows("event=fingerprint-match")) << daemon_->log();
}

TEST_F(QuickLogin, ARemoteSessionIsOfferedNeitherThePinNorTheFingerprint) {
    (void)fake_->add_reader("alice", {"right-index-finger"}, {{"verify-match", true}});
    full_login();
    RunResult set = daemon_->ctl("alice", {"pin", "set"}, std::string(kPin) + "\n" + kPin + "\n");
    ASSERT_EQ(set.exit_code, 0) << set.out << set.err;

    setenv("PAM_RHOST", "192.0.2.7", 1);
    OutboxFd outbox(daemon_->outbox());
    User remote;
    remote.outbox = &outbox;
    ASSERT_EQ(authenticate(remote), PAM_SUCCESS) << remote.shown << daemon_->log();
    EXPECT_EQ(remote.pin_prompts + remote.touch_prompts, 0) << remote.shown;
    EXPECT_EQ(remote.shown.find("How do you want to log in?"), std::string::npos) << remote.shown;
    EXPECT_EQ(remote.password_prompts, 1) << "the password and the code, as before";
}

}  // namespace
}  // namespace lwauth::test
