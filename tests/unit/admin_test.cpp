// AdminService: an administrator's changes to other users' settings, on a MemoryStore.
#include "admin.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <optional>

#include "account.hpp"
#include "deferred_store.hpp"
#include "delivery.hpp"
#include "fakes.hpp"
#include "lwauth/error.hpp"
#include "store/async_store.hpp"
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

constexpr uid_t kAdmin = 40006;
constexpr const char* kPhone = "+819012345678";
constexpr const char* kProfilePhone = "+819087654321";

std::string policy_text(const std::string& contacts) {
    return "[policy]\nadmin_group = lwadmins\ncontacts = " + contacts +
           "\n\n[code]\nchannels = sms, email\nresend_interval = 0s\n\n"
           "[channel.sms]\ntype = outbox\npath = /nonexistent/sms.jsonl\nserves = sms\n\n"
           "[channel.mail]\ntype = outbox\npath = /nonexistent/mail.jsonl\nserves = email\n"
           "\n[group:ops]\ntwo_step = required\n";
}

class AdminServiceTest : public ::testing::Test {
  protected:
    AdminServiceTest() {
        std::map<std::string, std::shared_ptr<Channel>> channels;
        channels["sms"] = sms_;
        channels["mail"] = std::make_shared<FakeChannel>("mail", sent_);
        sender_.set_channels(std::move(channels));
        use("self");
        users_.missing.insert("ghost");
        users_.groups["dave"] = {"ops"};
    }

    void use(const std::string& contacts) {
        account_.set_policy(load_policy({{"lwauth.conf", policy_text(contacts)}}));
    }

    void enroll(const std::string& user, const std::string& kind, const std::string& value) {
        add_contact_now(account_, user, kind, value);
        ASSERT_TRUE(
            account_.confirm_contact(user, ":1.1", kind, SecretString(code_in(sent_.back().text))));
    }

    /// Runs `operation` on an AdminService whose store's `failing`-th operation fails with
    /// an error (the others go through), and returns what the operation answered.
    Result<void> with_store_failing_at(
        int failing, const std::function<void(AdminService&, Done<void>)>& operation) {
        test::DeferredStore deferred(async_store_);
        AdminService admin{deferred, account_service_, users_, sender_, "testhost"};
        std::optional<Result<void>> result;
        operation(admin, [&](Result<void> r) { result.emplace(std::move(r)); });
        for (int step = 1; !result && deferred.waiting() > 0; ++step) {
            if (step == failing) {
                deferred.fail_one(Error(Errc::Unavailable, "the store went away"));
            } else {
                deferred.run_one();
            }
        }
        EXPECT_TRUE(result.has_value()) << "operation " << failing << " failing";
        return result ? *result : Result<void>::failure(Errc::Internal, "no answer");
    }

    FakeClock clock_;
    SeededRandom random_;
    MemoryStore store_;
    ImmediateStore async_store_{store_};
    Hasher hasher_{SecretString(std::string(32, 'k'))};
    CodeSender sender_{clock_, async_store_, hasher_};
    FakeUsers users_;
    std::vector<SentMessage> sent_;
    std::shared_ptr<FakeChannel> sms_ = std::make_shared<FakeChannel>("sms", sent_);
    AccountService account_service_{clock_, random_, async_store_, sender_, hasher_, users_};
    test::AccountNow account_{account_service_};
    AdminService admin_service_{async_store_, account_service_, users_, sender_, "testhost"};
    test::AdminNow admin_{admin_service_};
};

TEST_F(AdminServiceTest, UnknownUsersAreNotFound) {
    for (auto action : std::vector<std::function<void()>>{
             [&] { (void)admin_.show_user("ghost"); }, [&] { (void)admin_.show_policy("ghost"); },
             [&] { admin_.set_contact(kAdmin, "ghost", "phone", kPhone); },
             [&] { admin_.unlock(kAdmin, "ghost"); },
             [&] { admin_.reset(kAdmin, "ghost", "all"); }}) {
        EXPECT_EQ(test::error_code_of(action), Errc::NotFound);
    }
    EXPECT_TRUE(store_.list_users().empty()) << "nothing was created for them";
}

TEST_F(AdminServiceTest, BadInputIsRefused) {
    EXPECT_EQ(test::error_code_of([&] { admin_.set_contact(kAdmin, "taro", "fax", kPhone); }),
              Errc::InvalidArgument);
    EXPECT_EQ(test::error_code_of([&] { admin_.set_contact(kAdmin, "taro", "phone", "12"); }),
              Errc::InvalidArgument);
    EXPECT_EQ(test::error_code_of([&] { admin_.reset(kAdmin, "taro", "everything"); }),
              Errc::InvalidArgument);
}

TEST_F(AdminServiceTest, UnderSelfTheProfileWaitsForTheUsersConfirmation) {
    admin_.set_contact(kAdmin, "taro", "phone", "+81 90 8765 4321");
    UserState state = store_.load_user("taro");
    EXPECT_EQ(state.profile_contact("phone")->value, kProfilePhone);
    EXPECT_TRUE(state.contacts.empty());
    EXPECT_TRUE(sent_.empty());

    account_.use_profile_contact("taro", ":1.1", "phone");
    ASSERT_EQ(sent_.size(), 1u);
    EXPECT_EQ(sent_[0].destination, kProfilePhone);
    ASSERT_TRUE(
        account_.confirm_contact("taro", ":1.1", "phone", SecretString(code_in(sent_[0].text))));
    EXPECT_EQ(store_.load_user("taro").contact("phone")->source, "profile");
    EXPECT_EQ(account_.status("taro").contact_sources.at("phone"), "profile");
}

TEST_F(AdminServiceTest, UnderAdminTheProfileIsTheLoginContactAtOnce) {
    use("admin");
    admin_.set_contact(kAdmin, "taro", "phone", kProfilePhone);
    UserState state = store_.load_user("taro");
    const Contact* login = state.contact("phone");
    ASSERT_NE(login, nullptr);
    EXPECT_EQ(login->source, "admin");
    EXPECT_TRUE(sent_.empty());
    admin_.remove_contact(kAdmin, "taro", "phone");
    EXPECT_TRUE(store_.load_user("taro").empty());
}

TEST_F(AdminServiceTest, UnderAdminAStoreFailureAtAnyStepLeavesProfileAndLoginContactAgreeing) {
    use("admin");
    admin_.set_contact(kAdmin, "taro", "phone", kPhone);  // the phone that was lost
    // The replacement, with the store's n-th operation failing, for every n until it
    // succeeds: whatever failed, codes go where the profile says.
    bool changed = false;
    for (int failing = 1; failing < 10 && !changed; ++failing) {
        Result<void> result = with_store_failing_at(failing, [](AdminService& admin, auto done) {
            admin.set_contact(kAdmin, "taro", "phone", kProfilePhone, std::move(done));
        });
        UserState state = store_.load_user("taro");
        ASSERT_NE(state.profile_contact("phone"), nullptr);
        ASSERT_NE(state.contact("phone"), nullptr);
        EXPECT_EQ(state.profile_contact("phone")->value, state.contact("phone")->value)
            << "operation " << failing << " failing";
        changed = result.ok();
        EXPECT_EQ(state.contact("phone")->value, changed ? kProfilePhone : kPhone)
            << "operation " << failing << " failing";
    }
    EXPECT_TRUE(changed);
}

TEST_F(AdminServiceTest, UnderAdminAStoreFailureAtAnyStepOfARemovalLeavesBothOrNeither) {
    use("admin");
    admin_.set_contact(kAdmin, "taro", "phone", kPhone);  // the phone that will be lost
    store_.set_two_step("taro", true);
    // Its removal, with the store's n-th operation failing, for every n until it
    // succeeds: whatever failed, the profile shows a number if and only if codes go to it.
    bool removed = false;
    for (int failing = 1; failing < 10 && !removed; ++failing) {
        Result<void> result = with_store_failing_at(failing, [](AdminService& admin, auto done) {
            admin.remove_contact(kAdmin, "taro", "phone", std::move(done));
        });
        UserState state = store_.load_user("taro");
        removed = result.ok();
        EXPECT_EQ(state.profile_contact("phone") != nullptr, !removed)
            << "operation " << failing << " failing";
        EXPECT_EQ(state.contact("phone") != nullptr, !removed)
            << "operation " << failing << " failing";
        EXPECT_EQ(state.two_step, !removed) << "operation " << failing << " failing";
    }
    EXPECT_TRUE(removed);
}

TEST_F(AdminServiceTest, TheUsersOwnNumberIsNeverTheAdministrators) {
    enroll("taro", "phone", kPhone);
    admin_.set_contact(kAdmin, "taro", "phone", kProfilePhone);
    EXPECT_EQ(store_.load_user("taro").contact("phone")->value, kPhone) << "set leaves it";
    admin_.remove_contact(kAdmin, "taro", "phone");
    EXPECT_EQ(store_.load_user("taro").contact("phone")->value, kPhone) << "remove leaves it";
    EXPECT_EQ(test::error_code_of([&] { admin_.remove_contact(kAdmin, "taro", "phone"); }),
              Errc::NotFound);
}

TEST_F(AdminServiceTest, ResetClearsEachPartAndAllOfIt) {
    enroll("taro", "phone", kPhone);
    store_.set_pin_hash("taro", "$argon2id$...");
    store_.set_line_link("taro", "hash");
    store_.lock("taro", clock_.now() + 600);
    admin_.set_contact(kAdmin, "taro", "email", "taro@example.com");

    admin_.reset(kAdmin, "taro", "pin");
    EXPECT_FALSE(store_.load_user("taro").pin_set);
    EXPECT_TRUE(store_.load_user("taro").line_linked);
    admin_.reset(kAdmin, "taro", "line");
    EXPECT_FALSE(store_.load_user("taro").line_linked);
    admin_.reset(kAdmin, "taro", "contacts");
    UserState state = store_.load_user("taro");
    EXPECT_TRUE(state.contacts.empty());
    EXPECT_FALSE(state.two_step);
    EXPECT_NE(state.locked_until, 0) << "contacts only";
    admin_.reset(kAdmin, "taro", "all");
    state = store_.load_user("taro");
    EXPECT_EQ(state.locked_until, 0);
    EXPECT_NE(state.profile_contact("email"), nullptr) << "the profile is the administrator's";
}

TEST_F(AdminServiceTest, ResetContactsForgetsTheRememberedPlacesToo) {
    enroll("taro", "phone", kPhone);
    store_.remember_host("taro", {"sshd", "192.0.2.7", clock_.now(), clock_.now() + 3600});
    admin_.reset(kAdmin, "taro", "contacts");
    EXPECT_TRUE(store_.remembered_hosts("taro").empty()) << "a lost phone: codes everywhere again";
}

TEST_F(AdminServiceTest, ResetHostsForgetsTheRememberedPlacesAlone) {
    enroll("taro", "phone", kPhone);
    store_.remember_host("taro", {"sshd", "192.0.2.7", clock_.now(), clock_.now() + 3600});
    store_.remember_host("taro", {"login", "local:tty1", clock_.now(), clock_.now() + 3600});
    store_.remember_host("jiro", {"sshd", "192.0.2.7", clock_.now(), clock_.now() + 3600});
    admin_.reset(kAdmin, "taro", "hosts");
    EXPECT_TRUE(store_.remembered_hosts("taro").empty());
    EXPECT_EQ(store_.remembered_hosts("jiro").size(), 1u) << "another user's stay";
    EXPECT_NE(store_.load_user("taro").contact("phone"), nullptr) << "hosts only";
    EXPECT_TRUE(store_.load_user("taro").two_step);
}

TEST_F(AdminServiceTest, ResetAllForgetsThePlacesAndRestartsTheEnrolmentGrace) {
    enroll("taro", "phone", kPhone);
    store_.remember_host("taro", {"sshd", "192.0.2.7", clock_.now(), clock_.now() + 3600});
    store_.start_enroll_grace("taro", clock_.now() - 100);
    admin_.reset(kAdmin, "taro", "contacts");
    EXPECT_NE(store_.load_user("taro").enroll_grace_started, 0) << "contacts only";
    EXPECT_TRUE(store_.load_user("taro").enrolled) << "contacts only: no fresh grace";
    admin_.reset(kAdmin, "taro", "all");
    EXPECT_EQ(store_.load_user("taro").enroll_grace_started, 0);
    EXPECT_FALSE(store_.load_user("taro").enrolled);
    EXPECT_TRUE(store_.remembered_hosts("taro").empty());
    EXPECT_EQ(store_.start_enroll_grace("taro", clock_.now()), clock_.now())
        << "the next login starts it afresh";
}

TEST_F(AdminServiceTest, ABadResetWordNamesTheWords) {
    try {
        admin_.reset(kAdmin, "taro", "places");
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::InvalidArgument);
        EXPECT_STREQ(e.what(), "reset what: pin, line, contacts, hosts, totp or all");
    }
}

TEST_F(AdminServiceTest, ResetDropsAConfirmationInProgress) {
    add_contact_now(account_, "taro", "email", "taro@example.com");
    std::string code = code_in(sent_.back().text);
    admin_.reset(kAdmin, "taro", "contacts");
    EXPECT_EQ(test::error_code_of([&] {
                  (void)account_.confirm_contact("taro", ":1.1", "email", SecretString(code));
              }),
              Errc::NotFound);
}

TEST_F(AdminServiceTest, AProfileChangedWhileItsCodeIsOnItsWayIsNotConfirmed) {
    admin_.set_contact(kAdmin, "taro", "phone", kProfilePhone);
    sms_->set_deferred(true);
    std::optional<Result<void>> got;
    account_service_.use_profile_contact("taro", ":1.1", "phone",
                                         [&](Result<void> r) { got.emplace(std::move(r)); });
    admin_.set_contact(kAdmin, "taro", "phone", kPhone);
    sms_->complete_next();
    ASSERT_TRUE(got.has_value() && got->ok());
    ASSERT_EQ(sent_.back().destination, kProfilePhone);
    EXPECT_EQ(test::error_code_of([&] {
                  (void)account_.confirm_contact("taro", ":1.1", "phone",
                                                 SecretString(code_in(sent_.back().text)));
              }),
              Errc::NotFound);
    EXPECT_EQ(store_.load_user("taro").contact("phone"), nullptr);
    EXPECT_TRUE(account_.status("taro").pending_contacts.empty()) << "the stale one is gone";
}

TEST_F(AdminServiceTest, RootAndAdministratorsAreChangedByRootAlone) {
    users_.uids["toor"] = 0;
    users_.groups["hana"] = {"hana", "lwadmins"};
    users_.groups["lost"] = {};  // the group lookup failed
    auto changes = [&](uid_t admin, const std::string& user) {
        return std::vector<std::function<void()>>{
            [=, this] { admin_.set_contact(admin, user, "phone", kProfilePhone); },
            [=, this] { admin_.remove_contact(admin, user, "phone"); },
            [=, this] { admin_.unlock(admin, user); },
            [=, this] { admin_.reset(admin, user, "all"); }};
    };
    for (const std::string contacts : {"self", "admin"}) {
        use(contacts);
        for (const char* user : {"root", "toor", "hana", "lost"}) {
            store_.lock(user, clock_.now() + 600);
            for (const auto& change : changes(kAdmin, user)) {
                EXPECT_EQ(test::error_code_of(change), Errc::AccessDenied) << user;
            }
            UserState state = store_.load_user(user);
            EXPECT_TRUE(state.profile.empty() && state.contacts.empty()) << user;
            EXPECT_NE(state.locked_until, 0) << user;
            for (const auto& change : changes(0, user)) {
                EXPECT_NO_THROW(change()) << user;
            }
            EXPECT_EQ(store_.load_user(user).locked_until, 0) << user;
        }
    }
    for (const auto& change : changes(kAdmin, "taro")) {
        EXPECT_NO_THROW(change()) << "an ordinary user";
    }
}

TEST_F(AdminServiceTest, UnlockEndsTheLockout) {
    store_.lock("taro", clock_.now() + 600);
    EXPECT_NE(account_.status("taro").locked_until, 0);
    admin_.unlock(kAdmin, "taro");
    EXPECT_EQ(account_.status("taro").locked_until, 0);
}

TEST_F(AdminServiceTest, ShowPolicyAppliesGroupSections) {
    EXPECT_NE(admin_.show_policy("dave").find("two_step = required"), std::string::npos);
    EXPECT_NE(admin_.show_policy("taro").find("two_step = optional"), std::string::npos);
}

TEST_F(AdminServiceTest, ListsEveryStoredUserMasked) {
    enroll("taro", "phone", kPhone);
    admin_.set_contact(kAdmin, "hanako", "phone", kProfilePhone);
    auto users = admin_.list_users();
    ASSERT_EQ(users.size(), 2u);
    EXPECT_EQ(users[0].user, "hanako");
    EXPECT_EQ(users[0].profile.at("phone"), "+81 •• •••• 4321");
    EXPECT_EQ(users[1].contacts.at("phone"), "+81 •• •••• 5678");
}

}  // namespace
}  // namespace lwauth
