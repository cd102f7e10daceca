// Quick login with a fingerprint (daemon/login/methods/fingerprint_method.*) through the
// login engine, with lwauthd's real fprintd client on a real sd-event loop over a private
// system bus, against the fake fprintd (tests/fakes/fprintd.py): a match, a failed match
// counted in the store, a scan to repeat, the timeout, a disconnected reader, fprintd
// vanishing, the pause after 5 failures and the disabling at 50 that a full login ends,
// the password chosen instead, the menu beside another method, and never a remote session.
#include "login/methods/fingerprint_method.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fprintd_test_base.hpp"
#include "harness.hpp"
#include "login/engine.hpp"
#include "lwauth/bus_names.hpp"
#include "lwauth/sd_bus.hpp"
#include "store/memory_store.hpp"
#include "timers.hpp"

namespace lwauth::test {
namespace {

constexpr const char* kUser = "alice";
constexpr const char* kOwner = ":1.42";
constexpr uint64_t kSecond = 1000 * 1000;
constexpr int64_t kArmedAt = 1'700'000'000;
constexpr const char* kPrompt = "Touch the fingerprint reader, or press Enter for other choices: ";

const std::vector<std::string> kClaimToRelease = {"ListEnrolledFingers", "Claim", "VerifyStart",
                                                  "VerifyStop", "Release"};

class TestClock final : public Clock {
  public:
    [[nodiscard]] int64_t now() const override { return now_; }
    int64_t now_ = kArmedAt + 3600;
};

// Every user exists, in a group of their own.
class AnyUsers final : public UserDirectory {
  public:
    [[nodiscard]] std::optional<std::string> name_of(uid_t) const override { return std::nullopt; }
    [[nodiscard]] std::vector<std::string> groups_of(const std::string& user) const override {
        return {user};
    }
    [[nodiscard]] bool exists(const std::string&) const override { return true; }
    [[nodiscard]] std::optional<uid_t> uid_of(const std::string&) const override { return 40001; }
};

// Another passwordless method (the PIN's place in the menu): asks once, denies.
class OtherMethod final : public LoginMethod {
  public:
    void begin(const MethodEnv&, Done<Step> done) override { done(Step::ask("Other: ")); }
    void answer(const MethodEnv&, std::string_view, Done<Step> done) override {
        done(Step::verdict_of(bus::kVerdictDenied));
    }
};
class OtherType final : public PrimaryMethodType {
  public:
    [[nodiscard]] std::string id() const override { return "other"; }
    [[nodiscard]] std::string label(const UserState&, Language) const override {
        return "another way";
    }
    [[nodiscard]] bool offered(const policy::Policy&, const policy::UserPolicy&, const UserState&,
                               const LoginContext&) const override {
        return true;
    }
    [[nodiscard]] std::shared_ptr<LoginMethod> create() const override {
        return std::make_shared<OtherMethod>();
    }
};

std::string texts(const Step& step, const char* type) {
    std::string out;
    for (const auto& [message_type, text] : step.messages) {
        if (message_type == type) {
            out += text + "\n";
        }
    }
    return out;
}

class FingerprintLogin : public FprintdTest {
  protected:
    void SetUp() override {
        FprintdTest::SetUp();
        store_.record_full_login(kUser, kArmedAt);
        use("[quick_login]\nfingerprint = allowed\n");
    }
    void TearDown() override {
        engine_.reset();
        fprint_.reset();
        FprintdTest::TearDown();
    }

    // The engine under `policy`, its fprintd client timing out after `timeout_usec`;
    // `before` offered ahead of the fingerprint.
    void use(const std::string& policy, uint64_t timeout_usec = 60 * kSecond,
             PrimaryMethodTypes before = {}) {
        auto loaded = policy::load_texts({{"lwauth.conf", policy}});
        ASSERT_TRUE(loaded.errors.empty()) << loaded.errors.front().to_string();
        engine_.reset();
        fprint_ = std::make_unique<FprintClient>(client_bus_.get(), *timers_, timeout_usec);
        engine_ = std::make_unique<LoginEngine>(
            EngineDeps{clock_, random_, async_store_, users_, timers_.get()},
            std::make_shared<const policy::Policy>(*loaded.policy),
            LoginMethodTypes{std::move(before), {}});
        engine_->add_method_types({{std::make_shared<FingerprintMethodType>(
                                       FingerprintDeps{clock_, async_store_, *fprint_})},
                                   {}});
    }

    // Starts a passwordless login from `place`; the first step.
    Step start(const std::string& rhost = "", const std::string& tty = "tty1") {
        got_.reset();
        engine_->start(
            LoginContext{kUser, "login", rhost, tty, bus::kModePrimary, kOwner, 30 * kSecond},
            [this](Result<Step> r) { got_ = std::move(r); });
        Step step = wait_step();
        id_ = step.id;
        return step;
    }

    // Answers the prompt; the step that comes, from the loop if need be.
    Step answer(const std::string& text) {
        got_.reset();
        engine_->answer(id_, kOwner, SecretString(text),
                        [this](Result<Step> r) { got_ = std::move(r); });
        return wait_step();
    }

    Step wait_step() {
        EXPECT_TRUE(run_until([&] { return got_.has_value(); })) << "no step came";
        if (!got_ || !got_->ok()) {
            throw std::runtime_error(got_ ? got_->error().what() : "no step");
        }
        return got_->value();
    }

    // Runs the loop for `ms` milliseconds (signals that must not end the wait).
    void run_for(int ms) {
        auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
        run_until([&] { return std::chrono::steady_clock::now() >= end; });
    }
    // Runs the loop until the fake has recorded `count` calls on the reader (a whole
    // verification: kClaimToRelease), and a little longer, for the answer of the last.
    void until_calls(const std::string& reader, size_t count) {
        ASSERT_TRUE(run_until([&] { return fake_->calls(reader).size() >= count; }))
            << "the reader saw only " << fake_->calls(reader).size() << " calls";
        run_for(200);
    }

    std::string reader(const std::vector<FprintStatus>& script, bool vanish = false) {
        return fake_->add_reader(kUser, {"right-index-finger"}, script, vanish);
    }
    // A login whose reader sends `script`: the password instead, after `lines`, with no
    // failure counted.
    void expect_password_instead(const std::vector<FprintStatus>& script, const char* lines) {
        std::string r = reader(script);
        start();
        until_calls(r, kClaimToRelease.size());
        Step step = answer("");
        EXPECT_EQ(step.verdict, bus::kVerdictIgnore);
        EXPECT_EQ(texts(step, bus::kMessageError), lines);
        EXPECT_EQ(failures().in_a_row, 0);
    }
    // A login whose reader matches after `meanwhile` (another login's doing) while it
    // waits for a finger; the step the match brings.
    Step match_after(const std::function<void()>& meanwhile) {
        std::string r = reader({{"verify-match", true}});
        EXPECT_EQ(start().prompt, kPrompt);
        meanwhile();
        until_calls(r, kClaimToRelease.size());
        return answer("");
    }
    static bool says_disabled(const Step& step) {
        return texts(step, bus::kMessageError)
                   .find("log in with your password to use your fingerprint again") !=
               std::string::npos;
    }
    FingerprintFailures failures() { return store_.load_user(kUser).fingerprint; }
    void fail_times(int n) {
        for (int i = 0; i < n; ++i) {
            (void)store_.add_fingerprint_failure(kUser, clock_.now_);
        }
    }

    std::unique_ptr<FprintClient> fprint_;
    TestClock clock_;
    OpenSslRandom random_;
    AnyUsers users_;
    MemoryStore store_;
    ImmediateStore async_store_{store_};
    std::unique_ptr<LoginEngine> engine_;
    std::optional<Result<Step>> got_;
    std::string id_;
};

TEST_F(FingerprintLogin, AMatchLogsInAndClearsTheFailures) {
    fail_times(3);
    std::string r = reader({{"verify-match", true}});
    Step first = start();
    EXPECT_EQ(first.prompt, kPrompt);
    until_calls(r, kClaimToRelease.size());
    Step step = answer("");
    EXPECT_EQ(step.verdict, bus::kVerdictSuccess);
    EXPECT_EQ(fake_->calls(r), kClaimToRelease);
    EXPECT_EQ(failures().in_a_row, 0);
}

TEST_F(FingerprintLogin, AFailedMatchIsCountedAndTheReaderReadsAgain) {
    std::string r = reader({{"verify-no-match", true}});
    start();
    until_calls(r, kClaimToRelease.size());
    fake_->script(r, {{"verify-match", true}});
    Step step = answer("");
    EXPECT_EQ(texts(step, bus::kMessageError), "The fingerprint did not match.\n");
    EXPECT_EQ(step.prompt, kPrompt);
    EXPECT_EQ(failures().in_a_row, 1);
    until_calls(r, 2 * kClaimToRelease.size());
    EXPECT_EQ(answer("").verdict, bus::kVerdictSuccess);
    EXPECT_EQ(failures().in_a_row, 0);
}

TEST_F(FingerprintLogin, PAfterAFailedMatchTakesThePasswordWithTheFailureCounted) {
    std::string r = reader({{"verify-no-match", true}});
    start();
    until_calls(r, kClaimToRelease.size());
    Step step = answer("p");
    EXPECT_EQ(step.verdict, bus::kVerdictIgnore);
    EXPECT_EQ(failures().in_a_row, 1);
    run_for(200);
    EXPECT_EQ(fake_->calls(r), kClaimToRelease) << "the reader is not read again";
}

TEST_F(FingerprintLogin, AScanToRepeatIsToldAndTheReaderKeepsWaiting) {
    std::string r = reader({{"verify-retry-scan", false}});
    start();
    until_calls(r, 3);  // up to VerifyStart
    run_for(300);       // the retry signal
    Step step = answer("");
    EXPECT_EQ(texts(step, bus::kMessageInfo), "Place your finger on the reader again.\n");
    EXPECT_EQ(step.prompt, kPrompt);
    EXPECT_EQ(fake_->calls(r).size(), 3U) << "the verification goes on";
    // Enter again with nothing read since: the password, the reader stopped and released.
    EXPECT_EQ(answer("").verdict, bus::kVerdictIgnore);
    until_calls(r, kClaimToRelease.size());
    EXPECT_EQ(fake_->calls(r), kClaimToRelease);
    EXPECT_EQ(failures().in_a_row, 0);
}

TEST_F(FingerprintLogin, EnterBeforeAnyFingerChoosesThePasswordAndReleasesTheReader) {
    std::string r = reader({});  // nobody touches the reader
    start();
    until_calls(r, 3);
    Step step = answer("");
    EXPECT_EQ(step.verdict, bus::kVerdictIgnore);
    EXPECT_TRUE(step.messages.empty());
    until_calls(r, kClaimToRelease.size());
    EXPECT_EQ(fake_->calls(r), kClaimToRelease);
}

TEST_F(FingerprintLogin, ACancelledLoginReleasesTheReader) {
    std::string r = reader({});
    start();
    until_calls(r, 3);
    engine_->cancel(id_, kOwner);
    until_calls(r, kClaimToRelease.size());
    EXPECT_EQ(fake_->calls(r), kClaimToRelease);
}

TEST_F(FingerprintLogin, ATimeoutGivesWayToThePasswordUncounted) {
    use("[quick_login]\nfingerprint = allowed\n", 500 * 1000);
    expect_password_instead({}, "No finger was read in time.\n");
}

TEST_F(FingerprintLogin, ADisconnectedReaderGivesWayToThePasswordUncounted) {
    expect_password_instead({{"verify-disconnected", true}},
                            "The fingerprint reader was disconnected.\n");
}

TEST_F(FingerprintLogin, FprintdVanishingGivesWayToThePassword) {
    reader({{"verify-retry-scan", false}}, /*vanish=*/true);
    start();
    ASSERT_TRUE(run_until([&] { return !fake_->process().running(); }));
    run_for(300);  // NameOwnerChanged
    Step step = answer("");
    EXPECT_EQ(step.verdict, bus::kVerdictIgnore);
    EXPECT_EQ(texts(step, bus::kMessageError), "The fingerprint service stopped.\n");
}

TEST_F(FingerprintLogin, NoPrintsGivesWayToThePasswordWithoutALine) {
    std::string r = fake_->add_reader(kUser, {}, {{"verify-match", true}});
    start();
    until_calls(r, 1);
    run_for(200);
    Step step = answer("");
    EXPECT_EQ(step.verdict, bus::kVerdictIgnore);
    EXPECT_TRUE(step.messages.empty());
}

TEST_F(FingerprintLogin, FiveFailuresInARowPauseItThirtySeconds) {
    fail_times(4);
    std::string r = reader({{"verify-no-match", true}});
    start();
    until_calls(r, kClaimToRelease.size());
    Step step = answer("");
    EXPECT_EQ(step.verdict, bus::kVerdictIgnore);
    EXPECT_EQ(texts(step, bus::kMessageError),
              "The fingerprint did not match.\n"
              "Too many failed fingerprint attempts: try again in 30 s, or use your password.\n");
    EXPECT_EQ(failures().in_a_row, 5);
    // Paused: the reader is not asked.
    clock_.now_ += 10;
    step = start();
    EXPECT_EQ(step.verdict, bus::kVerdictIgnore);
    EXPECT_EQ(texts(step, bus::kMessageError),
              "Too many failed fingerprint attempts: try again in 20 s, or use your password.\n");
    EXPECT_EQ(fake_->calls(r).size(), kClaimToRelease.size());
    clock_.now_ += 20;
    EXPECT_EQ(start().prompt, kPrompt);
}

TEST_F(FingerprintLogin, FiftyFailuresDisableItUntilAFullLogin) {
    fail_times(49);
    clock_.now_ += 60;  // past the last pause
    std::string r = reader({{"verify-no-match", true}});
    start();
    until_calls(r, kClaimToRelease.size());
    Step step = answer("");
    EXPECT_EQ(step.verdict, bus::kVerdictIgnore);
    EXPECT_TRUE(says_disabled(step));
    EXPECT_TRUE(failures().disabled);
    // No longer offered: the password alone, nothing said.
    step = start();
    EXPECT_EQ(step.verdict, bus::kVerdictIgnore);
    EXPECT_TRUE(step.messages.empty());
    // A full login re-arms it.
    store_.record_full_login(kUser, clock_.now_);
    EXPECT_EQ(start().prompt, kPrompt);
}

TEST_F(FingerprintLogin, AMatchAfterAnotherLoginDisabledItDoesNotLogIn) {
    fail_times(49);
    clock_.now_ += 60;                                // past the last pause
    Step step = match_after([&] { fail_times(1); });  // another login's failed match
    EXPECT_EQ(step.verdict, bus::kVerdictIgnore);
    EXPECT_TRUE(says_disabled(step));
    EXPECT_TRUE(failures().disabled) << "a match after the limit clears nothing";
}

TEST_F(FingerprintLogin, AMatchAfterAPauseBeganDoesNotLogIn) {
    fail_times(4);
    Step step = match_after([&] { fail_times(1); });
    EXPECT_EQ(step.verdict, bus::kVerdictIgnore);
    EXPECT_EQ(texts(step, bus::kMessageError),
              "Too many failed fingerprint attempts: try again in 30 s, or use your password.\n");
    EXPECT_EQ(failures().in_a_row, 5);
}

TEST_F(FingerprintLogin, AMatchWhileTheAccountIsLockedDoesNotLogIn) {
    Step step = match_after([&] {
        (void)store_.add_failure(kUser, LockRule{1, clock_.now_ + 600, 0});  // codes lock it
    });
    EXPECT_EQ(step.verdict, bus::kVerdictMaxTries);
    EXPECT_FALSE(texts(step, bus::kMessageError).empty());
}

TEST_F(FingerprintLogin, NeverOfferedToARemoteSession) {
    std::string r = reader({{"verify-match", true}});
    for (const auto& [rhost, tty] :
         std::vector<std::pair<std::string, std::string>>{{"192.0.2.7", ""}, {"", "ssh"}}) {
        Step step = start(rhost, tty);
        EXPECT_EQ(step.verdict, bus::kVerdictIgnore) << rhost << tty;
        EXPECT_TRUE(step.messages.empty());
    }
    EXPECT_TRUE(fake_->calls(r).empty());
    EXPECT_EQ(start("localhost").prompt, kPrompt);
    use("[quick_login]\nfingerprint = allowed\nremote = yes\n");
    EXPECT_EQ(start("192.0.2.7").prompt, kPrompt);
}

TEST_F(FingerprintLogin, OfferedOnlyWhenAllowedAndArmed) {
    reader({{"verify-match", true}});
    use("[quick_login]\nfingerprint = disabled\n");
    EXPECT_EQ(start().verdict, bus::kVerdictIgnore);
    use("[quick_login]\nfingerprint = allowed\nlifetime = 1h\n");
    clock_.now_ = kArmedAt + 3599;
    EXPECT_EQ(start().prompt, kPrompt);
    clock_.now_ = kArmedAt + 3600;
    EXPECT_EQ(start().verdict, bus::kVerdictIgnore);
}

TEST_F(FingerprintLogin, TheMenuOffersItBesideAnotherMethod) {
    use("[quick_login]\nfingerprint = allowed\n", 60 * kSecond, {std::make_shared<OtherType>()});
    std::string r = reader({{"verify-match", true}});
    Step menu = start();
    EXPECT_EQ(texts(menu, bus::kMessageInfo),
              "How do you want to log in?\n  1  another way\n  2  your fingerprint\n"
              "  p  your password\n");
    Step step = answer("2");
    EXPECT_EQ(step.prompt, kPrompt);
    until_calls(r, kClaimToRelease.size());
    EXPECT_EQ(answer("").verdict, bus::kVerdictSuccess);
}

}  // namespace
}  // namespace lwauth::test
