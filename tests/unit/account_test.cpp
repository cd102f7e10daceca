#include "account.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "delivery.hpp"
#include "fakes.hpp"
#include "lwauth/error.hpp"
#include "store/memory_store.hpp"

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
        return account_.confirm_contact(kUser, kind, SecretString(code));
    }

    /// A contact added and confirmed through the service, as a user would.
    void add_verified(const std::string& kind, const std::string& value) {
        add_contact_now(account_, kUser, kind, value);
        ASSERT_TRUE(confirm(kind, last_code()));
    }

    FakeClock clock_;
    SeededRandom random_;
    MemoryStore store_;
    Hasher hasher_{SecretString(std::string(32, 'k'))};
    CodeSender sender_{clock_, store_, hasher_};
    FakeUsers users_;
    std::vector<SentMessage> sent_;
    AccountService account_{clock_, random_, store_, sender_, hasher_, users_};
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

TEST_F(AccountServiceTest, ExpireDropsConfirmationsPastTheirLifetime) {
    use_policy("[code]\nlifetime = 2m\n");
    add_contact_now(account_, kUser, "phone", kPhone);
    clock_.advance(119);
    account_.expire();
    EXPECT_EQ(account_.status(kUser).pending_contacts.size(), 1u);
    clock_.advance(1);
    account_.expire();
    EXPECT_TRUE(account_.status(kUser).pending_contacts.empty());
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
    EXPECT_EQ(failure_of([&] { account_.remove_contact(kUser, "fax"); }).code,
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
    EXPECT_EQ(failure_of([&] { account_.remove_contact(kUser, "phone"); }).code,
              Errc::ManagedByAdmin);
    EXPECT_NE(store_.load_user(kUser).contact("phone"), nullptr);
    EXPECT_TRUE(sent_.empty());
}

TEST_F(AccountServiceTest, NothingCanBeAddedWhenTwoStepIsOffOnThisHost) {
    use_policy("[policy]\ntwo_step = off\n");
    EXPECT_EQ(failure_of([&] { add_contact_now(account_, kUser, "phone", kPhone); }).code,
              Errc::NotEnabled);
    EXPECT_EQ(failure_of([&] { account_.set_two_step(kUser, true); }).code, Errc::NotEnabled);
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
    EXPECT_EQ(failure_of([&] { account_.set_two_step(kUser, false); }).code, Errc::PolicyForbids);
    EXPECT_TRUE(store_.load_user(kUser).two_step);
}

TEST_F(AccountServiceTest, TwoStepCanBeTurnedOffAndOnWhenOptional) {
    add_verified("phone", kPhone);
    account_.set_two_step(kUser, false);
    EXPECT_FALSE(store_.load_user(kUser).two_step);
    EXPECT_FALSE(account_.status(kUser).two_step_enabled);
    account_.set_two_step(kUser, true);
    EXPECT_TRUE(account_.status(kUser).two_step_enabled);
}

TEST_F(AccountServiceTest, TwoStepCannotBeTurnedOnWithoutAContact) {
    EXPECT_EQ(failure_of([&] { account_.set_two_step(kUser, true); }).code, Errc::PolicyForbids);
    EXPECT_FALSE(store_.load_user(kUser).two_step);
}

TEST_F(AccountServiceTest, TheLastContactCannotBeRemovedWhenTwoStepIsRequired) {
    add_verified("phone", kPhone);
    use_policy("[policy]\ntwo_step = required\n");
    EXPECT_EQ(failure_of([&] { account_.remove_contact(kUser, "phone"); }).code,
              Errc::PolicyForbids);
    EXPECT_NE(store_.load_user(kUser).contact("phone"), nullptr);
}

TEST_F(AccountServiceTest, OneOfTwoContactsCanBeRemovedWhenTwoStepIsRequired) {
    add_verified("phone", kPhone);
    add_verified("email", kEmail);
    use_policy("[policy]\ntwo_step = required\n");
    account_.remove_contact(kUser, "phone");
    UserState state = store_.load_user(kUser);
    EXPECT_EQ(state.contact("phone"), nullptr);
    EXPECT_NE(state.contact("email"), nullptr);
    EXPECT_TRUE(state.two_step);
}

TEST_F(AccountServiceTest, RemovingTheLastContactTurnsTwoStepOffWhenOptional) {
    add_verified("phone", kPhone);
    account_.remove_contact(kUser, "phone");
    UserState state = store_.load_user(kUser);
    EXPECT_TRUE(state.contacts.empty());
    EXPECT_FALSE(state.two_step);
}

TEST_F(AccountServiceTest, RemovingAContactThatIsNotSavedIsNotFound) {
    EXPECT_EQ(failure_of([&] { account_.remove_contact(kUser, "email"); }).code, Errc::NotFound);
}

// ---- Status -----------------------------------------------------------------------------

TEST_F(AccountServiceTest, StatusShowsTheLockoutOnlyWhileItLasts) {
    store_.lock(kUser, clock_.now() + 100);
    EXPECT_EQ(account_.status(kUser).locked_until, clock_.now() + 100);
    clock_.advance(100);
    EXPECT_EQ(account_.status(kUser).locked_until, 0);
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

}  // namespace
}  // namespace lwauth
