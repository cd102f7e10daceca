// The key table of lwauth.conf's fixed sections.
#include "policy_keys.hpp"

#include <algorithm>
#include <filesystem>
#include <type_traits>
#include <variant>

#include "policy_channels.hpp"
#include "policy_files.hpp"
#include "policy_values.hpp"

namespace lwauth::policy::detail {

using namespace std::chrono_literals;

std::string bad_value(const Input& in, const std::string& expected) {
    return "bad value '" + std::string(in.value) + "' for " + std::string(in.key) + ": " + expected;
}

Error bad_value(const Input& in, const Error& expected) {
    return {Errc::BadPolicy, bad_value(in, std::string(expected.what()))};
}

namespace {

// ---- How a value is read and printed ----------------------------------------------------

std::string text_of(int value) {
    return std::to_string(value);
}
std::string text_of(std::chrono::seconds value) {
    return format_duration(value);
}
std::string text_of(const std::string& value) {
    return value;
}
std::string text_of(const std::vector<Kind>& kinds) {
    return kinds_text(kinds);
}
std::string text_of(const std::vector<SecondFactor>& factors) {
    return second_factors_text(factors);
}
std::string text_of(const std::vector<std::string>& items) {
    return join(items, ", ");
}

// A value's parser and the printer that writes it back the way the parser reads it.
template <class T>
struct Format {
    Parser<T> parse;
    std::function<std::string(const T&)> print;
};

template <class T>
Format<T> as(Parser<T> parse) {
    return {std::move(parse), [](const T& value) { return text_of(value); }};
}

// A value written as one of a list of words; printed as the first word for it.
template <class T, size_t N>
Format<T> words(const Word<T> (&list)[N]) {
    return {word_parser(list),
            [&list](const T& value) { return std::string(word_for(list, value)); }};
}

// ---- The field a key writes -------------------------------------------------------------
//
// A key names its field by a path of member pointers: <&UserPolicy::code,
// &CodePolicy::length> is the user policy's code.length, <&Policy::totp,
// &TotpPolicy::period> the policy's totp.period.

template <class Member>
struct owner_of;
template <class Field, class Owner>
struct owner_of<Field Owner::*> {
    using type = Owner;
};

template <auto First>
constexpr bool kInUserPolicy = std::is_same_v<typename owner_of<decltype(First)>::type, UserPolicy>;

template <auto... Members, class Object>
decltype(auto) member(Object& object) {
    return (object.*....*Members);
}

// The user policy or the policy, whichever the path starts from.
template <auto First>
auto& owner(Target& target) {
    if constexpr (kInUserPolicy<First>) {
        return target.user;
    } else {
        return target.policy;
    }
}

template <auto First>
const auto& owner(const Policy& policy, const UserPolicy& user) {
    if constexpr (kInUserPolicy<First>) {
        return user;
    } else {
        return policy;
    }
}

template <auto First, auto... Rest, class Print>
Show show(Print print) {
    return [print](const Policy& policy, const UserPolicy& user) -> std::string {
        return print(member<First, Rest...>(owner<First>(policy, user)));
    };
}

// What a patch does: writes its value to one field of the user policy.
template <auto... Members>
void write_user(UserPolicy& user, const Patch::Value& value) {
    auto& field = member<Members...>(user);
    field = std::get<std::decay_t<decltype(field)>>(value);
}

// ---- Rules ------------------------------------------------------------------------------

// A key that only the fixed sections set.
template <auto First, auto... Rest, class T>
KeyRule global(Format<T> format) {
    Apply apply = [parse = format.parse](Target& target, const Input& in) -> Result<void> {
        auto parsed = parse(in.value);
        if (!parsed) {
            return bad_value(in, parsed.error());
        }
        member<First, Rest...>(owner<First>(target)) = std::move(*parsed);
        return {};
    };
    return {apply, nullptr, show<First, Rest...>(format.print)};
}

// A key of the user policy that [group:] and [user:] may set too: the value is compiled
// into a patch, which the base applies at once and an override at each login.
template <auto First, auto... Rest, class T>
KeyRule overridable(Format<T> format) {
    static_assert(kInUserPolicy<First>, "only the user policy is overridden");
    Compile compile = [parse = format.parse](const Input& in) -> Result<Patch> {
        auto parsed = parse(in.value);
        if (!parsed) {
            return bad_value(in, parsed.error());
        }
        return Patch{&write_user<First, Rest...>,
                     Patch::Value(std::in_place_type<T>, std::move(*parsed))};
    };
    Apply apply = [compile](Target& target, const Input& in) -> Result<void> {
        auto patch = compile(in);
        if (!patch) {
            return patch.error();
        }
        patch->apply(target.user);
        return {};
    };
    return {apply, compile, show<First, Rest...>(format.print)};
}

}  // namespace

Result<void> check_secret_input(const Input& in) {
    auto checked = check_secret_file(in.key, in.value, in.options.secret_reader);
    if (!checked) {
        return checked.error();
    }
    if (*checked && in.warnings != nullptr) {
        in.warnings->push_back(**checked);
    }
    return {};
}

namespace {

// A *_file key naming a secret: the file is checked, the path kept.
template <auto First, auto... Rest>
KeyRule secret_file() {
    Apply apply = [](Target& target, const Input& in) -> Result<void> {
        if (!in.value.empty()) {
            if (auto checked = check_secret_input(in); !checked) {
                return checked;
            }
        }
        member<First, Rest...>(owner<First>(target)) = std::string(in.value);
        return {};
    };
    return {apply, nullptr,
            show<First, Rest...>([](const std::filesystem::path& path) { return path.string(); })};
}

// A key naming a file lwauthd reads that is no secret (a CA certificate): an absolute
// path to a regular file (a link to one is followed, as in /etc/ssl/certs), checked when
// the policy is loaded so that a missing file stops `policy check` and the start rather
// than every connection that would need it.
template <auto First, auto... Rest>
KeyRule existing_file() {
    Apply apply = [](Target& target, const Input& in) -> Result<void> {
        std::string path(in.value);
        if (!path.empty()) {
            if (!path.starts_with('/')) {
                return Error(Errc::BadPolicy, bad_value(in, "expected an absolute path"));
            }
            std::error_code ec;
            auto status = std::filesystem::status(path, ec);
            if (ec || status.type() != std::filesystem::file_type::regular) {
                return Error(Errc::BadPolicy,
                             std::string(in.key) + ": " + path +
                                 (ec ? ": " + ec.message() : std::string(": not a regular file")));
            }
        }
        member<First, Rest...>(owner<First>(target)) = path;
        return {};
    };
    return {apply, nullptr,
            show<First, Rest...>([](const std::filesystem::path& path) { return path.string(); })};
}

// A list of *_file keys naming secrets, each checked, none twice; empty is none.
template <auto First, auto... Rest>
KeyRule secret_files() {
    Apply apply = [](Target& target, const Input& in) -> Result<void> {
        std::vector<std::filesystem::path> paths;
        for (auto item : split_list(in.value)) {
            if (item.empty()) {
                return Error(Errc::BadPolicy, bad_value(in, "empty item in list"));
            }
            if (std::find(paths.begin(), paths.end(), item) != paths.end()) {
                return Error(Errc::BadPolicy,
                             bad_value(in, "'" + std::string(item) + "' is listed twice"));
            }
            Input each = in;
            each.value = item;
            if (auto checked = check_secret_input(each); !checked) {
                return checked;
            }
            paths.emplace_back(item);
        }
        member<First, Rest...>(owner<First>(target)) = std::move(paths);
        return {};
    };
    return {apply, nullptr,
            show<First, Rest...>([](const std::vector<std::filesystem::path>& paths) {
                std::vector<std::string> names(paths.begin(), paths.end());
                return join(names, ", ");
            })};
}

}  // namespace

const std::vector<KeySpec>& key_specs() {
    using enum Empty;
    using U = UserPolicy;
    using C = CodePolicy;
    using L = LockoutPolicy;
    using P = Policy;
    using Q = QuickLoginPolicy;
    using A = Argon2Params;
    using T = TotpPolicy;
    using Li = LinePolicy;
    using S = StorePolicy;
    using D = DirectoryPolicy;
    const auto allowed = words(kAllowedWords);
    const auto https_url = [](Empty empty) { return as(https_url_parser(empty)); };
    const auto text = [](Empty empty) { return as(text_parser(empty)); };
    static const std::vector<KeySpec> specs = {
        {"policy", "two_step", overridable<&U::two_step>(words(kTwoStepWords))},
        {"policy", "contacts", global<&P::contacts>(words(kContactsWords))},
        {"policy", "self_service_reauth",
         overridable<&U::self_service_reauth>(words(kReauthWords))},
        {"policy", "admin_group", global<&P::admin_group>(text(Allowed))},
        {"policy", "admin_contact", global<&P::admin_contact>(text(Allowed))},
        {"policy", "login_with_phone", overridable<&U::login_with_phone>(allowed)},
        {"policy", "login_with_line", overridable<&U::login_with_line>(allowed)},
        {"policy", "totp", overridable<&U::totp>(allowed)},
        {"policy", "second_factors", overridable<&U::second_factors>(as(second_factors_parser()))},
        {"policy", "require_unrestricted",
         overridable<&U::require_unrestricted>(words(kBoolWords))},
        {"policy", "enroll_grace",
         overridable<&U::enroll_grace>(as(duration_parser(0s, 90 * 24h)))},
        {"policy", "remember_host",
         overridable<&U::remember_host>(as(duration_parser(0s, 30 * 24h)))},
        {"policy", "language", overridable<&U::language>(words(kLanguageWords))},

        {"code", "length", overridable<&U::code, &C::length>(as(integer_parser(6, 10)))},
        {"code", "lifetime",
         overridable<&U::code, &C::lifetime>(
             as(duration_parser(30s, 10min, " (NIST SP 800-63B: at most 10 minutes)")))},
        {"code", "tries", overridable<&U::code, &C::tries>(as(integer_parser(1, 10)))},
        {"code", "resend_interval",
         global<&U::code, &C::resend_interval>(as(duration_parser(0s, 10min)))},
        {"code", "max_sends_per_hour",
         global<&U::code, &C::max_sends_per_hour>(as(integer_parser(1, 1000)))},
        {"code", "max_sends_per_destination_per_hour",
         global<&U::code, &C::max_sends_per_destination_per_hour>(as(integer_parser(1, 1000)))},
        {"code", "max_sends_per_host_per_hour",
         global<&U::code, &C::max_sends_per_host_per_hour>(as(integer_parser(1, 100000)))},
        {"code", "max_sends_per_fleet_per_hour",
         global<&U::code, &C::max_sends_per_fleet_per_hour>(as(integer_parser(0, 10000000)))},
        {"code", "max_passwordless_sends_per_hour",
         global<&U::code, &C::max_passwordless_sends_per_hour>(as(integer_parser(1, 1000)))},
        {"code", "max_passwordless_sends_per_rhost_per_hour",
         global<&U::code, &C::max_passwordless_sends_per_rhost_per_hour>(
             as(integer_parser(1, 100000)))},
        {"code", "channels", overridable<&U::code, &C::channels>(as(kinds_parser()))},
        {"code", "sms_country_prefixes",
         global<&U::code, &C::sms_country_prefixes>(as(prefixes_parser()))},

        {"lockout", "max_failures",
         overridable<&U::lockout, &L::max_failures>(as(integer_parser(1, 1000)))},
        {"lockout", "duration",
         overridable<&U::lockout, &L::duration>(as(duration_parser(1min, 30 * 24h)))},
        {"lockout", "passwordless_max_failures",
         global<&U::lockout, &L::passwordless_max_failures>(as(integer_parser(1, 100)))},
        {"lockout", "passwordless_duration",
         global<&U::lockout, &L::passwordless_duration>(as(duration_parser(1min, 1h)))},

        {"login", "timeout", global<&P::login_timeout>(as(duration_parser(30s, 1h)))},
        {"login", "phone_local_only",
         global<&P::phone_login, &MethodLimits::local_only>(words(kBoolWords))},
        {"login", "phone_services",
         global<&P::phone_login, &MethodLimits::services>(as(services_parser()))},

        {"quick_login", "pin", overridable<&U::quick_login, &Q::pin>(allowed)},
        {"quick_login", "fingerprint", overridable<&U::quick_login, &Q::fingerprint>(allowed)},
        {"quick_login", "pin_min_length",
         overridable<&U::quick_login, &Q::pin_min_length>(
             as(integer_parser(Q::kMinPinLength, Q::kMaxPinLength)))},
        {"quick_login", "max_failures",
         overridable<&U::quick_login, &Q::max_failures>(
             as(integer_parser(1, 10, " (NIST SP 800-63B: at most 10)")))},
        {"quick_login", "lifetime",
         overridable<&U::quick_login, &Q::lifetime>(as(duration_parser(1h, 365 * 24h)))},
        {"quick_login", "remote", overridable<&U::quick_login, &Q::remote>(words(kBoolWords))},
        {"quick_login", "argon2_memory",
         global<&P::argon2, &A::memory_kib>(
             Format<int>{size_kib_parser(A::kMinMemoryKib, A::kMaxMemoryKib), format_size_kib})},
        {"quick_login", "argon2_time",
         global<&P::argon2, &A::time>(as(integer_parser(1, A::kMaxTime)))},
        {"quick_login", "argon2_parallelism",
         global<&P::argon2, &A::parallelism>(as(integer_parser(1, A::kMaxParallelism)))},

        {"totp", "issuer", global<&P::totp, &T::issuer>(text(Refused))},
        {"totp", "digits", global<&P::totp, &T::digits>(as(integer_choice_parser({6, 8})))},
        {"totp", "period", global<&P::totp, &T::period>(as(duration_parser(15s, 2min)))},
        {"totp", "algorithm", global<&P::totp, &T::algorithm>(words(kTotpAlgorithmWords))},
        {"totp", "window", global<&P::totp, &T::window>(as(integer_parser(0, 2)))},

        // LINE channel IDs are 10 digits today; 20 leaves room without admitting junk.
        {"line", "channel_id", global<&P::line, &Li::channel_id>(as(digits_parser(Allowed, 20)))},
        {"line", "channel_secret_file", secret_file<&P::line, &Li::channel_secret_file>()},
        {"line", "public_url", global<&P::line, &Li::public_url>(as(base_url_parser()))},
        {"line", "listen", global<&P::line, &Li::listen>(as(host_port_parser()))},
        {"line", "connections_per_address",
         global<&P::line, &Li::connections_per_address>(
             Format<int>{optional_integer_parser(1, Li::kMaxConnections,
                                                 " (the endpoint's connections in all), or empty"),
                         [](const int& n) { return n == 0 ? std::string() : std::to_string(n); }})},
        {"line", "authorize_url", global<&P::line, &Li::authorize_url>(https_url(Refused))},
        {"line", "token_url", global<&P::line, &Li::token_url>(https_url(Refused))},
        {"line", "jwks_url", global<&P::line, &Li::jwks_url>(https_url(Allowed))},
        {"line", "issuer", global<&P::line, &Li::issuer>(https_url(Refused))},
        {"line", "id_token_alg", global<&P::line, &Li::id_token_alg>(words(kIdTokenAlgWords))},
        // Inside sshd's default LoginGraceTime (120 s) by default; never a long-lived link.
        {"line", "link_lifetime",
         global<&P::line, &Li::link_lifetime>(as(duration_parser(30s, 10min)))},
        {"line", "max_age", global<&P::line, &Li::max_age>(as(optional_duration_parser(30 * 24h)))},
        {"line", "subject_key_file", secret_file<&P::line, &Li::subject_key_file>()},
        {"line", "subject_old_key_files", secret_files<&P::line, &Li::subject_old_key_files>()},
        {"line", "ca_file", global<&P::line, &Li::ca_file>(as(absolute_path_parser(Allowed)))},
        {"line", "proxy",
         global<&P::line, &Li::proxy>(as(url_parser(
             {"http://", "https://", "socks4://", "socks4a://", "socks5://", "socks5h://"},
             Allowed)))},

        {"store", "backend", global<&P::store, &S::backend>(words(kStoreBackendWords))},
        {"store", "path", global<&P::store, &S::path>(as(absolute_path_parser(Allowed)))},
        {"store", "url", global<&P::store, &S::url>(text(Allowed))},
        {"store", "password_file", secret_file<&P::store, &S::password_file>()},
        {"store", "code_key_file", secret_file<&P::store, &S::code_key_file>()},
        {"store", "code_old_key_files", secret_files<&P::store, &S::code_old_key_files>()},
        {"store", "contacts_key_file", secret_file<&P::store, &S::contacts_key_file>()},
        {"store", "contacts_old_key_files", secret_files<&P::store, &S::contacts_old_key_files>()},

        {"daemon", "workers",
         global<&P::daemon, &DaemonPolicy::workers>(as(integer_parser(1, 16)))},

        {"directory", "backend", global<&P::directory, &D::backend>(words(kDirectoryBackendWords))},
        {"directory", "ldap_uri",
         global<&P::directory, &D::ldap_uri>(
             as(url_parser({"ldap://", "ldaps://", "ldapi://"}, Allowed)))},
        {"directory", "ldap_base", global<&P::directory, &D::ldap_base>(text(Allowed))},
        {"directory", "ldap_bind_dn", global<&P::directory, &D::ldap_bind_dn>(text(Allowed))},
        {"directory", "ldap_password_file", secret_file<&P::directory, &D::ldap_password_file>()},
        {"directory", "ldap_ca_file", existing_file<&P::directory, &D::ldap_ca_file>()},
        {"directory", "ldap_filter", global<&P::directory, &D::ldap_filter>(text(Refused))},
        {"directory", "phone_attribute", global<&P::directory, &D::phone_attribute>(text(Refused))},
        {"directory", "email_attribute", global<&P::directory, &D::email_attribute>(text(Refused))},
        {"directory", "lineworks_channel",
         global<&P::directory, &D::lineworks_channel>(text(Allowed))},
        {"directory", "lineworks_rate",
         global<&P::directory, &D::lineworks_rate>(
             as(integer_parser(1, D::kMaxLineworksRate)))},
        {"directory", "sync_interval",
         global<&P::directory, &D::sync_interval>(as(duration_parser(1min, 24h)))},
        {"directory", "max_age",
         global<&P::directory, &D::max_age>(as(duration_parser(1h, 90 * 24h)))},
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
        if (spec.overridable() && spec.override_key() == key) {
            return &spec;
        }
    }
    return nullptr;
}

std::string override_keys_text() {
    std::vector<std::string> keys;
    for (const auto& spec : key_specs()) {
        if (spec.overridable()) {
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
