// The shipped pam-auth-update profiles (packaging/debian/pam-configs) stacked as
// pam-auth-update stacks them in common-auth, both enabled: the Primary block by priority
// (lwauth-primary at 258 before the password module's 256, each `success=end` made the
// jump past `requisite pam_deny.so` to `required pam_permit.so`), then the Additional
// block (lwauth's `required pam_lwauth.so mode=second_factor`). pam_matrix stands in for
// pam_unix. A PIN login jumps to the end of the Primary block and so meets
// mode=second_factor too: it must ask nothing more. The real pam_lwauth.so under libpam
// and pam_wrapper, the real lwauthd.
#include <gtest/gtest.h>
extern "C" {
#include <libpamtest.h>  // a C header without extern "C" of its own
}
#include <security/pam_appl.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "conversation.hpp"
#include "harness.hpp"
#include "pam_service.hpp"
#include "seed_pin.hpp"

namespace lwauth::test {
namespace {

constexpr const char* kPassword = "correct horse";
constexpr const char* kPin = "730518";

// The lines under "Auth:" of a shipped profile, pam_lwauth.so given by its built path.
std::vector<std::string> profile_auth_lines(const std::string& name) {
    std::ifstream in(source_dir() / "packaging/debian/pam-configs" / name);
    std::vector<std::string> lines;
    std::string line;
    bool in_auth = false;
    while (std::getline(in, line)) {
        if (line.rfind("Auth:", 0) == 0) {
            in_auth = true;
        } else if (in_auth && !line.empty() && (line[0] == '\t' || line[0] == ' ')) {
            lines.push_back("auth " + std::regex_replace(line.substr(1), std::regex("pam_lwauth\\.so"),
                                                         LWAUTH_PAM_MODULE_PATH));
        } else {
            in_auth = false;
        }
    }
    return lines;
}

// common-auth as pam-auth-update writes it with both lwauth profiles enabled.
std::string common_auth(const std::string& matrix) {
    std::vector<std::string> primary = profile_auth_lines("lwauth-primary");
    primary.push_back("auth [success=end default=ignore] " + matrix);
    std::string stack = "auth optional " + std::string(kPamSetItems) + "\n";
    for (size_t i = 0; i < primary.size(); ++i) {
        stack += std::regex_replace(primary[i], std::regex("success=end"),
                                    "success=" + std::to_string(primary.size() - i)) +
                 "\n";
    }
    stack += "auth requisite /usr/lib/x86_64-linux-gnu/security/pam_deny.so\n"
             "auth required /usr/lib/x86_64-linux-gnu/security/pam_permit.so\n";
    for (const auto& line : profile_auth_lines("lwauth")) {
        stack += line + "\n";
    }
    return stack + "account required " + matrix + "\n";
}

// The person at the console: `pin` at the PIN prompt, the password and the code from the
// outbox when asked.
struct AtConsole {
    std::string pin;
    OutboxFd* outbox = nullptr;
    std::string shown;
    int pin_prompts = 0;
    int password_prompts = 0;
    int code_prompts = 0;
};

int person_converse(int n, const struct pam_message** msg, struct pam_response** resp,
                    void* data) {
    auto* person = static_cast<AtConsole*>(data);
    return reply_reading(n, msg, resp, person->shown, [person](const std::string& text) {
        std::optional<std::string> answer;
        if (text.rfind("PIN", 0) == 0) {
            ++person->pin_prompts;
            answer = person->pin;
        } else if (text.find("assword") != std::string::npos) {
            ++person->password_prompts;
            answer = kPassword;
        } else if (text.find("code") != std::string::npos) {
            ++person->code_prompts;
            answer = person->outbox->next_code();
        }
        return answer;
    });
}

class Profiles : public ::testing::Test {
  protected:
    static void SetUpTestSuite() { make_pam_service("common-auth", kPassword, common_auth); }

    void SetUp() override {
        bus_ = std::make_unique<PrivateBus>(dir_.path());
        daemon_ = std::make_unique<Daemon>(
            dir_.path(), bus_->address(),
            default_test_policy(dir_ / "outbox.jsonl",
                                "[quick_login]\npin = allowed\nargon2_memory = 8M\n"
                                "argon2_time = 1\n"));
        seed_armed_pin(daemon_->state_dir(), "alice", kPin);
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
        // A verified contact: 2-step verification is on for alice.
        ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com")) << daemon_->log();
        setenv("DBUS_SYSTEM_BUS_ADDRESS", bus_->address().c_str(), 1);
        unsetenv("PAM_RHOST");
        setenv("PAM_TTY", "tty1", 1);
    }

    void TearDown() override { unsetenv("PAM_TTY"); }


    static int authenticate(AtConsole& person) {
        struct pam_testcase tests[] = {pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS)};
        _pamtest_conv("common-auth", "alice", person_converse, &person, tests, 1, nullptr);
        return tests[0].op_rv;
    }

    TempDir dir_{"lwauth-profiles"};
    std::unique_ptr<PrivateBus> bus_;
    std::unique_ptr<Daemon> daemon_;
};

TEST_F(Profiles, APinLoginIsNotAskedForACodeByTheAdditionalLine) {
    OutboxFd outbox(daemon_->outbox());
    size_t sent = outbox.count();
    AtConsole alice;
    alice.pin = kPin;
    alice.outbox = &outbox;
    EXPECT_EQ(authenticate(alice), PAM_SUCCESS) << alice.shown << daemon_->log();
    EXPECT_EQ(alice.pin_prompts, 1) << alice.shown;
    EXPECT_EQ(alice.password_prompts, 0) << alice.shown;
    EXPECT_EQ(alice.code_prompts, 0) << alice.shown;
    EXPECT_EQ(outbox.count(), sent) << "no code is sent";
}

TEST_F(Profiles, ThePasswordChosenInsteadIsFollowedByTheCode) {
    OutboxFd outbox(daemon_->outbox());
    AtConsole alice;
    alice.pin = "p";
    alice.outbox = &outbox;
    EXPECT_EQ(authenticate(alice), PAM_SUCCESS) << alice.shown << daemon_->log();
    EXPECT_EQ(alice.password_prompts, 1) << alice.shown;
    EXPECT_EQ(alice.code_prompts, 1) << alice.shown;

    // And a PIN login after it, in a new handle, still asks no code.
    AtConsole again;
    again.pin = kPin;
    again.outbox = &outbox;
    EXPECT_EQ(authenticate(again), PAM_SUCCESS) << again.shown << daemon_->log();
    EXPECT_EQ(again.code_prompts, 0) << again.shown;
}

}  // namespace
}  // namespace lwauth::test
