#include "account.hpp"

#include <gtest/gtest.h>
#include <systemd/sd-event.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "deferred_store.hpp"
#include "delivery.hpp"
#include "fakes.hpp"
#include "line/approvals.hpp"
#include "lwauth/error.hpp"
#include "lwauth/sd_bus.hpp"
#include "quick/pin_hash.hpp"
#include "second/recovery.hpp"
#include "second/totp.hpp"
#include "store/async_store.hpp"
#include "store/memory_store.hpp"
#include "workers.hpp"

namespace lwauth {
namespace {

using test::add_contact_now;
using test::code_in;
using test::FakeChannel;
using test::FakeClock;
using test::FakeUsers;
using test::load_policy;
using test::SeededRandom;
using test::SentMessage;
using test::wrong_code_for;

constexpr const char* kUser = "taro";
constexpr const char* kPhone = "+819012345678";
constexpr const char* kEmail = "taro@example.com";
constexpr const char* kOwner = ":1.1";  // the caller's bus connection

constexpr const char* kBasePolicy = R"([policy]
two_step = optional
contacts = self

[code]
channels = sms, email

[channel.sms]
type = outbox
path = /nonexistent/lwauth-unit/sms.jsonl
serves = sms

[channel.mail]
type = outbox
path = /nonexistent/lwauth-unit/mail.jsonl
serves = email
)";

struct Failure {
    Errc code = Errc::Internal;
    std::string message;
};

template <class F>
Failure failure_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return {e.code(), e.what()};
    }
    ADD_FAILURE() << "no Error was thrown";
    return {};
}

class AccountServiceTest : public ::testing::Test {
  protected:
    AccountServiceTest() {
        std::map<std::string, std::shared_ptr<Channel>> channels;
        channels["sms"] = std::make_shared<FakeChannel>("sms", sent_);
        channels["mail"] = std::make_shared<FakeChannel>("mail", sent_);
        sender_.set_channels(std::move(channels));
        use_policy("");
    }

    void use_policy(const std::string& drop_in, const char* base = kBasePolicy) {
        account_.set_policy(
            load_policy({{"lwauth.conf", base}, {"lwauth.conf.d/test.conf", drop_in}}));
    }

    [[nodiscard]] std::string last_code() const {
        if (sent_.empty()) {
            ADD_FAILURE() << "nothing was sent";
            return {};
        }
        return code_in(sent_.back().text);
    }

    bool confirm(const std::string& kind, const std::string& code) {
        return account_.confirm_contact(kUser, kOwner, kind, SecretString(code));
    }

    /// A contact added and confirmed through the service, as a user would (proving it is
    /// them first when a contact is already verified).
    void add_verified(const std::string& kind, const std::string& value) {
        if (!store_.load_user(kUser).contacts.empty()) {
            prove();
        }
        add_contact_now(account_, kUser, kind, value);
        ASSERT_TRUE(confirm(kind, last_code()));
    }

    /// StartReauth as `owner`, waiting for the (immediate) send; the masked destination.
    std::string start_reauth(const std::string& owner = kOwner) {
        return account_.start_reauth(kUser, owner);
    }

    /// The connection `owner` proves it is the user, with the code that reached them.
    void prove(const std::string& owner = kOwner) {
        if (start_reauth(owner).empty()) {
            start_reauth(owner);  // the app answers: the code is sent when asked again
        }
        account_.reauth(kUser, owner, SecretString(last_code()));
    }

    FakeClock clock_;
    SeededRandom random_;
    MemoryStore store_;
    ImmediateStore async_store_{store_};
    Hasher hasher_{SecretString(std::string(32, 'k'))};
    CodeSender sender_{clock_, async_store_, hasher_};
    FakeUsers users_;
    std::vector<SentMessage> sent_;
    AccountService account_service_{clock_, random_, async_store_, sender_, hasher_, users_};
    test::AccountNow account_{account_service_};
};

// ---- Adding and confirming --------------------------------------------------------------

TEST_F(AccountServiceTest, AddContactSendsAConfirmationCodeToThatNumber) {
    add_contact_now(account_, kUser, "phone", "+81 90-1234-5678");
    ASSERT_EQ(sent_.size(), 1u);
    EXPECT_EQ(sent_[0].channel, "sms");
    EXPECT_EQ(sent_[0].kind, policy::Kind::Sms);
    EXPECT_EQ(sent_[0].destination, kPhone);
    EXPECT_EQ(sent_[0].text.rfind("lwauth: your confirmation code is ", 0), 0u) << sent_[0].text;
    EXPECT_EQ(last_code().size(), 6u);

    AccountStatus status = account_.status(kUser);
    EXPECT_TRUE(status.contacts.empty());
    EXPECT_EQ(status.pending_contacts,
              (std::map<std::string, std::string>{{"phone", "+81 •• •••• 5678"}}));
    EXPECT_FALSE(status.two_step_enabled);
    EXPECT_TRUE(store_.load_user(kUser).contacts.empty()) << "saved before it was confirmed";
}

TEST_F(AccountServiceTest, AddEmailSendsToTheNormalizedAddress) {
    add_contact_now(account_, kUser, "email", "taro@Example.COM");
    ASSERT_EQ(sent_.size(), 1u);
    EXPECT_EQ(sent_[0].channel, "mail");
    EXPECT_EQ(sent_[0].destination, kEmail);
}

TEST_F(AccountServiceTest, ConfirmWithTheRightCodeSavesTheContactAndTurnsTwoStepOn) {
    add_contact_now(account_, kUser, "phone", kPhone);
    EXPECT_TRUE(confirm("phone", last_code()));

    UserState state = store_.load_user(kUser);
    ASSERT_NE(state.contact("phone"), nullptr);
    EXPECT_EQ(state.contact("phone")->value, kPhone);
    EXPECT_TRUE(state.two_step);

    AccountStatus status = account_.status(kUser);
    EXPECT_TRUE(status.two_step_enabled);
    EXPECT_EQ(status.contacts, (std::map<std::string, std::string>{{"phone", "+81 •• •••• 5678"}}));
    EXPECT_TRUE(status.pending_contacts.empty());
}

TEST_F(AccountServiceTest, AConfirmationCodeWorksOnlyOnce) {
    add_contact_now(account_, kUser, "phone", kPhone);
    std::string code = last_code();
    ASSERT_TRUE(confirm("phone", code));
    EXPECT_EQ(failure_of([&] { confirm("phone", code); }).code, Errc::NotFound);
}

TEST_F(AccountServiceTest, WrongCodeIsInvalidCodeAndSaysHowManyTriesAreLeft) {
    use_policy("[code]\ntries = 3\n");
    add_contact_now(account_, kUser, "phone", kPhone);
    std::string wrong = wrong_code_for(last_code());

    Failure first = failure_of([&] { confirm("phone", wrong); });
    EXPECT_EQ(first.code, Errc::InvalidCode);
    EXPECT_EQ(first.message, "wrong code; 2 tries left");
    Failure second = failure_of([&] { confirm("phone", wrong); });
    EXPECT_EQ(second.message, "wrong code; 1 try left");
    EXPECT_TRUE(store_.load_user(kUser).contacts.empty());
}

TEST_F(AccountServiceTest, WhenTheTriesAreUsedUpTheNumberMustBeAddedAgain) {
    use_policy("[code]\ntries = 3\n");
    add_contact_now(account_, kUser, "phone", kPhone);
    std::string code = last_code();
    std::string wrong = wrong_code_for(code);
    (void)failure_of([&] { confirm("phone", wrong); });
    (void)failure_of([&] { confirm("phone", wrong); });
    Failure last = failure_of([&] { confirm("phone", wrong); });
    EXPECT_EQ(last.code, Errc::InvalidCode);
    EXPECT_NE(last.message.find("no tries are left"), std::string::npos) << last.message;

    EXPECT_EQ(failure_of([&] { confirm("phone", code); }).code, Errc::NotFound);
    EXPECT_TRUE(store_.load_user(kUser).contacts.empty());
    EXPECT_TRUE(account_.status(kUser).pending_contacts.empty());
}

TEST_F(AccountServiceTest, ExpiredConfirmationIsExpired) {
    use_policy("[code]\nlifetime = 2m\n");
    add_contact_now(account_, kUser, "phone", kPhone);
    std::string code = last_code();
    clock_.advance(120);
    EXPECT_EQ(failure_of([&] { confirm("phone", code); }).code, Errc::Expired);
    EXPECT_EQ(failure_of([&] { confirm("phone", code); }).code, Errc::NotFound);
    EXPECT_TRUE(store_.load_user(kUser).contacts.empty());
}

TEST_F(AccountServiceTest, AConfirmationIsNotShownPastItsLifetimeAndTheSweepDropsIt) {
    use_policy("[code]\nlifetime = 2m\n");
    add_contact_now(account_, kUser, "phone", kPhone);
    clock_.advance(119);
    store_.prune_confirmations(clock_.now());
    EXPECT_EQ(account_.status(kUser).pending_contacts.size(), 1u);
    clock_.advance(1);
    EXPECT_TRUE(account_.status(kUser).pending_contacts.empty());
    EXPECT_EQ(store_.confirmations(kUser).size(), 1u);
    store_.prune_confirmations(clock_.now());
    EXPECT_TRUE(store_.confirmations(kUser).empty());
}

TEST_F(AccountServiceTest, AConfirmationIsKeptInTheStoreSealedByTheStoreAndHashed) {
    add_contact_now(account_, kUser, "phone", kPhone);
    std::string code = last_code();
    auto kept = store_.confirmations(kUser);
    ASSERT_EQ(kept.size(), 1u);
    EXPECT_EQ(kept[0].value, kPhone);
    EXPECT_EQ(kept[0].code_hash.find(code), std::string::npos) << "the code only as its hash";
    EXPECT_EQ(kept[0].code_hash.size(), 64u);
    // Another lwauthd on the same store (a new AccountService, as after a restart)
    // finishes it.
    AccountService other_service(clock_, random_, async_store_, sender_, hasher_, users_);
    test::AccountNow other{other_service};
    other.set_policy(load_policy({{"lwauth.conf", kBasePolicy}}));
    EXPECT_TRUE(other.confirm_contact(kUser, kOwner, "phone", SecretString(code)));
    EXPECT_NE(store_.load_user(kUser).contact("phone"), nullptr);
    EXPECT_TRUE(store_.confirmations(kUser).empty());
}

TEST_F(AccountServiceTest, ACodeSentToThePhoneDoesNotConfirmTheEmail) {
    add_contact_now(account_, kUser, "phone", kPhone);
    std::string phone_code = last_code();
    add_contact_now(account_, kUser, "email", kEmail);
    std::string email_code = last_code();
    ASSERT_NE(phone_code, email_code);
    EXPECT_EQ(failure_of([&] { confirm("email", phone_code); }).code, Errc::InvalidCode);
    EXPECT_TRUE(confirm("email", email_code));
}

TEST_F(AccountServiceTest, AddingAgainReplacesThePendingNumberAndItsCode) {
    add_contact_now(account_, kUser, "phone", kPhone);
    std::string first_code = last_code();
    add_contact_now(account_, kUser, "phone", "+14155552671");
    std::string second_code = last_code();
    ASSERT_NE(first_code, second_code);
    EXPECT_EQ(failure_of([&] { confirm("phone", first_code); }).code, Errc::InvalidCode);
    EXPECT_TRUE(confirm("phone", second_code));
    EXPECT_EQ(store_.load_user(kUser).contact("phone")->value, "+14155552671");
}

TEST_F(AccountServiceTest, ConfirmationsCountAgainstTheSendCaps) {
    use_policy("[code]\nmax_sends_per_hour = 1\n");
    add_contact_now(account_, kUser, "phone", kPhone);
    EXPECT_EQ(failure_of([&] { add_contact_now(account_, kUser, "email", kEmail); }).code,
              Errc::RateLimited);
    EXPECT_EQ(sent_.size(), 1u);
}

// ---- Refusals ---------------------------------------------------------------------------

TEST_F(AccountServiceTest, BadPhoneNumberOrEmailIsAnInvalidArgumentAndSendsNothing) {
    for (const char* phone : {"090-1234-5678", "+81 90 1234 567x", "+1234", ""}) {
        EXPECT_EQ(failure_of([&] { add_contact_now(account_, kUser, "phone", phone); }).code,
                  Errc::InvalidArgument)
            << phone;
    }
    for (const char* email : {"taro", "taro@example", "taro @example.com", ""}) {
        EXPECT_EQ(failure_of([&] { add_contact_now(account_, kUser, "email", email); }).code,
                  Errc::InvalidArgument)
            << email;
    }
    EXPECT_TRUE(sent_.empty());
}

TEST_F(AccountServiceTest, UnknownContactKindIsAnInvalidArgument) {
    EXPECT_EQ(failure_of([&] { add_contact_now(account_, kUser, "fax", "+819012345678"); }).code,
              Errc::InvalidArgument);
    EXPECT_EQ(failure_of([&] { confirm("fax", "123456"); }).code, Errc::InvalidArgument);
    EXPECT_EQ(failure_of([&] { account_.remove_contact(kUser, kOwner, "fax"); }).code,
              Errc::InvalidArgument);
}

TEST_F(AccountServiceTest, PhoneOutsideTheCountryAllowListIsForbidden) {
    use_policy("[code]\nsms_country_prefixes = +81\n");
    EXPECT_EQ(failure_of([&] { add_contact_now(account_, kUser, "phone", "+14155552671"); }).code,
              Errc::PolicyForbids);
    EXPECT_TRUE(sent_.empty());
    add_contact_now(account_, kUser, "phone", kPhone);
    EXPECT_EQ(sent_.size(), 1u);
}

TEST_F(AccountServiceTest, ContactsManagedByTheAdministratorCannotBeChangedHere) {
    use_policy("[policy]\ncontacts = admin\n");
    EXPECT_EQ(failure_of([&] { add_contact_now(account_, kUser, "phone", kPhone); }).code,
              Errc::ManagedByAdmin);
    EXPECT_EQ(failure_of([&] { confirm("phone", "123456"); }).code, Errc::ManagedByAdmin);
    store_.save_contact(kUser, {"phone", kPhone});
    EXPECT_EQ(failure_of([&] { account_.remove_contact(kUser, kOwner, "phone"); }).code,
              Errc::ManagedByAdmin);
    EXPECT_NE(store_.load_user(kUser).contact("phone"), nullptr);
    EXPECT_TRUE(sent_.empty());
}

TEST_F(AccountServiceTest, NothingCanBeAddedWhenTwoStepIsOffOnThisHost) {
    use_policy("[policy]\ntwo_step = off\n");
    EXPECT_EQ(failure_of([&] { add_contact_now(account_, kUser, "phone", kPhone); }).code,
              Errc::NotEnabled);
    EXPECT_EQ(failure_of([&] { account_.set_two_step(kUser, kOwner, true); }).code,
              Errc::NotEnabled);
    EXPECT_TRUE(sent_.empty());
}

TEST_F(AccountServiceTest, PhoneCannotBeAddedWhenNoChannelSendsSms) {
    constexpr const char* kEmailOnly = R"([code]
channels = email
[channel.mail]
type = outbox
path = /nonexistent/lwauth-unit/mail.jsonl
serves = email
)";
    use_policy("", kEmailOnly);
    EXPECT_EQ(failure_of([&] { add_contact_now(account_, kUser, "phone", kPhone); }).code,
              Errc::NotEnabled);
    EXPECT_TRUE(sent_.empty());
}

// ---- Turning 2-step off and removing contacts -------------------------------------------

TEST_F(AccountServiceTest, TwoStepCannotBeTurnedOffWhenRequired) {
    add_verified("phone", kPhone);
    use_policy("[policy]\ntwo_step = required\n");
    EXPECT_EQ(failure_of([&] { account_.set_two_step(kUser, kOwner, false); }).code,
              Errc::PolicyForbids);
    EXPECT_TRUE(store_.load_user(kUser).two_step);
}

TEST_F(AccountServiceTest, TwoStepCanBeTurnedOffAndOnWhenOptional) {
    add_verified("phone", kPhone);
    prove();
    account_.set_two_step(kUser, kOwner, false);
    EXPECT_FALSE(store_.load_user(kUser).two_step);
    EXPECT_FALSE(account_.status(kUser).two_step_enabled);
    account_.set_two_step(kUser, kOwner, true);
    EXPECT_TRUE(account_.status(kUser).two_step_enabled);
}

TEST_F(AccountServiceTest, TwoStepCannotBeTurnedOnWithoutAContact) {
    EXPECT_EQ(failure_of([&] { account_.set_two_step(kUser, kOwner, true); }).code,
              Errc::PolicyForbids);
    EXPECT_FALSE(store_.load_user(kUser).two_step);
}

TEST_F(AccountServiceTest, TheLastContactCannotBeRemovedWhenTwoStepIsRequired) {
    add_verified("phone", kPhone);
    use_policy("[policy]\ntwo_step = required\n");
    EXPECT_EQ(failure_of([&] { account_.remove_contact(kUser, kOwner, "phone"); }).code,
              Errc::PolicyForbids);
    EXPECT_NE(store_.load_user(kUser).contact("phone"), nullptr);
}

TEST_F(AccountServiceTest, OneOfTwoContactsCanBeRemovedWhenTwoStepIsRequired) {
    add_verified("phone", kPhone);
    add_verified("email", kEmail);
    use_policy("[policy]\ntwo_step = required\n");
    prove();
    account_.remove_contact(kUser, kOwner, "phone");
    UserState state = store_.load_user(kUser);
    EXPECT_EQ(state.contact("phone"), nullptr);
    EXPECT_NE(state.contact("email"), nullptr);
    EXPECT_TRUE(state.two_step);
}

TEST_F(AccountServiceTest, RemovingTheLastContactTurnsTwoStepOffWhenOptional) {
    add_verified("phone", kPhone);
    prove();
    account_.remove_contact(kUser, kOwner, "phone");
    UserState state = store_.load_user(kUser);
    EXPECT_TRUE(state.contacts.empty());
    EXPECT_FALSE(state.two_step);
}

TEST_F(AccountServiceTest, RemovingAContactThatIsNotSavedIsNotFound) {
    EXPECT_EQ(failure_of([&] { account_.remove_contact(kUser, kOwner, "email"); }).code,
              Errc::NotFound);
}

// ---- Proof before a change that weakens the login (self_service_reauth) -----------------

TEST_F(AccountServiceTest, TurningTwoStepOffNeedsProofFirst) {
    add_verified("phone", kPhone);
    size_t sent = sent_.size();
    Failure refused = failure_of([&] { account_.set_two_step(kUser, kOwner, false); });
    EXPECT_EQ(refused.code, Errc::ReauthRequired);
    EXPECT_NE(refused.message.find("turning 2-step verification off needs proof that it is you"),
              std::string::npos)
        << refused.message;
    EXPECT_TRUE(store_.load_user(kUser).two_step);
    EXPECT_EQ(sent_.size(), sent) << "a refusal sends nothing by itself";

    EXPECT_EQ(start_reauth(), "+81 \u2022\u2022 \u2022\u2022\u2022\u2022 5678");
    ASSERT_EQ(sent_.size(), sent + 1);
    EXPECT_EQ(sent_.back().destination, kPhone) << "to the verified contact";
    EXPECT_EQ(sent_.back().text.rfind("lwauth: your code to change your login settings is ", 0), 0u)
        << sent_.back().text;
    EXPECT_LE(sent_.back().text.size(), 160u) << "one SMS";
    account_.reauth(kUser, kOwner, SecretString(last_code()));
    account_.set_two_step(kUser, kOwner, false);
    EXPECT_FALSE(store_.load_user(kUser).two_step);
    // Turning it on again needs nothing.
    account_.set_two_step(kUser, ":1.9", true);
    EXPECT_TRUE(store_.load_user(kUser).two_step);
}

TEST_F(AccountServiceTest, RemovingOrAddingAContactNeedsProofOnceOneIsVerified) {
    add_verified("phone", kPhone);
    size_t sent = sent_.size();
    EXPECT_EQ(failure_of([&] { account_.remove_contact(kUser, kOwner, "phone"); }).code,
              Errc::ReauthRequired);
    EXPECT_NE(store_.load_user(kUser).contact("phone"), nullptr);
    // Another number, or a first email: either would decide where login codes go.
    EXPECT_EQ(failure_of([&] { add_contact_now(account_, kUser, "phone", "+819099998888"); }).code,
              Errc::ReauthRequired);
    EXPECT_EQ(failure_of([&] { add_contact_now(account_, kUser, "email", kEmail); }).code,
              Errc::ReauthRequired);
    EXPECT_EQ(sent_.size(), sent) << "checked before any code leaves";

    prove();
    add_contact_now(account_, kUser, "phone", "+819099998888");
    ASSERT_TRUE(confirm("phone", last_code()));
    EXPECT_EQ(store_.load_user(kUser).contact("phone")->value, "+819099998888");
}

TEST_F(AccountServiceTest, AProofIsForItsConnectionAloneAndForFiveMinutes) {
    add_verified("phone", kPhone);
    prove(":1.1");
    EXPECT_EQ(failure_of([&] { account_.set_two_step(kUser, ":1.2", false); }).code,
              Errc::ReauthRequired);
    clock_.advance(AccountService::kReauthGrantSeconds);
    EXPECT_EQ(failure_of([&] { account_.set_two_step(kUser, ":1.1", false); }).code,
              Errc::ReauthRequired);

    prove(":1.1");
    account_.forget_owner(":1.1");  // the connection left the bus
    EXPECT_EQ(failure_of([&] { account_.set_two_step(kUser, ":1.1", false); }).code,
              Errc::ReauthRequired);
}

TEST_F(AccountServiceTest, AReauthCodeWorksOnlyForTheConnectionThatAskedAndOnlyOnce) {
    add_verified("phone", kPhone);
    start_reauth(":1.1");
    std::string code = last_code();
    EXPECT_EQ(failure_of([&] { account_.reauth(kUser, ":1.2", SecretString(code)); }).code,
              Errc::NotFound);
    EXPECT_EQ(failure_of([&] { confirm("phone", code); }).code, Errc::NotFound)
        << "it confirms no contact";
    account_.reauth(kUser, ":1.1", SecretString(code));
    EXPECT_EQ(failure_of([&] { account_.reauth(kUser, ":1.1", SecretString(code)); }).code,
              Errc::NotFound);
}

TEST_F(AccountServiceTest, WrongReauthCodesUseUpTheTriesAndExpiredOnesAreRefused) {
    add_verified("phone", kPhone);
    start_reauth();
    std::string wrong = wrong_code_for(last_code());
    Failure first = failure_of([&] { account_.reauth(kUser, kOwner, SecretString(wrong)); });
    EXPECT_EQ(first.code, Errc::InvalidCode);
    EXPECT_EQ(first.message, "wrong code; 2 tries left");
    (void)failure_of([&] { account_.reauth(kUser, kOwner, SecretString(wrong)); });
    EXPECT_EQ(failure_of([&] { account_.reauth(kUser, kOwner, SecretString(wrong)); }).message,
              "wrong code, and no tries are left; try again in a few minutes");
    EXPECT_EQ(failure_of([&] { account_.reauth(kUser, kOwner, SecretString(last_code())); }).code,
              Errc::NotFound);
    EXPECT_EQ(failure_of([&] { account_.set_two_step(kUser, kOwner, false); }).code,
              Errc::ReauthRequired);

    EXPECT_EQ(failure_of([&] { start_reauth(); }).message,
              "no tries are left; try again in a few minutes")
        << "no code is sent while the tries are spent";

    clock_.advance(300);  // they have expired
    start_reauth();
    clock_.advance(300);
    EXPECT_EQ(failure_of([&] { account_.reauth(kUser, kOwner, SecretString(last_code())); }).code,
              Errc::Expired);
}

TEST_F(AccountServiceTest, WrongReauthCodesOverThreeConnectionsStopAtTheTriesInTotal) {
    add_verified("phone", kPhone);
    const std::vector<std::string> owners = {":1.1", ":1.2", ":1.3"};
    std::map<std::string, std::string> codes;
    for (const auto& owner : owners) {
        start_reauth(owner);
        codes[owner] = last_code();
    }
    EXPECT_EQ(failure_of([&] {
                  account_.reauth(kUser, ":1.1", SecretString(wrong_code_for(codes[":1.1"])));
              }).message,
              "wrong code; 2 tries left");
    EXPECT_EQ(failure_of([&] {
                  account_.reauth(kUser, ":1.2", SecretString(wrong_code_for(codes[":1.2"])));
              }).message,
              "wrong code; 1 try left");
    EXPECT_EQ(failure_of([&] {
                  account_.reauth(kUser, ":1.3", SecretString(wrong_code_for(codes[":1.3"])));
              }).message,
              "wrong code, and no tries are left; try again in a few minutes");
    // Neither the right code on a connection that has tried, nor a new connection with a
    // new code, brings another try.
    Failure spent = failure_of([&] { account_.reauth(kUser, ":1.1", SecretString(codes[":1.1"])); });
    EXPECT_EQ(spent.code, Errc::InvalidCode);
    EXPECT_EQ(spent.message, "no tries are left; try again in a few minutes");
    size_t sends = sent_.size();
    Failure refused = failure_of([&] { start_reauth(":1.4"); });
    EXPECT_EQ(refused.code, Errc::InvalidCode);
    EXPECT_EQ(refused.message, "no tries are left; try again in a few minutes");
    EXPECT_EQ(sent_.size(), sends) << "no code is sent that no answer could use";
    EXPECT_EQ(failure_of([&] { account_.set_two_step(kUser, ":1.4", false); }).code,
              Errc::ReauthRequired);
    // Once they expire, a new code brings them back.
    clock_.advance(300);
    prove(":1.5");
    account_.set_two_step(kUser, ":1.5", false);
    EXPECT_FALSE(store_.load_user(kUser).two_step);
}

TEST_F(AccountServiceTest, ReauthCodesHaveABudgetOfTheirOwn) {
    add_verified("phone", kPhone);
    use_policy("[code]\nmax_sends_per_hour = 3\nmax_sends_per_destination_per_hour = 2\n");
    // Another user aims confirmations at taro's number up to its cap...
    add_contact_now(account_, "jiro", "phone", kPhone);
    EXPECT_EQ(failure_of([&] { add_contact_now(account_, "jiro", "phone", kPhone); }).code,
              Errc::RateLimited);
    // ...and taro's proof still reaches it, up to a cap of its own.
    start_reauth();
    start_reauth();
    EXPECT_EQ(failure_of([&] { start_reauth(); }).code, Errc::RateLimited);
    // Taro's login codes are apart too.
    auto up = account_.user_policy(kUser);
    (void)test::send_login_code_now(sender_, kUser, account_.policy(), up, store_.load_user(kUser),
                                    SecretString("123456"));
}

TEST_F(AccountServiceTest, AConfirmationSentBeforeAnyContactNeedsProofOnceOneIsVerified) {
    // Another process of the user's starts an address of its own while there is nothing to
    // prove with; the user then verifies a phone.
    add_contact_now(account_, kUser, "email", "mallory@example.com");
    std::string mallory_code = last_code();
    add_verified("phone", kPhone);
    EXPECT_EQ(failure_of([&] { confirm("email", mallory_code); }).code, Errc::ReauthRequired);
    EXPECT_EQ(store_.load_user(kUser).contact("email"), nullptr);
    // With proof (the user's own), the code is still good.
    prove();
    EXPECT_TRUE(confirm("email", mallory_code));
}

TEST_F(AccountServiceTest, CancellingAConfirmationStartedWithProofNeedsProofToo) {
    add_verified("phone", kPhone);
    prove(":1.1");
    add_contact_now(account_, kUser, "email", kEmail, ":1.1");
    EXPECT_EQ(failure_of([&] { account_.remove_contact(kUser, ":1.2", "email"); }).code,
              Errc::ReauthRequired);
    EXPECT_EQ(account_.status(kUser).pending_contacts.count("email"), 1u);
}

TEST_F(AccountServiceTest, ContactsNoChannelReachesCannotBeProvedWithAndSaySo) {
    add_verified("phone", kPhone);
    use_policy("[code]\nchannels = email\n[policy]\nadmin_contact = the IT desk\n");
    Failure refused = failure_of([&] { account_.set_two_step(kUser, kOwner, false); });
    EXPECT_EQ(refused.code, Errc::NotEnabled);
    EXPECT_NE(refused.message.find("no channel on this host reaches them; ask your administrator "
                                   "(the IT desk)"),
              std::string::npos)
        << refused.message;
    EXPECT_TRUE(store_.load_user(kUser).two_step);
}

TEST_F(AccountServiceTest, WithoutAVerifiedContactThereIsNothingToProveWith) {
    EXPECT_EQ(failure_of([&] { start_reauth(); }).code, Errc::NotFound);
    add_contact_now(account_, kUser, "email", kEmail);  // the first needs no proof
}

TEST_F(AccountServiceTest, SelfServiceReauthNoneKeepsTheChangesFree) {
    add_verified("phone", kPhone);
    use_policy("[user:taro]\nself_service_reauth = none\n");
    account_.set_two_step(kUser, kOwner, false);
    account_.remove_contact(kUser, kOwner, "phone");
    EXPECT_TRUE(store_.load_user(kUser).contacts.empty());
}

// ---- Step-up with the authenticator app and recovery codes -------------------------------

constexpr const char* kTotpSecret = "12345678901234567890";

class StepUpTest : public AccountServiceTest {
  protected:
    StepUpTest() { use_policy("[policy]\ntotp = allowed\n[lockout]\nmax_failures = 5\n"); }

    /// The app's code of the time step `offset` steps from now.
    [[nodiscard]] std::string app_code(int offset = 0) const {
        int64_t step = totp::time_step(clock_.now(), std::chrono::seconds(30)) + offset;
        return std::string(
            totp::hotp(kTotpSecret, static_cast<uint64_t>(step), 6, policy::TotpAlgorithm::Sha1)
                .view());
    }
    /// The user confirmed an app a step ago, and turned 2-step on with it.
    void add_app() {
        store_.set_totp(kUser, kTotpSecret,
                        totp::time_step(clock_.now(), std::chrono::seconds(30)) - 1);
        store_.set_two_step(kUser, true);
    }
    std::vector<SecretString> recovery_codes() {
        std::vector<SecretString> codes;
        account_service_.store_recovery_codes(kUser, [&](Result<std::vector<SecretString>> made) {
            codes = std::move(made.value());
        });
        return codes;
    }
};

TEST_F(StepUpTest, WithOnlyTheAppItsCodeStepsUpAndNothingIsSent) {
    add_app();
    EXPECT_EQ(failure_of([&] { account_.set_two_step(kUser, kOwner, false); }).code,
              Errc::ReauthRequired)
        << "the app is something to prove with";
    ReauthOffer offer = account_.start_reauth_offer(kUser, kOwner);
    EXPECT_EQ(offer.shown, "");
    EXPECT_EQ(offer.accepted, std::vector<std::string>{"totp"});
    EXPECT_TRUE(sent_.empty()) << "no contact: nothing is sent";
    account_.reauth(kUser, kOwner, SecretString(app_code()));
    account_.set_two_step(kUser, kOwner, false);
    EXPECT_FALSE(store_.load_user(kUser).two_step);
}

TEST_F(StepUpTest, TheAppCodesStepIsSpentAsAtALogin) {
    add_app();
    std::string code = app_code();
    (void)account_.start_reauth_offer(kUser, ":1.1");
    account_.reauth(kUser, ":1.1", SecretString(code));
    EXPECT_EQ(store_.load_user(kUser).totp_last_step,
              totp::time_step(clock_.now(), std::chrono::seconds(30)));
    // The same code on another connection (or at a login) is refused, and counted.
    (void)account_.start_reauth_offer(kUser, ":1.2");
    EXPECT_EQ(failure_of([&] { account_.reauth(kUser, ":1.2", SecretString(code)); }).code,
              Errc::InvalidCode);
    EXPECT_EQ(store_.lock_state(kUser).failures, 1);
}

TEST_F(StepUpTest, ARecoveryCodeStepsUpOnceAndIsUsedUp) {
    std::vector<SecretString> codes = recovery_codes();
    ASSERT_EQ(codes.size(), 10u);
    ReauthOffer offer = account_.start_reauth_offer(kUser, kOwner);
    EXPECT_EQ(offer.accepted, std::vector<std::string>{"recovery"});
    account_.reauth(kUser, kOwner, SecretString(std::string(codes[0].view())));
    EXPECT_EQ(store_.load_user(kUser).recovery_codes, 9);
    (void)account_.start_reauth_offer(kUser, ":1.2");
    EXPECT_EQ(failure_of([&] {
                  account_.reauth(kUser, ":1.2", SecretString(std::string(codes[0].view())));
              }).code,
              Errc::InvalidCode);
}

TEST_F(StepUpTest, WithAContactTooTheCodeIsSentAndEitherAnswerPasses) {
    add_verified("phone", kPhone);
    add_app();
    size_t sent = sent_.size();
    ReauthOffer offer = account_.start_reauth_offer(kUser, kOwner);
    EXPECT_EQ(offer.shown, "");
    EXPECT_EQ(offer.accepted, (std::vector<std::string>{"totp", "send"})) << "second_factors order";
    EXPECT_EQ(sent_.size(), sent) << "the app answers: no code unless asked for";
    // Asked again on the same connection: the code is sent.
    offer = account_.start_reauth_offer(kUser, kOwner);
    EXPECT_EQ(offer.shown, "+81 \u2022\u2022 \u2022\u2022\u2022\u2022 5678");
    EXPECT_EQ(offer.accepted, (std::vector<std::string>{"totp", "code"}));
    EXPECT_EQ(sent_.size(), sent + 1);
    account_.reauth(kUser, kOwner, SecretString(last_code()));
    account_.set_two_step(kUser, kOwner, false);
}

// An app stored as its bare secret (before its parameters were kept) was set up with
// SHA1, 6 digits and 30 s: its codes step up still when [totp] says 8 digits of SHA256.
TEST_F(StepUpTest, AnAppStoredBeforeItsParametersWereKeptMakesTheOldDefaultCodes) {
    add_app();
    use_policy("[policy]\ntotp = allowed\n[totp]\ndigits = 8\nalgorithm = SHA256\n");
    (void)account_.start_reauth_offer(kUser, kOwner);
    account_.reauth(kUser, kOwner, SecretString(app_code()));
    EXPECT_EQ(store_.load_user(kUser).totp_last_step,
              totp::time_step(clock_.now(), std::chrono::seconds(30)));
}

TEST_F(StepUpTest, RecoveryCodesBeforeTheCodeHoldItBackToo) {
    add_verified("phone", kPhone);
    std::vector<SecretString> codes = recovery_codes();
    use_policy("[policy]\ntotp = allowed\nsecond_factors = recovery, code\n");
    size_t sent = sent_.size();
    EXPECT_EQ(account_.start_reauth_offer(kUser, kOwner).accepted,
              (std::vector<std::string>{"recovery", "send"}));
    EXPECT_EQ(sent_.size(), sent);
    use_policy("[policy]\ntotp = allowed\nsecond_factors = code, recovery\n");
    EXPECT_EQ(account_.start_reauth_offer(kUser, ":1.2").accepted,
              (std::vector<std::string>{"code", "recovery"}));
    EXPECT_EQ(sent_.size(), sent + 1) << "the code first: sent at once";
}

TEST_F(StepUpTest, WrongAnswersCountTowardTheLockoutAndALockEndsTheStepUp) {
    add_app();
    std::string wrong = app_code() == "000000" ? "111111" : "000000";
    (void)account_.start_reauth_offer(kUser, kOwner);
    EXPECT_EQ(failure_of([&] { account_.reauth(kUser, kOwner, SecretString(wrong)); }).message,
              "wrong code; 2 tries left");
    EXPECT_EQ(store_.lock_state(kUser).failures, 1);
    (void)failure_of([&] { account_.reauth(kUser, kOwner, SecretString(wrong)); });
    (void)failure_of([&] { account_.reauth(kUser, kOwner, SecretString(wrong)); });
    // A new step-up brings no new tries before they expire.
    Failure spent = failure_of([&] { (void)account_.start_reauth_offer(kUser, kOwner); });
    EXPECT_EQ(spent.code, Errc::InvalidCode);
    EXPECT_EQ(spent.message, "no tries are left; try again in a few minutes");
    EXPECT_EQ(store_.lock_state(kUser).failures, 3) << "a refused answer is not judged";
    clock_.advance(300);
    (void)account_.start_reauth_offer(kUser, kOwner);
    (void)failure_of([&] { account_.reauth(kUser, kOwner, SecretString(wrong)); });
    Failure locked = failure_of([&] { account_.reauth(kUser, kOwner, SecretString(wrong)); });
    EXPECT_EQ(locked.code, Errc::LockedOut) << locked.message;
    EXPECT_GT(store_.lock_state(kUser).locked_until, clock_.now()) << "logins are locked too";
    EXPECT_EQ(failure_of([&] { (void)account_.start_reauth_offer(kUser, kOwner); }).code,
              Errc::LockedOut);
    EXPECT_EQ(failure_of([&] { account_.set_two_step(kUser, kOwner, false); }).code,
              Errc::ReauthRequired);
}

TEST_F(StepUpTest, WrongAnswersNeverLockUntilAnAdministratorUnlocks) {
    use_policy("[policy]\ntotp = allowed\n[lockout]\nmax_failures = 1000\n");
    add_app();
    std::string wrong = "000000";
    int answered = 0;
    while (answered < kMaxFailuresInARow + 20) {
        (void)account_.start_reauth_offer(kUser, kOwner);
        for (int i = 0; i < 3; ++i, ++answered) {
            if (app_code() == wrong) {
                clock_.advance(30);
            }
            EXPECT_EQ(failure_of([&] { account_.reauth(kUser, kOwner, SecretString(wrong)); })
                          .code,
                      Errc::InvalidCode);
        }
        clock_.advance(300);
    }
    EXPECT_EQ(store_.lock_state(kUser).failures, answered) << "each counts toward the lockout";
    EXPECT_EQ(store_.lock_state(kUser).locked_until, 0);
    // A wrong code after the password, as a login counts it: the first in a row.
    FailureCount count = store_.add_failure(kUser, {.max_in_a_row = kMaxFailuresInARow});
    EXPECT_EQ(count.in_a_row, 1);
    EXPECT_EQ(count.locked_until, 0);
}

TEST_F(StepUpTest, ARightAnswerClearsTheFailures) {
    add_app();
    (void)store_.add_failure(kUser, {});
    (void)account_.start_reauth_offer(kUser, kOwner);
    account_.reauth(kUser, kOwner, SecretString(app_code()));
    EXPECT_EQ(store_.lock_state(kUser).failures, 0);
}

TEST_F(StepUpTest, AFactorTheSecondFactorsLeaveOutCannotStepUp) {
    add_app();
    recovery_codes();
    use_policy("[policy]\ntotp = allowed\nsecond_factors = recovery\n");
    ReauthOffer offer = account_.start_reauth_offer(kUser, kOwner);
    EXPECT_EQ(offer.accepted, std::vector<std::string>{"recovery"});
    EXPECT_EQ(failure_of([&] { account_.reauth(kUser, kOwner, SecretString(app_code())); }).code,
              Errc::InvalidCode);
}

// ---- Answers in flight at once, on a store that answers later (PostgreSQL) --------------

class StepUpInFlightTest : public StepUpTest {
  protected:
    StepUpInFlightTest() {
        service_.set_policy(load_policy(
            {{"lwauth.conf", kBasePolicy},
             {"lwauth.conf.d/test.conf", "[policy]\ntotp = allowed\n[lockout]\nmax_failures = 5\n"}}));
    }

    void start() {
        std::optional<Result<ReauthOffer>> offer;
        service_.start_reauth(kUser, kOwner, [&](Result<ReauthOffer> r) { offer = std::move(r); });
        deferred_.run();
        ASSERT_TRUE(offer && offer->ok());
    }
    /// Sends `answer`; its reply lands in `reply` whenever the store lets it.
    void answer(const std::string& text, std::optional<Result<void>>& reply) {
        service_.reauth(kUser, kOwner, SecretString(text),
                        [&reply](Result<void> r) { reply = std::move(r); });
    }
    [[nodiscard]] std::string wrong() const { return app_code() == "000000" ? "111111" : "000000"; }

    test::DeferredStore deferred_{async_store_};
    AccountService service_{clock_, random_, deferred_, sender_, hasher_, users_};
};

TEST_F(StepUpInFlightTest, FiftyWrongAnswersAndARightOneSentAtOnceAreJudgedOneAtATime) {
    add_app();
    start();
    std::vector<std::optional<Result<void>>> replies(51);
    for (size_t i = 0; i < 50; ++i) {
        answer(wrong(), replies[i]);
    }
    answer(app_code(), replies[50]);
    deferred_.run();
    int judged = 0;
    int busy = 0;
    for (const auto& reply : replies) {
        ASSERT_TRUE(reply.has_value()) << "every answer is replied to";
        ASSERT_FALSE(reply->ok()) << "the right answer came while another was in flight";
        if (reply->error().code() == Errc::InvalidArgument) {
            ++busy;
        } else {
            ++judged;
            EXPECT_EQ(reply->error().code(), Errc::InvalidCode) << reply->error().what();
        }
    }
    EXPECT_EQ(judged, 1);
    EXPECT_EQ(busy, 50);
    EXPECT_EQ(store_.lock_state(kUser).failures, 1) << "only the judged answer is counted";

    // Answered one after the other, the tries of [code] hold: the third wrong is the last.
    for (int i = 0; i < 3; ++i) {
        std::optional<Result<void>> reply;
        answer(wrong(), reply);
        deferred_.run();
        ASSERT_TRUE(reply && !reply->ok());
        EXPECT_EQ(reply->error().code(), Errc::InvalidCode) << reply->error().what();
    }
    EXPECT_EQ(store_.lock_state(kUser).failures, 3);
}

TEST_F(StepUpInFlightTest, ALockSetWhileARightAnswerIsInFlightIsNeitherPassedNorUndone) {
    add_app();
    (void)store_.add_failure(kUser, {});  // a right answer would clear it
    start();
    std::optional<Result<void>> reply;
    answer(app_code(), reply);
    ASSERT_TRUE(deferred_.run_one()) << "the state is read, the lock not set yet";
    // Meanwhile another connection's (or host's) wrong answers lock the account.
    int64_t until = clock_.now() + 900;
    store_.lock(kUser, until);
    deferred_.run();
    ASSERT_TRUE(reply.has_value());
    ASSERT_FALSE(reply->ok()) << "a step-up passed on a locked account";
    EXPECT_EQ(reply->error().code(), Errc::LockedOut);
    EXPECT_EQ(store_.lock_state(kUser).locked_until, until) << "the grant undid the lock";
}

TEST_F(StepUpInFlightTest, AWrongAnswerInFlightNeitherUndoesNorExtendsALockSetMeanwhile) {
    service_.set_policy(load_policy(
        {{"lwauth.conf", kBasePolicy},
         {"lwauth.conf.d/test.conf", "[policy]\ntotp = allowed\n[lockout]\nmax_failures = 1\n"}}));
    add_app();
    for (int64_t lock : {kLockedUntilUnlocked, clock_.now() + 600}) {
        start();
        std::optional<Result<void>> reply;
        answer(wrong(), reply);
        ASSERT_TRUE(deferred_.run_one()) << "the state is read, the lock not set yet";
        // Meanwhile an administrator, or another host's wrong codes, lock the account.
        store_.lock(kUser, lock);
        clock_.advance(60);
        deferred_.run();
        ASSERT_TRUE(reply.has_value());
        ASSERT_FALSE(reply->ok());
        EXPECT_EQ(reply->error().code(), Errc::LockedOut) << reply->error().what();
        EXPECT_EQ(store_.lock_state(kUser).locked_until, lock)
            << "the wrong answer replaced the lock";
        store_.clear_failures(kUser);
    }
}

// ---- Enrolled with an app or recovery codes ----------------------------------------------

TEST_F(StepUpTest, AnAppOrRecoveryCodesLetTwoStepBeTurnedOn) {
    EXPECT_EQ(failure_of([&] { account_.set_two_step(kUser, kOwner, true); }).code,
              Errc::PolicyForbids);
    recovery_codes();
    account_.set_two_step(kUser, kOwner, true);
    EXPECT_TRUE(store_.load_user(kUser).two_step);
    EXPECT_TRUE(store_.load_user(kUser).enrolled) << "recovery codes enrol the user";
}

TEST_F(StepUpTest, AnAppTheSecondFactorsLeaveOutDoesNotCount) {
    store_.set_totp(kUser, kTotpSecret, 0);
    use_policy("[policy]\ntotp = allowed\nsecond_factors = code, recovery\n");
    EXPECT_EQ(failure_of([&] { account_.set_two_step(kUser, kOwner, true); }).code,
              Errc::PolicyForbids);
}

TEST_F(StepUpTest, UnderRequiredTheLastContactGoesWhenAnAppIsLeftAndTwoStepStaysOn) {
    use_policy("[policy]\ntotp = allowed\ntwo_step = required\n");
    add_verified("phone", kPhone);
    add_app();
    prove();
    account_.remove_contact(kUser, kOwner, "phone");
    UserState state = store_.load_user(kUser);
    EXPECT_TRUE(state.contacts.empty());
    EXPECT_TRUE(state.two_step) << "the app is left";
    EXPECT_EQ(failure_of([&] { account_.totp_remove(kUser, kOwner); }).code, Errc::PolicyForbids)
        << "the app is the last factor now";
}

TEST_F(StepUpTest, RemovingTheLastContactKeepsTwoStepOnWithAnApp) {
    add_verified("phone", kPhone);
    add_app();
    prove();
    account_.remove_contact(kUser, kOwner, "phone");
    EXPECT_TRUE(store_.load_user(kUser).two_step);
    // Removing the app then leaves nothing: 2-step goes off with it.
    EXPECT_TRUE(account_.totp_remove(kUser, kOwner));
    EXPECT_FALSE(store_.load_user(kUser).two_step);
}

TEST_F(StepUpTest, UnderRequiredRemovingTheContactAndTheAppAtOnceLeavesOne) {
    // Both read the state before either removes: each saw the other factor left.
    const char* drop_in =
        "[policy]\ntotp = allowed\ntwo_step = required\nself_service_reauth = none\n";
    use_policy(drop_in);
    add_verified("phone", kPhone);
    add_app();
    test::DeferredStore deferred(async_store_);
    CodeSender sender{clock_, deferred, hasher_};
    AccountService service{clock_, random_, deferred, sender, hasher_, users_};
    service.set_policy(
        load_policy({{"lwauth.conf", kBasePolicy}, {"lwauth.conf.d/test.conf", drop_in}}));
    std::vector<std::optional<bool>> ok(2);
    service.remove_contact(kUser, kOwner, "phone",
                           [&](Result<void> r) { ok[0] = static_cast<bool>(r); });
    service.totp_remove(kUser, kOwner, [&](Result<bool> r) { ok[1] = r && r.value(); });
    ASSERT_TRUE(deferred.run_one());
    ASSERT_TRUE(deferred.run_one());
    deferred.run();
    ASSERT_TRUE(ok[0].has_value() && ok[1].has_value());
    EXPECT_NE(*ok[0], *ok[1]) << "exactly one succeeds";
    UserState state = store_.load_user(kUser);
    EXPECT_TRUE(!state.contacts.empty() || state.totp_set()) << "a factor is left";
}

// ---- Status -----------------------------------------------------------------------------

TEST_F(AccountServiceTest, StatusShowsTheLockoutOnlyWhileItLasts) {
    store_.lock(kUser, clock_.now() + 100);
    EXPECT_EQ(account_.status(kUser).locked_until, clock_.now() + 100);
    clock_.advance(100);
    EXPECT_EQ(account_.status(kUser).locked_until, 0);
}

TEST_F(AccountServiceTest, StatusListsTheRememberedPlacesWhileTheyLast) {
    use_policy("[policy]\nremember_host = 1h\n");
    int64_t t0 = clock_.now();
    store_.remember_host(kUser, {"sshd", "192.0.2.7", t0, t0 + 3600});
    clock_.advance(1800);
    store_.remember_host(kUser, {"login", "local:tty1", clock_.now(), clock_.now() + 3600});
    EXPECT_EQ(account_.status(kUser).remembered_hosts,
              (std::vector<RememberedPlace>{{"sshd", "192.0.2.7", t0 + 3600},
                                            {"login", "local:tty1", t0 + 1800 + 3600}}));
    clock_.advance(1800);
    EXPECT_EQ(account_.status(kUser).remembered_hosts,
              (std::vector<RememberedPlace>{{"login", "local:tty1", t0 + 5400}}))
        << "a place past remember_host is not shown";
    use_policy("[policy]\nremember_host = 10m\n");
    EXPECT_TRUE(account_.status(kUser).remembered_hosts.empty())
        << "a shorter remember_host applies to places already remembered";
    use_policy("");
    EXPECT_TRUE(account_.status(kUser).remembered_hosts.empty()) << "remember_host = 0s";
}

TEST_F(AccountServiceTest, ForgetForgetsEveryPlaceOfTheUserAndCountsThem) {
    use_policy("[policy]\nremember_host = 1h\n");
    store_.remember_host(kUser, {"sshd", "192.0.2.7", clock_.now(), clock_.now() + 3600});
    store_.remember_host(kUser, {"sudo", "local:pts/0", clock_.now(), clock_.now() + 3600});
    store_.remember_host("jiro", {"sshd", "192.0.2.7", clock_.now(), clock_.now() + 3600});
    EXPECT_EQ(account_.forget_hosts(kUser), 2);
    EXPECT_TRUE(account_.status(kUser).remembered_hosts.empty());
    EXPECT_EQ(account_.forget_hosts(kUser), 0);
    EXPECT_EQ(account_.status("jiro").remembered_hosts.size(), 1u);
}

TEST_F(AccountServiceTest, StatusGivesTheEnrolmentGraceOnceStartedAndAfterItEnds) {
    use_policy("[policy]\ntwo_step = required\nenroll_grace = 1d\n");
    EXPECT_EQ(account_.status(kUser).enroll_grace_until, 0) << "not started";
    int64_t started = store_.start_enroll_grace(kUser, clock_.now());
    EXPECT_EQ(account_.status(kUser).enroll_grace_until, started + 86400);
    clock_.advance(2 * 86400);
    EXPECT_EQ(account_.status(kUser).enroll_grace_until, started + 86400) << "also when past";
    use_policy("[policy]\ntwo_step = required\n");
    EXPECT_EQ(account_.status(kUser).enroll_grace_until, 0) << "enroll_grace = 0s";
    use_policy("[policy]\ntwo_step = optional\nenroll_grace = 1d\n");
    EXPECT_EQ(account_.status(kUser).enroll_grace_until, 0) << "2-step not in effect";
    use_policy("[policy]\ntwo_step = required\nenroll_grace = 1d\n");
    add_verified("email", kEmail);
    EXPECT_EQ(account_.status(kUser).enroll_grace_until, 0) << "a login contact ends it";
}

TEST_F(AccountServiceTest, StatusReportsThePolicyThatApplies) {
    use_policy("[policy]\ncontacts = admin\n[group:staff]\ntwo_step = required\n");
    users_.groups[kUser] = {"staff"};
    AccountStatus status = account_.status(kUser);
    EXPECT_EQ(status.user, kUser);
    EXPECT_EQ(status.two_step_policy, policy::TwoStep::Required);
    EXPECT_EQ(status.contacts_policy, policy::Contacts::Admin);
    EXPECT_TRUE(status.two_step_enabled);
}

// ---- Linking LINE ----------------------------------------------------------------------

// LINE's approvals as the tests drive them: every offer is recorded, and the test says
// how each ends (fire), as the endpoint's flows would from the loop.
class FakeLineApprovals : public line::LineApprovals {
  public:
    [[nodiscard]] bool configured() const override { return set_up; }
    Result<line::ApprovalOffer> offer(const line::ApprovalRequest& request,
                                      line::OutcomeSink sink) override {
        offers.push_back(request);
        sinks[request.owner] = std::move(sink);
        return line::ApprovalOffer{"https://login.example.com/l/" + std::to_string(offers.size()),
                                   42, 1000};
    }
    void withdraw(const std::string& owner) override {
        withdrawn.push_back(owner);
        sinks.erase(owner);
    }
    /// Ends the approval of `owner`; false when there is none (withdrawn, or never made).
    bool fire(const std::string& owner, line::ApprovalOutcome outcome) {
        auto it = sinks.find(owner);
        if (it == sinks.end()) {
            return false;
        }
        line::OutcomeSink sink = std::move(it->second);
        sinks.erase(it);
        sink(outcome);
        return true;
    }
    bool approve(const std::string& owner, const std::string& subject_hash) {
        line::ApprovalOutcome outcome;
        outcome.kind = line::ApprovalOutcome::Kind::Approved;
        outcome.subject_hash = subject_hash;
        return fire(owner, outcome);
    }

    bool set_up = true;
    std::vector<line::ApprovalRequest> offers;
    std::map<std::string, line::OutcomeSink> sinks;
    std::vector<std::string> withdrawn;
};

class AccountLineTest : public AccountServiceTest {
  protected:
    AccountLineTest() {
        std::ofstream(secret_.file("line-secret")) << "0123456789abcdef0123456789abcdef\n";
        std::filesystem::permissions(secret_.file("line-secret"),
                                     std::filesystem::perms::owner_read);
        use_policy(line_allowed());
        account_service_.set_line(&line_);
    }

    /// A policy with login_with_line = allowed and [line] as the loader asks.
    [[nodiscard]] std::string line_allowed(const std::string& more_policy = "") const {
        return "[policy]\nlogin_with_line = allowed\n" + more_policy +
               "[line]\nchannel_id = 1657000000\nchannel_secret_file = " +
               secret_.file("line-secret") + "\npublic_url = https://login.example.com\n";
    }

    [[nodiscard]] LineLinkStatus link_status(const std::string& owner = kOwner) {
        return account_.line_link_status(kUser, owner);
    }

    test::TempDir secret_;
    FakeLineApprovals line_;
};

line::ApprovalOutcome ended(line::ApprovalOutcome::Kind kind, const std::string& why = "") {
    line::ApprovalOutcome outcome;
    outcome.kind = kind;
    outcome.why = why;
    return outcome;
}

TEST_F(AccountLineTest, LinkingNeedsLoginWithLineAllowedForTheUser) {
    use_policy("");
    Failure refused = failure_of([&] { account_.link_line(kUser, kOwner); });
    EXPECT_EQ(refused.code, Errc::NotEnabled);
    EXPECT_EQ(refused.message,
              "logging in with LINE is not enabled for your account on this host");
    EXPECT_TRUE(line_.offers.empty());
}

TEST_F(AccountLineTest, LinkingNeedsLineSetUpInLwauthd) {
    line_.set_up = false;
    Failure refused = failure_of([&] { account_.link_line(kUser, kOwner); });
    EXPECT_EQ(refused.code, Errc::NotEnabled);
    EXPECT_EQ(refused.message, "LINE Login is not set up in lwauthd here; ask your administrator");
    account_service_.set_line(nullptr);
    EXPECT_EQ(failure_of([&] { account_.link_line(kUser, kOwner); }).message, refused.message);
    EXPECT_TRUE(line_.offers.empty());
}

TEST_F(AccountLineTest, WithNothingToProveWithTheLinkIsOfferedAtOnce) {
    line::ApprovalOffer offer = account_.link_line(kUser, kOwner);
    EXPECT_EQ(offer.url, "https://login.example.com/l/1");
    EXPECT_EQ(offer.number, 42);
    EXPECT_EQ(offer.expires_at, 1000);
    ASSERT_EQ(line_.offers.size(), 1u);
    EXPECT_EQ(line_.offers[0].purpose, line::ApprovalRequest::Purpose::Link);
    EXPECT_EQ(line_.offers[0].user, kUser);
    EXPECT_EQ(line_.offers[0].service, "lwauthctl");
    EXPECT_EQ(line_.offers[0].rhost, "");
    EXPECT_EQ(line_.offers[0].owner, kOwner);
    EXPECT_EQ(link_status().state, LineLinkState::Waiting);
    EXPECT_EQ(link_status().state, LineLinkState::Waiting) << "told again while it waits";
    EXPECT_EQ(link_status(":1.2").state, LineLinkState::None) << "another connection's";
}

TEST_F(AccountLineTest, WithAVerifiedContactLinkingNeedsProofFirst) {
    add_verified("email", kEmail);
    Failure refused = failure_of([&] { account_.link_line(kUser, kOwner); });
    EXPECT_EQ(refused.code, Errc::ReauthRequired);
    EXPECT_EQ(refused.message.rfind("linking LINE needs proof that it is you", 0), 0u)
        << refused.message;
    EXPECT_TRUE(line_.offers.empty()) << "no link before the proof";
    prove();
    account_.link_line(kUser, kOwner);
    EXPECT_EQ(line_.offers.size(), 1u);
    // The proof was for that connection alone.
    EXPECT_EQ(failure_of([&] { account_.link_line(kUser, ":1.2"); }).code, Errc::ReauthRequired);
    // self_service_reauth = none asks for none.
    use_policy(line_allowed("self_service_reauth = none\n"));
    account_.link_line(kUser, ":1.2");
    EXPECT_EQ(line_.offers.size(), 2u);
}

TEST_F(AccountLineTest, AnApprovalLinksTheAccountsHashAndIsToldOnce) {
    account_.link_line(kUser, kOwner);
    ASSERT_TRUE(line_.approve(kOwner, "hash-of-the-first-account"));
    EXPECT_EQ(store_.load_user(kUser).line_link, "hash-of-the-first-account");
    EXPECT_TRUE(account_.status(kUser).line_linked);
    LineLinkStatus status = link_status();
    EXPECT_EQ(status.state, LineLinkState::Linked);
    EXPECT_EQ(status.why, "");
    EXPECT_EQ(link_status().state, LineLinkState::None) << "told once";
}

TEST_F(AccountLineTest, LinkingAnotherAccountReplacesTheLink) {
    account_.link_line(kUser, kOwner);
    ASSERT_TRUE(line_.approve(kOwner, "hash-one"));
    account_.link_line(kUser, kOwner);
    ASSERT_TRUE(line_.approve(kOwner, "hash-two"));
    EXPECT_EQ(store_.load_user(kUser).line_link, "hash-two");
    EXPECT_EQ(link_status().state, LineLinkState::Linked);
}

TEST_F(AccountLineTest, ALinkThatDidNotHappenSaysWhyAndLinksNothing) {
    using Kind = line::ApprovalOutcome::Kind;
    const std::vector<std::pair<Kind, LineLinkState>> cases = {
        {Kind::Refused, LineLinkState::Refused},
        {Kind::Expired, LineLinkState::Expired},
        {Kind::Failed, LineLinkState::Failed}};
    for (const auto& [kind, state] : cases) {
        account_.link_line(kUser, kOwner);
        ASSERT_TRUE(line_.fire(kOwner, ended(kind, "the reason LINE's side gives")));
        LineLinkStatus status = link_status();
        EXPECT_EQ(status.state, state);
        EXPECT_EQ(status.why, "the reason LINE's side gives");
        EXPECT_EQ(link_status().state, LineLinkState::None);
    }
    account_.link_line(kUser, kOwner);
    ASSERT_TRUE(line_.fire(kOwner, ended(Kind::Expired)));
    EXPECT_EQ(link_status().why, "the link expired before it was approved in LINE");
    // An approval that names no account links nothing.
    account_.link_line(kUser, kOwner);
    ASSERT_TRUE(line_.approve(kOwner, ""));
    EXPECT_EQ(link_status().state, LineLinkState::Failed);
    EXPECT_EQ(store_.load_user(kUser).line_link, "");
    EXPECT_FALSE(account_.status(kUser).line_linked);
}

TEST_F(AccountLineTest, TheCallerLeavingWithdrawsItsLink) {
    account_.link_line(kUser, kOwner);
    account_.link_line(kUser, ":1.2");
    account_.forget_owner(kOwner);
    EXPECT_EQ(line_.withdrawn, std::vector<std::string>{kOwner});
    EXPECT_FALSE(line_.approve(kOwner, "hash")) << "withdrawn";
    EXPECT_EQ(link_status().state, LineLinkState::None);
    EXPECT_EQ(link_status(":1.2").state, LineLinkState::Waiting) << "the other stays";
}

TEST_F(AccountLineTest, LinkingAgainOnTheConnectionReplacesTheLinkInProgress) {
    account_.link_line(kUser, kOwner);
    line::ApprovalOffer second = account_.link_line(kUser, kOwner);
    EXPECT_EQ(second.url, "https://login.example.com/l/2");
    EXPECT_EQ(line_.withdrawn, std::vector<std::string>{kOwner});
    ASSERT_TRUE(line_.approve(kOwner, "hash"));
    EXPECT_EQ(link_status().state, LineLinkState::Linked);
}

TEST_F(AccountLineTest, UnlinkingNeedsNoProofAndSaysWhetherOneWasLinked) {
    account_.link_line(kUser, kOwner);
    ASSERT_TRUE(line_.approve(kOwner, "hash"));
    add_verified("email", kEmail);
    EXPECT_TRUE(account_.unlink_line(kUser, ":1.2"));
    EXPECT_FALSE(account_.status(kUser).line_linked);
    EXPECT_EQ(store_.load_user(kUser).line_link, "");
    EXPECT_FALSE(account_.unlink_line(kUser, ":1.2"));
    // Without LINE allowed or set up, unlinking still works: it only makes logins stricter.
    use_policy("");
    account_service_.set_line(nullptr);
    EXPECT_FALSE(account_.unlink_line(kUser, kOwner));
}

TEST_F(AccountLineTest, UnlinkingWithdrawsTheCallersLinkInProgress) {
    account_.link_line(kUser, kOwner);
    EXPECT_FALSE(account_.unlink_line(kUser, kOwner));
    EXPECT_EQ(line_.withdrawn, std::vector<std::string>{kOwner});
    EXPECT_EQ(link_status().state, LineLinkState::None);
}

TEST_F(AccountLineTest, AnAdministratorsResetEndsTheLinksInProgress) {
    account_.link_line(kUser, kOwner);
    account_service_.withdraw_line_links(kUser);
    EXPECT_EQ(line_.withdrawn, std::vector<std::string>{kOwner});
    LineLinkStatus status = link_status();
    EXPECT_EQ(status.state, LineLinkState::Failed);
    EXPECT_EQ(status.why, "your administrator reset your LINE link");
}

}  // namespace
}  // namespace lwauth

// ---- The quick-login PIN: the window after a full login ---------------------------------

namespace lwauth {
namespace {

// SetPin on a real loop and worker pool (the hash runs there), under the fake clock.
class AccountPinTest : public AccountServiceTest {
  protected:
    AccountPinTest() {
        sd_event* event = nullptr;
        EXPECT_GE(sd_event_new(&event), 0);
        event_.reset(event);
        pool_ = std::make_unique<WorkerPool>(event_.get(), 1);
        hasher_pool_ = std::make_unique<quick::PinHasher>(*pool_, random_);
        account_service_.set_quick_login(hasher_pool_.get(),
                                         std::make_shared<const quick::CommonPins>(
                                             std::set<std::string, std::less<>>{"159753"}));
        use_policy("[quick_login]\npin = allowed\nargon2_memory = 8M\nargon2_time = 1\n");
    }
    ~AccountPinTest() override { pool_.reset(); }

    /// SetPin as `owner`, running the loop until it answers.
    Result<void> set_pin(const std::string& pin, const std::string& owner = kOwner) {
        std::optional<Result<void>> got;
        account_service_.set_pin(kUser, owner, SecretString(pin),
                                 [&](Result<void> r) { got.emplace(std::move(r)); });
        auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (!got && std::chrono::steady_clock::now() < give_up) {
            sd_event_run(event_.get(), 100 * 1000);
        }
        if (!got) {
            ADD_FAILURE() << "SetPin never answered";
            return Error(Errc::Internal, "no answer");
        }
        return std::move(*got);
    }

    static Errc code_of(const Result<void>& r) {
        return r.ok() ? Errc::Internal : r.error().code();
    }

    EventPtr event_;
    std::unique_ptr<WorkerPool> pool_;
    std::unique_ptr<quick::PinHasher> hasher_pool_;
};

TEST_F(AccountPinTest, APinMayBeSetForTenMinutesAfterAFullLogin) {
    add_verified("email", kEmail);
    store_.record_full_login(kUser, clock_.now());
    clock_.advance(AccountService::kPinWindowSeconds - 1);
    ASSERT_TRUE(set_pin("480213").ok());
    UserState state = store_.load_user(kUser);
    EXPECT_TRUE(state.pin_hash.starts_with("$argon2id$v=19$m=8192,t=1,p=1$")) << state.pin_hash;
    int64_t full_login = clock_.now() - (AccountService::kPinWindowSeconds - 1);
    EXPECT_EQ(state.quick_armed_at, full_login) << "armed from the full login, not the setting";
    AccountStatus status = account_.status(kUser);
    EXPECT_EQ(status.pin_until, full_login + 30 * 86400);
    EXPECT_FALSE(status.pin_disabled);

    clock_.advance(1);
    EXPECT_EQ(code_of(set_pin("730491")), Errc::ReauthRequired);
    EXPECT_EQ(store_.load_user(kUser).pin_hash, state.pin_hash) << "unchanged";
}

TEST_F(AccountPinTest, OutsideTheWindowOnlyTheConnectionThatProvedItselfMaySetIt) {
    add_verified("email", kEmail);
    EXPECT_EQ(code_of(set_pin("480213")), Errc::ReauthRequired) << "no full login ever";
    prove(":1.9");
    EXPECT_EQ(code_of(set_pin("480213")), Errc::ReauthRequired) << "another connection's proof";
    EXPECT_TRUE(set_pin("480213", ":1.9").ok());
    clock_.advance(AccountService::kReauthGrantSeconds);
    EXPECT_EQ(code_of(set_pin("730491", ":1.9")), Errc::ReauthRequired) << "the grant ended";
}

TEST_F(AccountPinTest, WithNothingToProveItWithOnlyAFullLoginOpensTheWindow) {
    EXPECT_EQ(code_of(set_pin("480213")), Errc::PolicyForbids);
    use_policy(
        "[policy]\nself_service_reauth = none\n[quick_login]\npin = allowed\n"
        "argon2_memory = 8M\nargon2_time = 1\n");
    EXPECT_EQ(code_of(set_pin("480213")), Errc::PolicyForbids) << "the window is the PIN's proof";
    store_.record_full_login(kUser, clock_.now());
    EXPECT_TRUE(set_pin("480213").ok());
}

TEST_F(AccountPinTest, ThePolicyComesFirstThenTheWindowThenTheRules) {
    store_.save_contact(kUser, {"phone", kPhone});
    EXPECT_EQ(code_of(set_pin("734567")), Errc::ReauthRequired)
        << "outside the window, nothing of the phone's digits is told";
    store_.record_full_login(kUser, clock_.now());
    EXPECT_EQ(code_of(set_pin("159753")), Errc::InvalidArgument) << "a common PIN";
    EXPECT_EQ(code_of(set_pin("734567")), Errc::InvalidArgument) << "the phone's digits";
    use_policy("[quick_login]\npin = disabled\n");
    EXPECT_EQ(code_of(set_pin("480213")), Errc::NotEnabled);
    EXPECT_FALSE(store_.load_user(kUser).pin_set);
}

TEST_F(AccountPinTest, RemovingThePinNeedsNoProofAndSaysWhetherOneWasSet) {
    store_.set_pin(kUser, "$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaA");
    auto remove = [&] {
        return test::answer_now<bool>([&](auto done) { account_service_.remove_pin(kUser, done); });
    };
    EXPECT_TRUE(remove());
    EXPECT_FALSE(store_.load_user(kUser).pin_set);
    EXPECT_FALSE(remove());
}

}  // namespace
}  // namespace lwauth
