// A screen locker running as the user: the real pam_lwauth.so, loaded by libpam (under
// pam_wrapper) in a process that has dropped to the test user's UID, against the real
// lwauthd on a private bus. The user's own login goes through with the code from the
// outbox; another user's name is refused by lwauthd, which logs it.
#include <gtest/gtest.h>
extern "C" {
#include <libpamtest.h>  // a C header without extern "C" of its own
}
#include <grp.h>
#include <security/pam_appl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "conversation.hpp"
#include "harness.hpp"

namespace lwauth::test {
namespace {

constexpr const char* kPhone = "+819012345678";

int converse(int n, const struct pam_message** msg, struct pam_response** resp, void* data) {
    auto* outbox = static_cast<OutboxFd*>(data);
    return reply_each(n, msg, resp, [outbox](int style, const std::string& text) {
        std::optional<std::string> answer;
        if (style == PAM_PROMPT_ECHO_OFF && text.find("code") != std::string::npos) {
            answer = outbox->next_code();
        }
        return answer;
    });
}

class PamScreenLocker : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        // pam_wrapper reads its service directory once per process: made once, and open
        // to the test user, whose process reads it.
        if (pam_dir_ != nullptr) {
            return;
        }
        static TempDir services("lwauth-screenlock-pam");
        pam_dir_ = &services;
        fs::permissions(pam_dir_->path(), fs::perms(0755));
        setenv("PAM_WRAPPER_SERVICE_DIR", (pam_dir_->path() / "pam.d").c_str(), 1);
        std::string module = LWAUTH_PAM_MODULE_PATH;
        write_file(pam_dir_->path() / "pam.d" / "screenlock_primary",
                   "auth required " + module + " mode=primary\n");
        write_file(pam_dir_->path() / "pam.d" / "screenlock_two_step",
                   "auth required " + module + " mode=second_factor\n");
        fs::permissions(pam_dir_->path() / "pam.d", fs::perms(0755));
    }

    void SetUp() override {
        bus_ = std::make_unique<PrivateBus>(dir_.path());
        daemon_ = std::make_unique<Daemon>(
            dir_.path(), bus_->address(),
            default_test_policy(dir_ / "outbox.jsonl", "[policy]\nlogin_with_phone = allowed\n"));
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
        ASSERT_TRUE(daemon_->enroll("alice", "phone", kPhone));
        // The module runs in the child: point it at the private bus.
        setenv("DBUS_SYSTEM_BUS_ADDRESS", bus_->address().c_str(), 1);
    }

    /// pam_authenticate of `user` in `service`, in a child process running as `as_user`
    /// (gid = uid, no supplementary groups), the codes read from the outbox: what libpam
    /// returned, or -1 when the child could not run.
    int authenticate_as(const std::string& as_user, const std::string& service,
                        const std::string& user) {
        OutboxFd outbox(daemon_->outbox());
        pid_t pid = fork();
        if (pid == 0) {
            // The child must never return into the test framework: only _exit.
            if (!become(uid_of(as_user))) {
                _exit(200);
            }
            struct pam_testcase tests[] = {pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS)};
            _pamtest_conv(service.c_str(), user.c_str(), converse, &outbox, tests, 1, nullptr);
            _exit(tests[0].op_rv);
        }
        int status = 0;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
            WEXITSTATUS(status) == 200) {
            return -1;
        }
        return WEXITSTATUS(status);
    }

    static inline TempDir* pam_dir_ = nullptr;
    TempDir dir_{"lwauth-pam-screenlock"};
    std::unique_ptr<PrivateBus> bus_;
    std::unique_ptr<Daemon> daemon_;
};

TEST_F(PamScreenLocker, TheUsersOwnProcessLogsInWithThePhonesCode) {
    EXPECT_EQ(authenticate_as("alice", "screenlock_primary", "alice"), PAM_SUCCESS)
        << daemon_->log();
    EXPECT_NE(daemon_->log().find("method=phone"), std::string::npos) << daemon_->log();
}

TEST_F(PamScreenLocker, TheUsersOwnProcessPassesTwoStepWithTheCode) {
    EXPECT_EQ(authenticate_as("alice", "screenlock_two_step", "alice"), PAM_SUCCESS)
        << daemon_->log();
}

TEST_F(PamScreenLocker, AnotherUsersNameIsRefusedAndLwauthdLogsIt) {
    OutboxFd outbox(daemon_->outbox());
    size_t sent = outbox.count();
    EXPECT_EQ(authenticate_as("bob", "screenlock_primary", "alice"), PAM_AUTH_ERR);
    EXPECT_EQ(authenticate_as("bob", "screenlock_two_step", "alice"), PAM_AUTH_ERR);
    EXPECT_EQ(outbox.count(), sent) << "nothing is sent to alice";
    EXPECT_TRUE(daemon_->log_shows("event=access-denied", 2)) << daemon_->log();
    EXPECT_NE(daemon_->log().find("caller_uid=" + std::to_string(uid_of("bob"))), std::string::npos)
        << daemon_->log();
}

}  // namespace
}  // namespace lwauth::test
