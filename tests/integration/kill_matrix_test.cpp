// The failure matrix (docs/SECURITY.md, "Failure matrix"): the real lwauthd SIGKILLed at
// boundaries of logins, resends, enrolments and administrators' changes, then started
// again on the same state. Each point is seen from outside, never from a hook in lwauthd:
// the gateway fake recording a request it holds (the code counted, not yet sent), or one
// it took and holds the answer of (sent, not yet answered), a prompt of the next step
// (what came before it was answered), or an event in lwauthd's log (what it reports was
// done). After each kill the database passes PRAGMA integrity_check, and after the
// restart nothing counted is forgotten and nothing is half made.
#include <fcntl.h>
#include <unistd.h>

#include <future>

#include "gateway_fixture.hpp"

namespace lwauth::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kPhone = "+819012345678";
// A store that fails where 2-step would be turned on.
constexpr const char* kRefuseTwoStep =
    "CREATE TRIGGER refuse_two_step BEFORE UPDATE OF two_step ON users "
    "WHEN NEW.two_step = 1 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;";

class KillMatrix : public GatewayTest {
  protected:
    // A 60 s gateway timeout: every hold ends by the kill, never by lwauthd giving up.
    std::string gateway_channels() override {
        return "[channel.gateway]\ntype = webhook\nserves = sms\nurl = " + base_url() +
               "/webhook\nhmac_secret_file = " + secret_file("webhook", "s3cret") + "\n" +
               ca_line() + "timeout = 60s\n";
    }
    std::string code_channels() const override { return "sms, email"; }
    std::string policy_sections() const override {
        // No step-up before a change: the changes themselves are what is killed.
        return "[policy]\ntwo_step = optional\nself_service_reauth = none\n"
               "[lockout]\nmax_failures = 5\nduration = 15m\n"
               "[quick_login]\npin = allowed\nargon2_memory = 8M\nargon2_time = 1\n"
               "[user:carol]\nlockout.max_failures = 2\ncode.tries = 10\n"
               "[user:grace]\ntotp = allowed\n\n";
    }

    // Waits up to 20 s for `done`.
    static bool eventually(const std::function<bool()>& done) {
        auto deadline = std::chrono::steady_clock::now() + 20s;
        while (std::chrono::steady_clock::now() < deadline) {
            if (done()) {
                return true;
            }
            std::this_thread::sleep_for(10ms);
        }
        return done();
    }

    // Every request the gateway fake recorded for the webhook, delivered or held.
    [[nodiscard]] size_t webhook_requests() const {
        return gateway_requests(dir_ / "gateway/requests.jsonl", "webhook");
    }

    // Makes the gateway hold the next request, then waits until it holds one more than
    // before (`taken`: after it took the message, holding only its answer).
    void hold_next_request(bool taken = false) {
        control(std::string(R"({"service": "webhook", "mode": ")") +
                (taken ? "taken:timeout" : "timeout") + R"(", "count": 1})");
        held_after_ = webhook_requests() + 1;
    }
    [[nodiscard]] bool gateway_holds() const {
        return eventually([&] { return webhook_requests() >= held_after_; });
    }

    // Waits for one more `event` in the log than there was when `mark_log` was called.
    void mark_log(const std::string& event) {
        event_ = "[event=" + event + " ";
        events_before_ = daemon_->log_count(event_);
    }
    [[nodiscard]] bool log_shows_event() const {
        return daemon_->log_shows(event_, events_before_ + 1);
    }

    // SIGKILL, the database checked as the crash left it, then lwauthd started again.
    void kill_and_restart() {
        daemon_->kill();
        EXPECT_EQ(daemon_->sql("PRAGMA integrity_check;"), "ok\n");
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
        EXPECT_EQ(daemon_->sql("PRAGMA integrity_check;"), "ok\n");
    }

    // Sends counted under a cap key ("user:alice"...).
    [[nodiscard]] int sends(const std::string& key) const {
        return std::stoi(
            daemon_->sql("SELECT count(*) FROM send_log WHERE keys LIKE '%\"" + key + "\"%';"));
    }
    [[nodiscard]] std::string user_column(const std::string& user,
                                          const std::string& column) const {
        std::string out =
            daemon_->sql("SELECT " + column + " FROM users WHERE name = '" + user + "';");
        return out.empty() ? out : out.substr(0, out.size() - 1);
    }
    [[nodiscard]] int contacts(const std::string& user) const {
        return std::stoi(
            daemon_->sql("SELECT count(*) FROM contacts WHERE user = '" + user + "';"));
    }

    [[nodiscard]] bool two_step_on(const std::string& user) const {
        return daemon_->sql("SELECT count(*) FROM users WHERE name = '" + user +
                            "' AND two_step = 1;") == "1\n";
    }

    // The code the webhook carried last.
    [[nodiscard]] std::string webhook_code() const {
        auto texts = delivered("webhook");
        return texts.empty() ? std::string() : code_in(texts.back().value("text", ""));
    }
    // A code of the same length that is not the one the webhook carried last.
    [[nodiscard]] std::string wrong_code() const {
        std::string code = webhook_code();
        if (code.empty()) {
            return "000000";
        }
        code.back() = code.back() == '0' ? '1' : '0';
        return code;
    }

    // A login over the bus in the background, answering every prompt with answer_of().
    std::future<LoginResult> login_in_background(const std::string& user,
                                                 std::function<std::string()> answer_of,
                                                 const LoginPlace& place = {}) {
        return std::async(std::launch::async, [this, user, answer_of, place] {
            return login_as_root_from(bus_->address(), user, place, answer_of);
        });
    }
    // lwauthctl in the background.
    std::future<RunResult> ctl_in_background(const std::string& user, std::vector<std::string> args,
                                             std::string input = "") {
        return std::async(std::launch::async,
                          [this, user, args, input] { return daemon_->ctl(user, args, input); });
    }

    // An authenticator app added for grace, waiting for its first code: its secret.
    std::string start_app() {
        RunResult add = daemon_->ctl("grace", {"--json", "totp", "add"});
        EXPECT_EQ(add.exit_code, 0) << add.err << daemon_->log();
        std::string uri = nlohmann::json::parse(add.out, nullptr, false).value("uri", "");
        return uri.substr(uri.find("secret=") + 7, 32);
    }
    // An authenticator app enrolled and confirmed for grace: its secret.
    std::string enrol_app() {
        std::string secret = start_app();
        RunResult confirm = daemon_->ctl("grace", {"totp", "confirm", oathtool_totp(secret)});
        EXPECT_EQ(confirm.exit_code, 0) << confirm.out << confirm.err;
        return secret;
    }

    size_t held_after_ = 0;
    std::string event_;
    size_t events_before_ = 0;
};

// ---- logins ---------------------------------------------------------------------------

TEST_F(KillMatrix, ACodeCountedButNotYetSentStaysCounted) {
    enroll("alice", kPhone);
    hold_next_request();
    auto login = login_in_background("alice", [] { return std::string("000000"); });
    ASSERT_TRUE(gateway_holds());
    kill_and_restart();
    EXPECT_NE(login.get().verdict, "success");
    EXPECT_EQ(sends("user:alice"), 1) << "reserved before it left, kept through the kill";
}

TEST_F(KillMatrix, ACodeTheGatewayTookStaysCountedAndDiesWithTheLogin) {
    enroll("alice", kPhone);
    hold_next_request(/*taken=*/true);
    auto login = login_in_background("alice", [] { return std::string("000000"); });
    ASSERT_TRUE(gateway_holds());
    std::string sent = webhook_code();
    ASSERT_FALSE(sent.empty());
    kill_and_restart();
    EXPECT_NE(login.get().verdict, "success");
    EXPECT_EQ(sends("user:alice"), 1);
    // The code that reached the phone belonged to the login that died with lwauthd.
    LoginResult again = login_as_root_with(bus_->address(), "alice", [&] { return sent; });
    EXPECT_NE(again.verdict, "success");
    EXPECT_EQ(sends("user:alice"), 2);
}

TEST_F(KillMatrix, AWrongCodeCountedBeforeTheKillIsNotForgotten) {
    enroll("alice", kPhone);
    int prompts = 0;
    auto login = login_in_background("alice", [&] {
        if (prompts++ == 0) {
            return wrong_code();
        }
        // The second prompt: the wrong code was answered, so it was counted.
        daemon_->kill();
        return std::string("000000");
    });
    EXPECT_NE(login.get().verdict, "success");
    EXPECT_EQ(prompts, 2);
    EXPECT_EQ(daemon_->sql("PRAGMA integrity_check;"), "ok\n");
    ASSERT_TRUE(daemon_->start()) << daemon_->log();
    EXPECT_EQ(user_column("alice", "failures"), "1");
}

TEST_F(KillMatrix, TheCodeThatLocksKeepsTheLockThroughAKill) {
    enroll("carol", kPhone);
    mark_log("locked-out");
    auto login = login_in_background("carol", [&] { return wrong_code(); });
    ASSERT_TRUE(log_shows_event()) << daemon_->log();
    kill_and_restart();
    login.get();
    EXPECT_GT(std::stoll(user_column("carol", "locked_until")), 0);
    size_t before = delivered("webhook").size();
    LoginResult again =
        login_as_root_with(bus_->address(), "carol", [&] { return webhook_code(); });
    EXPECT_NE(again.verdict, "success");
    EXPECT_EQ(delivered("webhook").size(), before) << "no code is sent to a locked user";
}

TEST_F(KillMatrix, AResendHeldByTheGatewayStaysCounted) {
    enroll("alice", kPhone);
    std::promise<void> holding;
    int prompts = 0;
    auto login = login_in_background("alice", [&] {
        if (prompts++ == 0) {
            hold_next_request();
            holding.set_value();
            return std::string("r");
        }
        return std::string("000000");
    });
    holding.get_future().wait();
    ASSERT_TRUE(gateway_holds());
    kill_and_restart();
    EXPECT_NE(login.get().verdict, "success");
    EXPECT_EQ(sends("user:alice"), 2) << "the first code and the resend";
}

TEST_F(KillMatrix, ASuccessKilledBeforeItsConfirmationRecordsNoFullLogin) {
    enroll("alice", kPhone);
    // The verdict given, the stack not yet done (no Confirm, as pam_setcred would send).
    ASSERT_EQ(login_as_root_with(bus_->address(), "alice", [&] { return webhook_code(); }).verdict,
              "success");
    kill_and_restart();
    EXPECT_EQ(user_column("alice", "full_login_at"), "0") << "only Confirm records it";
    EXPECT_EQ(user_column("alice", "quick_armed_at"), "0") << "quick login stays unarmed";
}

// ---- enrolment -------------------------------------------------------------------------

TEST_F(KillMatrix, AConfirmationCodeHeldByTheGatewayStaysCountedAndSavesNothing) {
    hold_next_request();
    auto add = ctl_in_background("alice", {"contact", "add", "phone", kPhone});
    ASSERT_TRUE(gateway_holds());
    kill_and_restart();
    EXPECT_NE(add.get().exit_code, 0);
    EXPECT_EQ(sends("confirm-user:alice"), 1);
    EXPECT_EQ(contacts("alice"), 0);
    EXPECT_EQ(daemon_->ctl("alice", {"status"}).out.find("waiting"), std::string::npos)
        << "nothing is waiting for a code after the restart";
}

TEST_F(KillMatrix, AContactWaitingForItsCodeOutlivesAKillWithItsTries) {
    mark_log("contact-pending");
    ASSERT_EQ(daemon_->ctl("alice", {"contact", "add", "phone", kPhone}).exit_code, 0);
    ASSERT_TRUE(log_shows_event());
    std::string code = webhook_code();
    EXPECT_EQ(daemon_->ctl("alice", {"contact", "confirm", "phone", wrong_code()}).exit_code, 1);
    std::string tries = daemon_->sql("SELECT tries_left FROM confirmations WHERE user = 'alice';");
    EXPECT_EQ(tries, "2\n") << "one of the 3 tries taken";
    kill_and_restart();
    EXPECT_EQ(daemon_->sql("SELECT tries_left FROM confirmations WHERE user = 'alice';"), tries);
    EXPECT_NE(daemon_->ctl("alice", {"status"}).out.find("waiting"), std::string::npos)
        << "still waiting for its code after the restart";
    auto confirmed = daemon_->ctl("alice", {"contact", "confirm", "phone", code});
    EXPECT_EQ(confirmed.exit_code, 0) << confirmed.err << daemon_->log();
    EXPECT_EQ(contacts("alice"), 1);
    EXPECT_TRUE(two_step_on("alice"));
    EXPECT_EQ(daemon_->sql("SELECT count(*) FROM confirmations;"), "0\n");
    EXPECT_EQ(sends("confirm-user:alice"), 1) << "no second code was needed";
}

TEST_F(KillMatrix, AVerifiedContactSurvivesAKillWithTwoStepOn) {
    ASSERT_EQ(daemon_->ctl("alice", {"contact", "add", "phone", kPhone}).exit_code, 0);
    mark_log("contact-verified");
    ASSERT_EQ(daemon_->ctl("alice", {"contact", "confirm", "phone", webhook_code()}).exit_code, 0);
    ASSERT_TRUE(log_shows_event());
    kill_and_restart();
    EXPECT_EQ(contacts("alice"), 1);
    EXPECT_TRUE(two_step_on("alice"));
    EXPECT_EQ(login_as_root_with(bus_->address(), "alice", [&] { return webhook_code(); }).verdict,
              "success");
}

TEST_F(KillMatrix, ARemovedLastContactStaysRemovedWithTwoStepOff) {
    enroll("alice", kPhone);
    mark_log("contact-removed");
    ASSERT_EQ(daemon_->ctl("alice", {"contact", "remove", "phone"}).exit_code, 0);
    ASSERT_TRUE(log_shows_event());
    kill_and_restart();
    EXPECT_EQ(contacts("alice"), 0);
    EXPECT_FALSE(two_step_on("alice"));
}

TEST_F(KillMatrix, TwoStepTurnedOffSurvivesAKillWithTheContactKept) {
    enroll("alice", kPhone);
    mark_log("two-step");
    ASSERT_EQ(daemon_->ctl("alice", {"two-step", "off"}).exit_code, 0) << daemon_->log();
    ASSERT_TRUE(log_shows_event());
    kill_and_restart();
    EXPECT_FALSE(two_step_on("alice"));
    EXPECT_EQ(contacts("alice"), 1);
}

// A verified contact turns 2-step on: the two are one change. A kill between them cannot be
// aimed at from outside, so the store is made to fail there instead, every time: a trigger
// of the test's in the database refuses to turn 2-step on. The confirmation must then
// save nothing, and stay open for the same code once the store works again.
TEST_F(KillMatrix, AContactAndTheTwoStepItTurnsOnAreSavedTogetherOrNotAtAll) {
    ASSERT_EQ(daemon_->ctl("alice", {"contact", "add", "phone", kPhone}).exit_code, 0);
    std::string code = webhook_code();
    daemon_->sql(kRefuseTwoStep);
    EXPECT_NE(daemon_->ctl("alice", {"contact", "confirm", "phone", code}).exit_code, 0);
    EXPECT_EQ(contacts("alice"), 0) << "a verified contact without the 2-step it turns on";
    EXPECT_FALSE(two_step_on("alice"));
    daemon_->sql("DROP TRIGGER refuse_two_step;");
    EXPECT_EQ(daemon_->ctl("alice", {"contact", "confirm", "phone", code}).exit_code, 0)
        << daemon_->log();
    EXPECT_EQ(contacts("alice"), 1);
    EXPECT_TRUE(two_step_on("alice"));
}

// The same for an authenticator app's first code.
TEST_F(KillMatrix, AnAppAndTheTwoStepItTurnsOnAreSavedTogetherOrNotAtAll) {
    std::string secret = start_app();
    daemon_->sql(kRefuseTwoStep);
    EXPECT_NE(daemon_->ctl("grace", {"totp", "confirm", oathtool_totp(secret)}).exit_code, 0);
    EXPECT_EQ(user_column("grace", "totp_sealed IS NULL AND totp_pending_sealed IS NOT NULL"), "1")
        << "an app in use without the 2-step it turns on";
    EXPECT_FALSE(two_step_on("grace"));
    daemon_->sql("DROP TRIGGER refuse_two_step;");
    EXPECT_EQ(daemon_->ctl("grace", {"totp", "confirm", oathtool_totp(secret)}).exit_code, 0)
        << daemon_->log();
    EXPECT_EQ(user_column("grace", "totp_sealed IS NOT NULL"), "1");
    EXPECT_TRUE(two_step_on("grace"));
}

TEST_F(KillMatrix, APinSetSurvivesAKill) {
    enroll("alice", kPhone);
    LoginPlace place;
    place.confirm = true;
    ASSERT_EQ(login_as_root_from(bus_->address(), "alice", place, [&] { return webhook_code(); })
                  .confirmed,
              "ok");
    mark_log("pin-set");
    ASSERT_EQ(daemon_->ctl("alice", {"pin", "set"}, "480213\n480213\n").exit_code, 0)
        << daemon_->log();
    ASSERT_TRUE(log_shows_event());
    kill_and_restart();
    EXPECT_EQ(user_column("alice", "substr(pin_hash, 1, 10)"), "$argon2id$");
    EXPECT_EQ(user_column("alice", "pin_failures"), "0");
}

TEST_F(KillMatrix, AnAppWaitingForItsFirstCodeIsNotActiveAfterAKill) {
    mark_log("totp-pending");
    RunResult add = daemon_->ctl("grace", {"--json", "totp", "add"});
    ASSERT_EQ(add.exit_code, 0) << add.err;
    ASSERT_TRUE(log_shows_event());
    kill_and_restart();
    EXPECT_EQ(user_column("grace", "totp_sealed IS NULL"), "1");
    EXPECT_FALSE(two_step_on("grace"));
}

TEST_F(KillMatrix, AConfirmedAppSurvivesAKillWithItsStepUsed) {
    std::string secret = start_app();
    std::string code = oathtool_totp(secret);
    mark_log("totp-added");
    ASSERT_EQ(daemon_->ctl("grace", {"totp", "confirm", code}).exit_code, 0);
    ASSERT_TRUE(log_shows_event());
    kill_and_restart();
    EXPECT_EQ(user_column("grace", "totp_sealed IS NOT NULL AND totp_last_step >= 0"), "1");
    EXPECT_TRUE(two_step_on("grace"));
    EXPECT_NE(login_as_root_with(bus_->address(), "grace", [&] { return code; }).verdict, "success")
        << "the enrolling code stays used";
}

TEST_F(KillMatrix, AnAcceptedAppCodeStaysUsedAfterAKill) {
    std::string secret = enrol_app();
    std::string code = oathtool_totp(secret, 30);
    mark_log("totp-accepted");
    auto login = login_in_background("grace", [&] { return code; });
    ASSERT_TRUE(log_shows_event()) << daemon_->log();
    kill_and_restart();
    login.get();
    EXPECT_NE(login_as_root_with(bus_->address(), "grace", [&] { return code; }).verdict, "success")
        << "used once, whatever became of the login that used it";
}

TEST_F(KillMatrix, AWrongAppCodeCountedBeforeTheKillIsNotForgotten) {
    std::string secret = enrol_app();
    std::string right = oathtool_totp(secret, 30);
    std::string wrong = right;
    wrong.back() = wrong.back() == '0' ? '1' : '0';
    int prompts = 0;
    auto login = login_in_background("grace", [&] {
        if (prompts++ == 0) {
            return wrong;
        }
        daemon_->kill();  // the prompt after the wrong code: it was counted
        return right;
    });
    EXPECT_NE(login.get().verdict, "success");
    EXPECT_EQ(prompts, 2);
    EXPECT_EQ(daemon_->sql("PRAGMA integrity_check;"), "ok\n");
    ASSERT_TRUE(daemon_->start()) << daemon_->log();
    EXPECT_EQ(user_column("grace", "failures"), "1");
}

TEST_F(KillMatrix, NewRecoveryCodesSurviveAKillWhole) {
    std::string secret = enrol_app();
    mark_log("recovery-generated");
    ASSERT_EQ(daemon_->ctl("grace", {"recovery", "generate"}).exit_code, 0) << daemon_->log();
    ASSERT_TRUE(log_shows_event());
    kill_and_restart();
    EXPECT_EQ(daemon_->sql("SELECT count(*) FROM recovery_codes WHERE user = 'grace';"), "10\n");
}

// ---- administrators' changes -----------------------------------------------------------

TEST_F(KillMatrix, AnAdministratorsTestMessageHeldByTheGatewayStaysCounted) {
    enroll("alice", kPhone);
    hold_next_request();
    auto test = ctl_in_background("root", {"admin", "test-send", "alice"});
    ASSERT_TRUE(gateway_holds());
    kill_and_restart();
    EXPECT_NE(test.get().exit_code, 0);
    EXPECT_EQ(sends("test-user:alice"), 1);
    EXPECT_EQ(sends("user:alice"), 1) << "counted as a login code too";
}

TEST_F(KillMatrix, AnAdministratorsResetSurvivesAKillWhole) {
    enroll("alice", kPhone);
    ASSERT_NE(login_as_root_with(bus_->address(), "alice", [&] { return wrong_code(); }).verdict,
              "success");
    ASSERT_NE(user_column("alice", "failures"), "0");
    mark_log("admin-action");
    ASSERT_EQ(daemon_->ctl("root", {"admin", "reset", "alice", "all"}).exit_code, 0);
    ASSERT_TRUE(log_shows_event());
    kill_and_restart();
    EXPECT_EQ(contacts("alice"), 0);
    EXPECT_FALSE(two_step_on("alice"));
    EXPECT_EQ(user_column("alice", "failures"), "0");
}

TEST_F(KillMatrix, AnAdministratorsUnlockSurvivesAKill) {
    enroll("carol", kPhone);
    ASSERT_NE(login_as_root_with(bus_->address(), "carol", [&] { return wrong_code(); }).verdict,
              "success");
    ASSERT_GT(std::stoll(user_column("carol", "locked_until")), 0);
    mark_log("admin-action");
    ASSERT_EQ(daemon_->ctl("root", {"admin", "unlock", "carol"}).exit_code, 0);
    ASSERT_TRUE(log_shows_event());
    kill_and_restart();
    EXPECT_EQ(user_column("carol", "locked_until"), "0");
    EXPECT_EQ(login_as_root_with(bus_->address(), "carol", [&] { return webhook_code(); }).verdict,
              "success");
}

// ---- a full disk ----------------------------------------------------------------------

// The state directory on a tmpfs of 4 MiB, filled up by the test; the outbox stays outside
// it, so that what fails is the database and nothing else.
class FullDisk : public ::testing::Test {
  protected:
    void SetUp() override {
        fs::create_directories(dir_ / "state");
        RunResult mount = run({"/bin/mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs",
                               (dir_ / "state").string()},
                              base_env());
        if (mount.exit_code != 0) {
            GTEST_SKIP() << "cannot mount a tmpfs here: " << mount.err;
        }
        mounted_ = true;
        bus_ = std::make_unique<PrivateBus>(dir_.path());
        daemon_ = std::make_unique<Daemon>(dir_.path(), bus_->address(),
                                           default_test_policy(dir_ / "outbox.jsonl"));
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
        ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com")) << daemon_->log();
    }
    void TearDown() override {
        daemon_.reset();
        if (mounted_) {
            EXPECT_EQ(run({"/bin/umount", (dir_ / "state").string()}, base_env()).exit_code, 0);
        }
    }

    // Writes a file until the tmpfs has no byte left.
    void fill() {
        int fd = ::open((dir_ / "state/filler").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ASSERT_GE(fd, 0);
        std::vector<char> block(65536, 'x');
        for (size_t size = block.size(); size > 0; size /= 2) {
            while (::write(fd, block.data(), size) == static_cast<ssize_t>(size)) {
            }
        }
        ::close(fd);
    }
    void free_space() { fs::remove(dir_ / "state/filler"); }

    [[nodiscard]] LoginResult login() const {
        return login_as_root_with(bus_->address(), "alice", [&] {
            return latest_code(daemon_->outbox(), "alice@example.com");
        });
    }

    TempDir dir_{"lwauth-fulldisk"};
    bool mounted_ = false;
    std::unique_ptr<PrivateBus> bus_;
    std::unique_ptr<Daemon> daemon_;
};

TEST_F(FullDisk, AFullDiskIsAClearErrorLoginsFailClosedAndNothingIsCorrupted) {
    size_t sent = read_outbox(daemon_->outbox()).size();
    fill();
    // The user is told that the code could not be sent, the administrator why.
    RunResult add = daemon_->ctl("bob", {"contact", "add", "email", "bob@example.com"});
    EXPECT_NE(add.exit_code, 0);
    EXPECT_NE(add.err.find("could not be sent"), std::string::npos) << add.out << add.err;
    EXPECT_TRUE(
        daemon_->log_shows("the state database's disk is full (database or disk is full) "
                           "[event=store-failed user=bob]"))
        << daemon_->log();
    LoginResult refused = login();
    EXPECT_EQ(refused.verdict, "org.lwauth.Auth1.Error.Unavailable") << daemon_->log();
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), sent) << "nothing sent that was not counted";
    // A change that sends nothing fails whole.
    RunResult reset = daemon_->ctl("root", {"admin", "reset", "alice", "contacts"});
    EXPECT_NE(reset.exit_code, 0);
    EXPECT_FALSE(reset.err.empty());

    free_space();
    EXPECT_EQ(daemon_->sql("PRAGMA integrity_check;"), "ok\n");
    EXPECT_EQ(daemon_->sql("SELECT count(*) FROM contacts WHERE user = 'alice';"), "1\n");
    EXPECT_EQ(login().verdict, "success") << "no restart needed" << daemon_->log();
    EXPECT_TRUE(daemon_->enroll("bob", "email", "bob@example.com"));
}

TEST_F(FullDisk, KilledOnAFullDiskAndStartedAgainAfterwardLosesNothing) {
    fill();
    EXPECT_NE(login().verdict, "success");
    daemon_->kill();
    free_space();
    EXPECT_EQ(daemon_->sql("PRAGMA integrity_check;"), "ok\n");
    ASSERT_TRUE(daemon_->start()) << daemon_->log();
    EXPECT_EQ(daemon_->sql("SELECT count(*) FROM contacts WHERE user = 'alice';"), "1\n");
    EXPECT_EQ(login().verdict, "success") << daemon_->log();
}

}  // namespace
}  // namespace lwauth::test
