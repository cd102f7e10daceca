// Quick login with a PIN (mode=primary) through the engine, with an in-memory store, a
// fake clock and the real PinHasher on a real worker pool under a real sd-event loop: the
// PIN is checked on a worker while the login's step waits.
#include "login/methods/pin_method.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "deferred_store.hpp"
#include "fakes.hpp"
#include "login/engine.hpp"
#include "lwauth/bus_names.hpp"
#include "lwauth/sd_bus.hpp"

namespace lwauth {
namespace {

using namespace std::chrono_literals;

constexpr const char* kUser = "hana";
constexpr const char* kOwner = ":1.42";
constexpr const char* kPin = "482915";
constexpr const char* kWrongPin = "482916";
constexpr uint64_t kSecond = 1000 * 1000;
const policy::Argon2Params kTestCosts{8192, 1, 1};  // the smallest the policy allows: fast

std::string quick_policy(const std::string& extra = "", const std::string& memory = "8M") {
    return "[policy]\ntwo_step = optional\n[quick_login]\npin = allowed\nmax_failures = 3\n"
           "lifetime = 1h\nargon2_time = 1\nargon2_memory = " +
           memory + "\n" + extra;
}

class PinMethodTest : public ::testing::Test {
  protected:
    PinMethodTest() {
        sd_event* event = nullptr;
        EXPECT_GE(sd_event_new(&event), 0);
        event_.reset(event);
        use_pool(2);
        set_pin(kPin, kTestCosts);
        use_policy(quick_policy());
    }
    ~PinMethodTest() override {
        engine_.reset();
        pool_.reset();
    }

    // A pool of `threads` workers on which at most `queue_limit` checks may wait.
    void use_pool(unsigned threads, size_t queue_limit = WorkerPool::kDefaultQueueLimit) {
        engine_.reset();
        pool_ = std::make_unique<WorkerPool>(event_.get(), threads, queue_limit);
        hasher_ = std::make_unique<quick::PinHasher>(*pool_, random_);
    }

    void use_policy(const std::string& text) {
        policy_ = test::load_policy({{"lwauth.conf", text}});
        engine_ = std::make_unique<LoginEngine>(
            EngineDeps{s_.clock, s_.random, *store_, s_.users, &timers_}, policy_,
            LoginMethodTypes{
                {std::make_shared<PinMethodType>(PinDeps{s_.clock, *store_, *hasher_})}, {}});
    }

    // The user's PIN, as `lwauthctl pin set` leaves it after a full login now: hashed,
    // quick login armed, nothing counted.
    void set_pin(const std::string& pin, const policy::Argon2Params& costs) {
        s_.store.record_full_login(kUser, s_.clock.now());
        s_.store.set_pin(kUser, quick::hash_pin_blocking(pin, costs, std::string(16, 's')));
    }

    [[nodiscard]] UserState state() { return s_.store.load_user(kUser); }

    // Starts a passwordless login from `context` (its user, mode and owner filled in).
    Step start(LoginContext context = local()) {
        context.user = kUser;
        context.mode = bus::kModePrimary;
        context.owner = kOwner;
        context.reply_timeout_usec = 30 * kSecond;
        got_.reset();
        engine_->start(std::move(context), [this](Result<Step> r) { got_ = std::move(r); });
        EXPECT_TRUE(run_until_answered()) << "Start did not answer";
        Step step = got_->value();
        id_ = step.id;
        return step;
    }

    static LoginContext local() {
        LoginContext context;
        context.service = "login";
        context.tty = "tty1";
        return context;
    }

    // Answers the prompt, running the loop until the step comes (the PIN is checked on a
    // worker); the step, or the error the login ended with.
    Result<Step> answer(const std::string& text) {
        got_.reset();
        engine_->answer(id_, kOwner, SecretString(text),
                        [this](Result<Step> r) { got_ = std::move(r); });
        EXPECT_TRUE(run_until_answered()) << "Answer did not answer";
        return got_ ? std::move(*got_) : Result<Step>(Error(Errc::Internal, "no answer"));
    }

    bool run_until_answered() {
        auto give_up = std::chrono::steady_clock::now() + 60s;
        while (!got_ && std::chrono::steady_clock::now() < give_up) {
            while (deferred_ && deferred_->run_one()) {
            }
            if (!got_) {
                sd_event_run(event_.get(), 10 * 1000);
            }
        }
        return got_.has_value();
    }

    // A login over `deferred`, started, and the right PIN answered: each store operation
    // from here on runs when the test says.
    void answer_by_hand(test::DeferredStore& deferred, const std::string& policy) {
        store_ = &deferred;
        use_policy(policy);
        deferred_ = &deferred;
        start();
        deferred_ = nullptr;
        got_.reset();
        engine_->answer(id_, kOwner, SecretString(kPin),
                        [this](Result<Step> r) { got_ = std::move(r); });
    }

    // Runs the loop (the workers' results) until a store operation waits.
    void run_until_waiting(const test::DeferredStore& deferred) {
        auto give_up = std::chrono::steady_clock::now() + 60s;
        while (deferred.waiting() == 0 && std::chrono::steady_clock::now() < give_up) {
            sd_event_run(event_.get(), 10 * 1000);
        }
    }

    static std::string errors(const Step& step) { return test::texts_of(step, bus::kMessageError); }

    EventPtr event_;
    test::Services s_;
    AsyncStore* store_ = &s_.async_store;
    test::DeferredStore* deferred_ = nullptr;  // when store_ is one: run as the loop runs
    OpenSslRandom random_;
    std::unique_ptr<WorkerPool> pool_;
    std::unique_ptr<quick::PinHasher> hasher_;
    test::FakeTimers timers_;
    std::shared_ptr<const policy::Policy> policy_;
    std::unique_ptr<LoginEngine> engine_;
    std::optional<Result<Step>> got_;
    std::string id_;
};

TEST_F(PinMethodTest, ARightPinLogsInWithoutThePasswordAndClearsTheCount) {
    s_.store.add_pin_failure(kUser);
    Step first = start();
    EXPECT_EQ(first.prompt, "PIN (p for your password): ");
    EXPECT_FALSE(first.echo) << "a PIN is never echoed";
    Result<Step> step = answer(kPin);
    ASSERT_TRUE(step.ok()) << step.error().what();
    EXPECT_EQ(step->verdict, bus::kVerdictSuccess);
    EXPECT_EQ(state().pin_failures, 0);
    EXPECT_EQ(engine_->pending(), 0u);
}

TEST_F(PinMethodTest, AWrongPinIsCountedAndThePinAskedAgain) {
    start();
    Result<Step> step = answer(kWrongPin);
    ASSERT_TRUE(step.ok()) << step.error().what();
    EXPECT_EQ(step->verdict, bus::kVerdictContinue);
    EXPECT_EQ(step->prompt, "PIN: ") << "p no longer chooses the password";
    EXPECT_EQ(errors(*step), "Wrong PIN. 2 tries left before the PIN is disabled.\n");
    EXPECT_EQ(state().pin_failures, 1);
    // Its own count: the 2-step lockout and the passwordless budget are not touched.
    EXPECT_EQ(state().failures, 0);
    EXPECT_EQ(state().passwordless_failures, 0);

    EXPECT_EQ(answer(kPin)->verdict, bus::kVerdictSuccess);
    EXPECT_EQ(state().pin_failures, 0);
}

TEST_F(PinMethodTest, MaxFailuresWrongPinsDisableThePinUntilTheNextFullLogin) {
    start();
    EXPECT_EQ(answer(kWrongPin)->verdict, bus::kVerdictContinue);
    EXPECT_EQ(errors(*answer(kWrongPin)), "Wrong PIN. 1 try left before the PIN is disabled.\n");
    Result<Step> last = answer(kWrongPin);
    ASSERT_TRUE(last.ok());
    EXPECT_EQ(last->verdict, bus::kVerdictDenied);
    EXPECT_EQ(errors(*last),
              "Too many wrong PINs: the PIN is disabled. Log in with your password to use it "
              "again.\n");
    EXPECT_EQ(state().pin_failures, 3);

    // Not offered any more, even with the right PIN known: the password alone.
    EXPECT_EQ(start().verdict, bus::kVerdictIgnore);
    // A full login arms it again.
    s_.store.record_full_login(kUser, s_.clock.now());
    EXPECT_EQ(start().prompt, "PIN (p for your password): ");
    EXPECT_EQ(answer(kPin)->verdict, bus::kVerdictSuccess);
}

TEST_F(PinMethodTest, OfferedToAUserOverThePasswordlessBudget) {
    // Anyone can use up alice's passwordless budget from afar (wrong codes, LINE links left
    // to expire); the PIN counts its own failures and stays offered at the console.
    for (int i = 0; i < kMaxFailuresInARow; ++i) {
        (void)s_.store.add_passwordless_failure(kUser);
    }
    EXPECT_EQ(start().prompt, "PIN (p for your password): ");
    EXPECT_EQ(answer(kPin)->verdict, bus::kVerdictSuccess);
}

TEST_F(PinMethodTest, ALoginStartedBeforeThePinWasDisabledElsewhereIsDenied) {
    start();
    for (int i = 0; i < 3; ++i) {
        s_.store.add_pin_failure(kUser);  // another login's wrong PINs meanwhile
    }
    Result<Step> step = answer(kPin);
    ASSERT_TRUE(step.ok());
    EXPECT_EQ(step->verdict, bus::kVerdictDenied) << "even the right PIN: it is disabled";
    EXPECT_EQ(state().pin_failures, 3) << "nothing checked, nothing counted";
}

TEST_F(PinMethodTest, ThePinExpiresAfterItsLifetimeAndAFullLoginArmsItAgain) {
    s_.clock.advance(3600 - 1);
    EXPECT_EQ(start().prompt, "PIN (p for your password): ");
    engine_->cancel(id_, kOwner);
    s_.clock.advance(1);
    EXPECT_EQ(start().verdict, bus::kVerdictIgnore) << "lifetime = 1h from the setting of the PIN";
    s_.store.record_full_login(kUser, s_.clock.now());
    start();
    EXPECT_EQ(answer(kPin)->verdict, bus::kVerdictSuccess);
}

TEST_F(PinMethodTest, APinThatExpiresDuringTheLoginGivesWayToThePassword) {
    s_.clock.advance(3600 - 1);
    start();
    s_.clock.advance(1);
    Result<Step> step = answer(kPin);
    ASSERT_TRUE(step.ok());
    EXPECT_EQ(step->verdict, bus::kVerdictIgnore);
    EXPECT_EQ(errors(*step), "Your PIN can no longer be used.\n");
    EXPECT_EQ(state().pin_failures, 0);
}

TEST_F(PinMethodTest, ARightPinUnderOldCostsIsHashedAgainWithThePolicys) {
    use_policy(quick_policy("", "9M"));
    start();
    EXPECT_EQ(answer(kPin)->verdict, bus::kVerdictSuccess);
    std::string rehashed = state().pin_hash;
    EXPECT_EQ(rehashed.rfind("$argon2id$v=19$m=9216,t=1,p=1$", 0), 0u) << rehashed;
    EXPECT_TRUE(quick::verify_pin_blocking(kPin, rehashed).value());
    EXPECT_FALSE(quick::needs_rehash(rehashed, policy_->argon2));

    // A wrong PIN is never hashed: the stored hash stays.
    set_pin(kPin, kTestCosts);
    std::string before = state().pin_hash;
    start();
    EXPECT_EQ(answer(kWrongPin)->verdict, bus::kVerdictContinue);
    EXPECT_EQ(state().pin_hash, before);
}

TEST_F(PinMethodTest, APinSetWhileTheOldOneIsHashedAgainIsKept) {
    test::DeferredStore deferred(s_.async_store);
    answer_by_hand(deferred, quick_policy("", "9M"));
    // The state read, the count, its clearing and, once the new hash is made, the read
    // before it is stored: the new PIN is set just before that read.
    for (int operation = 0; operation < 4; ++operation) {
        run_until_waiting(deferred);
        if (operation == 3) {
            set_pin("604127", kTestCosts);
        }
        ASSERT_TRUE(deferred.run_one()) << operation;
    }
    deferred_ = &deferred;
    ASSERT_TRUE(run_until_answered());
    EXPECT_EQ(got_->value().verdict, bus::kVerdictSuccess);
    EXPECT_TRUE(quick::verify_pin_blocking("604127", state().pin_hash).value())
        << "the new PIN stays";
}

TEST_F(PinMethodTest, APinRemovedWhileTheOldOneIsHashedAgainStaysRemoved) {
    test::DeferredStore deferred(s_.async_store);
    answer_by_hand(deferred, quick_policy("", "9M"));
    // The state read, the count, its clearing and, once the new hash is made, the first
    // store operation of the rehash; then the PIN is removed (RemovePin, an
    // administrator's reset) before anything else the login does.
    for (int operation = 0; operation < 4; ++operation) {
        run_until_waiting(deferred);
        ASSERT_TRUE(deferred.run_one()) << operation;
    }
    s_.store.set_pin_hash(kUser, "");
    deferred_ = &deferred;
    ASSERT_TRUE(run_until_answered());
    EXPECT_EQ(got_->value().verdict, bus::kVerdictSuccess);
    EXPECT_FALSE(state().pin_set) << "the rehash must not bring the PIN back";
}

TEST_F(PinMethodTest, NeverOfferedToARemoteSessionUnlessThePolicySays) {
    LoginContext from_host = local();
    from_host.rhost = "192.0.2.7";
    EXPECT_EQ(start(from_host).verdict, bus::kVerdictIgnore) << "remote host";
    LoginContext remote_session = local();
    remote_session.session_remote = true;
    EXPECT_EQ(start(remote_session).verdict, bus::kVerdictIgnore) << "remote logind session";
    LoginContext ssh = local();
    ssh.tty = "ssh";
    EXPECT_EQ(start(ssh).verdict, bus::kVerdictIgnore) << "sshd's PAM_TTY";

    LoginContext localhost = local();
    localhost.rhost = "localhost";
    EXPECT_EQ(start(localhost).prompt, "PIN (p for your password): ");
    engine_->cancel(id_, kOwner);

    use_policy(quick_policy("remote = yes\n"));
    EXPECT_EQ(start(from_host).prompt, "PIN (p for your password): ");
    EXPECT_EQ(answer(kPin)->verdict, bus::kVerdictSuccess);
}

TEST_F(PinMethodTest, NotOfferedWhenThePolicyDisablesItOrNoPinIsSet) {
    use_policy(quick_policy("[user:hana]\nquick_login.pin = disabled\n"));
    EXPECT_EQ(start().verdict, bus::kVerdictIgnore);
    use_policy(quick_policy());
    s_.store.set_pin_hash(kUser, "");
    EXPECT_EQ(start().verdict, bus::kVerdictIgnore);
}

TEST_F(PinMethodTest, OfferedToAScreenLockerRunningAsTheUser) {
    LoginContext locker = local();
    locker.service = "i3lock";
    locker.unprivileged = true;
    EXPECT_EQ(start(locker).prompt, "PIN (p for your password): ");
    EXPECT_EQ(answer(kPin)->verdict, bus::kVerdictSuccess);

    // The remote host such a caller names is its own word, but still makes it remote.
    locker.rhost = "192.0.2.7";
    EXPECT_EQ(start(locker).verdict, bus::kVerdictIgnore);
}

TEST_F(PinMethodTest, PChoosesThePasswordUntilAPinHasBeenChecked) {
    start();
    EXPECT_EQ(answer(" p ")->verdict, bus::kVerdictIgnore);

    start();
    EXPECT_EQ(answer(kWrongPin)->verdict, bus::kVerdictContinue);
    Result<Step> step = answer("p");
    ASSERT_TRUE(step.ok());
    EXPECT_EQ(step->verdict, bus::kVerdictContinue) << "after a check only the PIN decides";
    EXPECT_EQ(errors(*step), "A PIN is digits only.\n");
    EXPECT_EQ(state().pin_failures, 1) << "not counted";
}

TEST_F(PinMethodTest, AnAnswerThatIsNoPinIsAskedAgainWithoutCounting) {
    start();
    for (const char* typed :
         {"", "abc123", "123", "482915x", "123456789012345678901234567890123"}) {
        Result<Step> step = answer(typed);
        ASSERT_TRUE(step.ok()) << typed;
        EXPECT_EQ(step->prompt, "PIN (p for your password): ") << typed;
        EXPECT_EQ(errors(*step), "A PIN is digits only, or type p for your password.\n") << typed;
    }
    EXPECT_EQ(state().pin_failures, 0);
    EXPECT_EQ(answer(kPin)->verdict, bus::kVerdictSuccess);
}

TEST_F(PinMethodTest, AFullPoolGivesWayToThePasswordUncounted) {
    use_pool(1, 0);  // no check may wait
    use_policy(quick_policy());
    start();
    Result<Step> step = answer(kPin);
    ASSERT_TRUE(step.ok());
    EXPECT_EQ(step->verdict, bus::kVerdictIgnore);
    EXPECT_EQ(errors(*step), "Your PIN cannot be checked right now.\n");
    EXPECT_EQ(test::texts_of(*step, bus::kMessageInfo), "Log in with your password instead.\n");
    EXPECT_EQ(state().pin_failures, 0);
}

TEST_F(PinMethodTest, AStoreThatCannotCountThePinEndsTheLoginWithoutSuccess) {
    test::DeferredStore deferred(s_.async_store);
    answer_by_hand(deferred, quick_policy());
    ASSERT_TRUE(deferred.run_one()) << "the user's state read";
    run_until_waiting(deferred);  // the check on a worker
    ASSERT_FALSE(got_.has_value()) << "no verdict before the PIN is counted";
    ASSERT_TRUE(deferred.fail_one(Error(Errc::Unavailable, "database is full")));
    ASSERT_TRUE(got_.has_value());
    ASSERT_FALSE(got_->ok()) << "the right PIN, but uncounted: no success";
    EXPECT_EQ(got_->error().code(), Errc::Unavailable);
}

}  // namespace
}  // namespace lwauth
