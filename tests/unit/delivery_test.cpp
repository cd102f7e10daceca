#include "delivery.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fakes.hpp"
#include "lwauth/error.hpp"
#include "store/async_store.hpp"
#include "store/memory_store.hpp"

namespace lwauth {
namespace {

using test::code_in;
using test::FakeChannel;
using test::FakeClock;
using test::load_policy;
using test::send_login_code_now;
using test::SentMessage;

constexpr const char* kPolicy = R"([code]
channels = notification, sms, email

[channel.works]
type = outbox
path = /nonexistent/lwauth-unit/works.jsonl
serves = notification

[channel.sms-missing]
type = outbox
path = /nonexistent/lwauth-unit/sms-missing.jsonl
serves = sms

[channel.sms]
type = outbox
path = /nonexistent/lwauth-unit/sms.jsonl
serves = sms
)";

class CodeSenderTest : public ::testing::Test {
  protected:
    CodeSenderTest() {
        // "sms-missing" is in the policy but was never built: it is passed over.
        std::map<std::string, std::shared_ptr<Channel>> channels;
        for (const char* name : {"works", "sms"}) {
            auto channel = std::make_shared<FakeChannel>(name, sent_);
            fakes_[name] = channel.get();
            channels[name] = std::move(channel);
        }
        sender_.set_channels(std::move(channels));
        state_.contacts.push_back({"phone", "+819012345678"});
    }

    policy::UserPolicy user_policy() const { return policy_->base; }

    FakeClock clock_;
    MemoryStore store_;
    ImmediateStore async_store_{store_};
    Hasher hasher_{SecretString(std::string(32, 'k'))};
    CodeSender sender_{clock_, async_store_, hasher_};
    std::vector<SentMessage> sent_;
    std::map<std::string, FakeChannel*> fakes_;
    std::shared_ptr<const policy::Policy> policy_ = load_policy({{"lwauth.conf", kPolicy}});
    UserState state_;
};

TEST_F(CodeSenderTest, NotificationGoesToTheUsersWorkplaceAccount) {
    Delivered d = send_login_code_now(sender_, "taro", *policy_, user_policy(), state_,
                                      SecretString("123456"));
    EXPECT_EQ(d.channel, "works");
    EXPECT_EQ(d.kind, policy::Kind::Notification);
    EXPECT_EQ(d.shown_destination, "your workplace account");
    ASSERT_EQ(sent_.size(), 1u);
    EXPECT_EQ(sent_[0].destination, "taro");
    EXPECT_EQ(code_in(sent_[0].text), "123456");
}

TEST_F(CodeSenderTest, AChannelThatWasNotBuiltIsPassedOver) {
    fakes_.at("works")->set_failing(true);
    Delivered d = send_login_code_now(sender_, "taro", *policy_, user_policy(), state_,
                                      SecretString("123456"));
    EXPECT_EQ(d.channel, "sms");
    EXPECT_EQ(d.shown_destination, "+81 •• •••• 5678");
}

TEST_F(CodeSenderTest, MessageSaysHowLongTheCodeLasts) {
    auto policy =
        load_policy({{"lwauth.conf", kPolicy}, {"more.conf", "[code]\nlifetime = 90s\n"}});
    (void)send_login_code_now(sender_, "taro", *policy, policy->base, state_,
                              SecretString("123456"));
    ASSERT_EQ(sent_.size(), 1u);
    EXPECT_EQ(sent_[0].text,
              "lwauth: your verification code is 123456. It expires in 90 seconds. Never share it "
              "with anyone.");
}

TEST_F(CodeSenderTest, SendsAreRecordedAgainstUserAndHashedDestination) {
    fakes_.at("works")->set_failing(true);
    (void)send_login_code_now(sender_, "taro", *policy_, user_policy(), state_,
                              SecretString("123456"));
    EXPECT_EQ(store_.sends_since("user:taro", 0), 1);
    EXPECT_EQ(
        store_.sends_since("destination:" + hasher_.keyed_hex("destination", "+819012345678"), 0),
        1);
    EXPECT_EQ(store_.sends_since("destination:+819012345678", 0), 0)
        << "the number itself must not be the key";
}

TEST_F(CodeSenderTest, NothingToSendToIsDeliveryFailed) {
    auto policy =
        load_policy({{"lwauth.conf", kPolicy}, {"more.conf", "[code]\nchannels = email\n"}});
    try {
        (void)send_login_code_now(sender_, "taro", *policy, policy->base, state_,
                                  SecretString("123456"));
        ADD_FAILURE() << "sent without an email address";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::DeliveryFailed);
    }
    EXPECT_TRUE(sent_.empty());
}

// The last channel's reason is for the log; a channel's "may take it later" (Unavailable)
// does not leak out: nothing delivered is DeliveryFailed.
TEST_F(CodeSenderTest, EveryChannelFailingIsDeliveryFailedWithTheLastReason) {
    fakes_.at("works")->set_failing(true);
    fakes_.at("sms")->set_failing(true);
    std::optional<Result<Delivered>> got;
    sender_.send_login_code("taro", *policy_, user_policy(), state_, SecretString("123456"),
                            [&](Result<Delivered> r) { got = std::move(r); });
    ASSERT_TRUE(got.has_value());
    ASSERT_FALSE(got->ok());
    EXPECT_EQ(got->error().code(), Errc::DeliveryFailed);
    EXPECT_STREQ(got->error().what(), "sms is down");
    EXPECT_EQ(got->error().retry_at(), 0);
    EXPECT_EQ(store_.sends_since("user:taro", 0), 0) << "failed sends are given back";
}

// A cap ends the send with the time it has room again, the time login_capped_until gives.
TEST_F(CodeSenderTest, ACapReachedIsRateLimitedUntilItHasRoom) {
    auto policy =
        load_policy({{"lwauth.conf", kPolicy}, {"more.conf", "[code]\nmax_sends_per_hour = 1\n"}});
    const int64_t first = clock_.now();
    (void)send_login_code_now(sender_, "taro", *policy, policy->base, state_,
                              SecretString("123456"));
    clock_.advance(600);
    std::optional<Result<Delivered>> got;
    sender_.send_login_code("taro", *policy, policy->base, state_, SecretString("654321"),
                            [&](Result<Delivered> r) { got = std::move(r); });
    ASSERT_TRUE(got.has_value());
    ASSERT_FALSE(got->ok());
    EXPECT_EQ(got->error().code(), Errc::RateLimited);
    EXPECT_GT(got->error().retry_at(), clock_.now());
    EXPECT_LE(got->error().retry_at(), first + 3600 + 1);
    EXPECT_EQ(got->error().retry_at(),
              test::answer_now<int64_t>([&](Done<int64_t> done) {
                  sender_.login_capped_until("taro", *policy, policy->base, state_, "", done);
              }));
    EXPECT_EQ(sent_.size(), 1u);
}

// After a rotation of the code key ([store] code_old_key_files), a destination's sends
// counted under the old key still hold it at its cap; new sends count under the new key.
TEST_F(CodeSenderTest, SendsCountedUnderAnOldCodeKeyStillReachTheDestinationCap) {
    auto policy = load_policy(
        {{"lwauth.conf", kPolicy},
         {"more.conf", "[code]\nchannels = sms\nmax_sends_per_destination_per_hour = 2\n"}});
    (void)send_login_code_now(sender_, "taro", *policy, policy->base, state_,
                              SecretString("123456"));
    (void)send_login_code_now(sender_, "jiro", *policy, policy->base, state_,
                              SecretString("123456"));
    ASSERT_EQ(sent_.size(), 2U);

    std::vector<SecretString> old_keys;
    old_keys.emplace_back(std::string(32, 'k'));
    Hasher rotated(SecretString(std::string(32, 'n')), old_keys);
    Hasher forgetful(SecretString(std::string(32, 'n')));
    CodeSender with_old{clock_, async_store_, rotated};
    CodeSender without_old{clock_, async_store_, forgetful};
    std::map<std::string, std::shared_ptr<Channel>> channels;
    channels["sms"] = std::make_shared<FakeChannel>("sms", sent_);
    with_old.set_channels(channels);
    without_old.set_channels(channels);
    auto send = [&](CodeSender& sender) {
        std::optional<Result<Delivered>> got;
        sender.send_login_code("saburo", *policy, policy->base, state_, SecretString("654321"),
                               [&](Result<Delivered> r) { got = std::move(r); });
        return got;
    };
    auto capped = send(with_old);
    ASSERT_TRUE(capped.has_value());
    ASSERT_FALSE(capped->ok()) << "the old key's two sends count";
    EXPECT_EQ(capped->error().code(), Errc::RateLimited);
    EXPECT_EQ(sent_.size(), 2U);

    // Without the old key the count starts again from zero: what code_old_key_files is for.
    auto counted_afresh = send(without_old);
    ASSERT_TRUE(counted_afresh.has_value());
    EXPECT_TRUE(counted_afresh->ok());
    EXPECT_EQ(
        store_.sends_since("destination:" + forgetful.keyed_hex("destination", "+819012345678"), 0),
        1);
}

TEST_F(CodeSenderTest, ReachableNeedsAChannelForAKindTheUserHasAContactFor) {
    auto email_then_sms =
        load_policy({{"lwauth.conf", kPolicy}, {"more.conf", "[code]\nchannels = email, sms\n"}});
    EXPECT_TRUE(sender_.reachable(*email_then_sms, email_then_sms->base, state_));  // sms, by phone

    auto no_sms_channel = load_policy({{"lwauth.conf", R"([code]
channels = sms, email
[channel.mail]
type = outbox
path = /nonexistent/lwauth-unit/mail.jsonl
serves = email
)"}});
    EXPECT_FALSE(sender_.reachable(*no_sms_channel, no_sms_channel->base, state_));
    UserState nobody;
    EXPECT_FALSE(sender_.reachable(*no_sms_channel, no_sms_channel->base, nobody));

    auto notification = load_policy({{"lwauth.conf", kPolicy}});
    EXPECT_TRUE(sender_.reachable(*notification, notification->base, nobody))
        << "a notification needs no saved contact";
}

TEST(SmsPrefixAllowed, EmptyListAllowsEveryNumber) {
    policy::CodePolicy code;
    EXPECT_TRUE(sms_prefix_allowed(code, "+819012345678"));
}

TEST(SmsPrefixAllowed, OnlyListedPrefixesAreAllowed) {
    policy::CodePolicy code;
    code.sms_country_prefixes = {"+81", "+1"};
    EXPECT_TRUE(sms_prefix_allowed(code, "+819012345678"));
    EXPECT_TRUE(sms_prefix_allowed(code, "+14155552671"));
    EXPECT_FALSE(sms_prefix_allowed(code, "+447911123456"));
    EXPECT_FALSE(sms_prefix_allowed(code, "819012345678"));
}

TEST(ContactKindFor, MapsDeliveryKindsToContactKinds) {
    EXPECT_STREQ(contact_kind_for(policy::Kind::Sms), "phone");
    EXPECT_STREQ(contact_kind_for(policy::Kind::Email), "email");
    EXPECT_STREQ(contact_kind_for(policy::Kind::Notification), "");
}

}  // namespace
}  // namespace lwauth
