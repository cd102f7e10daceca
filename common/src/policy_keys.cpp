// The key table of lwauth.conf's fixed sections.
#include "policy_keys.hpp"

#include <algorithm>

#include "policy_channels.hpp"
#include "policy_files.hpp"
#include "policy_values.hpp"

namespace lwauth::policy::detail {

using namespace std::chrono_literals;

std::string bad_value(const Input& in, const std::string& expected) {
    return "bad value '" + std::string(in.value) + "' for " + std::string(in.key) + ": " + expected;
}

namespace {

template <class Parser, class Access>
Apply assign(Parser parse, Access access) {
    return [parse, access](Target& target, const Input& in) -> std::string {
        auto parsed = parse(in.value);
        if (!parsed.value) {
            return bad_value(in, parsed.expected);
        }
        access(target) = std::move(*parsed.value);
        return {};
    };
}

template <class Access>
Apply secret_file(Access access) {
    return [access](Target& target, const Input& in) -> std::string {
        if (!in.value.empty()) {
            auto problem = check_secret_file(in.key, in.value, in.options.secret_owner_uid);
            if (!problem.empty()) {
                return problem;
            }
        }
        access(target) = std::string(in.value);
        return {};
    };
}

// Accessors for the field a key writes: user_field(&UserPolicy::code, &CodePolicy::length)
// is the user policy's code.length, policy_field(&Policy::totp, &TotpPolicy::period) the
// policy's totp.period.
template <class Field>
auto user_field(Field UserPolicy::*field) {
    return [field](Target& target) -> Field& { return target.user.*field; };
}

template <class Part, class Field>
auto user_field(Part UserPolicy::*part, Field Part::*field) {
    return [part, field](Target& target) -> Field& { return target.user.*part.*field; };
}

template <class Field>
auto policy_field(Field Policy::*field) {
    return [field](Target& target) -> Field& { return target.policy.*field; };
}

template <class Part, class Field>
auto policy_field(Part Policy::*part, Field Part::*field) {
    return [part, field](Target& target) -> Field& { return target.policy.*part.*field; };
}

}  // namespace

const std::vector<KeySpec>& key_specs() {
    using enum Scope;
    using enum Empty;
    using U = UserPolicy;
    using C = CodePolicy;
    using L = LockoutPolicy;
    using P = Policy;
    const auto allowed = word_parser(kAllowedWords);
    const auto http_url = [](Empty empty) { return url_parser({"https://", "http://"}, empty); };
    static const std::vector<KeySpec> specs = {
        {"policy", "two_step", Overridable,
         assign(word_parser(kTwoStepWords), user_field(&U::two_step))},
        {"policy", "contacts", Global,
         assign(word_parser(kContactsWords), policy_field(&P::contacts))},
        {"policy", "self_service_reauth", Overridable,
         assign(word_parser(kReauthWords), user_field(&U::self_service_reauth))},
        {"policy", "admin_group", Global,
         assign(text_parser(Allowed), policy_field(&P::admin_group))},
        {"policy", "admin_contact", Global,
         assign(text_parser(Allowed), policy_field(&P::admin_contact))},
        {"policy", "login_with_phone", Overridable,
         assign(allowed, user_field(&U::login_with_phone))},
        {"policy", "login_with_line", Overridable,
         assign(allowed, user_field(&U::login_with_line))},
        {"policy", "quick_login", Overridable, assign(allowed, user_field(&U::quick_login))},
        {"policy", "totp", Overridable, assign(allowed, user_field(&U::totp))},
        {"policy", "enroll_grace", Overridable,
         assign(duration_parser(0s, 90 * 24h), user_field(&U::enroll_grace))},
        {"policy", "remember_host", Overridable,
         assign(duration_parser(0s, 30 * 24h), user_field(&U::remember_host))},

        {"code", "length", Overridable,
         assign(integer_parser(6, 10), user_field(&U::code, &C::length))},
        {"code", "lifetime", Overridable,
         assign(duration_parser(30s, 10min, " (NIST SP 800-63B: at most 10 minutes)"),
                user_field(&U::code, &C::lifetime))},
        {"code", "tries", Overridable,
         assign(integer_parser(1, 10), user_field(&U::code, &C::tries))},
        {"code", "resend_interval", Global,
         assign(duration_parser(0s, 10min), user_field(&U::code, &C::resend_interval))},
        {"code", "max_sends_per_hour", Global,
         assign(integer_parser(1, 1000), user_field(&U::code, &C::max_sends_per_hour))},
        {"code", "max_sends_per_destination_per_hour", Global,
         assign(integer_parser(1, 1000),
                user_field(&U::code, &C::max_sends_per_destination_per_hour))},
        {"code", "max_sends_per_host_per_hour", Global,
         assign(integer_parser(1, 100000), user_field(&U::code, &C::max_sends_per_host_per_hour))},
        {"code", "max_passwordless_sends_per_hour", Global,
         assign(integer_parser(1, 1000),
                user_field(&U::code, &C::max_passwordless_sends_per_hour))},
        {"code", "max_passwordless_sends_per_rhost_per_hour", Global,
         assign(integer_parser(1, 100000),
                user_field(&U::code, &C::max_passwordless_sends_per_rhost_per_hour))},
        {"code", "channels", Overridable,
         assign(kinds_parser(), user_field(&U::code, &C::channels))},
        {"code", "sms_country_prefixes", Global,
         assign(prefixes_parser(), user_field(&U::code, &C::sms_country_prefixes))},

        {"lockout", "max_failures", Overridable,
         assign(integer_parser(1, 1000), user_field(&U::lockout, &L::max_failures))},
        {"lockout", "duration", Overridable,
         assign(duration_parser(1min, 30 * 24h), user_field(&U::lockout, &L::duration))},
        {"lockout", "passwordless_max_failures", Global,
         assign(integer_parser(1, 100), user_field(&U::lockout, &L::passwordless_max_failures))},
        {"lockout", "passwordless_duration", Global,
         assign(duration_parser(1min, 1h), user_field(&U::lockout, &L::passwordless_duration))},

        {"login", "timeout", Global,
         assign(duration_parser(30s, 1h), policy_field(&P::login_timeout))},
        {"login", "phone_local_only", Global,
         assign(word_parser(kBoolWords), policy_field(&P::phone_login, &MethodLimits::local_only))},
        {"login", "phone_services", Global,
         assign(services_parser(), policy_field(&P::phone_login, &MethodLimits::services))},

        {"quick_login", "pin_min_length", Global,
         assign(integer_parser(4, 12),
                policy_field(&P::quick_login, &QuickLoginPolicy::pin_min_length))},
        {"quick_login", "pin_max_age", Global,
         assign(duration_parser(1h, 3650 * 24h),
                policy_field(&P::quick_login, &QuickLoginPolicy::pin_max_age))},
        {"quick_login", "fingerprint", Global,
         assign(allowed, policy_field(&P::quick_login, &QuickLoginPolicy::fingerprint))},
        {"quick_login", "local_only", Global,
         assign(word_parser(kBoolWords),
                policy_field(&P::quick_login, &QuickLoginPolicy::local_only))},

        {"totp", "issuer", Global,
         assign(text_parser(Refused), policy_field(&P::totp, &TotpPolicy::issuer))},
        {"totp", "digits", Global,
         assign(integer_choice_parser({6, 8}), policy_field(&P::totp, &TotpPolicy::digits))},
        {"totp", "period", Global,
         assign(duration_parser(15s, 2min), policy_field(&P::totp, &TotpPolicy::period))},

        {"line", "channel_id", Global,
         assign(text_parser(Allowed), policy_field(&P::line, &LinePolicy::channel_id))},
        {"line", "channel_secret_file", Global,
         secret_file(policy_field(&P::line, &LinePolicy::channel_secret_file))},
        {"line", "callback_listen", Global,
         assign(host_port_parser(), policy_field(&P::line, &LinePolicy::callback_listen))},
        {"line", "callback_url", Global,
         assign(http_url(Allowed), policy_field(&P::line, &LinePolicy::callback_url))},
        {"line", "authorize_url", Global,
         assign(http_url(Refused), policy_field(&P::line, &LinePolicy::authorize_url))},
        {"line", "token_url", Global,
         assign(http_url(Refused), policy_field(&P::line, &LinePolicy::token_url))},
        {"line", "jwks_url", Global,
         assign(http_url(Refused), policy_field(&P::line, &LinePolicy::jwks_url))},
        {"line", "issuer", Global,
         assign(http_url(Refused), policy_field(&P::line, &LinePolicy::issuer))},
        {"line", "id_token_alg", Global,
         assign(word_parser(kIdTokenAlgWords), policy_field(&P::line, &LinePolicy::id_token_alg))},

        {"store", "backend", Global,
         assign(word_parser(kStoreBackendWords), policy_field(&P::store, &StorePolicy::backend))},
        {"store", "path", Global,
         assign(absolute_path_parser(Allowed), policy_field(&P::store, &StorePolicy::path))},
        {"store", "postgresql_conninfo_file", Global,
         secret_file(policy_field(&P::store, &StorePolicy::postgresql_conninfo_file))},

        {"daemon", "workers", Global,
         assign(integer_parser(1, 16), policy_field(&P::daemon, &DaemonPolicy::workers))},

        {"directory", "backend", Global,
         assign(word_parser(kDirectoryBackendWords),
                policy_field(&P::directory, &DirectoryPolicy::backend))},
        {"directory", "ldap_uri", Global,
         assign(url_parser({"ldap://", "ldaps://", "ldapi://"}, Allowed),
                policy_field(&P::directory, &DirectoryPolicy::ldap_uri))},
        {"directory", "ldap_base", Global,
         assign(text_parser(Allowed), policy_field(&P::directory, &DirectoryPolicy::ldap_base))},
        {"directory", "ldap_bind_dn", Global,
         assign(text_parser(Allowed), policy_field(&P::directory, &DirectoryPolicy::ldap_bind_dn))},
        {"directory", "ldap_password_file", Global,
         secret_file(policy_field(&P::directory, &DirectoryPolicy::ldap_password_file))},
        {"directory", "phone_attribute", Global,
         assign(text_parser(Refused),
                policy_field(&P::directory, &DirectoryPolicy::phone_attribute))},
        {"directory", "email_attribute", Global,
         assign(text_parser(Refused),
                policy_field(&P::directory, &DirectoryPolicy::email_attribute))},
    };
    return specs;
}

bool is_fixed_section(std::string_view name) {
    const auto& specs = key_specs();
    return std::any_of(specs.begin(), specs.end(),
                       [name](const KeySpec& spec) { return spec.section == name; });
}

const KeySpec* find_key(std::string_view section, std::string_view key) {
    for (const auto& spec : key_specs()) {
        if (spec.section == section && spec.key == key) {
            return &spec;
        }
    }
    return nullptr;
}

const KeySpec* find_override_key(std::string_view key) {
    for (const auto& spec : key_specs()) {
        if (spec.scope == Scope::Overridable && spec.override_key() == key) {
            return &spec;
        }
    }
    return nullptr;
}

std::string override_keys_text() {
    std::vector<std::string> keys;
    for (const auto& spec : key_specs()) {
        if (spec.scope == Scope::Overridable) {
            keys.push_back(spec.override_key());
        }
    }
    return join(keys, ", ");
}

}  // namespace lwauth::policy::detail

namespace lwauth::policy {

using namespace detail;

std::vector<std::pair<std::string, std::string>> known_keys() {
    std::vector<std::pair<std::string, std::string>> keys;
    for (const auto& spec : key_specs()) {
        keys.emplace_back(spec.section, spec.key);
    }
    for (const auto& type : channel_types()) {
        std::string section = "channel." + std::string(type.name);
        for (const char* common : {"type", "serves", "timeout", "order", "enabled"}) {
            keys.emplace_back(section, common);
        }
        for (const auto& option : kCommonOptions) {
            keys.emplace_back(section, option.key);
        }
        for (const auto& option : type.options) {
            keys.emplace_back(section, option.key);
        }
    }
    return keys;
}

}  // namespace lwauth::policy
