// Log in with LINE (mode=primary) through the engine, over a LineApprovals test double
// that records the offers and fires their outcomes as the endpoint's flows do: once,
// through the sink offer() was given, never after a withdraw.
#include "login/methods/line_method.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "deferred_store.hpp"
#include "fakes.hpp"
#include "log.hpp"
#include "login/engine.hpp"
#include "login/methods/phone_method.hpp"
#include "lwauth/bus_names.hpp"
#include "lwauth/error.hpp"
#include "lwauth/qr.hpp"

namespace lwauth {
namespace {

constexpr const char* kUser = "taro";
constexpr const char* kOwner = ":1.42";
constexpr const char* kLink = "hmac-of-taros-line-subject";
constexpr const char* kUrl = "https://login.example.com/l/Qx7vK2mN9pLs";
constexpr uint64_t kSecond = 1000 * 1000;

class FakeLineApprovals final : public line::LineApprovals {
  public:
    struct Offered {
        line::ApprovalRequest request;
        line::OutcomeSink sink;  // empty once fired or withdrawn
    };

    [[nodiscard]] bool configured() const override { return configured_; }
    Result<line::ApprovalOffer> offer(const line::ApprovalRequest& request,
                                      line::OutcomeSink sink) override {
        if (refusal_) {
            return *refusal_;
        }
        offers_.push_back({request, std::move(sink)});
        return line::ApprovalOffer{kUrl, 42, 1'700'000'120};
    }
    void withdraw(const std::string& owner) override {
        withdrawn_.push_back(owner);
        for (Offered& offered : offers_) {
            if (offered.request.owner == owner) {
                offered.sink = nullptr;
            }
        }
    }

    /// The outcome of the latest offer, as the flows deliver it.
    void fire(const line::ApprovalOutcome& outcome) {
        ASSERT_FALSE(offers_.empty()) << "nothing was offered";
        line::OutcomeSink sink = std::exchange(offers_.back().sink, nullptr);
        ASSERT_TRUE(sink) << "the approval was withdrawn or has answered already";
        sink(outcome);
    }
    [[nodiscard]] bool waiting() const { return !offers_.empty() && offers_.back().sink; }

    bool configured_ = true;
    std::optional<Error> refusal_;
    std::vector<Offered> offers_;
    std::vector<std::string> withdrawn_;
};

line::ApprovalOutcome approved(const std::string& subject_hash = kLink) {
    line::ApprovalOutcome outcome;
    outcome.kind = line::ApprovalOutcome::Kind::Approved;
    outcome.subject_hash = subject_hash;
    return outcome;
}

line::ApprovalOutcome not_approved(line::ApprovalOutcome::Kind kind, std::string why, bool counts) {
    line::ApprovalOutcome outcome;
    outcome.kind = kind;
    outcome.why = std::move(why);
    outcome.counts_as_failure = counts;
    return outcome;
}

class LineMethodTest : public ::testing::Test {
  protected:
    LineMethodTest() {
        s_.store.set_line_link(kUser, kLink);
        use_policy(line_policy());
    }

    // [line] as login_with_line requires it; the channel secret is never read here.
    [[nodiscard]] std::string line_section() const {
        std::string secret = dir_.file("line-secret");
        std::ofstream(secret) << "0123456789abcdef0123456789abcdef\n";
        std::filesystem::permissions(
            secret, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
        return "[line]\nchannel_id = 1657000000\nchannel_secret_file = " + secret +
               "\npublic_url = https://login.example.com\n";
    }
    [[nodiscard]] std::string line_policy() const {
        return "[policy]\ntwo_step = optional\nlogin_with_line = allowed\n" + line_section();
    }

    void use_policy(const std::string& text, PrimaryMethodTypes before = {}) {
        LineDeps deps{s_.clock, *store_, approvals_, timers_,
                      [this](const std::string& id, const LoginEvent& event) {
                          return engine_->notify(id, event);
                      }};
        engine_ = std::make_unique<LoginEngine>(
            EngineDeps{s_.clock, s_.random, *store_, s_.users, &timers_},
            test::load_policy({{"lwauth.conf", text}}), LoginMethodTypes{std::move(before), {}});
        // After the engine, as main.cpp adds it: its sink calls the engine.
        engine_->add_method_types({{std::make_shared<LineMethodType>(std::move(deps))}, {}});
    }

    // Starts a passwordless login whose client waits 30 s for each reply.
    Step start(const std::string& service = "sshd", const std::string& rhost = "192.0.2.7") {
        Step step = test::step_now([&](Done<Step> done) {
            engine_->start(
                LoginContext{kUser, service, rhost, "", bus::kModePrimary, kOwner, 30 * kSecond},
                std::move(done));
        });
        id_ = step.id;
        return step;
    }

    // The engine on `deferred`, and a login started on it as start() does; id_ stays
    // empty when it did not start.
    void start_on(test::DeferredStore& deferred) {
        store_ = &deferred;
        use_policy(line_policy());
        id_.clear();
        std::optional<Result<Step>> first;
        engine_->start(
            LoginContext{kUser, "sshd", "192.0.2.7", "", bus::kModePrimary, kOwner, 30 * kSecond},
            [&](Result<Step> r) { first = std::move(r); });
        while (!first && deferred.run_one()) {
        }
        if (first && first->ok()) {
            id_ = first->value().id;
        }
    }

    // Answers the login's prompt; the step, if it came at once.
    void answer(const std::string& text) {
        got_.reset();
        engine_->answer(id_, kOwner, SecretString(text),
                        [this](Result<Step> r) { got_ = std::move(r); });
    }

    [[nodiscard]] std::string verdict() const {
        return got_ && got_->ok() ? got_->value().verdict : "(no step)";
    }
    [[nodiscard]] std::string errors() const {
        return got_ && got_->ok() ? test::texts_of(got_->value(), bus::kMessageError) : "";
    }
    [[nodiscard]] int passwordless_failures() {
        return s_.store.load_user(kUser).passwordless_failures;
    }

    test::TempDir dir_;
    test::Services s_;
    AsyncStore* store_ = &s_.async_store;  // what the engine and the method use
    test::FakeTimers timers_;
    FakeLineApprovals approvals_;
    std::unique_ptr<LoginEngine> engine_;
    std::optional<Result<Step>> got_;
    std::string id_;
};

TEST_F(LineMethodTest, OfferedOnlyWhenAllowedLinkedAndConfigured) {
    EXPECT_EQ(start().prompt, "Approve in LINE, then press Enter (p for your password): ");
    engine_->cancel(id_, kOwner);
    // Local sessions and any PAM service too: the phone's page names the login.
    EXPECT_FALSE(start("login", "").prompt.empty());
    engine_->cancel(id_, kOwner);

    approvals_.configured_ = false;
    EXPECT_EQ(start().verdict, bus::kVerdictIgnore) << "[line] not served";
    approvals_.configured_ = true;

    s_.store.set_line_link(kUser, "");
    EXPECT_EQ(start().verdict, bus::kVerdictIgnore) << "no LINE account linked";
    s_.store.set_line_link(kUser, kLink);

    use_policy("[policy]\ntwo_step = optional\n");
    EXPECT_EQ(start().verdict, bus::kVerdictIgnore) << "login_with_line disabled";
    EXPECT_EQ(approvals_.offers_.size(), 2u) << "nothing offered when the method is not";
}

TEST_F(LineMethodTest, TheFirstStepShowsTheLinkItsCodeAndTheNumber) {
    Step step = start();
    EXPECT_TRUE(step.echo);
    EXPECT_TRUE(test::texts_of(step, bus::kMessageError).empty());
    std::vector<std::string> lines;
    for (const auto& [type, text] : step.messages) {
        lines.push_back(text);
    }
    std::vector<std::string> qr = qr_lines(kUrl);
    ASSERT_EQ(lines.size(), qr.size() + 3);
    EXPECT_EQ(lines.front(), "Log in with LINE: open this link on your phone or scan the code");
    EXPECT_EQ(lines[1], kUrl);
    EXPECT_TRUE(std::equal(qr.begin(), qr.end(), lines.begin() + 2)) << "the QR code of the link";
    EXPECT_EQ(lines.back(), "Then pick this number in LINE: 42");

    ASSERT_EQ(approvals_.offers_.size(), 1u);
    const line::ApprovalRequest& request = approvals_.offers_[0].request;
    EXPECT_EQ(request.purpose, line::ApprovalRequest::Purpose::Login);
    EXPECT_EQ(request.user, kUser);
    EXPECT_EQ(request.service, "sshd");
    EXPECT_EQ(request.rhost, "192.0.2.7");
    EXPECT_EQ(request.owner, step.id) << "the login withdraws it by its id";
}

TEST_F(LineMethodTest, AnApprovalBeforeEnterIsTheAnswerToEnter) {
    start();
    approvals_.fire(approved());
    EXPECT_EQ(engine_->pending(), 1u) << "the user has not pressed Enter yet";
    answer("");
    EXPECT_EQ(verdict(), bus::kVerdictSuccess);
    EXPECT_EQ(timers_.armed(), 0u) << "nothing waited";
    EXPECT_EQ(engine_->pending(), 0u);
}

TEST_F(LineMethodTest, EnterBeforeTheApprovalWaitsForIt) {
    start();
    answer("");
    EXPECT_FALSE(got_.has_value()) << "held until LINE answers";
    EXPECT_EQ(timers_.armed(), 2u) << "the engine's deadline, and the prompt again before it";
    approvals_.fire(approved());
    EXPECT_EQ(verdict(), bus::kVerdictSuccess);
    EXPECT_EQ(timers_.armed(), 0u);
}

TEST_F(LineMethodTest, EnterTooEarlyIsAskedAgainBeforeTheWaitEnds) {
    start();
    answer("");
    // The client waits 30 s for each reply: the engine's wait ends at 28 s.
    timers_.advance(27 * kSecond - 1);
    EXPECT_FALSE(got_.has_value());
    timers_.advance(1);
    ASSERT_TRUE(got_ && got_->ok());
    EXPECT_EQ(got_->value().verdict, "");
    EXPECT_EQ(got_->value().prompt, "Approve in LINE, then press Enter (p for your password): ");
    EXPECT_EQ(test::texts_of(got_->value(), bus::kMessageInfo), "LINE has not answered yet.\n");
    EXPECT_EQ(timers_.armed(), 0u);
    EXPECT_TRUE(approvals_.waiting()) << "the link lives on";

    answer("");
    EXPECT_FALSE(got_.has_value());
    approvals_.fire(approved());
    EXPECT_EQ(verdict(), bus::kVerdictSuccess);

    start();
    answer("");
    timers_.advance(27 * kSecond);
    answer("p");
    EXPECT_EQ(verdict(), bus::kVerdictIgnore) << "LINE has not answered: p still chooses";
}

TEST_F(LineMethodTest, EnterWhileTheApprovalIsJudgedWaitsForTheStore) {
    test::DeferredStore deferred(s_.async_store);
    start_on(deferred);
    ASSERT_FALSE(id_.empty());
    approvals_.fire(approved());
    EXPECT_EQ(deferred.waiting(), 1u) << "the user's link is being read";
    answer("");
    EXPECT_FALSE(got_.has_value());
    EXPECT_EQ(timers_.armed(), 2u) << "held within the wait's deadline";
    while (deferred.run_one()) {
    }
    EXPECT_EQ(verdict(), bus::kVerdictSuccess);
    engine_.reset();  // before the store it uses
}

TEST_F(LineMethodTest, ASuccessClearsTheFailuresBeforeIt) {
    (void)s_.store.add_passwordless_failure(kUser);
    (void)s_.store.add_failure(kUser);
    start();
    approvals_.fire(approved());
    answer("");
    EXPECT_EQ(verdict(), bus::kVerdictSuccess);
    UserState state = s_.store.load_user(kUser);
    EXPECT_EQ(state.passwordless_failures, 0);
    EXPECT_EQ(state.failures, 0);
}

TEST_F(LineMethodTest, AnotherLineAccountIsDeniedAndCountedOnArrival) {
    start();
    approvals_.fire(approved("hmac-of-someone-elses-subject"));
    EXPECT_EQ(passwordless_failures(), 1) << "counted before Enter: leaving does not escape it";
    answer("p");
    EXPECT_EQ(verdict(), bus::kVerdictDenied) << "once LINE has answered, p is no escape";
    EXPECT_EQ(errors(), "This LINE account is not the one linked to your login.\n");

    // Unlinked while the login ran: no account is the linked one.
    start();
    s_.store.set_line_link(kUser, "");
    answer("");
    approvals_.fire(approved());
    EXPECT_EQ(verdict(), bus::kVerdictDenied);
    EXPECT_EQ(passwordless_failures(), 2);
}

TEST_F(LineMethodTest, ALinkUnderAnEarlierKeyIsTheUsersAndIsKeptAgainUnderTheCurrentOne) {
    const std::string current = "hmac-under-the-current-key";
    line::ApprovalOutcome outcome = approved(current);
    outcome.old_subject_hashes = {"hmac-under-an-unrelated-key", kLink};
    start();
    approvals_.fire(outcome);
    answer("");
    EXPECT_EQ(verdict(), bus::kVerdictSuccess);
    EXPECT_EQ(s_.store.load_user(kUser).line_link, current);
    EXPECT_EQ(passwordless_failures(), 0);

    // The next login matches under the current key alone.
    start();
    approvals_.fire(approved(current));
    answer("");
    EXPECT_EQ(verdict(), bus::kVerdictSuccess);
}

TEST_F(LineMethodTest, ALinkChangedBeforeItIsKeptAgainStaysAndDecides) {
    test::DeferredStore deferred(s_.async_store);
    start_on(deferred);
    ASSERT_FALSE(id_.empty());
    line::ApprovalOutcome outcome = approved("hmac-under-the-current-key");
    outcome.old_subject_hashes = {kLink};
    approvals_.fire(outcome);
    ASSERT_TRUE(deferred.run_one()) << "the user's link is read";
    s_.store.set_line_link(kUser, "");  // UnlinkLine before the link is kept again
    while (deferred.run_one()) {
    }
    answer("");
    EXPECT_EQ(verdict(), bus::kVerdictDenied);
    EXPECT_FALSE(s_.store.load_user(kUser).line_linked) << "the unlink stays";
    engine_.reset();  // before the store it uses
}

TEST_F(LineMethodTest, AccountsOfOthersSuspendThePasswordlessPath) {
    use_policy(line_policy() + "[lockout]\npasswordless_max_failures = 2\n");
    start();
    answer("");
    approvals_.fire(approved("another"));
    EXPECT_EQ(verdict(), bus::kVerdictDenied);
    start();
    answer("");
    approvals_.fire(approved("another"));
    EXPECT_EQ(verdict(), bus::kVerdictMaxTries);
    EXPECT_EQ(start().verdict, bus::kVerdictIgnore) << "suspended: the password decides";
}

TEST_F(LineMethodTest, ARefusalIsDeniedWithItsReasonAndCountedWhenItCounts) {
    using Kind = line::ApprovalOutcome::Kind;
    start();
    answer("");
    approvals_.fire(not_approved(Kind::Refused, "Another number was picked in LINE.", true));
    EXPECT_EQ(verdict(), bus::kVerdictDenied);
    EXPECT_EQ(errors(), "Another number was picked in LINE.\n");
    EXPECT_EQ(passwordless_failures(), 1);

    start();
    approvals_.fire(not_approved(Kind::Refused, "", false));
    answer("");
    EXPECT_EQ(verdict(), bus::kVerdictDenied);
    EXPECT_EQ(errors(), "The login was refused in LINE.\n");
    EXPECT_EQ(passwordless_failures(), 1);

    // A token that did not verify counts, and is no reason to offer the password.
    start();
    approvals_.fire(not_approved(Kind::Failed, "LINE's answer could not be verified.", true));
    answer("");
    EXPECT_EQ(verdict(), bus::kVerdictDenied);
    EXPECT_EQ(passwordless_failures(), 2);
}

TEST_F(LineMethodTest, AnExpiredLinkIsDeniedAndCounted) {
    using Kind = line::ApprovalOutcome::Kind;
    start();
    answer("");
    approvals_.fire(not_approved(Kind::Expired, "the LINE link expired", true));
    EXPECT_EQ(verdict(), bus::kVerdictDenied);
    EXPECT_EQ(errors(), "The LINE link expired before it was approved. Log in again.\n");
    EXPECT_EQ(test::texts_of(got_->value(), bus::kMessageInfo), "") << "no password offered";
    EXPECT_EQ(passwordless_failures(), 1);

    // Expired before Enter: counted on arrival, and p is no escape.
    start();
    approvals_.fire(not_approved(Kind::Expired, "the LINE link expired", true));
    EXPECT_EQ(passwordless_failures(), 2);
    answer("p");
    EXPECT_EQ(verdict(), bus::kVerdictDenied);
}

TEST_F(LineMethodTest, LineUnreachableLeavesThePasswordToTheUser) {
    using Kind = line::ApprovalOutcome::Kind;
    start();
    approvals_.fire(not_approved(Kind::Failed, "LINE could not be reached.", false));
    answer("");
    EXPECT_EQ(verdict(), bus::kVerdictIgnore);
    EXPECT_EQ(errors(), "LINE could not be reached.\n");
    EXPECT_EQ(test::texts_of(got_->value(), bus::kMessageInfo),
              "Log in with your password instead.\n");
    EXPECT_EQ(passwordless_failures(), 0);
}

TEST_F(LineMethodTest, TypingPChoosesThePasswordAndWithdrawsTheApproval) {
    start();
    answer(" P ");
    EXPECT_EQ(verdict(), bus::kVerdictIgnore);
    EXPECT_EQ(approvals_.withdrawn_, std::vector<std::string>{id_});
    EXPECT_FALSE(approvals_.waiting());
}

TEST_F(LineMethodTest, EveryOtherEndOfTheLoginWithdrawsTheApproval) {
    start();
    engine_->cancel(id_, kOwner);
    std::vector<std::string> ends{id_};
    EXPECT_EQ(approvals_.withdrawn_, ends) << "a Cancel";

    start();
    answer("");
    engine_->cancel_owner(kOwner);
    ends.push_back(id_);
    EXPECT_EQ(approvals_.withdrawn_, ends) << "the client gone while Enter waits";
    ASSERT_TRUE(got_ && !got_->ok());

    start();
    s_.clock.advance(300);
    EXPECT_EQ(engine_->expire(), 1u);
    ends.push_back(id_);
    EXPECT_EQ(approvals_.withdrawn_, ends) << "the sweep";

    start();
    answer("");
    timers_.advance(27 * kSecond);  // asked again, and never answered
    s_.clock.advance(300);
    EXPECT_EQ(engine_->expire(), 1u);
    ends.push_back(id_);
    EXPECT_EQ(approvals_.withdrawn_, ends) << "the sweep after the prompt again";

    // An approval that has answered is not withdrawn again.
    start();
    approvals_.fire(approved());
    answer("");
    EXPECT_EQ(approvals_.withdrawn_, ends);
}

TEST_F(LineMethodTest, NoLogLineNamesASubjectHashOrTheLink) {
    log_setup(LogTarget::Stderr, true);  // the engine's debug lines too
    testing::internal::CaptureStderr();
    start();
    approvals_.fire(approved("hmac-of-someone-elses-subject"));
    answer("");
    start();
    answer("");
    approvals_.fire(approved());
    std::string log = testing::internal::GetCapturedStderr();
    log_setup(LogTarget::Stderr, false);
    EXPECT_EQ(verdict(), bus::kVerdictSuccess);
    EXPECT_NE(log.find("event=line-outcome"), std::string::npos) << log;
    EXPECT_NE(log.find("event=login-event"), std::string::npos) << log;
    EXPECT_EQ(log.find("hmac-of"), std::string::npos) << log;
    EXPECT_EQ(log.find(kUrl), std::string::npos) << log;
}

TEST_F(LineMethodTest, AnOfferThatCannotBeMadeLeavesThePasswordToTheUser) {
    approvals_.refusal_ = Error(Errc::Unavailable, "too many approvals are waiting");
    Step step = start();
    EXPECT_EQ(step.verdict, bus::kVerdictIgnore);
    EXPECT_EQ(test::texts_of(step, bus::kMessageError), "LINE cannot be used to log in now.\n");
    EXPECT_EQ(test::texts_of(step, bus::kMessageInfo), "Log in with your password instead.\n");
}

TEST_F(LineMethodTest, AnEventOfAnotherKindOrASecondOutcomeIsRefused) {
    start();
    EXPECT_EQ(engine_->notify(id_, LoginEvent{"test.approved", {}}).error().code(),
              Errc::InvalidArgument);
    EXPECT_EQ(
        engine_->notify(id_, LoginEvent{kLineApprovalEvent, {{"kind", "maybe"}}}).error().code(),
        Errc::InvalidArgument);
    ASSERT_TRUE(engine_->notify(id_, line_approval_event(approved())).ok());
    EXPECT_EQ(engine_->notify(id_, line_approval_event(approved())).error().code(),
              Errc::InvalidArgument);
}

TEST_F(LineMethodTest, TheMenuOffersThePhoneAndLine) {
    CodeDeps codes{s_.clock, s_.random, s_.async_store, s_.sender, s_.hasher};
    use_policy(std::string("[policy]\ntwo_step = optional\nlogin_with_line = allowed\n"
                           "login_with_phone = allowed\n[channel.sms]\ntype = outbox\n"
                           "path = /nonexistent/lwauth-unit/sms.jsonl\nserves = sms\n") +
                   line_section(),
               {std::make_shared<PhoneMethodType>(codes)});
    s_.store.save_contact(kUser, {"phone", "+819012345678"});
    Step menu = start();
    EXPECT_EQ(menu.prompt, "Choice (1-2 or p): ");
    std::string lines = test::texts_of(menu, bus::kMessageInfo);
    EXPECT_NE(lines.find("2  an approval in LINE on your phone"), std::string::npos) << lines;
    EXPECT_TRUE(approvals_.offers_.empty()) << "nothing offered before the choice";

    answer("2");
    ASSERT_TRUE(got_ && got_->ok());
    EXPECT_EQ(got_->value().prompt, "Approve in LINE, then press Enter (p for your password): ");
    answer("");
    approvals_.fire(approved());
    EXPECT_EQ(verdict(), bus::kVerdictSuccess);
}

}  // namespace
}  // namespace lwauth
