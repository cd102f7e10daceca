// LoginEngine over a store that answers later (DeferredStore), as PostgreSQL will: each
// login step must wait for the store's answers, hold nothing that a later answer finds
// gone, and keep the atomic operations (add_failure, reserve_send) whole. Every step is
// checked not to come before the store has answered.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "deferred_store.hpp"
#include "delivery.hpp"
#include "fakes.hpp"
#include "login/engine.hpp"
#include "login/methods/code_method.hpp"
#include "login/methods/phone_method.hpp"
#include "lwauth/bus_names.hpp"
#include "lwauth/error.hpp"
#include "store/async_store.hpp"
#include "store/memory_store.hpp"

namespace lwauth {
namespace {

using test::code_in;
using test::DeferredStore;
using test::FakeChannel;
using test::wrong_code_for;

constexpr const char* kUser = "taro";
constexpr const char* kOwner = ":1.42";
constexpr const char* kPhone = "+819012345678";

constexpr const char* kPolicy = R"([policy]
two_step = optional

[code]
channels = sms

[channel.sms]
type = outbox
path = /nonexistent/lwauth-unit/sms.jsonl
serves = sms
)";

class DeferredEngineTest : public ::testing::Test {
  protected:
    DeferredEngineTest() {
        auto channel = std::make_shared<FakeChannel>("sms", sent_);
        sender_.set_channels({{"sms", channel}});
        s_.store.save_contact(kUser, {"phone", kPhone});
        s_.store.set_two_step(kUser, true);
        use_policy("");
    }

    void use_policy(const std::string& drop_in) {
        auto policy =
            test::load_policy({{"lwauth.conf", kPolicy}, {"lwauth.conf.d/test.conf", drop_in}});
        engine_ = std::make_unique<LoginEngine>(
            EngineDeps{s_.clock, s_.random, deferred_, s_.users}, policy, types_);
    }

    /// The result `call` gives once the store has answered; fails the test if it came
    /// before, or never.
    Result<Step> later(const std::function<void(Done<Step>)>& call) {
        std::optional<Result<Step>> got;
        call([&](Result<Step> r) { got.emplace(std::move(r)); });
        EXPECT_FALSE(got.has_value()) << "answered before the store did";
        EXPECT_GT(deferred_.run(), 0u);
        if (!got) {
            ADD_FAILURE() << "no answer after the store's";
            return Error(Errc::Internal, "no answer");
        }
        return std::move(*got);
    }

    Step start(const char* mode = bus::kModeSecondFactor, const std::string& user = kUser) {
        return later([&](Done<Step> done) {
                   engine_->start(LoginContext{user, "sshd", "192.0.2.7", "", mode, kOwner},
                                  std::move(done));
               })
            .value();
    }

    Step answer(const Step& step, const std::string& text) {
        return later([&](Done<Step> done) {
                   engine_->answer(step.id, kOwner, SecretString(text), std::move(done));
               })
            .value();
    }

    [[nodiscard]] std::string last_code() const {
        return sent_.empty() ? std::string() : code_in(sent_.back().text);
    }

    test::Services s_;
    DeferredStore deferred_{s_.async_store};
    // The code sender counts its sends through the same store, which answers later too.
    CodeSender sender_{s_.clock, deferred_, s_.hasher};
    CodeDeps codes_{s_.clock, s_.random, deferred_, sender_, s_.hasher};
    LoginMethodTypes types_{{std::make_shared<PhoneMethodType>(codes_)},
                            {std::make_shared<CodeMethodType>(codes_)}};
    std::vector<test::SentMessage> sent_;
    std::unique_ptr<LoginEngine> engine_;
};

TEST_F(DeferredEngineTest, TwoStepRightCodeSucceedsOnceTheStoreHasAnswered) {
    (void)s_.store.add_failure(kUser);
    Step step = start();
    ASSERT_EQ(step.prompt, "Verification code: ");
    ASSERT_EQ(sent_.size(), 1u);
    EXPECT_EQ(s_.store.sends_since("user:" + std::string(kUser), 0), 1) << "counted";
    EXPECT_EQ(answer(step, last_code()).verdict, bus::kVerdictSuccess);
    EXPECT_EQ(s_.store.lock_state(kUser).failures, 0) << "cleared after the right code";
    EXPECT_EQ(engine_->pending(), 0u);
}

TEST_F(DeferredEngineTest, WrongCodesCountAndLockAtTheLimit) {
    use_policy("[code]\ntries = 5\n[lockout]\nmax_failures = 2\nduration = 10m\n");
    Step step = start();
    std::string wrong = wrong_code_for(last_code());
    Step again = answer(step, wrong);
    EXPECT_EQ(again.prompt, "Verification code: ");
    EXPECT_EQ(s_.store.lock_state(kUser).failures, 1);
    EXPECT_EQ(answer(again, wrong).verdict, bus::kVerdictMaxTries);
    EXPECT_GT(s_.store.lock_state(kUser).locked_until, s_.clock.now()) << "locked";
    EXPECT_EQ(start().verdict, bus::kVerdictMaxTries) << "a locked account is refused";
}

TEST_F(DeferredEngineTest, PasswordlessPhoneLoginAndItsWrongCodes) {
    use_policy("[policy]\nlogin_with_phone = allowed\n");
    Step step = start(bus::kModePrimary);
    ASSERT_EQ(step.prompt, "Verification code: ");
    Step wrong = answer(step, wrong_code_for(last_code()));
    EXPECT_EQ(wrong.prompt, "Verification code: ");
    EXPECT_EQ(s_.store.load_user(kUser).passwordless_failures, 1);
    EXPECT_EQ(s_.store.lock_state(kUser).failures, 0) << "apart from the 2-step lockout";
    EXPECT_EQ(answer(wrong, last_code()).verdict, bus::kVerdictSuccess);

    Step p = answer(start(bus::kModePrimary), "p");
    EXPECT_EQ(p.verdict, bus::kVerdictIgnore) << "the password instead";
}

TEST_F(DeferredEngineTest, RememberHostSkipsTheCodeFromTheSamePlace) {
    use_policy("[policy]\nremember_host = 8h\n");
    Step step = start();
    ASSERT_EQ(answer(step, last_code()).verdict, bus::kVerdictSuccess);
    size_t sent = sent_.size();
    Step again = start();
    EXPECT_EQ(again.verdict, bus::kVerdictSuccess);
    EXPECT_EQ(sent_.size(), sent) << "no code";
}

TEST_F(DeferredEngineTest, EnrollGraceStartsOnTheFirstLoginWithoutAContact) {
    use_policy("[policy]\ntwo_step = required\nenroll_grace = 7d\n");
    int64_t first = s_.clock.now();
    Step step = start(bus::kModeSecondFactor, "jiro");
    EXPECT_EQ(step.verdict, bus::kVerdictSuccess);
    EXPECT_EQ(s_.store.load_user("jiro").enroll_grace_started, first);
    s_.clock.advance(7 * 86400);
    EXPECT_EQ(start(bus::kModeSecondFactor, "jiro").verdict, bus::kVerdictDenied);
}

TEST_F(DeferredEngineTest, ACancelWhileTheStoreHasNotAnsweredEndsTheLoginButCountsTheCode) {
    use_policy("[code]\ntries = 5\n[lockout]\nmax_failures = 10\n");
    Step step = start();
    std::optional<Result<Step>> got;
    engine_->answer(step.id, kOwner, SecretString(wrong_code_for(last_code())),
                    [&](Result<Step> r) { got.emplace(std::move(r)); });
    ASSERT_GT(deferred_.waiting(), 0u);
    engine_->cancel(step.id, kOwner);
    EXPECT_EQ(engine_->pending(), 0u);
    deferred_.run();  // the method goes on from the store's answers, for a login now gone
    ASSERT_TRUE(got.has_value());
    ASSERT_FALSE(got->ok());
    EXPECT_EQ(got->error().code(), Errc::NoSuchLogin);
    EXPECT_EQ(s_.store.lock_state(kUser).failures, 1) << "the wrong code still counts";
    EXPECT_EQ(engine_->pending(), 0u);
}

TEST_F(DeferredEngineTest, ACancelBeforeTheFirstStepEndsTheLoginThatWaitsForTheStore) {
    std::optional<Result<Step>> got;
    engine_->start(LoginContext{kUser, "sshd", "192.0.2.7", "", bus::kModeSecondFactor, kOwner},
                   [&](Result<Step> r) { got.emplace(std::move(r)); });
    // Run until the login exists and its method waits for the store (the send's count).
    while (engine_->pending() == 0 && deferred_.run_one()) {
    }
    ASSERT_EQ(engine_->pending(), 1u);
    ASSERT_FALSE(got.has_value());
    engine_->cancel_owner(kOwner);
    deferred_.run();
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->error().code(), Errc::NoSuchLogin);
    EXPECT_EQ(engine_->pending(), 0u);
}

TEST_F(DeferredEngineTest, AClientThatLeavesBeforeTheStoreAnswersStartGetsNoLogin) {
    use_policy("[policy]\nlogin_with_phone = allowed\n");
    for (const char* mode : {bus::kModeSecondFactor, bus::kModePrimary}) {
        std::optional<Result<Step>> got;
        engine_->start(LoginContext{kUser, "sshd", "192.0.2.7", "", mode, kOwner},
                       [&](Result<Step> r) { got.emplace(std::move(r)); });
        ASSERT_EQ(engine_->pending(), 0u) << "the user's state is not read yet";
        engine_->cancel_owner(kOwner);
        deferred_.run();
        ASSERT_TRUE(got.has_value()) << mode;
        EXPECT_EQ(got->error().code(), Errc::NoSuchLogin) << mode;
        EXPECT_EQ(engine_->pending(), 0u) << mode << ": nothing left for the sweep";
        EXPECT_TRUE(sent_.empty()) << mode << ": no code for a client that is gone";
    }
    // Another client's login is not touched.
    Step step = start();
    EXPECT_FALSE(step.id.empty());
    EXPECT_EQ(engine_->pending(), 1u);
}

TEST_F(DeferredEngineTest, ConfirmIsAnsweredOnceTheFullLoginIsRecorded) {
    Step step = start();
    std::optional<Result<Step>> got;
    engine_->answer(step.id, kOwner, SecretString(last_code()),
                    [&](Result<Step> r) { got.emplace(std::move(r)); });
    while (!got && deferred_.run_one()) {
    }
    ASSERT_TRUE(got.has_value());
    ASSERT_EQ(got->value().verdict, bus::kVerdictSuccess);
    EXPECT_EQ(s_.store.load_user(kUser).full_login_at, 0) << "recorded at the verdict";
    std::optional<Result<void>> confirmed;
    engine_->confirm(got->value().id, kOwner,
                     [&](Result<void> r) { confirmed.emplace(std::move(r)); });
    ASSERT_FALSE(confirmed.has_value()) << "answered before the store did";
    ASSERT_TRUE(deferred_.run_one());  // record_full_login
    ASSERT_TRUE(confirmed.has_value());
    EXPECT_TRUE(confirmed->ok());
    EXPECT_EQ(s_.store.load_user(kUser).full_login_at, s_.clock.now());
    EXPECT_EQ(deferred_.waiting(), 0u);
}

TEST_F(DeferredEngineTest, AFullLoginThatCannotBeRecordedAnswersConfirmWithTheStoresError) {
    s_.store.set_two_step(kUser, false);
    std::optional<Result<Step>> got;
    engine_->start(LoginContext{kUser, "sshd", "192.0.2.7", "", bus::kModeSecondFactor, kOwner},
                   [&](Result<Step> r) { got.emplace(std::move(r)); });
    ASSERT_TRUE(deferred_.run_one());  // load_user
    ASSERT_TRUE(got.has_value());
    ASSERT_EQ(got->value().verdict, bus::kVerdictIgnore);
    std::optional<Result<void>> confirmed;
    engine_->confirm(got->value().id, kOwner,
                     [&](Result<void> r) { confirmed.emplace(std::move(r)); });
    ASSERT_TRUE(deferred_.fail_one(Error(Errc::Unavailable, "the store has gone away")));
    ASSERT_TRUE(confirmed.has_value());
    ASSERT_FALSE(confirmed->ok()) << "quick login is only not re-armed";
    EXPECT_EQ(confirmed->error().code(), Errc::Unavailable);
    EXPECT_EQ(s_.store.load_user(kUser).full_login_at, 0);
}

// ---- A store that fails: the login ends with its error (fail closed) -------------------

TEST_F(DeferredEngineTest, AWrongCodeThatCannotBeCountedEndsTheLoginWithTheStoresError) {
    Step step = start();
    std::optional<Result<Step>> got;
    engine_->answer(step.id, kOwner, SecretString(wrong_code_for(last_code())),
                    [&](Result<Step> r) { got.emplace(std::move(r)); });
    ASSERT_TRUE(deferred_.run_one());  // lock_state
    ASSERT_FALSE(got.has_value());
    ASSERT_TRUE(deferred_.fail_one(Error(Errc::Unavailable, "the store has gone away")));
    ASSERT_TRUE(got.has_value());
    ASSERT_FALSE(got->ok()) << "never another try on a failure not counted";
    EXPECT_EQ(got->error().code(), Errc::Unavailable);
    EXPECT_EQ(engine_->pending(), 0u);
}

TEST_F(DeferredEngineTest, ANewCodeThatCannotBeCountedEndsTheLoginWithTheStoresError) {
    use_policy("[code]\nresend_interval = 30s\n");
    Step step = start();
    s_.clock.advance(31);
    std::optional<Result<Step>> got;
    engine_->answer(step.id, kOwner, SecretString("r"),
                    [&](Result<Step> r) { got.emplace(std::move(r)); });
    ASSERT_TRUE(deferred_.run_one());  // lock_state
    ASSERT_TRUE(deferred_.run_one());  // load_user: the contacts as they are now
    ASSERT_TRUE(deferred_.fail_one(Error(Errc::Unavailable, "the store has gone away")));
    ASSERT_TRUE(got.has_value());
    ASSERT_FALSE(got->ok());
    EXPECT_EQ(got->error().code(), Errc::Unavailable);
    EXPECT_EQ(sent_.size(), 1u) << "nothing sent that was not counted";
    EXPECT_EQ(engine_->pending(), 0u);
}

}  // namespace
}  // namespace lwauth
