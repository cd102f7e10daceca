// The channel factory and the policy's channel schemas: one list of channel types, and the
// secrets lwauthd reads only from keys the loader checked as secrets.
#include <gtest/gtest.h>

#include <string>

#include "channels/channel.hpp"
#include "lwauth/policy.hpp"

namespace lwauth {
namespace {

TEST(ChannelFactory, BuildsEveryTypeThePolicyAccepts) {
    auto names = policy::channel_type_names();
    EXPECT_EQ(names.size(), 7u);
    for (auto name : names) {
        EXPECT_TRUE(channel_type_available(std::string(name))) << name;
    }
    EXPECT_FALSE(channel_type_available("fax"));
}

TEST(ChannelFactory, SecretKeysAreThoseTheSchemaChecksAsSecrets) {
    for (const auto& [type, key] : {std::pair{"twilio", "auth_token_file"},
                                    {"vonage", "api_secret_file"},
                                    {"webhook", "hmac_secret_file"},
                                    {"smtp", "password_file"},
                                    {"lineworks", "client_secret_file"},
                                    {"lineworks", "private_key_file"},
                                    {"line", "channel_access_token_file"}}) {
        EXPECT_TRUE(policy::is_channel_secret_key(type, key)) << type << " " << key;
    }
    EXPECT_FALSE(policy::is_channel_secret_key("twilio", "account_sid"));
    EXPECT_FALSE(policy::is_channel_secret_key("twilio", "hmac_secret_file"));
    EXPECT_FALSE(policy::is_channel_secret_key("smtp", "ca_file"));
    EXPECT_FALSE(policy::is_channel_secret_key("fax", "auth_token_file"));
}

}  // namespace
}  // namespace lwauth
