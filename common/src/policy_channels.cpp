// The channel types of lwauth.conf and the checks of their keys.
#include "policy_channels.hpp"

#include <algorithm>

#include "policy_files.hpp"
#include "policy_values.hpp"

namespace lwauth::policy::detail {

namespace {

// A messenger channel that knows nobody's ID there would pass every user on unserved.
Result<void> no_recipients(const ChannelConfig& c, std::string_view what_to_set) {
    if (!c.option("user_id").empty() || !c.option("user_map_file").empty()) {
        return {};
    }
    return Error(Errc::BadPolicy,
                 "channel type " + c.type +
                     " has no user's ID on the messenger: " + std::string(what_to_set));
}

// A rule that ties keys together, kept or broken.
Result<void> rule(bool kept, const std::string& otherwise) {
    if (kept) {
        return {};
    }
    return Error(Errc::BadPolicy, otherwise);
}

// Besides type, serves and timeout, which every channel has as typed fields.
}  // namespace

const std::vector<ChannelType>& channel_types() {
    using enum Check;
    using enum Need;
    const std::vector<Kind> all{Kind::Sms, Kind::Email, Kind::Notification};
    const std::vector<Kind> sms{Kind::Sms};
    const std::vector<Kind> email{Kind::Email};
    const std::vector<Kind> notification{Kind::Notification};
    static const std::vector<ChannelType> types = {
        {"outbox", all, all, {{"path", AbsolutePath, Required}}},
        {"twilio",
         sms,
         sms,
         {{"account_sid", Text, Required},
          {"auth_token_file", SecretFile, Required},
          {"from", Text},
          {"messaging_service_sid", Text},
          {"base_url", HttpUrl, Optional, "https://api.twilio.com"}},
         [](const ChannelConfig& c) {
             return rule(!c.option("from").empty() || !c.option("messaging_service_sid").empty(),
                         "channel type twilio requires key 'from' or 'messaging_service_sid'");
         }},
        {"vonage",
         sms,
         sms,
         {{"api_key", Text, Required},
          {"api_secret_file", SecretFile, Required},
          {"from", Text, Required},
          {"base_url", HttpUrl, Optional, "https://rest.nexmo.com"}}},
        // A webhook is the site's own gateway, so it may carry any kind of message.
        {"webhook",
         all,
         sms,
         {{"url", HttpUrl, Required}, {"hmac_secret_file", SecretFile, Required}}},
        {"smtp",
         email,
         email,
         {{"url", SmtpUrl, Required},
          {"username", Text},
          {"password_file", SecretFile},
          {"from", MailFrom, Required},
          // No default here: unset, the channel words its own in each message's language.
          {"subject", Text},
          {"body_file", AbsolutePath},
          {"ehlo_name", Text}},
         [](const ChannelConfig& c) {
             if (c.option("username").empty() != c.option("password_file").empty()) {
                 return rule(false,
                             "channel type smtp requires 'username' and 'password_file' together");
             }
             // RFC 5321 section 4.1.1.1: a domain name, or an address literal in brackets.
             const std::string ehlo = c.option("ehlo_name");
             bool literal = ehlo.size() > 2 && ehlo.front() == '[' && ehlo.back() == ']';
             bool ok = ehlo.find_first_not_of(literal ? "[]0123456789abcdefABCDEF.:IPv6"
                                                      : "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL"
                                                        "MNOPQRSTUVWXYZ0123456789.-") ==
                       std::string::npos;
             return rule(ok, "ehlo_name must be a domain name or an address literal in brackets");
         }},
        {"lineworks",
         notification,
         notification,
         {{"client_id", Text, Required},
          {"client_secret_file", SecretFile, Required},
          {"service_account", Text, Required},
          {"private_key_file", SecretFile, Required},
          {"bot_id", Text, Required},
          {"base_url", HttpUrl, Optional, "https://www.worksapis.com"},
          {"auth_url", HttpUrl, Optional, "https://auth.worksmobile.com/oauth2/v2.0/token"},
          {"scope", LineWorksScope, Optional, "bot.message"},
          {"user_id", LineWorksUserId},
          {"user_map_file", SecretFile}},
         [](const ChannelConfig& c) {
             return no_recipients(c,
                                  "set user_id = {user}@example.com (the members' login ID "
                                  "domain) or user_map_file (lines 'USER ID')");
         }},
        {"line",
         notification,
         notification,
         {{"channel_access_token_file", SecretFile, Required},
          {"base_url", HttpUrl, Optional, "https://api.line.me"},
          {"user_id", LineUserId},
          {"user_map_file", SecretFile}},
         [](const ChannelConfig& c) {
             return no_recipients(c,
                                  "set user_map_file (lines 'USER U...' with the LINE user ID "
                                  "LINE gives each user)");
         }},
    };
    return types;
}

const ChannelType* find_channel_type(std::string_view name) {
    for (const auto& type : channel_types()) {
        if (type.name == name) {
            return &type;
        }
    }
    return nullptr;
}

std::string channel_type_choices() {
    std::vector<std::string_view> names;
    for (const auto& type : channel_types()) {
        names.push_back(type.name);
    }
    return join_choices(names);
}

const OptionSpec* find_option(std::span<const OptionSpec> options, std::string_view key) {
    for (const auto& option : options) {
        if (option.key == key) {
            return &option;
        }
    }
    return nullptr;
}

const OptionSpec* find_channel_option(const ChannelType& type, std::string_view key) {
    const OptionSpec* option = find_option(type.options, key);
    return option != nullptr ? option : find_option(kCommonOptions, key);
}

// The types that know a key ("twilio, vonage or smtp"), or "" when none does.
std::string types_with_option(std::string_view key) {
    std::vector<std::string_view> names;
    for (const auto& type : channel_types()) {
        if (find_option(type.options, key) != nullptr) {
            names.push_back(type.name);
        }
    }
    return join_choices(names);
}

namespace {

// The value of `in` refused, saying what was expected.
Error refused(const Input& in, const std::string& expected) {
    return {Errc::BadPolicy, bad_value(in, expected)};
}

// A messenger's user_id: a template that can give each user an ID the service takes.
Result<void> check_user_id(Check check, const Input& in) {
    if (!user_id_template_valid(in.value)) {
        return refused(in,
                       "an ID with no spaces, where {user} stands for the user name (e.g. "
                       "{user}@example.com)");
    }
    bool per_user = in.value.find("{user}") != std::string_view::npos;
    if (check == Check::LineUserId) {
        // LINE issues its user IDs; none can be made from a user name.
        if (per_user) {
            return refused(in,
                           "a LINE user ID is issued by LINE (U and 32 hex digits) and cannot "
                           "be made from the user name; list each user's ID in user_map_file");
        }
        if (!is_line_user_id(in.value)) {
            return refused(in,
                           "expected a LINE user ID (U and 32 hex digits); list each user's ID "
                           "in user_map_file");
        }
        return {};
    }
    // LINE WORKS takes its user ID or the member's login ID; a template can only make the
    // latter, so it needs the login ID's @domain.
    std::string sample = per_user ? expand_user_id(in.value, "name") : std::string(in.value);
    if (is_lineworks_user_id(sample)) {
        return {};
    }
    return refused(in, per_user ? "LINE WORKS takes a login ID (name@domain) or a user ID, "
                                  "never a bare user name; set e.g. user_id = "
                                  "{user}@example.com, or list IDs in user_map_file"
                                : "expected a LINE WORKS login ID (name@domain) or user ID "
                                  "(8-4-4-4-12 letters and digits)");
}

// OAuth scopes (RFC 6749 section 3.3): words separated by spaces. Sending a bot message
// needs bot.message or bot.
// lwauthd speaks SMTP without SMTPUTF8 (RFC 6531): the address goes into MAIL FROM and
// the From header as written, so it must be printable ASCII. A display name that is not
// ASCII is sent as RFC 2047 encoded words; one that is goes out as written, where an
// unquoted ',' or ';' would make a list or a group of the From header (RFC 5322 section
// 3.4): refused rather than quoted behind the administrator's back, since the fix is a
// pair of quotes and the header then says what the file says.
Result<void> check_mail_from(const Input& in) {
    auto printable = [](std::string_view s) {
        return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
            return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f;
        });
    };
    std::string_view value = in.value;
    size_t open = value.rfind('<');
    if (open == std::string_view::npos) {
        return printable(value) ? Result<void>{}
                                : refused(in, "expected an address in printable ASCII, like "
                                              "noreply@example.com (SMTPUTF8 is not used)");
    }
    std::string_view address = value.substr(open + 1);
    if (address.empty() || address.back() != '>' ||
        !printable(address.substr(0, address.size() - 1)) ||
        address.find_first_of("<>") != address.size() - 1) {
        return refused(in, "expected an address in printable ASCII inside <...> at the end, "
                           "like lwauth <noreply@example.com> (SMTPUTF8 is not used)");
    }
    std::string_view name = value.substr(0, open);
    if (std::any_of(name.begin(), name.end(), [](char c) {
            return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
        })) {
        return refused(in, "expected a display name without control characters");
    }
    bool ascii = std::all_of(name.begin(), name.end(),
                             [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    while (!name.empty() && name.back() == ' ') {
        name.remove_suffix(1);
    }
    bool quoted = name.size() >= 2 && name.front() == '"' && name.back() == '"';
    if (ascii && !quoted && name.find_first_of(",;") != std::string_view::npos) {
        return refused(in, "expected a display name with ',' or ';' in double quotes, like "
                           "\"lwauth, IT\" <noreply@example.com>");
    }
    return {};
}

Result<void> check_lineworks_scope(const Input& in) {
    bool can_send = false;
    bool words = !in.value.empty();
    for (std::string_view rest = in.value; words && !rest.empty();) {
        size_t end = std::min(rest.find(' '), rest.size());
        std::string_view word = rest.substr(0, end);
        rest.remove_prefix(std::min(end + 1, rest.size()));
        words = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '.' || c == '_' || c == '-';
        });
        can_send = can_send || word == "bot" || word == "bot.message";
    }
    if (!words) {
        return refused(in, "expected scopes separated by single spaces, like bot.message");
    }
    if (!can_send) {
        return refused(in, "sending a bot message needs the scope bot.message (or bot)");
    }
    return {};
}
}  // namespace

Result<void> check_option(Check check, const Input& in) {
    auto problem = [&in](const auto& parsed) -> Result<void> {
        if (!parsed) {
            return bad_value(in, parsed.error());
        }
        return {};
    };
    switch (check) {
        case Check::Text:
            return {};
        case Check::AbsolutePath:
            return problem(absolute_path_parser(Empty::Refused)(in.value));
        case Check::SecretFile:
            return check_secret_input(in);
        case Check::HttpUrl:
            // Gateways are reached over verified TLS only: lwauthd's HTTP client refuses
            // anything else, so the policy says so first.
            return problem(url_parser({"https://"}, Empty::Refused)(in.value));
        case Check::SmtpUrl:
            return problem(url_parser({"smtps://", "smtp://"}, Empty::Refused)(in.value));
        case Check::MailFrom:
            return check_mail_from(in);
        case Check::AnyUrl:
            return problem(any_url_parser()(in.value));
        case Check::LineUserId:
        case Check::LineWorksUserId:
            return check_user_id(check, in);
        case Check::LineWorksScope:
            return check_lineworks_scope(in);
    }
    return {};
}

bool valid_channel_name(std::string_view name) {
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
    });
}

}  // namespace lwauth::policy::detail

namespace lwauth::policy {

std::vector<std::string_view> channel_type_names() {
    std::vector<std::string_view> names;
    for (const auto& type : detail::channel_types()) {
        names.push_back(type.name);
    }
    return names;
}

bool is_channel_secret_key(std::string_view type, std::string_view key) {
    const detail::ChannelType* found = detail::find_channel_type(type);
    const detail::OptionSpec* option =
        found != nullptr ? detail::find_channel_option(*found, key) : nullptr;
    return option != nullptr && option->check == detail::Check::SecretFile;
}

bool user_id_template_valid(std::string_view user_id_template) {
    constexpr std::string_view kUser = "{user}";
    if (user_id_template.empty()) {
        return false;
    }
    for (size_t i = 0; i < user_id_template.size(); ++i) {
        if (user_id_template.substr(i, kUser.size()) == kUser) {
            i += kUser.size() - 1;
            continue;
        }
        auto c = static_cast<unsigned char>(user_id_template[i]);
        if (c <= ' ' || c == 0x7f || c == '{' || c == '}') {
            return false;
        }
    }
    return true;
}

std::string expand_user_id(std::string_view user_id_template, std::string_view user) {
    constexpr std::string_view kUser = "{user}";
    std::string out;
    for (size_t i = 0; i < user_id_template.size();) {
        if (user_id_template.substr(i, kUser.size()) == kUser) {
            out += user;
            i += kUser.size();
        } else {
            out += user_id_template[i++];
        }
    }
    return out;
}

bool is_line_user_id(std::string_view id) {
    return id.size() == 33 && id.front() == 'U' &&
           std::all_of(id.begin() + 1, id.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool is_lineworks_user_id(std::string_view id) {
    auto alnum = [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    };
    auto made_of = [](std::string_view part, auto allowed) {
        return !part.empty() && std::all_of(part.begin(), part.end(), allowed);
    };
    if (size_t at = id.find('@'); at != std::string_view::npos) {
        // A login ID. Only what a LINE WORKS login ID and domain may hold: the ID goes
        // into a URL path as it is.
        return made_of(id.substr(0, at),
                       [&](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; }) &&
               made_of(id.substr(at + 1), [&](char c) { return alnum(c) || c == '.' || c == '-'; });
    }
    static constexpr size_t kGroups[] = {8, 4, 4, 4, 12};
    size_t pos = 0;
    for (size_t group : kGroups) {
        if (pos != 0 && (pos >= id.size() || id[pos++] != '-')) {
            return false;
        }
        if (id.size() < pos + group || !made_of(id.substr(pos, group), alnum)) {
            return false;
        }
        pos += group;
    }
    return pos == id.size();
}

}  // namespace lwauth::policy
