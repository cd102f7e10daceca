// Quick login with a fingerprint through the real PAM stack: the real pam_lwauth.so
// mode=primary loaded by libpam under pam_wrapper, the real lwauthd on a private system
// bus, and the fake fprintd (tests/fakes/fprintd.py) on the same bus, driven as a person
// at the terminal would: touch the reader, then Enter.
//
// Quick login is armed by a full login, which lwauthd records (users.quick_armed_at);
// here the state database is given one before lwauthd serves, as a full login an hour
// ago would have left it.
#include <gtest/gtest.h>
extern "C" {
#include <libpamtest.h>  // a C header without extern "C" of its own
}
#include <security/pam_appl.h>
#include <signal.h>
#include <time.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "conversation.hpp"
#include "fake_fprintd.hpp"
#include "harness.hpp"
#include "pam_service.hpp"

namespace lwauth::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kPassword = "correct horse";
constexpr const char* kTouch = "Touch the fingerprint reader, or press Enter for other choices: ";
const std::vector<std::string> kClaimToRelease = {"ListEnrolledFingers", "Claim", "VerifyStart",
                                                  "VerifyStop", "Release"};

// The person at the terminal: the password when asked, and `at_reader` (given how many
// times the reader's prompt came, from 1) at the fingerprint's prompt.
Person new_person(const std::function<std::string(int count)>& at_reader) {
    Person person;
    person.method_prompt = kTouch;
    person.password = kPassword;
    person.at_method = [at_reader, count = 0](const std::string&) mutable {
        return std::optional<std::string>(at_reader(++count));
    };
    return person;
}

class FingerprintPam : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        // DESIGN.md's stack, less 2-step; PAM_RHOST and PAM_TTY from the environment.
        make_pam_service("fingerprint", kPassword, [](const std::string& matrix) {
            return passwordless_stack(matrix, " timeout=60", false);
        });
    }

    void SetUp() override {
        bus_ = std::make_unique<PrivateBus>(dir_.path(), false, kFprintdBusPolicy);
        fake_ = std::make_unique<FakeFprintd>(dir_.path(), bus_->address());
        daemon_ = std::make_unique<Daemon>(
            dir_.path(), bus_->address(),
            default_test_policy(dir_ / "outbox.jsonl") +
                "[quick_login]\nfingerprint = allowed\n");
        // The first start makes the state database; bob's full login goes in before the
        // second.
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
        ASSERT_EQ(daemon_->stop(), 0) << daemon_->log();
        int64_t hour_ago = static_cast<int64_t>(::time(nullptr)) - 3600;
        sql("INSERT INTO users (name, full_login_at, quick_armed_at) VALUES ('bob', " +
            std::to_string(hour_ago) + ", " + std::to_string(hour_ago) + ");");
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
        // The module runs inside this process: point it at the private bus.
        setenv("DBUS_SYSTEM_BUS_ADDRESS", bus_->address().c_str(), 1);
        unsetenv("PAM_RHOST");
        // The console: with no logind session (as here) only a virtual console or an X
        // display of this host makes a login local.
        setenv("PAM_TTY", "tty1", 1);
    }
    void TearDown() override {
        unsetenv("PAM_RHOST");
        unsetenv("PAM_TTY");
        unsetenv("LANG");
    }

    std::string sql(const std::string& statement) const {
        RunResult r =
            run({"/usr/bin/sqlite3", (daemon_->state_dir() / "lwauth.db").string(), statement},
                base_env());
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return r.out;
    }

    // pam_authenticate for `user` in the fingerprint stack.
    static int authenticate(const std::string& user, Person& person) {
        struct pam_testcase tests[] = {pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS)};
        _pamtest_conv("fingerprint", user.c_str(), converse, &person, tests, 1, nullptr);
        return tests[0].op_rv;
    }

    // Waits until the fake has seen `count` calls on `reader` (a whole verification:
    // kClaimToRelease), and for lwauthd to take the last answer: the finger was read.
    void until_read(const std::string& reader, size_t count) {
        auto deadline = std::chrono::steady_clock::now() + 20s;
        while (fake_->calls(reader).size() < count && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(20ms);
        }
        ASSERT_GE(fake_->calls(reader).size(), count) << daemon_->log();
        std::this_thread::sleep_for(300ms);
    }

    TempDir dir_{"lwauth-fingerprint-login"};
    std::unique_ptr<PrivateBus> bus_;
    std::unique_ptr<FakeFprintd> fake_;
    std::unique_ptr<Daemon> daemon_;
};

TEST_F(FingerprintPam, ATouchThenEnterLogsInWithoutThePassword) {
    std::string reader = fake_->add_reader("bob", {"right-index-finger"}, {{"verify-match", true}});
    Person person = new_person([&](int) {
        until_read(reader, kClaimToRelease.size());
        return std::string();
    });
    EXPECT_EQ(authenticate("bob", person), PAM_SUCCESS) << person.shown << daemon_->log();
    EXPECT_EQ(person.method_prompts, 1) << person.shown;
    EXPECT_EQ(person.password_prompts, 0) << person.shown;
    EXPECT_EQ(fake_->calls(reader), kClaimToRelease);
    EXPECT_TRUE(daemon_->log_shows("event=fingerprint-match")) << daemon_->log();
}

TEST_F(FingerprintPam, AFailedMatchIsCountedInTheStateDatabaseAndPTakesThePassword) {
    std::string reader =
        fake_->add_reader("bob", {"right-index-finger"}, {{"verify-no-match", true}});
    Person person = new_person([&](int count) {
        if (count == 1) {
            until_read(reader, kClaimToRelease.size());
            fake_->script(reader, {});  // nobody touches the reader again
            return std::string();
        }
        until_read(reader, kClaimToRelease.size() + 3);  // reading again, up to VerifyStart
        return std::string("p");
    });
    EXPECT_EQ(authenticate("bob", person), PAM_SUCCESS) << person.shown << daemon_->log();
    EXPECT_EQ(person.method_prompts, 2) << person.shown;
    EXPECT_EQ(person.password_prompts, 1) << person.shown;
    EXPECT_NE(person.shown.find("The fingerprint did not match.\n" + std::string(kTouch)),
              std::string::npos)
        << person.shown;
    EXPECT_EQ(sql("SELECT fingerprint_failures FROM users WHERE name = 'bob';"), "1\n");
    // The second verification was stopped and the reader released.
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (fake_->calls(reader).size() < 2 * kClaimToRelease.size() &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(20ms);
    }
    EXPECT_EQ(fake_->calls(reader).size(), 2 * kClaimToRelease.size());
}

TEST_F(FingerprintPam, ARemoteSessionIsNeverOfferedIt) {
    std::string reader = fake_->add_reader("bob", {"right-index-finger"}, {{"verify-match", true}});
    setenv("PAM_RHOST", "192.0.2.7", 1);
    Person person = new_person([](int) { return std::string(); });
    EXPECT_EQ(authenticate("bob", person), PAM_SUCCESS) << person.shown << daemon_->log();
    EXPECT_EQ(person.method_prompts, 0) << person.shown;
    EXPECT_EQ(person.password_prompts, 1) << person.shown;
    EXPECT_TRUE(fake_->calls(reader).empty());
}

// A Japanese session (the application's LANG): the reader's prompt and a failed match
// in Japanese.
TEST_F(FingerprintPam, AJapaneseSessionIsToldInJapanese) {
    setenv("LANG", "ja_JP.UTF-8", 1);
    std::string reader =
        fake_->add_reader("bob", {"right-index-finger"}, {{"verify-no-match", true}});
    Person person = new_person([&](int count) {
        if (count == 1) {
            until_read(reader, kClaimToRelease.size());
            fake_->script(reader, {});
            return std::string();
        }
        until_read(reader, kClaimToRelease.size() + 3);
        return std::string("p");
    });
    const std::string touch = "指紋センサーに触れてください（他の方法を選ぶには Enter キー）: ";
    person.method_prompt = touch;
    EXPECT_EQ(authenticate("bob", person), PAM_SUCCESS) << person.shown << daemon_->log();
    EXPECT_EQ(person.method_prompts, 2) << person.shown;
    EXPECT_NE(person.shown.find("指紋が一致しませんでした。\n" + touch), std::string::npos)
        << person.shown;
}

// The failure matrix's hung fprintd (docs/SECURITY.md): the fake stopped with SIGSTOP, so
// that lwauthd's calls to it are never answered and the bus keeps its name. The login
// ends before the module's timeout= (60 s here) and the fingerprint opens nothing: the
// password is asked, and only the right one lets the user in.
class HungFprintd {
  public:
    explicit HungFprintd(FakeFprintd& fake) : pid_(fake.process().pid()) { ::kill(pid_, SIGSTOP); }
    ~HungFprintd() { ::kill(pid_, SIGCONT); }
    HungFprintd(const HungFprintd&) = delete;
    HungFprintd& operator=(const HungFprintd&) = delete;

  private:
    pid_t pid_;
};

TEST_F(FingerprintPam, AHungFprintdBeforeTheLoginLeavesOnlyThePasswordWithinTheDeadline) {
    std::string reader = fake_->add_reader("bob", {"right-index-finger"}, {{"verify-match", true}});
    HungFprintd hung(*fake_);
    auto started = std::chrono::steady_clock::now();
    std::chrono::steady_clock::duration gave_up{};
    Person person = new_person([&](int) {
        // The user waits at the prompt; lwauthd gives up on fprintd by itself (its
        // calls time out: 30 s).
        for (int i = 0; i < 600 && daemon_->log_count("event=fprint-unavailable") == 0; ++i) {
            std::this_thread::sleep_for(100ms);
        }
        gave_up = std::chrono::steady_clock::now() - started;
        return std::string();
    });
    person.password = "not the password";
    EXPECT_EQ(authenticate("bob", person), PAM_AUTH_ERR) << person.shown << daemon_->log();
    EXPECT_LT(gave_up, 60s) << "lwauthd gave up before the module's timeout=" << daemon_->log();
    EXPECT_NE(person.shown.find("The fingerprint service is not available."), std::string::npos)
        << person.shown;
    EXPECT_EQ(person.method_prompts, 1) << person.shown;
    EXPECT_EQ(person.password_prompts, 1) << person.shown;
}

TEST_F(FingerprintPam, AFprintdThatHangsMidVerificationLeavesOnlyThePasswordWithinTheDeadline) {
    std::string reader = fake_->add_reader("bob", {"right-index-finger"}, {});  // no finger comes
    std::unique_ptr<HungFprintd> hung;
    Person person = new_person([&](int) {
        // The reader is live (VerifyStart answered), then fprintd stops answering; the
        // user presses Enter, which stops the verification through the hung fprintd.
        auto deadline = std::chrono::steady_clock::now() + 20s;
        while (fake_->calls(reader).size() < 3 && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(20ms);
        }
        hung = std::make_unique<HungFprintd>(*fake_);
        return std::string();
    });
    person.password = "not the password";
    auto started = std::chrono::steady_clock::now();
    EXPECT_EQ(authenticate("bob", person), PAM_AUTH_ERR) << person.shown << daemon_->log();
    EXPECT_LT(std::chrono::steady_clock::now() - started, 60s) << "within the module's timeout=";
    EXPECT_EQ(person.password_prompts, 1) << person.shown;
    hung.reset();
    Person right = new_person([](int) { return std::string("p"); });
    EXPECT_EQ(authenticate("bob", right), PAM_SUCCESS) << right.shown << daemon_->log();
}

}  // namespace
}  // namespace lwauth::test
