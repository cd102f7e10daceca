// A login method that holds its step for an event from outside: LoginEngine::notify routes
// the event to it, the wait's deadline (from the client's own timeout) denies the login,
// and a Cancel or a client that leaves the bus ends the wait.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "fakes.hpp"
#include "login/engine.hpp"
#include "lwauth/bus_names.hpp"
#include "lwauth/error.hpp"

namespace lwauth {
namespace {

constexpr const char* kUser = "taro";
constexpr const char* kOwner = ":1.42";
constexpr uint64_t kSecond = 1000 * 1000;

// What the waiting method saw, shared by the test and every method the type makes.
struct Seen {
    std::string login_id;
    uint64_t event_wait_usec = 0;
    std::weak_ptr<LoginMethod> method;
    Done<Step> slow;  // an answer the method is still working on
};

// A passwordless method that, after "Ready: " (or at once, in begin), waits for a
// "test.approved" event whose "answer" decides.
class WaitingType final : public PrimaryMethodType {
  public:
    WaitingType(std::shared_ptr<Seen> seen, bool wait_in_begin)
        : seen_(std::move(seen)), wait_in_begin_(wait_in_begin) {}
    std::string id() const override { return "waiting"; }
    std::string label(const UserState&, Language) const override { return "an approval elsewhere"; }
    bool offered(const policy::Policy&, const policy::UserPolicy&, const UserState&,
                 const LoginContext&) const override {
        return true;
    }
    std::shared_ptr<LoginMethod> create() const override {
        auto method = std::make_shared<Method>(seen_, wait_in_begin_);
        seen_->method = method;
        return method;
    }

  private:
    class Method final : public LoginMethod {
      public:
        Method(std::shared_ptr<Seen> seen, bool wait_in_begin)
            : seen_(std::move(seen)), wait_in_begin_(wait_in_begin) {}
        void begin(const MethodEnv& env, Done<Step> done) override {
            if (wait_in_begin_) {
                hold(env, std::move(done));
            } else {
                done(Result<Step>(Step::ask("Ready: ", true)));
            }
        }
        void answer(const MethodEnv& env, std::string_view answer, Done<Step> done) override {
            if (early_) {
                done(Result<Step>(Step::verdict_of(bus::kVerdictSuccess)));
                return;
            }
            if (answer == "slow") {
                seen_->slow = std::move(done);  // as a gateway would: no event awaited
                return;
            }
            hold(env, std::move(done));
        }
        bool awaits_event() const override { return static_cast<bool>(held_); }
        Result<void> notify(const LoginEvent& event) override {
            if (!held_ && event.kind == "test.early") {
                early_ = true;  // an approval, kept for the next answer
                return {};
            }
            if (!held_ || event.kind != "test.approved") {
                return LoginMethod::notify(event);
            }
            auto it = event.data.find("answer");
            bool yes = it != event.data.end() && it->second == "yes";
            std::exchange(held_, nullptr)(
                Result<Step>(Step::verdict_of(yes ? bus::kVerdictSuccess : bus::kVerdictDenied)));
            return {};
        }

      private:
        void hold(const MethodEnv& env, Done<Step> done) {
            seen_->login_id = env.login_id;
            seen_->event_wait_usec = env.event_wait_usec;
            held_ = std::move(done);
        }
        std::shared_ptr<Seen> seen_;
        bool wait_in_begin_;
        Done<Step> held_;
        bool early_ = false;
    };

    std::shared_ptr<Seen> seen_;
    bool wait_in_begin_;
};

LoginEvent approved(const std::string& answer) {
    return LoginEvent{"test.approved", {{"answer", answer}}};
}

class NotifyTest : public ::testing::Test {
  protected:
    NotifyTest() { make_engine(&timers_); }

    void make_engine(Timers* timers, bool wait_in_begin = false, PrimaryMethodTypes types = {}) {
        if (types.empty()) {
            types = {std::make_shared<WaitingType>(seen_, wait_in_begin)};
        }
        engine_ = std::make_unique<LoginEngine>(
            EngineDeps{s_.clock, s_.random, s_.async_store, s_.users, timers},
            test::load_policy({{"lwauth.conf", "[policy]\ntwo_step = optional\n"}}),
            LoginMethodTypes{std::move(types), {}});
    }

    // Starts a passwordless login whose client waits `reply_timeout` for each reply.
    void start(uint64_t reply_timeout = 30 * kSecond, const std::string& owner = kOwner) {
        LoginContext context{kUser, "sshd",       "192.0.2.7", "", bus::kModePrimary,
                             owner, reply_timeout};
        engine_->start(context, [this](Result<Step> r) { got_ = std::move(r); });
        if (got_ && got_->ok()) {
            id_ = got_->value().id;
        }
    }

    // Starts a login and answers its prompt: the method then waits.
    void start_waiting(uint64_t reply_timeout = 30 * kSecond) {
        start(reply_timeout);
        ASSERT_TRUE(got_ && got_->ok()) << "the first step asks";
        ASSERT_EQ(got_->value().prompt, "Ready: ");
        got_.reset();
        engine_->answer(id_, kOwner, SecretString("ready"),
                        [this](Result<Step> r) { got_ = std::move(r); });
    }

    [[nodiscard]] std::string verdict() const {
        return got_ && got_->ok() ? got_->value().verdict : "(no step)";
    }

    test::Services s_;
    test::FakeTimers timers_;
    std::shared_ptr<Seen> seen_ = std::make_shared<Seen>();
    std::unique_ptr<LoginEngine> engine_;
    std::optional<Result<Step>> got_;
    std::string id_;
};

TEST_F(NotifyTest, TheAnswerWaitsForTheEventAndTheEventDecides) {
    start_waiting();
    EXPECT_FALSE(got_.has_value()) << "no step before the event";
    EXPECT_EQ(engine_->pending(), 1u);
    EXPECT_EQ(timers_.armed(), 1u) << "the wait's deadline";
    ASSERT_TRUE(engine_->notify(id_, approved("yes")).ok());
    EXPECT_EQ(verdict(), bus::kVerdictSuccess);
    EXPECT_EQ(engine_->pending(), 0u);
    EXPECT_EQ(timers_.armed(), 0u) << "the deadline goes with the wait";

    start_waiting();
    ASSERT_TRUE(engine_->notify(id_, approved("no")).ok());
    EXPECT_EQ(verdict(), bus::kVerdictDenied);
}

TEST_F(NotifyTest, StartCanWaitToo) {
    make_engine(&timers_, true);
    start();
    EXPECT_FALSE(got_.has_value());
    ASSERT_EQ(engine_->pending(), 1u);
    EXPECT_EQ(seen_->event_wait_usec, 28 * kSecond);
    // The method knows its login's id (MethodEnv::login_id), as a source of events must.
    ASSERT_TRUE(engine_->notify(seen_->login_id, approved("yes")).ok());
    EXPECT_EQ(verdict(), bus::kVerdictSuccess);
}

TEST_F(NotifyTest, AnUnknownLoginIsNoSuchLogin) {
    Result<void> r = engine_->notify("0123456789abcdef0123456789abcdef", approved("yes"));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), Errc::NoSuchLogin);
}

TEST_F(NotifyTest, ALoginAtAPromptWaitsForNoEvent) {
    start();
    ASSERT_TRUE(got_ && got_->ok());
    Result<void> r = engine_->notify(id_, approved("yes"));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), Errc::InvalidArgument);
    EXPECT_EQ(engine_->pending(), 1u) << "the login goes on";
}

TEST_F(NotifyTest, ALoginAtAPromptHandsTheEventToItsMethodWhichMayKeepIt) {
    start();
    ASSERT_TRUE(got_ && got_->ok());
    ASSERT_TRUE(engine_->notify(id_, LoginEvent{"test.early", {}}).ok())
        << "an approval that came before the user pressed Enter";
    EXPECT_EQ(timers_.armed(), 0u);
    got_.reset();
    engine_->answer(id_, kOwner, SecretString(""), [this](Result<Step> r) { got_ = std::move(r); });
    EXPECT_EQ(verdict(), bus::kVerdictSuccess);
}

TEST_F(NotifyTest, ALoginBusyWithAnAnswerTakesNoEvent) {
    start();
    ASSERT_TRUE(got_ && got_->ok());
    got_.reset();
    engine_->answer(id_, kOwner, SecretString("slow"),
                    [this](Result<Step> r) { got_ = std::move(r); });
    ASSERT_TRUE(seen_->slow);
    EXPECT_EQ(engine_->notify(id_, LoginEvent{"test.early", {}}).error().code(),
              Errc::InvalidArgument);
    std::exchange(seen_->slow, nullptr)(Result<Step>(Step::ask("Ready: ", true)));
    ASSERT_TRUE(got_ && got_->ok());
    EXPECT_TRUE(engine_->notify(id_, LoginEvent{"test.early", {}}).ok()) << "no longer busy";
}

TEST_F(NotifyTest, AnEventOfAnotherKindIsRefusedAndTheWaitGoesOn) {
    start_waiting();
    Result<void> r = engine_->notify(id_, LoginEvent{"fprintd.verify-status", {}});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), Errc::InvalidArgument);
    EXPECT_FALSE(got_.has_value());
    ASSERT_TRUE(engine_->notify(id_, approved("yes")).ok());
    EXPECT_EQ(verdict(), bus::kVerdictSuccess);
}

TEST_F(NotifyTest, AnEventAfterTheEndIsNoSuchLogin) {
    start_waiting();
    ASSERT_TRUE(engine_->notify(id_, approved("yes")).ok());
    Result<void> late = engine_->notify(id_, approved("no"));
    ASSERT_FALSE(late.ok());
    EXPECT_EQ(late.error().code(), Errc::NoSuchLogin);
    EXPECT_EQ(verdict(), bus::kVerdictSuccess);
}

TEST_F(NotifyTest, TheDeadlineDeniesBeforeTheClientStopsWaiting) {
    start_waiting(30 * kSecond);
    // A quarter of the client's wait (at most 1 s) is BusService's, as much again the
    // engine's: the method's verdict is on the wire before BusService would answer.
    EXPECT_EQ(seen_->event_wait_usec, 28 * kSecond);
    timers_.advance(28 * kSecond - 1);
    EXPECT_FALSE(got_.has_value());
    timers_.advance(1);
    EXPECT_EQ(verdict(), bus::kVerdictDenied);
    ASSERT_EQ(got_->value().messages.size(), 1u);
    EXPECT_EQ(got_->value().messages[0].second,
              "The login was not confirmed in time. Please log in again.");
    EXPECT_EQ(engine_->pending(), 0u);
    EXPECT_TRUE(seen_->method.expired()) << "the method is dropped with its login";
    EXPECT_EQ(engine_->notify(id_, approved("yes")).error().code(), Errc::NoSuchLogin);
}

TEST_F(NotifyTest, TheWaitIsBoundedByTheClientsTimeoutAndTheLoginTimeout) {
    start_waiting(2 * kSecond);
    EXPECT_EQ(seen_->event_wait_usec, 1 * kSecond);
    engine_->cancel_owner(kOwner);
    start_waiting(0);  // a client that does not say: the policy's [login] timeout
    EXPECT_EQ(seen_->event_wait_usec, 300 * kSecond);
    start_waiting(3600 * kSecond);
    EXPECT_EQ(seen_->event_wait_usec, 300 * kSecond);
}

TEST_F(NotifyTest, ACancelEndsTheWaitAndDropsTheMethod) {
    start_waiting();
    engine_->cancel(id_, kOwner);
    ASSERT_TRUE(got_ && !got_->ok());
    EXPECT_EQ(got_->error().code(), Errc::NoSuchLogin) << "the held Answer is answered";
    EXPECT_EQ(engine_->pending(), 0u);
    EXPECT_EQ(timers_.armed(), 0u);
    EXPECT_TRUE(seen_->method.expired());
    EXPECT_EQ(engine_->notify(id_, approved("yes")).error().code(), Errc::NoSuchLogin);
}

TEST_F(NotifyTest, AClientThatLeavesTheBusEndsTheWait) {
    start_waiting();
    engine_->cancel_owner(kOwner);
    ASSERT_TRUE(got_ && !got_->ok());
    EXPECT_EQ(got_->error().code(), Errc::NoSuchLogin);
    EXPECT_EQ(engine_->pending(), 0u);
    EXPECT_TRUE(seen_->method.expired());
    EXPECT_EQ(engine_->notify(id_, approved("yes")).error().code(), Errc::NoSuchLogin);
}

TEST_F(NotifyTest, TheSweepDoesNotDropAWaitBeforeItsDeadline) {
    s_.clock.advance(200);
    start_waiting(0);
    s_.clock.advance(299);
    EXPECT_EQ(engine_->expire(), 0u);
    s_.clock.advance(1);
    EXPECT_EQ(engine_->expire(), 1u);
    ASSERT_TRUE(got_ && !got_->ok());
    EXPECT_EQ(got_->error().code(), Errc::NoSuchLogin);
}

TEST_F(NotifyTest, AStartThatWouldWaitWithNoTimerFailsClosedThroughItsReply) {
    make_engine(nullptr, true);
    EXPECT_NO_THROW(start()) << "Start's errors after the store has answered go to its reply";
    ASSERT_TRUE(got_.has_value()) << "answered";
    ASSERT_FALSE(got_->ok());
    EXPECT_EQ(got_->error().code(), Errc::Internal);
    EXPECT_EQ(engine_->pending(), 0u);
}

TEST_F(NotifyTest, AWaitNoTimerCanBoundFailsClosed) {
    make_engine(nullptr);
    start();
    ASSERT_TRUE(got_ && got_->ok());
    got_.reset();
    Errc code = test::error_code_of([&] {
        engine_->answer(id_, kOwner, SecretString("ready"), [this](Result<Step> r) { got_ = r; });
    });
    EXPECT_EQ(code, Errc::Internal);
    EXPECT_FALSE(got_.has_value());
    EXPECT_EQ(engine_->pending(), 0u);
}

TEST_F(NotifyTest, TheMenuPassesTheEventToTheChosenMethod) {
    make_engine(&timers_, false,
                {std::make_shared<WaitingType>(seen_, true),
                 std::make_shared<WaitingType>(seen_, false)});
    start();
    ASSERT_TRUE(got_ && got_->ok());
    EXPECT_EQ(got_->value().prompt, "Choice (1-2 or p): ");
    EXPECT_EQ(engine_->notify(id_, approved("yes")).error().code(), Errc::InvalidArgument)
        << "nothing chosen yet";
    got_.reset();
    engine_->answer(id_, kOwner, SecretString("1"), [this](Result<Step> r) { got_ = std::move(r); });
    EXPECT_FALSE(got_.has_value()) << "the chosen method waits from its first step";
    ASSERT_TRUE(engine_->notify(id_, approved("yes")).ok());
    EXPECT_EQ(verdict(), bus::kVerdictSuccess);
}

}  // namespace
}  // namespace lwauth
