// The schemas of [channel.NAME] sections: the channel types, the keys each takes and how
// each key's value is checked.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lwauth/policy.hpp"
#include "policy_keys.hpp"

namespace lwauth::policy::detail {

enum class Check {
    Text,
    AbsolutePath,
    SecretFile,
    HttpUrl,
    SmtpUrl,
    MailFrom,
    AnyUrl,
    LineUserId,
    LineWorksUserId,
    LineWorksScope
};
enum class Need { Optional, Required };

struct OptionSpec {
    std::string_view key;
    Check check;
    Need need = Need::Optional;
    std::string_view default_value = {};
};

struct ChannelType {
    std::string_view name;
    std::vector<Kind> can_serve;
    std::vector<Kind> serves_by_default;
    std::vector<OptionSpec> options;
    // Rules that tie keys together; Error(BadPolicy) says which one is broken.
    Result<void> (*check)(const ChannelConfig&) = nullptr;
};

// A messenger channel that knows nobody's ID there would pass every user on unserved.
// Besides type, serves and timeout, which every channel has as typed fields.
inline const OptionSpec kCommonOptions[] = {
    {"ca_file", Check::AbsolutePath},
    {"proxy", Check::AnyUrl},
};

const std::vector<ChannelType>& channel_types();

const ChannelType* find_channel_type(std::string_view name);

// The type names, as "a, b or c".
std::string channel_type_choices();

const OptionSpec* find_option(std::span<const OptionSpec> options, std::string_view key);

// A key of the type, or one every channel takes.
const OptionSpec* find_channel_option(const ChannelType& type, std::string_view key);

// The types that know a key ("twilio, vonage or smtp"), or "" when none does.
std::string types_with_option(std::string_view key);

// Checks a channel key's value; Error(BadPolicy) says what is wrong with it ("bad value
// 'x' for url: ...").
Result<void> check_option(Check check, const Input& in);

bool valid_channel_name(std::string_view name);

}  // namespace lwauth::policy::detail
