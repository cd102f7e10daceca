#include "login/engine.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "delivery.hpp"
#include "fakes.hpp"
#include "login/methods/code_method.hpp"
#include "login/methods/phone_method.hpp"
#include "lwauth/bus_names.hpp"
#include "lwauth/error.hpp"
#include "store/async_store.hpp"
#include "store/memory_store.hpp"

namespace lwauth {
namespace {

using test::code_in;
using test::error_code_of;
using test::FakeChannel;
using test::FakeClock;
using test::FakeUsers;
using test::load_policy;
using test::SeededRandom;
using test::SentMessage;
using test::step_now;
using test::texts_of;
using test::wrong_code_for;

constexpr const char* kUser = "taro";
constexpr const char* kOwner = ":1.42";
constexpr const char* kPhone = "+819012345678";
constexpr const char* kEmail = "taro@example.com";

// Two SMS channels (so one can fail over to the other) and one email channel. The outbox
// paths are never written: the test installs FakeChannels under these names.
constexpr const char* kBasePolicy = R"([policy]
two_step = optional

[code]
channels = sms, email

[channel.sms-primary]
type = outbox
path = /nonexistent/lwauth-unit/sms-primary.jsonl
serves = sms

[channel.sms-backup]
type = outbox
path = /nonexistent/lwauth-unit/sms-backup.jsonl
serves = sms

[channel.mail]
type = outbox
path = /nonexistent/lwauth-unit/mail.jsonl
serves = email
)";

std::string errors_of(const Step& step) {
    return texts_of(step, bus::kMessageError);
}
std::string infos_of(const Step& step) {
    return texts_of(step, bus::kMessageInfo);
}

class LoginEngineTest : public ::testing::Test {
  protected:
    LoginEngineTest() {
        std::map<std::string, std::shared_ptr<Channel>> channels;
        for (const char* name : {"sms-primary", "sms-backup", "mail"}) {
            auto channel = std::make_shared<FakeChannel>(name, sent_);
            fakes_[name] = channel.get();
            channels[name] = std::move(channel);
        }
        sender_.set_channels(std::move(channels));
        use_policy("");
        store_.save_contact(kUser, {"phone", kPhone});
        store_.set_two_step(kUser, true);
    }

    /// Loads the base policy with `drop_in` layered over it, and a fresh engine under it.
    void use_policy(const std::string& drop_in) {
        policy_ = load_policy({{"lwauth.conf", kBasePolicy}, {"lwauth.conf.d/test.conf", drop_in}});
        new_engine();
    }

    /// A fresh engine under the current policy, running types_.
    void new_engine() {
        engine_ = std::make_unique<LoginEngine>(EngineDeps{clock_, random_, async_store_, users_},
                                                policy_, types_);
    }

    Step start(const std::string& user = kUser, const std::string& owner = kOwner,
               const char* mode = bus::kModeSecondFactor) {
        Step step = step_now([&](Done<Step> done) {
            engine_->start(LoginContext{user, "sshd", "192.0.2.7", "", mode, owner},
                           std::move(done));
        });
        shown_.push_back(step);
        return step;
    }

    /// Starts a 2-step login of `user` from another place than start()'s.
    Step start_from(const std::string& user, const std::string& service, const std::string& rhost,
                    const std::string& tty = "") {
        Step step = step_now([&](Done<Step> done) {
            engine_->start(LoginContext{user, service, rhost, tty, bus::kModeSecondFactor, kOwner},
                           std::move(done));
        });
        shown_.push_back(step);
        return step;
    }

    Step answer(const Step& step, const std::string& text, const std::string& owner = kOwner) {
        Step next = step_now([&](Done<Step> done) {
            engine_->answer(step.id, owner, SecretString(text), std::move(done));
        });
        shown_.push_back(next);
        return next;
    }

    /// Another connection (":1.2") types a wrong code twice: the account locks under
    /// [lockout] max_failures = 2.
    void guess_until_locked() {
        Step guesser = start(kUser, ":1.2");
        std::string wrong = wrong_code_for(last_code());
        Step s = answer(guesser, wrong, ":1.2");
        ASSERT_EQ(answer(s, wrong, ":1.2").verdict, bus::kVerdictMaxTries);
    }

    /// Confirms the full login whose handle `step` carries; NoSuchLogin as thrown.
    Result<void> confirm(const Step& step, const std::string& owner = kOwner) {
        std::optional<Result<void>> got;
        try {
            engine_->confirm(step.id, owner, [&](Result<void> r) { got.emplace(std::move(r)); });
        } catch (const Error& e) {
            return e;
        }
        if (!got) {
            ADD_FAILURE() << "Confirm did not answer at once";
            return Error(Errc::Internal, "no answer");
        }
        return std::move(*got);
    }

    /// Answers a step with the latest code sent.
    Step answer_code(const Step& step) { return answer(step, last_code()); }

    [[nodiscard]] std::string last_code() const {
        if (sent_.empty()) {
            ADD_FAILURE() << "no code was sent";
            return {};
        }
        return code_in(sent_.back().text);
    }

    FakeChannel& channel(const std::string& name) { return *fakes_.at(name); }

    FakeClock clock_;
    SeededRandom random_;
    MemoryStore store_;
    ImmediateStore async_store_{store_};
    Hasher hasher_{SecretString(std::string(32, 'k'))};
    CodeSender sender_{clock_, async_store_, hasher_};
    CodeDeps codes_{clock_, random_, async_store_, sender_, hasher_};
    /// The methods lwauthd runs, as main.cpp builds them; a test may add its own.
    LoginMethodTypes types_{{std::make_shared<PhoneMethodType>(codes_)},
                            {std::make_shared<CodeMethodType>(codes_)}};
    FakeUsers users_;
    std::vector<SentMessage> sent_;
    std::map<std::string, FakeChannel*> fakes_;
    std::vector<Step> shown_;  // every step the user was shown
    std::shared_ptr<const policy::Policy> policy_;
    std::unique_ptr<LoginEngine> engine_;
};

// ---- The happy path ---------------------------------------------------------------------

TEST_F(LoginEngineTest, StartSendsACodeAndSaysWhereWithoutShowingTheNumber) {
    Step step = start();
    EXPECT_FALSE(step.finished());
    EXPECT_FALSE(step.id.empty());
    EXPECT_EQ(step.prompt, "Verification code: ");
    EXPECT_FALSE(step.echo);
    EXPECT_EQ(
        infos_of(step),
        "A verification code was sent by SMS to +81 •• •••• 5678. Type r to get a new code.\n");
    EXPECT_EQ(errors_of(step), "");

    ASSERT_EQ(sent_.size(), 1u);
    EXPECT_EQ(sent_[0].channel, "sms-primary");
    EXPECT_EQ(sent_[0].kind, policy::Kind::Sms);
    EXPECT_EQ(sent_[0].destination, kPhone);
    EXPECT_EQ(sent_[0].user, kUser);
    EXPECT_EQ(sent_[0].text, "lwauth: your verification code is " + last_code() +
                                 ". It expires in 5 minutes. Never share it with anyone.");
    EXPECT_EQ(last_code().size(), 6u);
}

// [directory] backend = ldap: a user the synchronization missed is looked up after a login
// that found no contact (directory_sync.hpp); the login goes on without waiting for it.
TEST_F(LoginEngineTest, ALoginThatFindsNoContactSaysWhoseAndGoesOn) {
    std::vector<std::string> missing;
    engine_ = std::make_unique<LoginEngine>(
        EngineDeps{clock_, random_, async_store_, users_, nullptr,
                   [&](const std::string& user) { missing.push_back(user); }},
        policy_, types_);
    store_.set_two_step("hanako", true);
    EXPECT_EQ(start("hanako").verdict, bus::kVerdictDenied);
    EXPECT_EQ(missing, std::vector<std::string>{"hanako"});
    EXPECT_TRUE(sent_.empty());

    start();  // taro has a phone: nobody is named
    EXPECT_EQ(missing, std::vector<std::string>{"hanako"});
    EXPECT_EQ(sent_.size(), 1u);
}

TEST_F(LoginEngineTest, RightCodeSucceedsAndClearsEarlierFailures) {
    (void)store_.add_failure(kUser);
    (void)store_.add_failure(kUser);
    Step step = start();
    Step done = answer(step, last_code());
    EXPECT_EQ(done.verdict, bus::kVerdictSuccess);
    EXPECT_TRUE(done.messages.empty());
    EXPECT_EQ(store_.load_user(kUser).failures, 0);
    EXPECT_EQ(engine_->pending(), 0u);
}

TEST_F(LoginEngineTest, AcceptsTheCodeWithSurroundingWhitespace) {
    Step step = start();
    EXPECT_EQ(answer(step, "  " + last_code() + "\n").verdict, bus::kVerdictSuccess);
}

TEST_F(LoginEngineTest, RejectsReusedCode) {
    Step step = start();
    std::string code = last_code();
    ASSERT_EQ(answer(step, code).verdict, bus::kVerdictSuccess);
    EXPECT_EQ(error_code_of([&] { (void)answer(step, code); }), Errc::NoSuchLogin);
}

TEST_F(LoginEngineTest, CodeLengthFollowsThePolicy) {
    use_policy("[code]\nlength = 8\n");
    Step step = start();
    std::string code = last_code();
    ASSERT_EQ(code.size(), 8u);
    Step wrong = answer(step, code.substr(0, 6));
    EXPECT_FALSE(wrong.finished());
    EXPECT_NE(errors_of(wrong).find("Wrong code."), std::string::npos);
    EXPECT_EQ(answer(wrong, code).verdict, bus::kVerdictSuccess);
}

// ---- Wrong and expired codes ------------------------------------------------------------

TEST_F(LoginEngineTest, WrongCodeRepromptsUntilTheTriesAreUsedUp) {
    use_policy("[code]\ntries = 3\n[lockout]\nmax_failures = 10\n");
    Step step = start();
    std::string wrong = wrong_code_for(last_code());

    Step first = answer(step, wrong);
    EXPECT_FALSE(first.finished());
    EXPECT_EQ(first.id, step.id);
    EXPECT_EQ(first.prompt, "Verification code: ");
    EXPECT_EQ(errors_of(first), "Wrong code. 2 tries left.\n");

    Step second = answer(first, wrong);
    EXPECT_FALSE(second.finished());
    EXPECT_EQ(errors_of(second), "Wrong code. 1 try left.\n");

    Step third = answer(second, wrong);
    EXPECT_EQ(third.verdict, bus::kVerdictDenied);
    EXPECT_EQ(errors_of(third),
              "Wrong code. No tries are left for this code; log in again to get a new one.\n");
    EXPECT_EQ(store_.load_user(kUser).failures, 3);
    EXPECT_EQ(error_code_of([&] { (void)answer(step, last_code()); }), Errc::NoSuchLogin);
}

TEST_F(LoginEngineTest, AnythingButDigitsCountsAsAWrongCode) {
    use_policy("[lockout]\nmax_failures = 10\n");
    Step step = start();
    Step next = answer(step, "hello");
    EXPECT_EQ(errors_of(next), "Wrong code. 2 tries left.\n");
    EXPECT_EQ(store_.load_user(kUser).failures, 1);
}

TEST_F(LoginEngineTest, ExpiredCodeIsDenied) {
    use_policy("[code]\nlifetime = 1m\n");
    Step step = start();
    clock_.advance(61);
    Step done = answer(step, last_code());
    EXPECT_EQ(done.verdict, bus::kVerdictDenied);
    EXPECT_NE(errors_of(done).find("expired"), std::string::npos) << errors_of(done);
}

TEST_F(LoginEngineTest, CodeIsStillGoodJustBeforeItExpires) {
    use_policy("[code]\nlifetime = 1m\n");
    Step step = start();
    clock_.advance(59);
    EXPECT_EQ(answer(step, last_code()).verdict, bus::kVerdictSuccess);
}

// ---- Resend -----------------------------------------------------------------------------

TEST_F(LoginEngineTest, ResendTooSoonAsksToWaitAndSendsNothing) {
    use_policy("[code]\nresend_interval = 30s\n");
    Step step = start();
    clock_.advance(10);
    Step next = answer(step, "r");
    EXPECT_FALSE(next.finished());
    EXPECT_EQ(next.prompt, "Verification code: ");
    EXPECT_EQ(errors_of(next), "Please wait 20 seconds before asking for a new code.\n");
    EXPECT_EQ(sent_.size(), 1u);
    EXPECT_EQ(store_.load_user(kUser).failures, 0);
    EXPECT_EQ(answer(next, last_code()).verdict, bus::kVerdictSuccess);
}

TEST_F(LoginEngineTest, ResendAfterTheIntervalSendsANewCodeAndRetiresTheOldOne) {
    use_policy("[code]\nresend_interval = 30s\n[lockout]\nmax_failures = 10\n");
    Step step = start();
    std::string old_code = last_code();
    clock_.advance(30);
    Step next = answer(step, "R");
    EXPECT_FALSE(next.finished());
    EXPECT_EQ(
        infos_of(next),
        "A verification code was sent by SMS to +81 •• •••• 5678. Type r to get a new code.\n");
    ASSERT_EQ(sent_.size(), 2u);
    std::string new_code = last_code();
    ASSERT_NE(new_code, old_code);

    Step after_old = answer(next, old_code);
    EXPECT_FALSE(after_old.finished());
    EXPECT_EQ(errors_of(after_old), "Wrong code. 2 tries left.\n");
    EXPECT_EQ(answer(after_old, new_code).verdict, bus::kVerdictSuccess);
}

TEST_F(LoginEngineTest, ResendGivesTheNewCodeAFullLifetime) {
    use_policy("[code]\nlifetime = 1m\nresend_interval = 30s\n");
    Step step = start();
    clock_.advance(50);
    Step next = answer(step, "r");
    clock_.advance(50);  // 100 s after the first code, 50 s after the second
    EXPECT_EQ(answer(next, last_code()).verdict, bus::kVerdictSuccess);
}

TEST_F(LoginEngineTest, ResendRefusedByTheSendCapKeepsTheCodeAlreadySent) {
    use_policy("[code]\nresend_interval = 30s\nmax_sends_per_hour = 1\n");
    Step step = start();
    std::string code = last_code();
    clock_.advance(30);
    Step next = answer(step, "r");
    EXPECT_FALSE(next.finished());
    // The one code sent 30 s ago leaves the hour's window in 59.5 minutes.
    EXPECT_EQ(errors_of(next),
              "Too many codes were sent recently. The next code can be sent in 60 minutes.\n");
    EXPECT_EQ(sent_.size(), 1u);
    EXPECT_EQ(answer(next, code).verdict, bus::kVerdictSuccess);
}

// ---- Lockout ----------------------------------------------------------------------------

TEST_F(LoginEngineTest, LocksAfterMaxFailuresAcrossLoginsAndUnlocksWhenTheTimeIsUp) {
    use_policy("[code]\ntries = 3\n[lockout]\nmax_failures = 5\nduration = 15m\n");

    Step first = start();
    std::string wrong = wrong_code_for(last_code());
    Step s = answer(first, wrong);
    s = answer(s, wrong);
    s = answer(s, wrong);
    ASSERT_EQ(s.verdict, bus::kVerdictDenied);  // out of tries for this code, not locked yet

    Step second = start();
    wrong = wrong_code_for(last_code());
    s = answer(second, wrong);
    EXPECT_EQ(errors_of(s), "Wrong code. 2 tries left.\n");
    s = answer(s, wrong);
    EXPECT_EQ(s.verdict, bus::kVerdictMaxTries);
    EXPECT_EQ(errors_of(s),
              "Too many failed verification attempts. Logins to this account are locked for "
              "15 minutes.\n");

    size_t sent_before = sent_.size();
    Step locked = start();
    EXPECT_EQ(locked.verdict, bus::kVerdictMaxTries);
    EXPECT_EQ(errors_of(locked),
              "Too many failed verification attempts. Try again in 15 minutes.\n");
    EXPECT_EQ(sent_.size(), sent_before) << "a code was sent to a locked account";

    clock_.advance(10 * 60);
    Step still_locked = start();
    EXPECT_EQ(still_locked.verdict, bus::kVerdictMaxTries);
    EXPECT_NE(errors_of(still_locked).find("Try again in 5 minutes."), std::string::npos);

    clock_.advance(5 * 60);
    Step again = start();
    ASSERT_FALSE(again.finished()) << errors_of(again);
    EXPECT_EQ(answer(again, last_code()).verdict, bus::kVerdictSuccess);
}

TEST_F(LoginEngineTest, TheRightCodeDoesNotGetPastALockoutFromAnotherLogin) {
    use_policy("[lockout]\nmax_failures = 2\n");
    Step patient = start(kUser, ":1.1");
    std::string patient_code = last_code();
    ASSERT_NO_FATAL_FAILURE(guess_until_locked());

    Step done = answer(patient, patient_code, ":1.1");
    EXPECT_EQ(done.verdict, bus::kVerdictMaxTries);
    EXPECT_NE(errors_of(done).find("Try again in"), std::string::npos);
}

TEST_F(LoginEngineTest, TheLockoutMessageReadsTheSameFromANewLoginAndFromAnOpenOne) {
    use_policy("[lockout]\nmax_failures = 2\nduration = 2m\n");
    Step open = start(kUser, ":1.1");
    std::string open_code = last_code();
    ASSERT_NO_FATAL_FAILURE(guess_until_locked());

    clock_.advance(90);
    const std::string expected =
        "Too many failed verification attempts. Try again in 30 seconds.\n";
    EXPECT_EQ(errors_of(answer(open, open_code, ":1.1")), expected);
    Step fresh = start(kUser, ":1.3");
    EXPECT_EQ(fresh.verdict, bus::kVerdictMaxTries);
    EXPECT_EQ(errors_of(fresh), expected);
}

TEST_F(LoginEngineTest, SuccessResetsTheFailureCountSoLockoutNeedsFailuresInARow) {
    use_policy("[lockout]\nmax_failures = 2\n");
    Step step = start();
    Step s = answer(step, wrong_code_for(last_code()));
    ASSERT_EQ(answer(s, last_code()).verdict, bus::kVerdictSuccess);

    Step next = start();
    Step after_one = answer(next, wrong_code_for(last_code()));
    EXPECT_FALSE(after_one.finished()) << errors_of(after_one);
}

// ---- Send caps --------------------------------------------------------------------------

TEST_F(LoginEngineTest, PerUserSendCapDeniesStartUntilAnHourHasPassed) {
    use_policy("[code]\nmax_sends_per_hour = 2\n");
    engine_->cancel(start().id, kOwner);
    engine_->cancel(start().id, kOwner);
    ASSERT_EQ(sent_.size(), 2u);

    Step capped = start();
    EXPECT_EQ(capped.verdict, bus::kVerdictDenied);
    EXPECT_NE(errors_of(capped).find("Too many codes"), std::string::npos) << errors_of(capped);
    EXPECT_EQ(sent_.size(), 2u);
    EXPECT_EQ(engine_->pending(), 0u);

    clock_.advance(3601);
    EXPECT_FALSE(start().finished());
    EXPECT_EQ(sent_.size(), 3u);
}

TEST_F(LoginEngineTest, PerDestinationSendCapDeniesStart) {
    use_policy("[code]\nmax_sends_per_destination_per_hour = 1\n");
    engine_->cancel(start().id, kOwner);
    Step capped = start();
    EXPECT_EQ(capped.verdict, bus::kVerdictDenied);
    EXPECT_NE(errors_of(capped).find("Too many codes"), std::string::npos);
    EXPECT_EQ(sent_.size(), 1u);
}

TEST_F(LoginEngineTest, PerHostSendCapDeniesEveryone) {
    use_policy("[code]\nmax_sends_per_host_per_hour = 2\n");
    for (const char* user : {"jiro", "saburo", "shiro"}) {
        store_.save_contact(user, {"email", std::string(user) + "@example.com"});
        store_.set_two_step(user, true);
    }
    EXPECT_FALSE(start("jiro").finished());
    EXPECT_FALSE(start("saburo").finished());
    Step capped = start("shiro");
    EXPECT_EQ(capped.verdict, bus::kVerdictDenied);
    EXPECT_NE(errors_of(capped).find("Too many codes"), std::string::npos);
}

// ---- Channels ---------------------------------------------------------------------------

TEST_F(LoginEngineTest, FailingChannelFallsBackToTheNextChannelOfTheSameKind) {
    channel("sms-primary").set_failing(true);
    Step step = start();
    ASSERT_FALSE(step.finished()) << errors_of(step);
    EXPECT_EQ(channel("sms-primary").attempts(), 1);
    ASSERT_EQ(sent_.size(), 1u);
    EXPECT_EQ(sent_[0].channel, "sms-backup");
    EXPECT_EQ(sent_[0].destination, kPhone);
    EXPECT_NE(infos_of(step).find("by SMS to +81 •• •••• 5678"), std::string::npos);
    EXPECT_EQ(store_.sends_since(std::string("user:") + kUser, 0), 1)
        << "a failed send must not count";
    EXPECT_EQ(answer(step, last_code()).verdict, bus::kVerdictSuccess);
}

TEST_F(LoginEngineTest, WhenNoSmsChannelDeliversTheCodeGoesByEmail) {
    store_.save_contact(kUser, {"email", kEmail});
    channel("sms-primary").set_failing(true);
    channel("sms-backup").set_failing(true);
    Step step = start();
    ASSERT_FALSE(step.finished()) << errors_of(step);
    ASSERT_EQ(sent_.size(), 1u);
    EXPECT_EQ(sent_[0].channel, "mail");
    EXPECT_EQ(sent_[0].destination, kEmail);
    EXPECT_EQ(infos_of(step),
              "SMS could not be sent; the code was sent by email.\n"
              "A verification code was sent by email to t•••@example.com. Type r to get a new "
              "code.\n");
}

TEST_F(LoginEngineTest, WhenNothingDeliversTheVerdictIsUnavailable) {
    store_.save_contact(kUser, {"email", kEmail});
    for (const char* name : {"sms-primary", "sms-backup", "mail"}) {
        channel(name).set_failing(true);
    }
    Step step = start();
    EXPECT_EQ(step.verdict, bus::kVerdictUnavailable);
    EXPECT_NE(errors_of(step).find("could not be sent"), std::string::npos) << errors_of(step);
    EXPECT_EQ(engine_->pending(), 0u);
    EXPECT_EQ(store_.sends_since("host", 0), 0);
}

TEST_F(LoginEngineTest, KindsAreTriedInThePolicysOrder) {
    use_policy("[code]\nchannels = email, sms\n");
    store_.save_contact(kUser, {"email", kEmail});
    Step step = start();
    ASSERT_EQ(sent_.size(), 1u);
    EXPECT_EQ(sent_[0].channel, "mail");
    EXPECT_NE(infos_of(step).find("by email"), std::string::npos);
}

TEST_F(LoginEngineTest, SmsSkipsNumbersOutsideTheCountryAllowList) {
    use_policy("[code]\nsms_country_prefixes = +1\n");
    store_.save_contact(kUser, {"email", kEmail});
    Step step = start();
    ASSERT_FALSE(step.finished()) << errors_of(step);
    ASSERT_EQ(sent_.size(), 1u);
    EXPECT_EQ(sent_[0].channel, "mail");
}

TEST_F(LoginEngineTest, ContactNoChannelCanReachIsDeniedWithoutSending) {
    use_policy("[code]\nsms_country_prefixes = +1\n");
    Step step = start();
    EXPECT_EQ(step.verdict, bus::kVerdictDenied);
    EXPECT_NE(errors_of(step).find("cannot be delivered"), std::string::npos) << errors_of(step);
    EXPECT_TRUE(sent_.empty());
}

// ---- Full logins (quick login's window and arming) --------------------------------------

TEST_F(LoginEngineTest, ASecondFactorSuccessIsAFullLoginOnlyOnceConfirmed) {
    clock_.advance(1000);
    Step step = answer_code(start());
    ASSERT_EQ(step.verdict, bus::kVerdictSuccess);
    ASSERT_FALSE(step.id.empty()) << "the success carries the handle Confirm takes";
    EXPECT_EQ(store_.load_user(kUser).full_login_at, 0)
        << "the rest of the stack may still refuse the login";
    clock_.advance(5);
    ASSERT_TRUE(confirm(step).ok());
    UserState state = store_.load_user(kUser);
    EXPECT_EQ(state.full_login_at, clock_.now());
    EXPECT_EQ(state.quick_armed_at, clock_.now());
    Result<void> again = confirm(step);
    ASSERT_FALSE(again.ok()) << "a handle is confirmed once";
    EXPECT_EQ(again.error().code(), Errc::NoSuchLogin);
}

TEST_F(LoginEngineTest, ASecondFactorIgnoreIsAFullLoginTooOnceConfirmed) {
    store_.set_two_step(kUser, false);
    (void)store_.add_pin_failure(kUser);
    clock_.advance(1000);
    Step step = start();
    ASSERT_EQ(step.verdict, bus::kVerdictIgnore);
    EXPECT_EQ(store_.load_user(kUser).full_login_at, 0);
    EXPECT_EQ(store_.load_user(kUser).pin_failures, 1) << "pam_deny may follow the ignore";
    ASSERT_TRUE(confirm(step).ok());
    UserState state = store_.load_user(kUser);
    EXPECT_EQ(state.full_login_at, clock_.now());
    EXPECT_EQ(state.pin_failures, 0) << "a full login clears the wrong PINs";

    use_policy("[policy]\ntwo_step = off\n");
    clock_.advance(60);
    step = start();
    ASSERT_EQ(step.verdict, bus::kVerdictIgnore);
    ASSERT_TRUE(confirm(step).ok());
    EXPECT_EQ(store_.load_user(kUser).full_login_at, clock_.now());
}

TEST_F(LoginEngineTest, AnUnconfirmedFullLoginExpires) {
    store_.set_two_step(kUser, false);
    Step step = start();
    ASSERT_FALSE(step.id.empty());
    clock_.advance(LoginEngine::kConfirmWithinSeconds);
    Result<void> late = confirm(step);
    ASSERT_FALSE(late.ok());
    EXPECT_EQ(late.error().code(), Errc::NoSuchLogin);
    EXPECT_EQ(store_.load_user(kUser).full_login_at, 0);

    step = start();
    clock_.advance(LoginEngine::kConfirmWithinSeconds);
    engine_->expire();
    EXPECT_FALSE(confirm(step).ok()) << "expired, and swept";
    EXPECT_EQ(store_.load_user(kUser).full_login_at, 0);
}

TEST_F(LoginEngineTest, OnlyTheConnectionThatGotTheHandleConfirmsIt) {
    store_.set_two_step(kUser, false);
    Step step = start();
    Result<void> other = confirm(step, ":1.2");
    ASSERT_FALSE(other.ok());
    EXPECT_EQ(other.error().code(), Errc::NoSuchLogin);
    EXPECT_EQ(store_.load_user(kUser).full_login_at, 0);
    EXPECT_TRUE(confirm(step).ok()) << "another's attempt does not spend it";

    step = start();
    engine_->cancel_owner(kOwner);
    EXPECT_FALSE(confirm(step).ok()) << "its connection left the bus";
}

TEST_F(LoginEngineTest, UnconfirmedFullLoginsAreBounded) {
    store_.set_two_step(kUser, false);
    for (size_t i = 0; i < LoginEngine::kMaxUnconfirmed; ++i) {
        ASSERT_FALSE(start().id.empty()) << i;
    }
    Step over = start();
    ASSERT_EQ(over.verdict, bus::kVerdictIgnore) << "the login itself goes on";
    EXPECT_TRUE(over.id.empty()) << "no room: never recorded";
    clock_.advance(LoginEngine::kConfirmWithinSeconds);
    EXPECT_FALSE(start().id.empty()) << "the expired ones made room";
}

TEST_F(LoginEngineTest, ADeniedOrLockedLoginIsNoFullLogin) {
    use_policy("[code]\ntries = 1\n[lockout]\nmax_failures = 2\nduration = 10m\n");
    Step step = start();
    step = answer(step, wrong_code_for(last_code()));
    ASSERT_EQ(step.verdict, bus::kVerdictDenied);
    EXPECT_TRUE(step.id.empty()) << "nothing to confirm";
    step = start();
    ASSERT_EQ(answer(step, wrong_code_for(last_code())).verdict, bus::kVerdictMaxTries);
    step = start();
    ASSERT_EQ(step.verdict, bus::kVerdictMaxTries);
    EXPECT_TRUE(step.id.empty());
    EXPECT_EQ(store_.load_user(kUser).full_login_at, 0);
}

TEST_F(LoginEngineTest, APrimaryLoginIsNeverAFullLogin) {
    Step step = start(kUser, kOwner, bus::kModePrimary);
    ASSERT_EQ(step.verdict, bus::kVerdictIgnore);
    EXPECT_TRUE(step.id.empty()) << "the password has not been checked";
    use_policy("[policy]\nlogin_with_phone = allowed\n");
    step = answer_code(start(kUser, kOwner, bus::kModePrimary));
    ASSERT_EQ(step.verdict, bus::kVerdictSuccess);
    EXPECT_TRUE(step.id.empty());
    EXPECT_EQ(store_.load_user(kUser).full_login_at, 0);
}

TEST_F(LoginEngineTest, AnUnprivilegedLoginIsNeverAFullLogin) {
    LoginContext context{kUser, "i3lock", "", "", bus::kModeSecondFactor, kOwner};
    context.unprivileged = true;
    Step step = step_now([&](Done<Step> done) { engine_->start(context, std::move(done)); });
    step = answer_code(step);
    ASSERT_EQ(step.verdict, bus::kVerdictSuccess);
    EXPECT_TRUE(step.id.empty());
    store_.set_two_step(kUser, false);
    step = step_now([&](Done<Step> done) { engine_->start(context, std::move(done)); });
    ASSERT_EQ(step.verdict, bus::kVerdictIgnore);
    EXPECT_TRUE(step.id.empty());
    EXPECT_EQ(store_.load_user(kUser).full_login_at, 0);
}

// ---- When 2-step applies ----------------------------------------------------------------

TEST_F(LoginEngineTest, UserWithTwoStepOffUnderOptionalIsIgnored) {
    store_.set_two_step(kUser, false);
    Step step = start();
    EXPECT_EQ(step.verdict, bus::kVerdictIgnore);
    EXPECT_TRUE(step.messages.empty());
    EXPECT_TRUE(sent_.empty());
}

TEST_F(LoginEngineTest, PolicyOffIgnoresEvenUsersWhoTurnedItOn) {
    use_policy("[policy]\ntwo_step = off\n");
    Step step = start();
    EXPECT_EQ(step.verdict, bus::kVerdictIgnore);
    EXPECT_TRUE(sent_.empty());
}

TEST_F(LoginEngineTest, RequiredAppliesToUsersWhoDidNotTurnItOn) {
    use_policy("[policy]\ntwo_step = required\n");
    store_.set_two_step(kUser, false);
    Step step = start();
    EXPECT_FALSE(step.finished()) << errors_of(step);
    EXPECT_EQ(sent_.size(), 1u);
}

TEST_F(LoginEngineTest, GroupOverrideRequiresTwoStepForItsMembers) {
    use_policy("[group:contractors]\ntwo_step = required\n");
    users_.groups["hanako"] = {"users", "contractors"};
    store_.save_contact("hanako", {"phone", "+819087654321"});
    Step step = start("hanako");
    EXPECT_FALSE(step.finished()) << errors_of(step);
    EXPECT_EQ(start("jiro").verdict, bus::kVerdictIgnore);
}

TEST_F(LoginEngineTest, GroupsAreLookedUpOnlyWhenAGroupSectionExists) {
    // A group lookup goes through NSS (sssd, LDAP): a policy without [group:] sections
    // must not pay for one on every login.
    use_policy("[user:hanako]\ntwo_step = required\n");
    store_.save_contact("hanako", {"phone", "+819087654321"});
    users_.group_lookups = 0;
    EXPECT_FALSE(start("hanako").finished());
    EXPECT_EQ(users_.group_lookups, 0);

    use_policy("[group:contractors]\ntwo_step = required\n");
    users_.groups["hanako"] = {"contractors"};
    EXPECT_FALSE(start("hanako").finished());
    EXPECT_EQ(users_.group_lookups, 1);
}

TEST_F(LoginEngineTest, RequiredWithoutAContactIsDeniedAndPointsToTheAdministrator) {
    use_policy("[policy]\ntwo_step = required\n");
    Step step = start("jiro");
    EXPECT_EQ(step.verdict, bus::kVerdictDenied);
    EXPECT_NE(errors_of(step).find("administrator"), std::string::npos) << errors_of(step);
    EXPECT_TRUE(sent_.empty());
}

// ---- A way in for users who have not enrolled --------------------------------------------

TEST_F(LoginEngineTest, AProfileContactReceivesTheCodeAndARightCodeMakesItTheLoginContact) {
    use_policy("[policy]\ntwo_step = required\n");
    store_.set_profile_contact("jiro", {"phone", "+819087654321", "admin"});
    Step step = start("jiro");
    ASSERT_FALSE(step.finished()) << errors_of(step);
    ASSERT_EQ(sent_.size(), 1u);
    EXPECT_EQ(sent_[0].destination, "+819087654321");
    EXPECT_NE(infos_of(step).find("the code went to the one in your profile"), std::string::npos)
        << infos_of(step);
    EXPECT_NE(infos_of(step).find("+81 •• •••• 4321"), std::string::npos) << infos_of(step);
    EXPECT_EQ(infos_of(step).find("+819087654321"), std::string::npos);

    Step done = answer(step, last_code());
    EXPECT_EQ(done.verdict, bus::kVerdictSuccess);
    EXPECT_NE(infos_of(done).find("now receives your verification codes"), std::string::npos)
        << infos_of(done);
    UserState state = store_.load_user("jiro");
    ASSERT_NE(state.contact("phone"), nullptr);
    EXPECT_EQ(state.contact("phone")->value, "+819087654321");
    EXPECT_EQ(state.contact("phone")->source, "profile");
    EXPECT_TRUE(state.two_step);

    // The next login goes to the login contact as any other.
    Step next = start("jiro");
    EXPECT_EQ(infos_of(next).find("in your profile"), std::string::npos) << infos_of(next);
    EXPECT_EQ(answer(next, last_code()).verdict, bus::kVerdictSuccess);
}

TEST_F(LoginEngineTest, AWrongCodeToTheProfileContactAdoptsNothing) {
    use_policy("[policy]\ntwo_step = required\n[code]\ntries = 1\n");
    store_.set_profile_contact("jiro", {"email", "jiro@example.com", "admin"});
    Step step = start("jiro");
    ASSERT_FALSE(step.finished()) << errors_of(step);
    EXPECT_EQ(sent_.back().destination, "jiro@example.com");
    EXPECT_EQ(answer(step, wrong_code_for(last_code())).verdict, bus::kVerdictDenied);
    EXPECT_TRUE(store_.load_user("jiro").contacts.empty());
}

TEST_F(LoginEngineTest, AProfileChangedDuringTheLoginIsNotAdopted) {
    use_policy("[policy]\ntwo_step = required\n");
    store_.set_profile_contact("jiro", {"phone", "+819087654321", "admin"});
    Step step = start("jiro");
    store_.set_profile_contact("jiro", {"phone", "+819011112222", "admin"});
    EXPECT_EQ(answer(step, last_code()).verdict, bus::kVerdictSuccess);
    EXPECT_TRUE(store_.load_user("jiro").contacts.empty());
}

TEST_F(LoginEngineTest, AProfileContactUnderOptionalTwoStepTurnedOffIsNotUsed) {
    store_.set_profile_contact("jiro", {"phone", "+819087654321", "admin"});
    EXPECT_EQ(start("jiro").verdict, bus::kVerdictIgnore);
    EXPECT_TRUE(sent_.empty());
}

TEST_F(LoginEngineTest, EnrollGraceLetsAUserWithNoContactInUntilItEnds) {
    use_policy("[policy]\ntwo_step = required\nenroll_grace = 7d\n");
    int64_t first = clock_.now();
    Step step = start("jiro");
    EXPECT_EQ(step.verdict, bus::kVerdictSuccess);
    EXPECT_NE(infos_of(step).find("You may log in without a code until"), std::string::npos)
        << infos_of(step);
    EXPECT_NE(infos_of(step).find("lwauthctl contact add phone"), std::string::npos);
    EXPECT_TRUE(sent_.empty());
    EXPECT_EQ(store_.load_user("jiro").enroll_grace_started, first);

    // Counted from the first such login, not the latest.
    clock_.advance(6 * 86400);
    EXPECT_EQ(start("jiro").verdict, bus::kVerdictSuccess);
    EXPECT_EQ(store_.load_user("jiro").enroll_grace_started, first);
    clock_.advance(86400);
    Step over = start("jiro");
    EXPECT_EQ(over.verdict, bus::kVerdictDenied);
    EXPECT_NE(errors_of(over).find("Ask your administrator to register one for you"),
              std::string::npos)
        << errors_of(over);
}

TEST_F(LoginEngineTest, EnrollGraceIsNotForAUserWhoHadAContactBefore) {
    // A lost phone, its contact removed: the user must not get a password-only window.
    use_policy("[policy]\ntwo_step = required\nenroll_grace = 7d\n");
    store_.remove_contact(kUser, "phone");
    Step step = start();
    EXPECT_EQ(step.verdict, bus::kVerdictDenied);
    EXPECT_NE(errors_of(step).find("Ask your administrator"), std::string::npos);
    // An administrator's reset of everything grants it again, on purpose.
    store_.clear_enroll_grace(kUser);
    EXPECT_EQ(start().verdict, bus::kVerdictSuccess);
}

TEST_F(LoginEngineTest, EnrollGraceUnderAdministratorContactsPointsToTheAdministrator) {
    use_policy("[policy]\ntwo_step = required\ncontacts = admin\nenroll_grace = 1d\n");
    Step step = start("jiro");
    EXPECT_EQ(step.verdict, bus::kVerdictSuccess);
    EXPECT_NE(infos_of(step).find("Ask your administrator to register"), std::string::npos)
        << infos_of(step);
}

TEST_F(LoginEngineTest, EnrollGraceIsNotForAUserWhoseContactsCannotBeReached) {
    use_policy("[policy]\ntwo_step = required\nenroll_grace = 7d\n[code]\nchannels = email\n");
    Step step = start();  // taro has a phone; only email is sent
    EXPECT_EQ(step.verdict, bus::kVerdictDenied);
    EXPECT_NE(errors_of(step).find("cannot be delivered"), std::string::npos) << errors_of(step);
    EXPECT_EQ(store_.load_user(kUser).enroll_grace_started, 0);
}

// ---- remember_host ------------------------------------------------------------------------

TEST_F(LoginEngineTest, RememberHostSkipsTheCodeFromTheSamePlaceForItsDuration) {
    use_policy("[policy]\nremember_host = 8h\n");
    Step step = start_from(kUser, "sshd", "192.0.2.7");
    ASSERT_EQ(answer(step, last_code()).verdict, bus::kVerdictSuccess);
    size_t sent = sent_.size();

    clock_.advance(8 * 3600 - 1);
    Step again = start_from(kUser, "sshd", "192.0.2.7");
    EXPECT_EQ(again.verdict, bus::kVerdictSuccess);
    EXPECT_NE(infos_of(again).find("No verification code needed"), std::string::npos);
    EXPECT_EQ(sent_.size(), sent);

    // Another remote host, another service, a local terminal: a code each.
    EXPECT_FALSE(start_from(kUser, "sshd", "192.0.2.8").finished());
    EXPECT_FALSE(start_from(kUser, "sudo", "192.0.2.7").finished());
    EXPECT_FALSE(start_from(kUser, "sshd", "", "tty1").finished());
    EXPECT_EQ(sent_.size(), sent + 3);

    // A remembered login does not extend the time; after it a code is asked again.
    clock_.advance(1);
    EXPECT_FALSE(start_from(kUser, "sshd", "192.0.2.7").finished());
}

TEST_F(LoginEngineTest, RememberHostKeepsLocalTerminalsApartAndNeverOutlastsAPolicyChange) {
    use_policy("[policy]\nremember_host = 1d\n");
    Step step = start_from(kUser, "login", "", "tty1");
    ASSERT_EQ(answer(step, last_code()).verdict, bus::kVerdictSuccess);
    EXPECT_EQ(start_from(kUser, "login", "", "tty1").verdict, bus::kVerdictSuccess);
    EXPECT_FALSE(start_from(kUser, "login", "", "tty2").finished());

    use_policy("[policy]\nremember_host = 0s\n");
    EXPECT_FALSE(start_from(kUser, "login", "", "tty1").finished());
    use_policy("[policy]\nremember_host = 1h\n");
    clock_.advance(3600);
    EXPECT_FALSE(start_from(kUser, "login", "", "tty1").finished());
}

TEST_F(LoginEngineTest, RememberHostNeverRaisedOverPlacesAlreadyRemembered) {
    use_policy("[policy]\nremember_host = 1h\n");
    ASSERT_EQ(answer_code(start_from(kUser, "sshd", "192.0.2.7")).verdict, bus::kVerdictSuccess);
    clock_.advance(2 * 3600);
    // A longer remember_host now does not bring back a place its own login gave an hour.
    use_policy("[policy]\nremember_host = 30d\n");
    EXPECT_FALSE(start_from(kUser, "sshd", "192.0.2.7").finished());
}

TEST_F(LoginEngineTest, ALoginThatSaysNeitherRemoteHostNorTerminalIsNeverRemembered) {
    // Every client of such a service (a VPN plugin, a web application) would share it.
    use_policy("[policy]\nremember_host = 1d\n");
    ASSERT_EQ(answer_code(start_from(kUser, "openvpn", "")).verdict, bus::kVerdictSuccess);
    EXPECT_TRUE(store_.remembered_hosts(kUser).empty());
    EXPECT_FALSE(start_from(kUser, "openvpn", "").finished());
    // Nor a remote host that reads as a local origin.
    ASSERT_EQ(answer_code(start_from(kUser, "login", "", "tty1")).verdict, bus::kVerdictSuccess);
    EXPECT_FALSE(start_from(kUser, "login", "local:tty1").finished());
}

TEST_F(LoginEngineTest, RememberHostNeverOpensALockedAccount) {
    use_policy("[policy]\nremember_host = 1d\n");
    Step step = start_from(kUser, "sshd", "192.0.2.7");
    ASSERT_EQ(answer(step, last_code()).verdict, bus::kVerdictSuccess);
    store_.lock(kUser, clock_.now() + 600);
    EXPECT_EQ(start_from(kUser, "sshd", "192.0.2.7").verdict, bus::kVerdictMaxTries);
}

TEST_F(LoginEngineTest, RememberHostIsOffByDefault) {
    Step step = start_from(kUser, "sshd", "192.0.2.7");
    ASSERT_EQ(answer(step, last_code()).verdict, bus::kVerdictSuccess);
    EXPECT_TRUE(store_.remembered_hosts(kUser).empty());
    EXPECT_FALSE(start_from(kUser, "sshd", "192.0.2.7").finished());
}

TEST_F(LoginEngineTest, PrimaryModeWithoutPhoneLoginLeavesItToThePassword) {
    Step step = start(kUser, kOwner, bus::kModePrimary);
    EXPECT_EQ(step.verdict, bus::kVerdictIgnore);
    EXPECT_TRUE(step.messages.empty());
    EXPECT_TRUE(sent_.empty());
}

TEST_F(LoginEngineTest, UnknownModeOrMissingUserIsAnInvalidArgument) {
    EXPECT_EQ(error_code_of([&] { (void)start(kUser, kOwner, "third_factor"); }),
              Errc::InvalidArgument);
    EXPECT_EQ(error_code_of([&] { (void)start("", kOwner); }), Errc::InvalidArgument);
    EXPECT_EQ(error_code_of([&] { (void)start(std::string(257, 'u'), kOwner); }),
              Errc::InvalidArgument);
    EXPECT_TRUE(sent_.empty());
}

// ---- Owners, cancel and timeouts --------------------------------------------------------

TEST_F(LoginEngineTest, AnswerFromAnotherOwnerIsNoSuchLoginAndLeavesTheLoginAlone) {
    Step step = start(kUser, ":1.1");
    std::string code = last_code();
    EXPECT_EQ(error_code_of([&] { (void)answer(step, code, ":1.2"); }), Errc::NoSuchLogin);
    EXPECT_EQ(store_.load_user(kUser).failures, 0);
    EXPECT_EQ(answer(step, code, ":1.1").verdict, bus::kVerdictSuccess);
}

TEST_F(LoginEngineTest, UnknownLoginIdIsNoSuchLogin) {
    Step made_up;
    made_up.id = "00000000000000000000000000000000";
    EXPECT_EQ(error_code_of([&] { (void)answer(made_up, "123456"); }), Errc::NoSuchLogin);
}

TEST_F(LoginEngineTest, CancelEndsTheLoginButNotForAnotherOwner) {
    Step step = start(kUser, ":1.1");
    engine_->cancel(step.id, ":1.2");
    EXPECT_EQ(engine_->pending(), 1u);
    engine_->cancel(step.id, ":1.1");
    EXPECT_EQ(engine_->pending(), 0u);
    EXPECT_EQ(error_code_of([&] { (void)answer(step, last_code(), ":1.1"); }), Errc::NoSuchLogin);
}

TEST_F(LoginEngineTest, CancelOwnerEndsOnlyThatOwnersLogins) {
    store_.save_contact("jiro", {"email", "jiro@example.com"});
    store_.set_two_step("jiro", true);
    Step gone_one = start(kUser, ":1.1");
    Step gone_two = start("jiro", ":1.1");
    Step kept = start(kUser, ":1.2");
    std::string kept_code = last_code();
    ASSERT_EQ(engine_->pending(), 3u);

    engine_->cancel_owner(":1.1");
    EXPECT_EQ(engine_->pending(), 1u);
    EXPECT_EQ(error_code_of([&] { (void)answer(gone_one, "123456", ":1.1"); }), Errc::NoSuchLogin);
    EXPECT_EQ(error_code_of([&] { (void)answer(gone_two, "123456", ":1.1"); }), Errc::NoSuchLogin);
    EXPECT_EQ(answer(kept, kept_code, ":1.2").verdict, bus::kVerdictSuccess);
}

TEST_F(LoginEngineTest, CancelOwnerFindsItsLoginsAfterManyOthersEndedOtherwise) {
    // The index by owner keeps the entries of logins that ended by Cancel, and is built
    // again when those outnumber the logins: across that, each owner still ends its own.
    use_policy("[code]\nresend_interval = 0s\nmax_sends_per_hour = 1000\n"
               "max_sends_per_destination_per_hour = 1000\n");
    Step early = start(kUser, ":9.1");
    std::string early_code = last_code();
    for (int i = 0; i < 300; ++i) {
        std::string owner = ":2." + std::to_string(i);
        Step step = start(kUser, owner);
        engine_->cancel(step.id, owner);
    }
    Step late = start(kUser, ":9.2");
    Step other = start(kUser, ":9.3");
    std::string other_code = last_code();
    ASSERT_EQ(engine_->pending(), 3u);
    engine_->cancel_owner(":2.7");  // ended already: nothing to do
    engine_->cancel_owner(":9.2");
    EXPECT_EQ(engine_->pending(), 2u);
    EXPECT_EQ(error_code_of([&] { (void)answer(late, "123456", ":9.2"); }), Errc::NoSuchLogin);
    EXPECT_EQ(answer(early, early_code, ":9.1").verdict, bus::kVerdictSuccess);
    EXPECT_EQ(answer(other, other_code, ":9.3").verdict, bus::kVerdictSuccess);
}

TEST_F(LoginEngineTest, ExpireRemovesLoginsIdleForTheLoginTimeout) {
    use_policy("[login]\ntimeout = 2m\n[code]\nlifetime = 10m\n");
    Step step = start();
    clock_.advance(119);
    EXPECT_EQ(engine_->expire(), 0u);
    EXPECT_EQ(engine_->pending(), 1u);
    clock_.advance(1);
    EXPECT_EQ(engine_->expire(), 1u);
    EXPECT_EQ(engine_->pending(), 0u);
    EXPECT_EQ(error_code_of([&] { (void)answer(step, last_code()); }), Errc::NoSuchLogin);
}

TEST_F(LoginEngineTest, AFullEngineRefusesUntilExpiredLoginsMakeRoom) {
    use_policy("[policy]\ntwo_step = required\n[login]\ntimeout = 2m\n");
    engine_->set_max_pending(8);
    for (size_t i = 0; i < 8; ++i) {
        std::string user = "u" + std::to_string(i);
        store_.save_contact(user, {"email", user + "@example.com"});
        Step step = step_now([&](Done<Step> done) {
            engine_->start(LoginContext{user, "sshd", "", "", bus::kModeSecondFactor, kOwner},
                           std::move(done));
        });
        ASSERT_FALSE(step.finished()) << i;
    }
    EXPECT_EQ(error_code_of([&] { (void)start(); }), Errc::Unavailable);
    clock_.advance(120);
    EXPECT_EQ(start().prompt, "Verification code: ") << "the expired ones made room";
    EXPECT_EQ(engine_->pending(), 1u);
}

TEST_F(LoginEngineTest, AnswerAfterTheLoginTimeoutIsNoSuchLogin) {
    use_policy("[login]\ntimeout = 2m\n[code]\nlifetime = 10m\n");
    Step step = start();
    clock_.advance(120);
    EXPECT_EQ(error_code_of([&] { (void)answer(step, last_code()); }), Errc::NoSuchLogin);
    EXPECT_EQ(engine_->pending(), 0u);
}

TEST_F(LoginEngineTest, EachAnswerRestartsTheLoginTimeout) {
    use_policy("[login]\ntimeout = 2m\n[code]\nlifetime = 10m\n[lockout]\nmax_failures = 10\n");
    Step step = start();
    clock_.advance(100);
    Step next = answer(step, wrong_code_for(last_code()));
    ASSERT_FALSE(next.finished());
    clock_.advance(100);  // 200 s since start, 100 s since the last answer
    EXPECT_EQ(answer(next, last_code()).verdict, bus::kVerdictSuccess);
}

TEST_F(LoginEngineTest, AbandonedLoginsAreLeftToTheSweepWhileThereIsRoom) {
    use_policy("[login]\ntimeout = 2m\n[code]\nlifetime = 10m\n");
    Step abandoned = start();
    clock_.advance(120);
    store_.save_contact("jiro", {"email", "jiro@example.com"});
    store_.set_two_step("jiro", true);
    (void)start("jiro");
    EXPECT_EQ(engine_->pending(), 2u) << "no walk over every login on each Start";
    EXPECT_EQ(error_code_of([&] { (void)answer(abandoned, "123456"); }), Errc::NoSuchLogin);
    EXPECT_EQ(engine_->expire(), 0u) << "answering it dropped it";
}

TEST_F(LoginEngineTest, RunningLoginKeepsThePolicyItStartedWith) {
    use_policy("[code]\ntries = 3\n[lockout]\nmax_failures = 10\n");
    Step step = start();
    engine_->set_policy(load_policy(
        {{"lwauth.conf", kBasePolicy}, {"lwauth.conf.d/test.conf", "[code]\ntries = 1\n"}}));
    Step next = answer(step, wrong_code_for(last_code()));
    EXPECT_FALSE(next.finished());
    EXPECT_EQ(errors_of(next), "Wrong code. 2 tries left.\n");
}

// ---- Secrecy ----------------------------------------------------------------------------

TEST_F(LoginEngineTest, CodesNeverAppearInWhatTheUserIsShown) {
    use_policy("[code]\nresend_interval = 30s\ntries = 3\n[lockout]\nmax_failures = 4\n");
    store_.save_contact(kUser, {"email", kEmail});

    Step step = start();
    step = answer(step, wrong_code_for(last_code()));
    step = answer(step, "r");  // too soon
    clock_.advance(30);
    channel("sms-primary").set_failing(true);
    step = answer(step, "r");  // a new code, through the backup channel
    step = answer(step, last_code());
    ASSERT_EQ(step.verdict, bus::kVerdictSuccess);

    Step other = start();
    std::string wrong = wrong_code_for(last_code());
    for (int i = 0; i < 3 && !other.finished(); ++i) {
        other = answer(other, wrong);
    }
    Step last = start();
    (void)answer(last, wrong_code_for(last_code()));  // the fourth failure: locked

    ASSERT_GE(sent_.size(), 4u);
    for (const auto& message : sent_) {
        std::string code = code_in(message.text);
        ASSERT_FALSE(code.empty());
        for (const Step& shown : shown_) {
            EXPECT_EQ(shown.prompt.find(code), std::string::npos) << shown.prompt;
            for (const auto& [type, text] : shown.messages) {
                EXPECT_EQ(text.find(code), std::string::npos) << type << ": " << text;
            }
        }
    }
}

}  // namespace
}  // namespace lwauth

// ---- Waiting for a gateway --------------------------------------------------------------

namespace lwauth {
namespace {

class LoginEngineAsyncTest : public LoginEngineTest {
  protected:
    LoginContext context(const std::string& owner = kOwner) {
        return LoginContext{kUser, "sshd", "192.0.2.7", "", bus::kModeSecondFactor, owner};
    }
};

TEST_F(LoginEngineAsyncTest, TheFirstStepWaitsForTheGatewayToAnswer) {
    channel("sms-primary").set_deferred(true);
    std::optional<Result<Step>> got;
    engine_->start(context(), [&](Result<Step> r) { got = std::move(r); });
    EXPECT_FALSE(got.has_value()) << "no step before the gateway has answered";
    EXPECT_EQ(engine_->pending(), 1u);
    channel("sms-primary").complete_next();
    ASSERT_TRUE(got.has_value());
    ASSERT_TRUE(got->ok());
    EXPECT_EQ(got->value().prompt, "Verification code: ");
    EXPECT_FALSE(got->value().id.empty());
}

TEST_F(LoginEngineAsyncTest, AGatewayFailureLaterFallsBackToTheNextChannel) {
    channel("sms-primary").set_deferred(true);
    channel("sms-primary").set_failing(true);
    std::optional<Result<Step>> got;
    engine_->start(context(), [&](Result<Step> r) { got = std::move(r); });
    ASSERT_FALSE(got.has_value());
    channel("sms-primary").complete_next();
    ASSERT_TRUE(got.has_value() && got->ok());
    EXPECT_EQ(sent_.size(), 1u);
    EXPECT_EQ(sent_.back().channel, "sms-backup");
    EXPECT_EQ(got->value().prompt, "Verification code: ");
}

TEST_F(LoginEngineAsyncTest, ALoginCancelledWhileWaitingEndsWithoutAStep) {
    channel("sms-primary").set_deferred(true);
    std::optional<Result<Step>> got;
    engine_->start(context(), [&](Result<Step> r) { got = std::move(r); });
    engine_->cancel_owner(kOwner);
    EXPECT_EQ(engine_->pending(), 0u);
    channel("sms-primary").complete_next();
    ASSERT_TRUE(got.has_value());
    ASSERT_TRUE(!got->ok());
    EXPECT_EQ(got->error().code(), Errc::NoSuchLogin);
}

TEST_F(LoginEngineAsyncTest, ALoginExpiredWhileWaitingEndsWithoutAStep) {
    channel("sms-primary").set_deferred(true);
    std::optional<Result<Step>> got;
    engine_->start(context(), [&](Result<Step> r) { got = std::move(r); });
    clock_.advance(3600);
    EXPECT_EQ(engine_->expire(), 1u);
    channel("sms-primary").complete_next();
    ASSERT_TRUE(got.has_value() && !got->ok());
    EXPECT_EQ(got->error().code(), Errc::NoSuchLogin);
}

TEST_F(LoginEngineAsyncTest, ASecondAnswerWhileTheFirstWaitsIsRefused) {
    Step step = start();
    clock_.advance(60);  // past the resend interval
    channel("sms-primary").set_deferred(true);
    std::optional<Result<Step>> resent;
    engine_->answer(step.id, kOwner, SecretString("r"),
                    [&](Result<Step> r) { resent = std::move(r); });
    EXPECT_FALSE(resent.has_value());
    EXPECT_EQ(error_code_of([&] {
                  engine_->answer(step.id, kOwner, SecretString("123456"), [](Result<Step>) {});
              }),
              Errc::InvalidArgument);
    channel("sms-primary").complete_next();
    ASSERT_TRUE(resent.has_value() && resent->ok());
    EXPECT_NE(infos_of(resent->value()).find("A verification code was sent"), std::string::npos);
}

}  // namespace
}  // namespace lwauth

// ---- Service notifications: fallback and `n` --------------------------------------------

namespace lwauth {
namespace {

class NotificationTest : public LoginEngineTest {
  protected:
    NotificationTest() {
        std::map<std::string, std::shared_ptr<Channel>> channels;
        for (const char* name : {"sms-primary", "sms-backup", "mail", "works"}) {
            auto channel = std::make_shared<FakeChannel>(name, sent_);
            fakes_[name] = channel.get();
            channels[name] = std::move(channel);
        }
        sender_.set_channels(std::move(channels));
        use_policy(
            "[code]\nchannels = sms, notification\n"
            "[channel.works]\ntype = outbox\npath = /nonexistent/works.jsonl\nserves = "
            "notification\n");
    }
};

TEST_F(NotificationTest, WhenSmsCannotBeSentTheCodeGoesAsANotificationAndTheUserIsTold) {
    channel("sms-primary").set_failing(true);
    channel("sms-backup").set_failing(true);
    Step step = start();
    ASSERT_EQ(step.prompt, "Verification code: ");
    EXPECT_NE(infos_of(step).find("SMS could not be sent; the code was sent as a notification."),
              std::string::npos)
        << infos_of(step);
    ASSERT_EQ(sent_.size(), 1u);
    EXPECT_EQ(sent_.back().channel, "works");
    EXPECT_EQ(sent_.back().destination, kUser);
    EXPECT_EQ(answer(step, last_code()).verdict, bus::kVerdictSuccess);
}

TEST_F(NotificationTest, TypingNSendsTheCodeAsANotificationInstead) {
    Step step = start();
    EXPECT_NE(infos_of(step).find("or n to get it as a notification."), std::string::npos);
    ASSERT_EQ(sent_.back().channel, "sms-primary");
    clock_.advance(60);  // past the resend interval
    Step again = answer(step, "n");
    ASSERT_EQ(again.prompt, "Verification code: ");
    EXPECT_NE(infos_of(again).find("as a notification to your workplace account"),
              std::string::npos)
        << infos_of(again);
    EXPECT_EQ(sent_.back().channel, "works");
    EXPECT_EQ(answer(again, last_code()).verdict, bus::kVerdictSuccess);
}

TEST_F(NotificationTest, TypingNRespectsTheResendInterval) {
    Step step = start();
    Step again = answer(step, "n");
    EXPECT_NE(errors_of(again).find("Please wait"), std::string::npos);
    EXPECT_EQ(sent_.size(), 1u);
}

TEST_F(NotificationTest, AUserWithNoContactIsReachedByNotificationUnderTheirUserName) {
    use_policy(
        "[policy]\ntwo_step = required\n[code]\nchannels = sms, notification\n"
        "[channel.works]\ntype = outbox\npath = /nonexistent/works.jsonl\nserves = "
        "notification\n");
    Step step = start("jiro");
    ASSERT_EQ(step.prompt, "Verification code: ") << errors_of(step);
    ASSERT_EQ(sent_.size(), 1u);
    EXPECT_EQ(sent_.back().channel, "works");
    EXPECT_EQ(sent_.back().destination, "jiro");
    EXPECT_EQ(answer_code(step).verdict, bus::kVerdictSuccess);
}

TEST_F(LoginEngineTest, TypingNWithoutNotificationChannelsSaysSo) {
    Step step = start();
    EXPECT_EQ(infos_of(step).find("or n to get it"), std::string::npos)
        << "n is not offered where it cannot work";
    Step again = answer(step, "n");
    EXPECT_NE(errors_of(again).find("Service notifications are not available on this host."),
              std::string::npos);
    EXPECT_EQ(again.prompt, "Verification code: ");
    EXPECT_EQ(sent_.size(), 1u);
}

}  // namespace
}  // namespace lwauth

// ---- mode=primary: log in with phone number, the menu -----------------------------------

namespace lwauth {
namespace {

class PrimaryTest : public LoginEngineTest {
  protected:
    PrimaryTest() { use_policy("[policy]\nlogin_with_phone = allowed\n"); }

    Step primary(const std::string& user = kUser) { return start(user, kOwner, bus::kModePrimary); }
    /// A passwordless login of `user` from `rhost`.
    Step primary_from(const std::string& rhost, const std::string& user = kUser) {
        return step_now([&](Done<Step> done) {
            engine_->start(LoginContext{user, "sshd", rhost, "", bus::kModePrimary, kOwner},
                           std::move(done));
        });
    }
    /// A passwordless login whose three tries are all wrong.
    Step three_wrong(Step step) {
        for (int i = 0; i < 3 && step.verdict.empty(); ++i) {
            step = answer(step, wrong_code_for(last_code()));
        }
        return step;
    }
};

TEST_F(PrimaryTest, APhoneCodeLogsInWithoutThePassword) {
    Step step = primary();
    ASSERT_EQ(step.prompt, "Verification code: ") << errors_of(step);
    ASSERT_EQ(sent_.size(), 1u);
    EXPECT_EQ(sent_[0].destination, kPhone);
    EXPECT_EQ(sent_[0].kind, policy::Kind::Sms);
    EXPECT_NE(infos_of(step).find("Type p to log in with your password instead."),
              std::string::npos)
        << infos_of(step);
    EXPECT_EQ(infos_of(step).find("9012345678"), std::string::npos);
    EXPECT_EQ(answer(step, last_code()).verdict, bus::kVerdictSuccess);
}

TEST_F(PrimaryTest, TypingPChoosesThePassword) {
    Step step = primary();
    Step next = answer(step, "p");
    EXPECT_EQ(next.verdict, bus::kVerdictIgnore);
    EXPECT_EQ(engine_->pending(), 0u);
}

TEST_F(PrimaryTest, AfterAWrongCodeThePasswordIsNoLongerAnEscape) {
    Step step = primary();
    Step wrong = answer(step, wrong_code_for(last_code()));
    ASSERT_EQ(wrong.prompt, "Verification code: ");
    EXPECT_EQ(infos_of(wrong).find("Type p"), std::string::npos);
    Step p = answer(wrong, "p");
    EXPECT_NE(p.verdict, bus::kVerdictIgnore) << "a failing method never falls to the password";
}

TEST_F(PrimaryTest, WrongCodesDenyAndCountApartFromTheLockout) {
    Step step = three_wrong(primary());
    EXPECT_EQ(step.verdict, bus::kVerdictDenied);
    EXPECT_EQ(store_.load_user(kUser).failures, 0) << "the 2-step lockout is not touched";
    EXPECT_EQ(store_.load_user(kUser).passwordless_failures, 3);
}

TEST_F(PrimaryTest, TooManyWrongCodesSuspendThePasswordlessPathNeverTheAccount) {
    // What anyone who knows the user name can do from sshd: two connections of wrong
    // codes (the budget is 5 by default).
    EXPECT_EQ(three_wrong(primary()).verdict, bus::kVerdictDenied);
    Step second = three_wrong(primary());
    EXPECT_EQ(second.verdict, bus::kVerdictMaxTries);
    EXPECT_NE(errors_of(second).find("Log in with your password"), std::string::npos);
    EXPECT_EQ(store_.load_user(kUser).locked_until, 0) << "the account is not locked";
    size_t sent = sent_.size();
    EXPECT_EQ(primary().verdict, bus::kVerdictIgnore) << "the password decides";
    EXPECT_EQ(sent_.size(), sent) << "no code is sent while suspended";
    // The real user, with the password: 2-step verification as always.
    Step two_step = start();
    ASSERT_EQ(two_step.prompt, "Verification code: ") << errors_of(two_step);
    EXPECT_EQ(answer(two_step, last_code()).verdict, bus::kVerdictSuccess);
    EXPECT_EQ(store_.load_user(kUser).passwordless_failures, 0) << "a right code ends the run";
    // The wrong codes of the window still suspend until they age out.
    EXPECT_EQ(primary().verdict, bus::kVerdictIgnore);
    clock_.advance(15 * 60 + 1);
    EXPECT_EQ(primary().prompt, "Verification code: ");
}

TEST_F(PrimaryTest, ARemoteHostsWrongCodesSuspendItForEveryUser) {
    store_.save_contact("jiro", {"phone", "+819011112222"});
    use_policy("[policy]\nlogin_with_phone = allowed\n[lockout]\npasswordless_max_failures = 4\n");
    EXPECT_EQ(three_wrong(primary_from("198.51.100.9")).verdict, bus::kVerdictDenied);
    Step other_user = primary_from("198.51.100.9", "jiro");
    other_user = answer(other_user, wrong_code_for(last_code()));
    EXPECT_EQ(other_user.verdict, bus::kVerdictMaxTries) << "the 4th from that host";
    EXPECT_EQ(primary_from("198.51.100.9", "jiro").verdict, bus::kVerdictIgnore);
    EXPECT_EQ(primary_from("203.0.113.4", "jiro").prompt, "Verification code: ")
        << "another host is not suspended";
}

TEST_F(PrimaryTest, AHundredWrongCodesInARowSuspendUntilARightCode) {
    for (int i = 0; i < kMaxFailuresInARow; ++i) {
        (void)store_.add_passwordless_failure(kUser);
    }
    clock_.advance(24 * 3600);  // long after any window
    EXPECT_EQ(primary().verdict, bus::kVerdictIgnore);
    store_.clear_failures(kUser);  // a right code after the password, or an unlock
    EXPECT_EQ(primary().prompt, "Verification code: ");
}

TEST_F(LoginEngineTest, AHundredWrongCodesInARowLockUntilAnAdministratorUnlocks) {
    // However the lockouts are spaced, no more than 100 in a row (NIST SP 800-63B).
    use_policy("[lockout]\nmax_failures = 1000\n");
    for (int i = 0; i < kMaxFailuresInARow - 1; ++i) {
        (void)store_.add_failure(kUser);
    }
    Step step = start();
    Step last = answer(step, wrong_code_for(last_code()));
    EXPECT_EQ(last.verdict, bus::kVerdictMaxTries);
    EXPECT_NE(errors_of(last).find("until an administrator unlocks it"), std::string::npos)
        << errors_of(last);
    clock_.advance(365 * 24 * 3600);
    Step later = start();
    EXPECT_EQ(later.verdict, bus::kVerdictMaxTries);
    EXPECT_NE(errors_of(later).find("until an administrator unlocks it"), std::string::npos)
        << errors_of(later);
}

TEST_F(PrimaryTest, ALockedUserIsToldAndNothingIsSent) {
    store_.lock(kUser, clock_.now() + 600);
    Step step = primary();
    EXPECT_EQ(step.verdict, bus::kVerdictMaxTries);
    EXPECT_TRUE(sent_.empty());
}

TEST_F(PrimaryTest, NothingIsOfferedWhenThePolicyDisablesIt) {
    use_policy("[policy]\nlogin_with_phone = disabled\n");
    EXPECT_EQ(primary().verdict, bus::kVerdictIgnore);
    use_policy("[policy]\nlogin_with_phone = allowed\n[user:taro]\nlogin_with_phone = disabled\n");
    EXPECT_EQ(primary().verdict, bus::kVerdictIgnore);
    EXPECT_TRUE(sent_.empty());
}

TEST_F(PrimaryTest, LimitsToLocalSessionsAndServicesAreKept) {
    // The test sessions come from sshd with a remote host.
    use_policy("[policy]\nlogin_with_phone = allowed\n[login]\nphone_local_only = yes\n");
    EXPECT_EQ(primary().verdict, bus::kVerdictIgnore);
    use_policy("[policy]\nlogin_with_phone = allowed\n[login]\nphone_services = login, gdm\n");
    EXPECT_EQ(primary().verdict, bus::kVerdictIgnore);
    EXPECT_TRUE(sent_.empty());
    use_policy("[policy]\nlogin_with_phone = allowed\n[login]\nphone_services = login, sshd\n");
    EXPECT_EQ(primary().prompt, "Verification code: ");
}

TEST_F(PrimaryTest, AnUnknownUserAndAUserWithoutAPhoneLookTheSame) {
    store_.save_contact("hanako", {"email", kEmail});
    Step unknown = primary("nobody-here");
    Step email_only = primary("hanako");
    for (const Step& step : {unknown, email_only}) {
        EXPECT_EQ(step.verdict, bus::kVerdictIgnore);
        EXPECT_TRUE(step.messages.empty());
        EXPECT_TRUE(step.prompt.empty());
    }
    EXPECT_TRUE(sent_.empty());
}

TEST_F(PrimaryTest, ACodeThatCannotBeSentLeavesThePasswordToTheUser) {
    channel("sms-primary").set_failing(true);
    channel("sms-backup").set_failing(true);
    Step step = primary();
    EXPECT_EQ(step.verdict, bus::kVerdictIgnore);
    EXPECT_NE(errors_of(step).find("could not be sent"), std::string::npos);
    EXPECT_NE(infos_of(step).find("Log in with your password instead."), std::string::npos);
}

TEST_F(PrimaryTest, ThePasswordIsNotOfferedWhenTheCodeAfterItCouldNotBeSent) {
    use_policy("[policy]\nlogin_with_phone = allowed\n[code]\nmax_sends_per_hour = 1\n");
    // One 2-step login uses up the hour's codes after the password.
    ASSERT_EQ(answer_code(start()).verdict, bus::kVerdictSuccess);
    clock_.advance(600);

    Step step = primary();
    ASSERT_FALSE(step.finished()) << errors_of(step);
    Step next = answer(step, "p");
    EXPECT_EQ(next.verdict, bus::kVerdictDenied);
    EXPECT_NE(errors_of(next).find("password would not help now"), std::string::npos)
        << errors_of(next);
    EXPECT_NE(errors_of(next).find("The next code can be sent in 50 minutes."), std::string::npos)
        << errors_of(next);

    // Once the hour has room again, p leads to the password as before.
    clock_.advance(3001);
    EXPECT_EQ(answer(primary(), "p").verdict, bus::kVerdictIgnore);
}

TEST_F(PrimaryTest, APhoneCodeAtItsCapDoesNotOfferAPasswordThatLeadsNowhere) {
    use_policy(
        "[policy]\nlogin_with_phone = allowed\n[code]\nmax_sends_per_hour = 1\n"
        "max_passwordless_sends_per_hour = 1\n");
    ASSERT_EQ(answer_code(start()).verdict, bus::kVerdictSuccess);
    ASSERT_EQ(answer_code(primary()).verdict, bus::kVerdictSuccess);

    Step step = primary();
    EXPECT_EQ(step.verdict, bus::kVerdictDenied);
    EXPECT_NE(errors_of(step).find("Too many codes were sent recently."), std::string::npos)
        << errors_of(step);
    EXPECT_NE(errors_of(step).find("password would not help now"), std::string::npos);
    EXPECT_EQ(infos_of(step).find("Log in with your password instead."), std::string::npos)
        << infos_of(step);
}

TEST_F(PrimaryTest, APhoneCodeAtItsCapStillOffersThePasswordWhen2StepCanFollow) {
    use_policy("[policy]\nlogin_with_phone = allowed\n[code]\nmax_passwordless_sends_per_hour = 1\n");
    ASSERT_EQ(answer_code(primary()).verdict, bus::kVerdictSuccess);
    Step step = primary();
    EXPECT_EQ(step.verdict, bus::kVerdictIgnore);
    EXPECT_NE(infos_of(step).find("Log in with your password instead."), std::string::npos);
}

TEST_F(PrimaryTest, ARememberedHostNeedsNoCodeSoThePasswordIsStillOffered) {
    use_policy(
        "[policy]\nlogin_with_phone = allowed\nremember_host = 1d\n"
        "[code]\nmax_sends_per_hour = 1\n");
    ASSERT_EQ(answer_code(start()).verdict, bus::kVerdictSuccess);
    EXPECT_EQ(answer(primary(), "p").verdict, bus::kVerdictIgnore);
}

TEST_F(PrimaryTest, PhoneLoginIsNeverRememberedAndNeverSkipped) {
    use_policy("[policy]\nlogin_with_phone = allowed\nremember_host = 1d\n");
    ASSERT_EQ(answer_code(primary()).verdict, bus::kVerdictSuccess);
    EXPECT_TRUE(store_.remembered_hosts(kUser).empty());
    ASSERT_EQ(answer_code(start()).verdict, bus::kVerdictSuccess);
    ASSERT_EQ(store_.remembered_hosts(kUser).size(), 1u);
    // A remembered host does not make the phone login succeed without its code.
    Step step = primary();
    EXPECT_EQ(step.prompt, "Verification code: ");
}

TEST_F(PrimaryTest, TheCodeGoesOnlyToThePhoneNeverToTheEmail) {
    store_.save_contact(kUser, {"email", kEmail});
    use_policy("[policy]\nlogin_with_phone = allowed\n[code]\nchannels = email, sms\n");
    Step step = primary();
    ASSERT_EQ(sent_.size(), 1u);
    EXPECT_EQ(sent_[0].destination, kPhone);
    channel("sms-primary").set_failing(true);
    channel("sms-backup").set_failing(true);
    clock_.advance(60);
    Step again = answer(step, "r");
    EXPECT_EQ(sent_.size(), 1u) << "no email fallback for phone login";
    EXPECT_EQ(again.prompt, "Verification code: ");
}

// A test-only method: an approval, answered yes (success) or anything else (denied).
class ApprovalMethod final : public LoginMethod {
    void begin(const MethodEnv&, Done<Step> done) override {
        done(Result<Step>(Step::ask("Approve: ", true)));
    }
    void answer(const MethodEnv&, std::string_view answer, Done<Step> done) override {
        done(Result<Step>(
            Step::verdict_of(answer == "yes" ? bus::kVerdictSuccess : bus::kVerdictDenied)));
    }
};

// A second passwordless method, to drive the menu; one that counts its own failures, as
// the PIN and the fingerprint do, when `counts_apart`.
class FakeMethodType final : public PrimaryMethodType {
  public:
    explicit FakeMethodType(bool counts_apart = false) : counts_apart_(counts_apart) {}
    std::string id() const override { return "fake"; }
    std::string label(const UserState&, Language) const override { return "a fake approval"; }
    bool offered(const policy::Policy&, const policy::UserPolicy&, const UserState&,
                 const LoginContext&) const override {
        return true;
    }
    std::shared_ptr<LoginMethod> create() const override {
        return std::make_shared<ApprovalMethod>();
    }
    bool counts_apart() const override { return counts_apart_; }

  private:
    bool counts_apart_;
};

class PrimaryMenuTest : public PrimaryTest {
  protected:
    PrimaryMenuTest() {
        types_.primary.push_back(std::make_shared<FakeMethodType>());
        new_engine();
    }
};

TEST_F(PrimaryMenuTest, SeveralMethodsAreAMenu) {
    Step menu = primary();
    EXPECT_EQ(menu.prompt, "Choice (1-2 or p): ");
    EXPECT_TRUE(menu.echo);
    std::string lines = infos_of(menu);
    EXPECT_NE(
        lines.find("1  a code sent to your phone (+81 \u2022\u2022 \u2022\u2022\u2022\u2022 5678)"),
        std::string::npos)
        << lines;
    EXPECT_NE(lines.find("2  a fake approval"), std::string::npos);
    EXPECT_NE(lines.find("p  your password"), std::string::npos);
    EXPECT_TRUE(sent_.empty()) << "nothing is sent before the user chooses";

    Step code = answer(menu, "1");
    ASSERT_EQ(code.prompt, "Verification code: ");
    EXPECT_EQ(answer(code, last_code()).verdict, bus::kVerdictSuccess);
}

TEST_F(PrimaryMenuTest, TheOtherChoiceAndThePassword) {
    Step approve = answer(primary(), " 2 ");
    ASSERT_EQ(approve.prompt, "Approve: ");
    EXPECT_EQ(answer(approve, "no").verdict, bus::kVerdictDenied);
    EXPECT_EQ(answer(primary(), "P").verdict, bus::kVerdictIgnore);
}

TEST_F(PrimaryMenuTest, AnAnswerNotInTheListAsksAgain) {
    Step menu = primary();
    for (const char* bad : {"3", "0", "", "phone", "12"}) {
        Step again = answer(menu, bad);
        EXPECT_EQ(again.prompt, "Choice (1-2 or p): ") << bad;
        EXPECT_NE(errors_of(again).find("Type a number from the list"), std::string::npos);
        menu = again;
    }
}

TEST_F(PrimaryTest, ASpentBudgetStillOffersTheMethodsThatCountApart) {
    types_.primary.push_back(std::make_shared<FakeMethodType>(true));
    new_engine();
    EXPECT_EQ(three_wrong(answer(primary(), "1")).verdict, bus::kVerdictDenied);
    EXPECT_EQ(three_wrong(answer(primary(), "1")).verdict, bus::kVerdictMaxTries);
    size_t sent = sent_.size();
    EXPECT_EQ(primary().prompt, "Approve: ") << "the phone's code is not offered, the other is";
    EXPECT_EQ(sent_.size(), sent);
}

// ---- a login started by a caller other than root (a screen locker) ----------------------

// A passwordless method for local sessions alone, as quick login is, that serves a caller
// other than root or not; it keeps the context it was last asked about.
class LocalOnlyType final : public PrimaryMethodType {
  public:
    explicit LocalOnlyType(bool serves_unprivileged) : serves_(serves_unprivileged) {}
    std::string id() const override { return "local"; }
    std::string label(const UserState&, Language) const override { return "a local approval"; }
    bool offered(const policy::Policy&, const policy::UserPolicy&, const UserState&,
                 const LoginContext& context) const override {
        asked = context;
        return !context.remote();
    }
    std::shared_ptr<LoginMethod> create() const override {
        return std::make_shared<ApprovalMethod>();
    }
    bool serves_unprivileged() const override { return serves_; }

    mutable std::optional<LoginContext> asked;

  private:
    bool serves_;
};

class UnprivilegedLoginTest : public PrimaryTest {
  protected:
    /// The phone's type, then a LocalOnlyType; `local_alone` drops the phone's.
    std::shared_ptr<LocalOnlyType> offer_local(bool serves_unprivileged, bool local_alone = false) {
        auto local = std::make_shared<LocalOnlyType>(serves_unprivileged);
        if (local_alone) {
            types_.primary = {local};
        } else {
            types_.primary = {types_.primary.front(), local};
        }
        new_engine();
        return local;
    }
    /// A login from the console's display: by a caller other than root when `unprivileged`.
    static LoginContext at_display(bool unprivileged, const char* mode = bus::kModePrimary) {
        LoginContext context{kUser, "i3lock", "", ":0", mode, kOwner};
        context.unprivileged = unprivileged;
        return context;
    }
    Step start_with(const LoginContext& context) {
        Step step = step_now([&](Done<Step> done) { engine_->start(context, std::move(done)); });
        shown_.push_back(step);
        return step;
    }
};

TEST_F(UnprivilegedLoginTest, AMethodThatServesNoUnprivilegedCallerIsNeverOfferedOne) {
    offer_local(false);
    EXPECT_EQ(start_with(at_display(false)).prompt, "Choice (1-2 or p): ") << "root: both";
    Step phone = start_with(at_display(true));
    ASSERT_EQ(phone.prompt, "Verification code: ") << "the phone's code alone";
    EXPECT_EQ(answer(phone, last_code()).verdict, bus::kVerdictSuccess);

    offer_local(false, true);
    EXPECT_EQ(start_with(at_display(true)).verdict, bus::kVerdictIgnore) << "nothing: the password";
    EXPECT_EQ(start_with(at_display(false)).prompt, "Approve: ");
}

TEST_F(UnprivilegedLoginTest, ARemoteLogindSessionIsNotOfferedALocalMethod) {
    auto local = offer_local(true, true);
    LoginContext remote = at_display(false);
    remote.session_remote = true;
    EXPECT_EQ(start_with(remote).verdict, bus::kVerdictIgnore);
    ASSERT_TRUE(local->asked);
    EXPECT_TRUE(local->asked->remote());
    remote.unprivileged = true;
    EXPECT_EQ(start_with(remote).verdict, bus::kVerdictIgnore);
    EXPECT_EQ(start_with(at_display(true)).prompt, "Approve: ");
}

TEST_F(UnprivilegedLoginTest, AnUnprivilegedCallersRemoteHostOnlyMakesTheLoginRemote) {
    auto local = offer_local(true);
    LoginContext claimed = at_display(true);
    claimed.rhost = "192.0.2.7";
    Step phone = start_with(claimed);
    ASSERT_EQ(phone.prompt, "Verification code: ") << "remote: the local method is not offered";
    ASSERT_TRUE(local->asked);
    EXPECT_TRUE(local->asked->remote());
    EXPECT_EQ(local->asked->rhost, "") << "no place of other users' logins";

    // Its wrong codes are the user's alone: another user's login from that host is
    // still offered the code.
    store_.save_contact("jiro", {"phone", "+819011112222"});
    use_policy("[policy]\nlogin_with_phone = allowed\n[lockout]\npasswordless_max_failures = 3\n");
    offer_local(true);
    EXPECT_TRUE(three_wrong(start_with(claimed)).finished());
    EXPECT_EQ(start_with(claimed).verdict, bus::kVerdictIgnore) << "the user's count";
    EXPECT_EQ(primary_from("192.0.2.7", "jiro").prompt, "Verification code: ");
}

TEST_F(UnprivilegedLoginTest, OneUsersUnprivilegedLoginsCannotFillTheEngine) {
    offer_local(true, true);
    for (size_t i = 0; i < LoginEngine::kMaxUnprivilegedLoginsPerUser; ++i) {
        ASSERT_EQ(start_with(at_display(true)).prompt, "Approve: ") << i;
    }
    try {
        (void)start_with(at_display(true));
        ADD_FAILURE() << "one more login of the same user by a caller other than root";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::Unavailable);
    }
    EXPECT_EQ(start_with(at_display(false)).prompt, "Approve: ") << "root's logins go on";
    LoginContext jiro = at_display(true);
    jiro.user = "jiro";
    EXPECT_EQ(start_with(jiro).prompt, "Approve: ") << "another user's too";
}

TEST_F(UnprivilegedLoginTest, AnUnprivilegedSecondFactorIsCheckedButNeverRemembered) {
    use_policy("[policy]\nremember_host = 8h\n");
    Step code = start_with(at_display(true, bus::kModeSecondFactor));
    ASSERT_EQ(code.prompt, "Verification code: ");
    EXPECT_EQ(answer(code, last_code()).verdict, bus::kVerdictSuccess);
    EXPECT_FALSE(start_with(at_display(false, bus::kModeSecondFactor)).finished())
        << "root's login at the same place still asks its code";
}

// ---- mode=second_factor: more than one method, the choice ------------------------------

// A second 2-step method beside the code, to drive the choice.
class FakeSecondFactor final : public SecondFactorType {
  public:
    explicit FakeSecondFactor(Fit fit) : fit_(fit) {}
    std::string id() const override { return "approval"; }
    std::string label(const policy::Policy&, const policy::UserPolicy&, const UserState&,
                      Language) const override {
        return "an approval on your watch";
    }
    Fit fit(const policy::Policy&, const policy::UserPolicy&, const UserState&,
            const LoginContext&) const override {
        return fit_;
    }
    Step unavailable(const LoginContext&) const override {
        Step step = Step::verdict_of(bus::kVerdictDenied);
        step.error("Your watch cannot be reached.");
        return step;
    }
    std::shared_ptr<LoginMethod> create(const policy::Policy&, const policy::UserPolicy&,
                                        const UserState&, const LoginContext&) const override {
        return std::make_shared<ApprovalMethod>();
    }

  private:
    Fit fit_;
};

class SecondFactorChoiceTest : public LoginEngineTest {
  protected:
    SecondFactorChoiceTest() { also_offer(SecondFactorType::Fit::Applies); }

    /// The approval as a second method after the code, fitting as said.
    void also_offer(SecondFactorType::Fit fit) {
        types_.second_factor = {types_.second_factor.front(),
                                std::make_shared<FakeSecondFactor>(fit)};
        new_engine();
    }
};

TEST_F(SecondFactorChoiceTest, SeveralMethodsAreOneChoiceAndNothingIsSentBeforeIt) {
    Step choice = start();
    EXPECT_FALSE(choice.finished());
    EXPECT_EQ(choice.prompt, "Choice (1-2): ");
    EXPECT_TRUE(choice.echo);
    std::string lines = infos_of(choice);
    EXPECT_NE(
        lines.find(
            "How do you want to verify your login?\n"
            "  1  a verification code sent to +81 \u2022\u2022 \u2022\u2022\u2022\u2022 5678\n"
            "  2  an approval on your watch\n"),
        std::string::npos)
        << lines;
    EXPECT_EQ(lines.find("9012345678"), std::string::npos);
    EXPECT_TRUE(sent_.empty());
}

TEST_F(SecondFactorChoiceTest, EachChoiceBeginsItsMethod) {
    Step code = answer(start(), "1");
    ASSERT_EQ(code.prompt, "Verification code: ") << errors_of(code);
    ASSERT_EQ(sent_.size(), 1u);
    EXPECT_EQ(answer_code(code).verdict, bus::kVerdictSuccess);

    Step approve = answer(start(), " 2 ");
    ASSERT_EQ(approve.prompt, "Approve: ");
    EXPECT_EQ(sent_.size(), 1u) << "no code for the other method";
    EXPECT_EQ(answer(approve, "yes").verdict, bus::kVerdictSuccess);
    EXPECT_EQ(answer(start(), "2").prompt, "Approve: ");
}

TEST_F(SecondFactorChoiceTest, AChoiceNotInTheListIsAskedOnceMoreThenDenied) {
    Step choice = start();
    Step again = answer(choice, "3");
    EXPECT_EQ(again.prompt, "Choice (1-2): ");
    EXPECT_NE(errors_of(again).find("Type a number from the list."), std::string::npos);
    EXPECT_NE(infos_of(again).find("2  an approval on your watch"), std::string::npos);
    Step denied = answer(again, "approval");
    EXPECT_EQ(denied.verdict, bus::kVerdictDenied);
    EXPECT_NE(errors_of(denied).find("not one of the choices"), std::string::npos);
    EXPECT_EQ(engine_->pending(), 0u);
    EXPECT_TRUE(sent_.empty());
    EXPECT_EQ(store_.load_user(kUser).failures, 0) << "no secret was checked";

    // One slip, then a good choice: the method runs.
    Step slip = answer(start(), "");
    EXPECT_EQ(answer(slip, "2").prompt, "Approve: ");
}

TEST_F(SecondFactorChoiceTest, OneMethodThatAppliesBeginsAtOnce) {
    also_offer(SecondFactorType::Fit::NotSetUp);
    EXPECT_EQ(start().prompt, "Verification code: ");
    also_offer(SecondFactorType::Fit::Unavailable);
    EXPECT_EQ(start().prompt, "Verification code: ");

    // jiro has no contact: the approval alone applies.
    store_.set_two_step("jiro", true);
    also_offer(SecondFactorType::Fit::Applies);
    Step approve = start("jiro");
    EXPECT_EQ(approve.prompt, "Approve: ");
    EXPECT_EQ(answer(approve, "no").verdict, bus::kVerdictDenied);
}

TEST_F(SecondFactorChoiceTest, NoMethodThatAppliesIsRefusedAsWithTheCodeAlone) {
    use_policy("[policy]\ntwo_step = required\n");
    also_offer(SecondFactorType::Fit::NotSetUp);
    Step refused = start("jiro");  // nothing set up: the enrolment rules
    EXPECT_EQ(refused.verdict, bus::kVerdictDenied);
    EXPECT_NE(errors_of(refused).find("no verified phone number or email address"),
              std::string::npos)
        << errors_of(refused);

    also_offer(SecondFactorType::Fit::Unavailable);  // set up but out of reach: it says why
    Step unreachable = start("jiro");
    EXPECT_EQ(unreachable.verdict, bus::kVerdictDenied);
    EXPECT_EQ(errors_of(unreachable), "Your watch cannot be reached.\n");

    use_policy("[policy]\ntwo_step = required\n[code]\nsms_country_prefixes = +1\n");
    also_offer(SecondFactorType::Fit::NotSetUp);  // the code's contacts are out of reach
    EXPECT_NE(errors_of(start()).find("cannot be delivered"), std::string::npos);
    EXPECT_TRUE(sent_.empty());
}

TEST_F(SecondFactorChoiceTest, EveryMethodsSuccessRemembersThePlace) {
    use_policy("[policy]\nremember_host = 8h\n");
    also_offer(SecondFactorType::Fit::Applies);
    Step approve = answer(start(), "2");
    ASSERT_EQ(answer(approve, "yes").verdict, bus::kVerdictSuccess);
    Step again = start();
    EXPECT_EQ(again.verdict, bus::kVerdictSuccess);
    EXPECT_NE(infos_of(again).find("No verification code needed"), std::string::npos);

    // A denial remembers nothing.
    Step elsewhere = answer(start_from(kUser, "sudo", "192.0.2.7"), "2");
    ASSERT_EQ(answer(elsewhere, "no").verdict, bus::kVerdictDenied);
    EXPECT_EQ(start_from(kUser, "sudo", "192.0.2.7").prompt, "Choice (1-2): ");
}

}  // namespace
}  // namespace lwauth
