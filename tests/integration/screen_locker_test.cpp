// Screen lockers that run as the user: Login.Start from a connection whose EUID is not 0,
// for the user of that UID only, against the real lwauthd on a private bus with the
// shipped bus policy. The client is a child process that has dropped to the user's UID.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "harness.hpp"

namespace lwauth::test {
namespace {

constexpr const char* kPhone = "+819012345678";

std::string joined(const LoginResult& result) {
    std::string all;
    for (const auto& line : result.lines) {
        all += line + "\n";
    }
    return all;
}

// Each test runs behind the shipped bus policy and behind one that allows everything:
// lwauthd itself refuses another user's login.
class ScreenLocker : public ::testing::TestWithParam<bool> {
  protected:
    void SetUp() override {
        bus_ = std::make_unique<PrivateBus>(dir_.path(), /*permissive=*/GetParam());
        daemon_ = std::make_unique<Daemon>(
            dir_.path(), bus_->address(),
            default_test_policy(dir_ / "outbox.jsonl", "[policy]\nlogin_with_phone = allowed\n"));
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
        ASSERT_TRUE(daemon_->enroll("alice", "phone", kPhone));
    }

    /// A login of `user` by a process running as `as_user`, from the locked display.
    LoginResult lock_screen_login(const std::string& as_user, const std::string& user,
                                  const char* mode, OutboxFd& outbox) {
        return login_as_uid_from(bus_->address(), uid_of(as_user), user,
                                 LoginPlace{"i3lock", "", ":0", mode},
                                 [&] { return outbox.next_code(); });
    }

    TempDir dir_{"lwauth-screen-locker"};
    std::unique_ptr<PrivateBus> bus_;
    std::unique_ptr<Daemon> daemon_;
};

TEST_P(ScreenLocker, TheUsersOwnProcessLogsInWithThePhonesCode) {
    OutboxFd outbox(daemon_->outbox());
    LoginResult login = lock_screen_login("alice", "alice", "primary", outbox);
    EXPECT_EQ(login.verdict, "success") << joined(login) << daemon_->log();
    EXPECT_EQ(login.prompts, 1);
    EXPECT_NE(joined(login).find("Type p to log in with your password instead."), std::string::npos)
        << joined(login);
    EXPECT_TRUE(daemon_->log_shows("event=login-start")) << daemon_->log();
    EXPECT_NE(daemon_->log().find("method=phone"), std::string::npos) << daemon_->log();
}

TEST_P(ScreenLocker, TheUsersOwnProcessPassesTwoStepWithTheCode) {
    OutboxFd outbox(daemon_->outbox());
    LoginResult login = lock_screen_login("alice", "alice", "second_factor", outbox);
    EXPECT_EQ(login.verdict, "success") << joined(login) << daemon_->log();

    // The same tries as any login: a wrong code is refused.
    LoginResult wrong = login_as_uid_from(bus_->address(), uid_of("alice"), "alice",
                                          LoginPlace{"i3lock", "", ":0", "second_factor"},
                                          [] { return std::string("000000x"); });
    EXPECT_EQ(wrong.verdict, "denied") << joined(wrong);
}

TEST_P(ScreenLocker, AnotherUsersNameIsRefusedAndLogged) {
    OutboxFd outbox(daemon_->outbox());
    size_t sent = outbox.count();
    for (const char* mode : {"primary", "second_factor"}) {
        LoginResult refused = lock_screen_login("bob", "alice", mode, outbox);
        EXPECT_EQ(refused.verdict, "org.lwauth.Auth1.Error.AccessDenied") << mode;
        EXPECT_EQ(refused.prompts, 0);
    }
    EXPECT_EQ(outbox.count(), sent) << "nothing is sent to alice";
    std::string uid = "caller_uid=" + std::to_string(uid_of("bob"));
    EXPECT_TRUE(daemon_->log_shows("event=access-denied", 2)) << daemon_->log();
    EXPECT_NE(daemon_->log().find(uid), std::string::npos) << daemon_->log();
    EXPECT_NE(daemon_->log().find("user=alice"), std::string::npos) << daemon_->log();

    // root's name, and a name the host does not know, likewise.
    EXPECT_EQ(lock_screen_login("bob", "root", "primary", outbox).verdict,
              "org.lwauth.Auth1.Error.AccessDenied");
    EXPECT_EQ(lock_screen_login("bob", "nosuchuser", "primary", outbox).verdict,
              "org.lwauth.Auth1.Error.AccessDenied");
}

// Quick login is for whoever sits at this machine. A caller other than root may say its
// login is local (no session_remote): lwauthd believes only the caller's own logind
// session, and this test's processes have none, as a process started over SSH outside
// logind would not either.
class ScreenLockerLocality : public ::testing::Test {
  protected:
    void SetUp() override {
        bus_ = std::make_unique<PrivateBus>(dir_.path());
        daemon_ = std::make_unique<Daemon>(
            dir_.path(), bus_->address(),
            default_test_policy(dir_ / "outbox.jsonl",
                                "[policy]\nlogin_with_phone = allowed\n[quick_login]\npin = "
                                "allowed\nargon2_memory = 8M\nargon2_time = 1\n"));
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
        ASSERT_TRUE(daemon_->enroll("alice", "phone", kPhone));
        // A full login arms quick login and opens the window in which alice sets her PIN.
        // pam_setcred confirms it after the whole stack let alice in.
        OutboxFd outbox(daemon_->outbox());
        LoginPlace place;
        place.confirm = true;
        LoginResult full = login_as_root_from(bus_->address(), "alice", place,
                                              [&] { return outbox.next_code(); });
        ASSERT_EQ(full.verdict, "success") << daemon_->log();
        ASSERT_EQ(full.confirmed, "ok") << daemon_->log();
        RunResult set = daemon_->ctl("alice", {"pin", "set"}, "480213\n480213\n");
        ASSERT_EQ(set.exit_code, 0) << set.out << set.err << daemon_->log();
    }

    /// The lines of a passwordless login of alice from the display ":0", by root or by
    /// alice's own process; every prompt is answered `p` (the password instead).
    std::string offered_at_display(bool as_root) {
        LoginPlace display{"i3lock", "", ":0", "primary"};
        auto password = [] { return std::string("p"); };
        LoginResult login =
            as_root ? login_as_root_from(bus_->address(), "alice", display, password)
                    : login_as_uid_from(bus_->address(), uid_of("alice"), "alice", display,
                                        password);
        EXPECT_EQ(login.verdict, "ignore") << joined(login) << daemon_->log();
        return joined(login);
    }

    TempDir dir_{"lwauth-screen-locker-locality"};
    std::unique_ptr<PrivateBus> bus_;
    std::unique_ptr<Daemon> daemon_;
};

TEST_F(ScreenLockerLocality, AProcessWithoutALocalSeatSessionIsNotOfferedThePin) {
    // root (pam_lwauth.so) has found the login local: the PIN is offered.
    EXPECT_NE(offered_at_display(true).find("your PIN"), std::string::npos) << daemon_->log();
    // alice's own process says the same of itself, with no logind session to show for it.
    std::string lines = offered_at_display(false);
    EXPECT_EQ(lines.find("your PIN"), std::string::npos) << lines;
}

INSTANTIATE_TEST_SUITE_P(Buses, ScreenLocker, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& param) {
                             return param.param ? "PermissiveBus" : "ShippedBusPolicy";
                         });

}  // namespace
}  // namespace lwauth::test
