// Loading lwauth.conf: a line reader that feeds libinih, a table of keys per section,
// a table of channel types, and the checks that need the whole policy.
//
// libinih splits "key = value" lines; everything it cannot tell us (line numbers, empty
// sections, malformed lines) comes from our own reader, which sees every line first.
#include "lwauth/policy.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <ini.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <exception>
#include <functional>
#include <set>
#include <span>
#include <string_view>
#include <system_error>

#include "lwauth/bus_names.hpp"
#include "lwauth/files.hpp"
#include "lwauth/text.hpp"

namespace lwauth::policy {
namespace {

using namespace std::chrono_literals;
using std::chrono::seconds;

// ---- Words ------------------------------------------------------------------------------

template <class T>
struct Word {
    std::string_view text;
    T value;
};

constexpr Word<TwoStep> kTwoStepWords[] = {
    {"off", TwoStep::Off}, {"optional", TwoStep::Optional}, {"required", TwoStep::Required}};
constexpr Word<Reauth> kReauthWords[] = {{"code", Reauth::Code}, {"none", Reauth::None}};
constexpr Word<Contacts> kContactsWords[] = {{"self", Contacts::Self}, {"admin", Contacts::Admin}};
constexpr Word<Kind> kKindWords[] = {
    {"sms", Kind::Sms}, {"email", Kind::Email}, {"notification", Kind::Notification}};
constexpr Word<IdTokenAlg> kIdTokenAlgWords[] = {{"HS256", IdTokenAlg::Hs256},
                                                 {"ES256", IdTokenAlg::Es256}};
constexpr Word<StoreBackend> kStoreBackendWords[] = {{"sqlite", StoreBackend::Sqlite},
                                                     {"postgresql", StoreBackend::Postgresql}};
constexpr Word<DirectoryBackend> kDirectoryBackendWords[] = {
    {"none", DirectoryBackend::None},
    {"ldap", DirectoryBackend::Ldap},
    {"lineworks", DirectoryBackend::Lineworks}};
constexpr Word<bool> kAllowedWords[] = {{"allowed", true}, {"disabled", false}};
// The first word for each value is the one describe() prints.
constexpr Word<bool> kBoolWords[] = {{"yes", true},    {"no", false}, {"true", true},
                                     {"false", false}, {"on", true},  {"off", false},
                                     {"1", true},      {"0", false}};

template <class T, size_t N>
const char* word_for(const Word<T> (&words)[N], T value) {
    for (const auto& word : words) {
        if (word.value == value) {
            return word.text.data();  // every text is a string literal, so NUL-terminated
        }
    }
    return "?";
}

// "a", "a or b", "a, b or c"
std::string join_choices(const std::vector<std::string_view>& items) {
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) {
            out += i + 1 == items.size() ? " or " : ", ";
        }
        out += items[i];
    }
    return out;
}

template <class T, size_t N>
std::string word_choices(const Word<T> (&words)[N]) {
    std::vector<std::string_view> texts;
    for (const auto& word : words) {
        texts.push_back(word.text);
    }
    return join_choices(texts);
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty()) {
            out += separator;
        }
        out += item;
    }
    return out;
}

std::string kinds_text(const std::vector<Kind>& kinds) {
    std::vector<std::string> words;
    for (Kind kind : kinds) {
        words.emplace_back(to_string(kind));
    }
    return join(words, ", ");
}

// ---- Text helpers -----------------------------------------------------------------------

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

bool has_space(std::string_view text) {
    return std::any_of(text.begin(), text.end(), is_space);
}

std::vector<std::string_view> split_list(std::string_view text) {
    std::vector<std::string_view> items;
    if (trim(text).empty()) {
        return items;
    }
    while (true) {
        size_t comma = text.find(',');
        items.push_back(trim(text.substr(0, comma)));
        if (comma == std::string_view::npos) {
            return items;
        }
        text.remove_prefix(comma + 1);
    }
}

// ---- Value parsers ----------------------------------------------------------------------
//
// A parser turns the text of a value into a typed value, or says what it expected.

template <class T>
struct Parsed {
    std::optional<T> value;
    std::string expected;  // set when value is empty: "expected ..."
};

template <class T>
Parsed<T> accept(T value) {
    return {std::move(value), {}};
}

template <class T>
Parsed<T> reject(std::string expected) {
    return {std::nullopt, std::move(expected)};
}

template <class T, size_t N>
auto word_parser(const Word<T> (&words)[N]) {
    return [&words](std::string_view text) -> Parsed<T> {
        for (const auto& word : words) {
            if (word.text == text) {
                return accept(word.value);
            }
        }
        return reject<T>("expected " + word_choices(words));
    };
}

std::optional<long long> parse_integer(std::string_view text) {
    long long value = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc{} || ptr != end || text.empty()) {
        return std::nullopt;
    }
    return value;
}

auto integer_parser(int min, int max) {
    return [min, max](std::string_view text) -> Parsed<int> {
        auto value = parse_integer(text);
        if (!value || *value < min || *value > max) {
            return reject<int>("expected an integer from " + std::to_string(min) + " to " +
                               std::to_string(max));
        }
        return accept(static_cast<int>(*value));
    };
}

auto integer_choice_parser(std::vector<int> choices) {
    return [choices = std::move(choices)](std::string_view text) -> Parsed<int> {
        auto value = parse_integer(text);
        if (value && std::find(choices.begin(), choices.end(), *value) != choices.end()) {
            return accept(static_cast<int>(*value));
        }
        std::vector<std::string> words;
        for (int choice : choices) {
            words.push_back(std::to_string(choice));
        }
        std::vector<std::string_view> views(words.begin(), words.end());
        return reject<int>("expected " + join_choices(views));
    };
}

struct DurationUnit {
    char suffix;
    long long seconds;
};
constexpr DurationUnit kDurationUnits[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};

constexpr const char* kDurationShape = "expected a duration like 30s, 5m, 2h or 30d";

// "1h30m" as one duration, when the text is made of number-unit pairs; for the
// suggestion of a single unit ("90m").
std::optional<seconds> compound_duration(std::string_view text) {
    long long total = 0;
    size_t i = 0;
    int parts = 0;
    while (i < text.size()) {
        size_t start = i;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
            ++i;
        }
        if (i == start || i == text.size() || i - start > 9) {
            return std::nullopt;
        }
        const DurationUnit* unit = nullptr;
        for (const auto& candidate : kDurationUnits) {
            if (text[i] == candidate.suffix) {
                unit = &candidate;
            }
        }
        if (unit == nullptr) {
            return std::nullopt;
        }
        long long count = 0;
        std::from_chars(text.data() + start, text.data() + i, count);
        total += count * unit->seconds;
        ++i;
        ++parts;
    }
    return parts > 1 ? std::optional<seconds>(seconds{total}) : std::nullopt;
}

// `note` says why the range is what it is, when that is not obvious.
auto duration_parser(seconds min, seconds max, std::string note = {}) {
    return [min, max, note = std::move(note)](std::string_view text) -> Parsed<seconds> {
        std::string range = "expected a duration from " + format_duration(min) + " to " +
                            format_duration(max) + note;
        if (text.size() < 2) {
            return reject<seconds>(kDurationShape);
        }
        const DurationUnit* unit = nullptr;
        for (const auto& candidate : kDurationUnits) {
            if (text.back() == candidate.suffix) {
                unit = &candidate;
            }
        }
        std::string_view digits = text.substr(0, text.size() - 1);
        if (unit == nullptr || !std::all_of(digits.begin(), digits.end(),
                                            [](char c) { return c >= '0' && c <= '9'; })) {
            if (auto total = compound_duration(text)) {
                return reject<seconds>(std::string(kDurationShape) +
                                       ", one number and one unit: write " + std::string(text) +
                                       " as " + format_duration(*total));
            }
            return reject<seconds>(kDurationShape);
        }
        unsigned long long count = 0;
        auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), count);
        if (ec == std::errc::result_out_of_range ||
            count > static_cast<unsigned long long>(max.count() / unit->seconds)) {
            return reject<seconds>(range);  // also catches overflow before multiplying
        }
        seconds value{static_cast<long long>(count) * unit->seconds};
        if (value < min) {
            return reject<seconds>(range);
        }
        return accept(value);
    };
}

// A list of kinds, each at most once.
auto kinds_parser() {
    return [](std::string_view text) -> Parsed<std::vector<Kind>> {
        using Kinds = std::vector<Kind>;
        std::string expected = "expected a list of " + word_choices(kKindWords);
        auto items = split_list(text);
        if (items.empty()) {
            return reject<Kinds>(expected);
        }
        Kinds kinds;
        for (auto item : items) {
            if (item.empty()) {
                return reject<Kinds>("empty item in list; " + expected);
            }
            auto parsed = word_parser(kKindWords)(item);
            if (!parsed.value) {
                return reject<Kinds>("unknown item '" + std::string(item) + "'; " + expected);
            }
            if (std::find(kinds.begin(), kinds.end(), *parsed.value) != kinds.end()) {
                return reject<Kinds>("'" + std::string(item) + "' is listed twice");
            }
            kinds.push_back(*parsed.value);
        }
        return accept(std::move(kinds));
    };
}

// A list of PAM service names (sshd, login, gdm-password...); empty means any service.
auto services_parser() {
    return [](std::string_view text) -> Parsed<std::vector<std::string>> {
        using Names = std::vector<std::string>;
        Names names;
        for (auto item : split_list(text)) {
            bool shaped = !item.empty() && std::all_of(item.begin(), item.end(), [](char c) {
                return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '_' || c == '.' || c == '+';
            });
            if (!shaped) {
                return reject<Names>("item '" + std::string(item) +
                                     "' is not a PAM service name like sshd");
            }
            if (std::find(names.begin(), names.end(), item) != names.end()) {
                return reject<Names>("'" + std::string(item) + "' is listed twice");
            }
            names.emplace_back(item);
        }
        return accept(std::move(names));
    };
}

// A list of "+<digits>" (E.164 allows at most 15 digits); empty means no restriction.
auto prefixes_parser() {
    return [](std::string_view text) -> Parsed<std::vector<std::string>> {
        using Prefixes = std::vector<std::string>;
        Prefixes prefixes;
        for (auto item : split_list(text)) {
            if (item.empty()) {
                return reject<Prefixes>("empty item in list");
            }
            std::string_view digits = item.substr(1);
            bool shaped = item.front() == '+' && !digits.empty() && digits.size() <= 15 &&
                          std::all_of(digits.begin(), digits.end(),
                                      [](char c) { return c >= '0' && c <= '9'; });
            if (!shaped) {
                return reject<Prefixes>("item '" + std::string(item) +
                                        "' is not a country prefix like +81");
            }
            if (std::find(prefixes.begin(), prefixes.end(), item) != prefixes.end()) {
                return reject<Prefixes>("'" + std::string(item) + "' is listed twice");
            }
            prefixes.emplace_back(item);
        }
        return accept(std::move(prefixes));
    };
}

enum class Empty { Allowed, Refused };

auto text_parser(Empty empty) {
    return [empty](std::string_view text) -> Parsed<std::string> {
        if (text.empty() && empty == Empty::Refused) {
            return reject<std::string>("expected a non-empty value");
        }
        return accept(std::string(text));
    };
}

// A URL with one of the given schemes ("https://"), no spaces and something after the
// scheme. Only the shape is checked; libcurl and the servers judge the rest.
auto url_parser(std::vector<std::string_view> schemes, Empty empty) {
    return [schemes = std::move(schemes), empty](std::string_view text) -> Parsed<std::string> {
        if (text.empty() && empty == Empty::Allowed) {
            return accept(std::string());
        }
        for (auto scheme : schemes) {
            if (text.starts_with(scheme) && text.size() > scheme.size() && !has_space(text)) {
                return accept(std::string(text));
            }
        }
        return reject<std::string>("expected a URL starting with " + join_choices(schemes));
    };
}

// Any "scheme://rest" URL (proxies may be http://, https://, socks5://...).
auto any_url_parser() {
    return [](std::string_view text) -> Parsed<std::string> {
        size_t sep = text.find("://");
        if (sep == std::string_view::npos || sep == 0 || sep + 3 == text.size() ||
            has_space(text)) {
            return reject<std::string>("expected a URL like http://proxy.example.com:3128");
        }
        return accept(std::string(text));
    };
}

auto absolute_path_parser(Empty empty) {
    return [empty](std::string_view text) -> Parsed<std::string> {
        if (text.empty() && empty == Empty::Allowed) {
            return accept(std::string());
        }
        if (!text.starts_with('/')) {
            return reject<std::string>("expected an absolute path");
        }
        return accept(std::string(text));
    };
}

auto host_port_parser() {
    return [](std::string_view text) -> Parsed<std::string> {
        constexpr const char* kShape = "expected host:port like 127.0.0.1:8741";
        size_t colon = text.rfind(':');
        if (colon == std::string_view::npos || colon == 0 || has_space(text)) {
            return reject<std::string>(kShape);
        }
        std::string_view host = text.substr(0, colon);
        if (host.find(':') != std::string_view::npos &&
            !(host.starts_with('[') && host.ends_with(']'))) {
            return reject<std::string>(kShape);  // an IPv6 address goes in brackets
        }
        auto port = parse_integer(text.substr(colon + 1));
        if (!port || *port < 1 || *port > 65535) {
            return reject<std::string>(kShape);
        }
        return accept(std::string(text));
    };
}

// ---- Secret files -----------------------------------------------------------------------

// Secrets stay out of lwauth.conf, which is world-readable: a *_file key names a file
// that only its owner (root, for lwauthd) can read. Anything looser is refused rather
// than trusted, because a secret that others could read must be considered leaked.
std::string check_secret_file(std::string_view key, std::string_view value, uid_t owner) {
    std::string name(key);
    std::string path(value);
    if (!value.starts_with('/')) {
        return "bad value '" + path + "' for " + name + ": expected an absolute path";
    }
    // O_PATH: `policy check` may run as a user who cannot read the secret; the owner and
    // mode are judged on the descriptor, as read_secret_file() does when lwauthd reads it.
    OpenedFile file =
        open_checked(AT_FDCWD, path, O_PATH, FileType::Regular, private_file_rule(owner));
    if (!file.ok()) {
        return name + ": " + file.describe(path);
    }
    return {};
}

// ---- Keys of the fixed sections ---------------------------------------------------------

// What a key writes to: the whole policy, and the user policy (base or an override's).
struct Target {
    Policy& policy;
    UserPolicy& user;
};

struct Input {
    std::string_view key;  // as written ("length" in [code], "code.length" in an override)
    std::string_view value;
    const LoadOptions& options;
};

// Applies a value to a target; returns the error message, or "" on success.
using Apply = std::function<std::string(Target&, const Input&)>;

std::string bad_value(const Input& in, const std::string& expected) {
    return "bad value '" + std::string(in.value) + "' for " + std::string(in.key) + ": " + expected;
}

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

enum class Scope { Global, Overridable };

struct KeySpec {
    std::string_view section;
    std::string_view key;
    Scope scope;
    Apply apply;

    // The key as [group:NAME] and [user:NAME] write it.
    [[nodiscard]] std::string override_key() const {
        return section == "policy" ? std::string(key)
                                   : std::string(section) + "." + std::string(key);
    }
};

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

// ---- Channel types ----------------------------------------------------------------------

enum class Check {
    Text,
    AbsolutePath,
    SecretFile,
    HttpUrl,
    SmtpUrl,
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
    // Rules that tie keys together; returns the problem, or "".
    std::string (*check)(const ChannelConfig&) = nullptr;
};

// A messenger channel that knows nobody's ID there would pass every user on unserved.
std::string no_recipients(const ChannelConfig& c, std::string_view what_to_set) {
    if (!c.option("user_id").empty() || !c.option("user_map_file").empty()) {
        return "";
    }
    return "channel type " + c.type +
           " has no user's ID on the messenger: " + std::string(what_to_set);
}

// Besides type, serves and timeout, which every channel has as typed fields.
const OptionSpec kCommonOptions[] = {
    {"ca_file", Check::AbsolutePath},
    {"proxy", Check::AnyUrl},
};

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
         [](const ChannelConfig& c) -> std::string {
             return c.option("from").empty() && c.option("messaging_service_sid").empty()
                        ? "channel type twilio requires key 'from' or 'messaging_service_sid'"
                        : "";
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
          {"from", Text, Required},
          {"subject", Text, Optional, "Your verification code"},
          {"body_file", AbsolutePath},
          {"ehlo_name", Text}},
         [](const ChannelConfig& c) -> std::string {
             if (c.option("username").empty() != c.option("password_file").empty()) {
                 return "channel type smtp requires 'username' and 'password_file' together";
             }
             // RFC 5321 section 4.1.1.1: a domain name, or an address literal in brackets.
             const std::string ehlo = c.option("ehlo_name");
             bool literal = ehlo.size() > 2 && ehlo.front() == '[' && ehlo.back() == ']';
             bool ok = ehlo.find_first_not_of(literal ? "[]0123456789abcdefABCDEF.:IPv6"
                                                      : "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL"
                                                        "MNOPQRSTUVWXYZ0123456789.-") ==
                       std::string::npos;
             return ok ? "" : "ehlo_name must be a domain name or an address literal in brackets";
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
         [](const ChannelConfig& c) -> std::string {
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
         [](const ChannelConfig& c) -> std::string {
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

// A messenger's user_id: a template that can give each user an ID the service takes.
std::string check_user_id(Check check, const Input& in) {
    if (!user_id_template_valid(in.value)) {
        return bad_value(in,
                         "an ID with no spaces, where {user} stands for the user name (e.g. "
                         "{user}@example.com)");
    }
    bool per_user = in.value.find("{user}") != std::string_view::npos;
    if (check == Check::LineUserId) {
        // LINE issues its user IDs; none can be made from a user name.
        if (per_user) {
            return bad_value(in,
                             "a LINE user ID is issued by LINE (U and 32 hex digits) and cannot "
                             "be made from the user name; list each user's ID in user_map_file");
        }
        return is_line_user_id(in.value)
                   ? std::string()
                   : bad_value(in,
                               "expected a LINE user ID (U and 32 hex digits); list each "
                               "user's ID in user_map_file");
    }
    // LINE WORKS takes its user ID or the member's login ID; a template can only make the
    // latter, so it needs the login ID's @domain.
    std::string sample = per_user ? expand_user_id(in.value, "name") : std::string(in.value);
    if (is_lineworks_user_id(sample)) {
        return {};
    }
    return bad_value(in, per_user ? "LINE WORKS takes a login ID (name@domain) or a user ID, "
                                    "never a bare user name; set e.g. user_id = "
                                    "{user}@example.com, or list IDs in user_map_file"
                                  : "expected a LINE WORKS login ID (name@domain) or user ID "
                                    "(8-4-4-4-12 letters and digits)");
}

// OAuth scopes (RFC 6749 section 3.3): words separated by spaces. Sending a bot message
// needs bot.message or bot.
std::string check_lineworks_scope(const Input& in) {
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
        return bad_value(in, "expected scopes separated by single spaces, like bot.message");
    }
    return can_send ? std::string()
                    : bad_value(in, "sending a bot message needs the scope bot.message (or bot)");
}

std::string check_option(Check check, const Input& in) {
    auto problem = [&in](const auto& parsed) {
        return parsed.value ? std::string() : bad_value(in, parsed.expected);
    };
    switch (check) {
        case Check::Text:
            return {};
        case Check::AbsolutePath:
            return problem(absolute_path_parser(Empty::Refused)(in.value));
        case Check::SecretFile:
            return check_secret_file(in.key, in.value, in.options.secret_owner_uid);
        case Check::HttpUrl:
            // Gateways are reached over verified TLS only: lwauthd's HTTP client refuses
            // anything else, so the policy says so first.
            return problem(url_parser({"https://"}, Empty::Refused)(in.value));
        case Check::SmtpUrl:
            return problem(url_parser({"smtps://", "smtp://"}, Empty::Refused)(in.value));
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

// ---- Reading files ----------------------------------------------------------------------

constexpr off_t kMaxFileSize = 1 << 20;

// The text of a policy file in the directory `dir_fd`, or the reason it cannot be had.
// A policy file decides who may administer lwauth and whether a login needs a second
// factor: it must be root's and writable by root alone, and is never reached through a
// symbolic link. The checks are made on the descriptor that is read.
std::pair<std::optional<std::string>, std::string> read_policy_file(int dir_fd,
                                                                    const std::string& name,
                                                                    const FileRule& rule) {
    OpenedFile file = open_checked(dir_fd, name, O_RDONLY, FileType::Regular, rule);
    if (!file.ok()) {
        return {std::nullopt, file.open_errno == ENOENT ? "not found" : file.problem};
    }
    if (file.st.st_size > kMaxFileSize) {
        return {std::nullopt, "too large (more than 1 MiB)"};
    }
    std::string text;
    if (int error = read_to_end(file.fd.get(), text, static_cast<size_t>(kMaxFileSize))) {
        return {std::nullopt,
                error == EFBIG ? "too large (more than 1 MiB)" : std::strerror(error)};
    }
    return {std::move(text), {}};
}

// A policy directory (DIR, DIR/lwauth.conf.d), opened for reading its entries. The
// administrator may point DIR elsewhere with a link; what it leads to is judged.
OpenedFile open_policy_directory(int dir_fd, const std::string& name, const FileRule& rule) {
    return open_checked(dir_fd, name, O_RDONLY, FileType::Directory, rule, 0, /*follow=*/true);
}

// ---- The loader -------------------------------------------------------------------------

struct Location {
    std::string file;
    int line = 0;
};

// A [channel.NAME] as written: validated once every file is read, because a drop-in may
// change a key of a channel defined earlier, and `type` may come after the other keys.
struct RawChannel {
    std::string name;
    Location header;
    std::map<std::string, Setting> settings;  // the last assignment of each key wins
};

enum class SectionKind { None, Fixed, Channel, Group, User, Invalid };

// What the reader made of one line.
struct Line {
    enum class Shape { Blank, Section, KeyValue, Malformed } shape = Shape::Blank;
    std::string_view text;  // without comments and surrounding whitespace
    std::string problem;    // for Malformed
};

// Comments start a line with '#' or ';', or follow whitespace anywhere in it (" ;", " #").
// Inline comments are handled here rather than by libinih, whose prefixes are a build
// option (Debian's build knows only ';').
Line classify_line(std::string_view raw) {
    std::string_view text = trim(raw);
    if (text.empty() || text.front() == '#' || text.front() == ';') {
        return {};
    }
    for (size_t i = 1; i < text.size(); ++i) {
        if ((text[i] == '#' || text[i] == ';') && is_space(text[i - 1])) {
            text = trim(text.substr(0, i));
            break;
        }
    }
    if (text.find('\0') != std::string_view::npos) {
        return {Line::Shape::Malformed, text, "line contains a NUL byte"};
    }
    if (text.front() == '[') {
        std::string_view name = text.substr(1, text.size() - 1);
        if (!text.ends_with(']') || text.size() < 2 ||
            name.substr(0, name.size() - 1).find_first_of("[]") != std::string_view::npos) {
            return {Line::Shape::Malformed, text, "expected a section header like [code]"};
        }
        return {Line::Shape::Section, text.substr(1, text.size() - 2), {}};
    }
    // libinih also splits at ':'; only '=' is part of lwauth.conf's syntax.
    size_t equals = text.find('=');
    if (equals == std::string_view::npos ||
        text.substr(0, equals).find(':') != std::string_view::npos) {
        return {Line::Shape::Malformed, text, "expected 'key = value' or a [section]"};
    }
    if (trim(text.substr(0, equals)).empty()) {
        return {Line::Shape::Malformed, text, "missing key name before '='"};
    }
    return {Line::Shape::KeyValue, text, {}};
}

class Loader {
  public:
    explicit Loader(const LoadOptions& options, std::filesystem::path directory = {})
        : options_(options), directory_(std::move(directory)) {}

    // A file that could not be read: it still counts for the order of diagnostics.
    void file_failed(const std::string& name, const std::string& reason) {
        files_.push_back(name);
        error({name, 0}, reason);
    }

    void parse(const std::string& name, const std::string& text) {
        files_.push_back(name);
        file_ = name;
        text_ = text;
        position_ = 0;
        line_ = 0;
        section_ = {};
        seen_.clear();
        size_t errors_before = errors_.size();

        int result = ini_parse_stream(&Loader::read_line, this, &Loader::on_key, this);
        if (pending_) {
            std::rethrow_exception(std::exchange(pending_, nullptr));
        }
        if (result == -2) {
            throw std::bad_alloc();
        }
        // The reader turns every line libinih could stumble on into a blank one, so this
        // only fires if that promise is broken; the file must not pass silently then.
        if (result != 0 && errors_.size() == errors_before) {
            error({name, std::max(result, 0)}, "cannot parse this line");
        }
    }

    LoadResult finish() {
        for (const auto& raw : channels_) {
            finish_channel(raw);
        }
        // A kind's channels are tried by `order`, then in the order they were defined.
        std::stable_sort(
            policy_.channels.begin(), policy_.channels.end(),
            [](const ChannelConfig& a, const ChannelConfig& b) { return a.order < b.order; });
        warn_outbox();
        warn_one_recipient();
        warn_slow_channels();
        check_line_login();
        check_store();
        check_directory();
        warn_unserved_kinds();

        LoadResult result;
        result.errors = sorted(std::move(errors_));
        result.warnings = sorted(std::move(warnings_));
        if (result.errors.empty()) {
            result.policy = std::move(policy_);
        }
        return result;
    }

  private:
    struct Section {
        SectionKind kind = SectionKind::None;
        std::string name;  // as written between the brackets
        size_t index = 0;  // into channels_ or policy_.overrides
    };

    // ---- libinih callbacks: C code calls these, so nothing may be thrown through it.

    static char* read_line(char* buffer, int size, void* self) noexcept {
        auto* loader = static_cast<Loader*>(self);
        try {
            return loader->next_line(buffer, static_cast<size_t>(size)) ? buffer : nullptr;
        } catch (...) {
            loader->pending_ = std::current_exception();
            return nullptr;
        }
    }

    // libinih's section argument is not used: the reader already knows the section, with
    // its header line and without libinih's 50-character truncation of names.
    static int on_key(void* self, const char* /*section*/, const char* key,
                      const char* value) noexcept {
        auto* loader = static_cast<Loader*>(self);
        try {
            loader->set(key, value);
        } catch (...) {
            loader->pending_ = std::current_exception();
        }
        return 1;  // problems are recorded as diagnostics, not reported to libinih
    }

    // Hands libinih the next line, normalized: no indentation (so libinih never treats
    // a line as the continuation of the previous value), no comments, and nothing that
    // would not fit its line buffer. One call per line, so line_ is the line libinih is
    // looking at when it calls on_key.
    bool next_line(char* buffer, size_t size) {
        if (position_ >= text_.size()) {
            return false;
        }
        if (size < 2) {  // no room for even an empty line: libinih was built oddly
            error({file_, line_ + 1}, "cannot read: libinih's line buffer is too small");
            return false;
        }
        size_t end = text_.find('\n', position_);
        if (end == std::string_view::npos) {
            end = text_.size();
        }
        std::string_view raw = text_.substr(position_, end - position_);
        position_ = end + 1;
        ++line_;
        if (line_ == 1 && raw.starts_with("\xEF\xBB\xBF")) {
            raw.remove_prefix(3);  // UTF-8 byte order mark
        }

        Line line = classify_line(raw);
        std::string_view feed;
        switch (line.shape) {
            case Line::Shape::Blank:
                break;
            case Line::Shape::Malformed:
                error(here(), line.problem);
                break;
            case Line::Shape::Section:
                open_section(line.text);
                break;
            case Line::Shape::KeyValue:
                feed = line.text;
                break;
        }
        // Room for the text, '\n' and '\0'.
        if (feed.size() + 2 > size) {
            error(here(), "line is too long (at most " + std::to_string(size - 2) +
                              " characters after removing comments and indentation)");
            feed = {};
        }
        std::copy(feed.begin(), feed.end(), buffer);
        buffer[feed.size()] = '\n';
        buffer[feed.size() + 1] = '\0';
        return true;
    }

    void open_section(std::string_view name) {
        section_ = {SectionKind::Invalid, std::string(name), 0};
        if (is_fixed_section(name)) {
            section_.kind = SectionKind::Fixed;
        } else if (name.starts_with("channel.")) {
            std::string_view channel = name.substr(8);
            if (!valid_channel_name(channel)) {
                error(here(), "bad channel name '" + std::string(channel) + "' in [" +
                                  section_.name + "]: use letters, digits, '_' and '-'");
                return;
            }
            section_.kind = SectionKind::Channel;
            section_.index = channel_index(channel);
        } else if (name.starts_with("group:") || name.starts_with("user:")) {
            bool group = name.starts_with("group:");
            std::string_view who = name.substr(group ? 6 : 5);
            if (trim(who).empty() || who != trim(who)) {
                error(here(), std::string("bad section [") + section_.name + "]: expected [" +
                                  (group ? "group" : "user") + ":NAME]");
                return;
            }
            section_.kind = group ? SectionKind::Group : SectionKind::User;
            section_.index = policy_.overrides.size();
            policy_.overrides.push_back({group ? Override::Scope::Group : Override::Scope::User,
                                         std::string(who),
                                         {},
                                         file_,
                                         line_});
        } else {
            error(here(), "unknown section [" + section_.name + "]");
        }
    }

    size_t channel_index(std::string_view name) {
        for (size_t i = 0; i < channels_.size(); ++i) {
            if (channels_[i].name == name) {
                return i;
            }
        }
        channels_.push_back({std::string(name), here(), {}});
        return channels_.size() - 1;
    }

    void set(const std::string& key, const std::string& value) {
        switch (section_.kind) {
            case SectionKind::None:
                error(here(), "key '" + key + "' is not in any section");
                return;
            case SectionKind::Invalid:
                return;  // the header was reported; its keys would only add noise
            default:
                break;
        }
        auto [first, inserted] = seen_.try_emplace({section_.name, key}, line_);
        if (!inserted) {
            error(here(), "duplicate key '" + key + "' in [" + section_.name +
                              "] (first set on line " + std::to_string(first->second) + ")");
            return;
        }
        Input in{key, value, options_};
        switch (section_.kind) {
            case SectionKind::Fixed:
                set_fixed(in);
                break;
            case SectionKind::Channel:
                channels_[section_.index].settings[key] = {key, value, file_, line_};
                break;
            case SectionKind::Group:
            case SectionKind::User:
                set_override(in);
                break;
            default:
                break;
        }
    }

    void set_fixed(const Input& in) {
        const KeySpec* spec = find_key(section_.name, in.key);
        if (spec == nullptr) {
            error(here(), "unknown key '" + std::string(in.key) + "' in [" + section_.name + "]");
            return;
        }
        Target target{policy_, policy_.base};
        if (auto problem = spec->apply(target, in); !problem.empty()) {
            error(here(), problem);
            return;
        }
        set_at_[section_.name + "." + std::string(in.key)] = here();
    }

    void set_override(const Input& in) {
        const KeySpec* spec = find_override_key(in.key);
        if (spec == nullptr) {
            error(here(), "unknown key '" + std::string(in.key) + "' in [" + section_.name +
                              "]: expected one of " + override_keys_text());
            return;
        }
        Policy scratch;
        Target target{scratch, scratch.base};
        if (auto problem = spec->apply(target, in); !problem.empty()) {
            error(here(), problem);
            return;
        }
        policy_.overrides[section_.index].settings.push_back(
            {std::string(in.key), std::string(in.value), file_, line_});
    }

    // ---- Checks once every file is read.

    void finish_channel(const RawChannel& raw) {
        // enabled = no: the channel is left out, unchecked (it may be off because it is
        // broken), so a drop-in can turn off a channel that lwauth.conf defines.
        if (auto enabled = raw.settings.find("enabled"); enabled != raw.settings.end()) {
            auto parsed = word_parser(kBoolWords)(enabled->second.value);
            if (!parsed.value) {
                error({enabled->second.file, enabled->second.line},
                      "bad value '" + enabled->second.value + "' for enabled: " + parsed.expected);
                return;
            }
            if (!*parsed.value) {
                return;
            }
        }
        auto type_setting = raw.settings.find("type");
        if (type_setting == raw.settings.end()) {
            error(raw.header,
                  "[channel." + raw.name + "] has no type; set type = " + channel_type_choices());
            return;
        }
        const Setting& type_line = type_setting->second;
        const ChannelType* type = find_channel_type(type_line.value);
        if (type == nullptr) {
            error(
                {type_line.file, type_line.line},
                "bad value '" + type_line.value + "' for type: expected " + channel_type_choices());
            return;
        }

        ChannelConfig channel;
        channel.name = raw.name;
        channel.type = type->name;
        channel.serves = type->serves_by_default;
        channel.file = raw.header.file;
        channel.line = raw.header.line;
        size_t errors_before = errors_.size();

        for (const auto& [key, setting] : raw.settings) {
            Location at{setting.file, setting.line};
            Input in{key, setting.value, options_};
            if (key == "type" || key == "enabled") {
                continue;
            }
            if (key == "order") {
                auto parsed = integer_parser(0, 100)(in.value);
                if (parsed.value) {
                    channel.order = *parsed.value;
                } else {
                    error(at, bad_value(in, parsed.expected));
                }
            } else if (key == "serves") {
                set_serves(channel, *type, in, at);
            } else if (key == "timeout") {
                auto parsed = duration_parser(1s, 2min)(in.value);
                if (parsed.value) {
                    channel.timeout = *parsed.value;
                    set_at_["channel." + channel.name + ".timeout"] = at;  // warn_slow_channels
                } else {
                    error(at, bad_value(in, parsed.expected));
                }
            } else if (const OptionSpec* option = find_channel_option(*type, key)) {
                if (setting.value.empty()) {
                    continue;  // an empty value unsets the key
                }
                if (auto problem = check_option(option->check, in); !problem.empty()) {
                    error(at, problem);
                } else {
                    channel.options[key] = setting.value;
                }
            } else if (auto owners = types_with_option(key); !owners.empty()) {
                error(at, "key '" + key + "' is not valid for channel type " +
                              std::string(type->name) + " (it is a key of " + owners + ")");
            } else {
                error(at, "unknown key '" + key + "' in [channel." + raw.name + "]");
            }
        }

        for (const auto& option : type->options) {
            std::string key(option.key);
            if (channel.options.contains(key)) {
                continue;
            }
            if (!option.default_value.empty()) {
                channel.options[key] = option.default_value;
            } else if (option.need == Need::Required && !raw.settings.contains(key)) {
                error(raw.header, "[channel." + raw.name + "]: channel type " +
                                      std::string(type->name) + " requires key '" + key + "'");
            } else if (option.need == Need::Required && raw.settings.at(key).value.empty()) {
                error({raw.settings.at(key).file, raw.settings.at(key).line},
                      "empty value for required key '" + key + "'");
            }
        }
        if (type->check != nullptr && errors_.size() == errors_before) {
            if (auto problem = type->check(channel); !problem.empty()) {
                error(raw.header, "[channel." + raw.name + "]: " + problem);
            }
        }
        policy_.channels.push_back(std::move(channel));
    }

    void set_serves(ChannelConfig& channel, const ChannelType& type, const Input& in,
                    const Location& at) {
        auto parsed = kinds_parser()(in.value);
        if (!parsed.value) {
            error(at, bad_value(in, parsed.expected));
            return;
        }
        for (Kind kind : *parsed.value) {
            if (std::find(type.can_serve.begin(), type.can_serve.end(), kind) ==
                type.can_serve.end()) {
                error(at, "channel type " + std::string(type.name) + " cannot serve " +
                              to_string(kind) + " (it serves " + kinds_text(type.can_serve) + ")");
                return;
            }
        }
        channel.serves = std::move(*parsed.value);
    }

    // Where a fixed-section key was last set, or the first file when it kept its default.
    Location set_at(const std::string& dotted_key) const {
        auto it = set_at_.find(dotted_key);
        if (it != set_at_.end()) {
            return it->second;
        }
        return {files_.empty() ? std::string() : files_.front(), 0};
    }

    // LINE login cannot work without the channel's credentials and a callback URL.
    void check_line_login() {
        std::optional<Location> enabled;
        if (policy_.base.login_with_line) {
            enabled = set_at("policy.login_with_line");
        }
        for (const auto& section : policy_.overrides) {
            for (const auto& setting : section.settings) {
                if (!enabled && setting.key == "login_with_line" && setting.value == "allowed") {
                    enabled = Location{setting.file, setting.line};
                }
            }
        }
        if (!enabled) {
            return;
        }
        std::vector<std::string> missing;
        if (policy_.line.channel_id.empty()) {
            missing.emplace_back("channel_id");
        }
        if (policy_.line.channel_secret_file.empty()) {
            missing.emplace_back("channel_secret_file");
        }
        if (policy_.line.callback_url.empty()) {
            missing.emplace_back("callback_url");
        }
        if (!missing.empty()) {
            error(*enabled,
                  "login_with_line = allowed requires " + join(missing, ", ") + " in [line]");
        }
    }

    void check_store() {
        if (policy_.store.backend == StoreBackend::Postgresql &&
            policy_.store.postgresql_conninfo_file.empty()) {
            error(set_at("store.backend"),
                  "backend = postgresql requires postgresql_conninfo_file in [store]");
        }
    }

    void check_directory() {
        const auto& directory = policy_.directory;
        if (directory.backend == DirectoryBackend::Ldap &&
            (directory.ldap_uri.empty() || directory.ldap_base.empty())) {
            error(set_at("directory.backend"),
                  "backend = ldap requires ldap_uri and ldap_base in [directory]");
        }
        if (!directory.ldap_bind_dn.empty() && directory.ldap_password_file.empty()) {
            error(set_at("directory.ldap_bind_dn"), "ldap_bind_dn requires ldap_password_file");
        }
    }

    // An outbox writes each code in clear to a file where no user receives it: for tests
    // and demos, whose policies live in temporary directories. Anywhere else it is almost
    // certainly a mistake that would keep every code from its user.
    void warn_outbox() {
        if (directory_.empty() || in_temporary_directory(directory_, options_.test_directories)) {
            return;
        }
        for (const auto& channel : policy_.channels) {
            if (channel.type == "outbox") {
                warnings_.push_back(
                    {channel.file, channel.line,
                     "[channel." + channel.name + "] is an outbox: every code it serves (" +
                         kinds_text(channel.serves) + ") is written to " + channel.option("path") +
                         " and reaches no user; use it only for tests and demos, or set "
                         "enabled = no"});
            }
        }
    }

    // A channel that may take longer than the module waits ends its logins as unavailable.
    // SMTP's whole transaction may take twice its timeout (one per reply, channels/smtp).
    void warn_slow_channels() {
        const std::chrono::seconds module_waits{bus::kModuleDefaultTimeoutSeconds};
        for (const auto& channel : policy_.channels) {
            auto longest = channel.type == "smtp" ? channel.timeout * 2 : channel.timeout;
            auto at = set_at_.find("channel." + channel.name + ".timeout");
            if (longest <= module_waits || at == set_at_.end()) {
                continue;
            }
            warnings_.push_back(
                {at->second.file, at->second.line,
                 "timeout " + format_duration(channel.timeout) +
                     (longest != channel.timeout ? " (a whole SMTP transaction: up to " +
                                                       format_duration(longest) + ")"
                                                 : std::string()) +
                     " is longer than pam_lwauth's default timeout=" +
                     std::to_string(bus::kModuleDefaultTimeoutSeconds) +
                     ": a login waiting on this channel ends as unavailable when the module "
                     "stops waiting; lower it, or raise the module's timeout="});
        }
    }

    // A messenger's user_id without {user} names one account: every user without an
    // entry in user_map_file would have their codes sent there.
    void warn_one_recipient() {
        for (const auto& channel : policy_.channels) {
            const std::string& user_id = channel.option("user_id");
            if ((channel.type == "line" || channel.type == "lineworks") && !user_id.empty() &&
                user_id.find("{user}") == std::string::npos) {
                warnings_.push_back(
                    {channel.file, channel.line,
                     "[channel." + channel.name + "] user_id names one account: every user " +
                         (channel.option("user_map_file").empty()
                              ? std::string("has their codes sent to it")
                              : std::string("missing from user_map_file has their codes sent "
                                            "to it")) +
                         "; whoever holds it can pass anyone's 2-step verification. List "
                         "each user's ID in user_map_file instead"});
            }
        }
    }

    static bool in_temporary_directory(const std::filesystem::path& dir,
                                       const std::vector<std::string>& temporary) {
        std::error_code ec;
        std::filesystem::path real = std::filesystem::weakly_canonical(dir, ec);
        std::string text = (ec ? dir : real).string() + "/";
        for (const auto& tmp : temporary) {
            if (text.starts_with(tmp)) {
                return true;
            }
        }
        return false;
    }

    // A kind that no channel serves is skipped at delivery time; usually a forgotten
    // channel, but legal (e.g. a site that sends no email). Where 2-step verification is
    // off for everyone, nothing is sent anyway.
    void warn_unserved_kinds() {
        bool two_step_somewhere = policy_.base.two_step != TwoStep::Off;
        for (const auto& section : policy_.overrides) {
            for (const auto& setting : section.settings) {
                two_step_somewhere |= setting.key == "two_step" && setting.value != "off";
            }
        }
        if (!two_step_somewhere) {
            return;
        }
        if (policy_.channels.empty()) {
            warnings_.push_back(
                {files_.empty() ? std::string() : files_.front(), 0,
                 "no delivery channel configured: lwauthd sends no code, so nobody can add a "
                 "contact or pass 2-step verification, until a [channel.NAME] section names "
                 "one (see lwauth.conf(5))"});
            return;
        }
        auto check = [this](const std::vector<Kind>& kinds, const Location& at) {
            for (Kind kind : kinds) {
                if (policy_.channels_for(kind).empty()) {
                    warnings_.push_back({at.file, at.line,
                                         std::string("no [channel.*] section serves ") +
                                             to_string(kind) + ", which channels lists"});
                }
            }
        };
        check(policy_.base.code.channels, set_at("code.channels"));
        for (const auto& section : policy_.overrides) {
            for (const auto& setting : section.settings) {
                if (setting.key == "code.channels") {
                    auto parsed = kinds_parser()(setting.value);
                    check(parsed.value.value_or(std::vector<Kind>{}), {setting.file, setting.line});
                }
            }
        }
    }

    // ---- Diagnostics.

    Location here() const { return {file_, line_}; }

    void error(const Location& at, std::string message) {
        errors_.push_back({at.file, at.line, std::move(message)});
    }

    // In the order the files were read, then by line; stable, so messages about one line
    // keep the order they were found in.
    std::vector<Diagnostic> sorted(std::vector<Diagnostic> list) const {
        auto rank = [this](const Diagnostic& d) {
            auto it = std::find(files_.begin(), files_.end(), d.file);
            return std::pair(it - files_.begin(), d.line);
        };
        std::stable_sort(list.begin(), list.end(),
                         [&rank](const auto& a, const auto& b) { return rank(a) < rank(b); });
        return list;
    }

    const LoadOptions& options_;
    std::filesystem::path directory_;  // the policy directory, when read from one
    Policy policy_;
    std::vector<RawChannel> channels_;
    std::map<std::string, Location> set_at_;  // "section.key" -> last assignment
    std::vector<std::string> files_;          // in the order read
    std::vector<Diagnostic> errors_;
    std::vector<Diagnostic> warnings_;
    std::exception_ptr pending_;  // thrown inside a callback, rethrown after libinih returns

    // The file being parsed.
    std::string file_;
    std::string_view text_;
    size_t position_ = 0;
    int line_ = 0;
    Section section_;
    std::map<std::pair<std::string, std::string>, int> seen_;  // (section, key) -> line
};

// Applies a validated override setting; it cannot fail.
void apply_setting(UserPolicy& user, const Setting& setting) {
    const KeySpec* spec = find_override_key(setting.key);
    if (spec == nullptr) {
        return;
    }
    Policy scratch;
    Target target{scratch, user};
    LoadOptions options;
    (void)spec->apply(target, {setting.key, setting.value, options});
}

}  // namespace

const char* to_string(TwoStep value) {
    return word_for(kTwoStepWords, value);
}

const char* to_string(Reauth value) {
    return word_for(kReauthWords, value);
}

const char* to_string(Contacts value) {
    return word_for(kContactsWords, value);
}

const char* to_string(Kind value) {
    return word_for(kKindWords, value);
}

const char* to_string(IdTokenAlg value) {
    return word_for(kIdTokenAlgWords, value);
}

const char* to_string(StoreBackend value) {
    return word_for(kStoreBackendWords, value);
}

const char* to_string(DirectoryBackend value) {
    return word_for(kDirectoryBackendWords, value);
}

std::string format_duration(seconds value) {
    long long count = value.count();
    for (const auto& unit : kDurationUnits) {
        if (count != 0 && count % unit.seconds == 0) {
            return std::to_string(count / unit.seconds) + unit.suffix;
        }
    }
    return std::to_string(count) + "s";
}

bool MethodLimits::allow(const std::string& service, const std::string& rhost) const {
    if (local_only && !rhost.empty()) {
        return false;
    }
    return services.empty() ||
           std::find(services.begin(), services.end(), service) != services.end();
}

std::string ChannelConfig::option(const std::string& key) const {
    auto it = options.find(key);
    return it == options.end() ? std::string() : it->second;
}

bool Policy::has_group_sections() const {
    return std::any_of(overrides.begin(), overrides.end(),
                       [](const Override& o) { return o.scope == Override::Scope::Group; });
}

UserPolicy Policy::effective_for(const std::string& user,
                                 const std::vector<std::string>& groups) const {
    UserPolicy effective = base;
    for (const auto& section : overrides) {
        if (section.scope == Override::Scope::Group &&
            std::find(groups.begin(), groups.end(), section.name) != groups.end()) {
            for (const auto& setting : section.settings) {
                apply_setting(effective, setting);
            }
        }
    }
    for (const auto& section : overrides) {
        if (section.scope == Override::Scope::User && section.name == user) {
            for (const auto& setting : section.settings) {
                apply_setting(effective, setting);
            }
        }
    }
    return effective;
}

std::vector<const ChannelConfig*> Policy::channels_for(Kind kind) const {
    std::vector<const ChannelConfig*> found;
    for (const auto& channel : channels) {
        if (std::find(channel.serves.begin(), channel.serves.end(), kind) != channel.serves.end()) {
            found.push_back(&channel);
        }
    }
    return found;
}

std::string Diagnostic::to_string() const {
    if (line == 0) {
        return file + ": " + message;
    }
    return file + ":" + std::to_string(line) + ": " + message;
}

namespace {

// load_directory, with `main_text` (when set) read in place of DIR/lwauth.conf.
LoadResult load_directory_as(const std::filesystem::path& dir,
                             const std::optional<std::string_view>& main_text,
                             const LoadOptions& options) {
    namespace fs = std::filesystem;
    Loader loader(options, dir);
    const FileRule rule{options.policy_owner_uid, 022};
    OpenedFile top = open_policy_directory(AT_FDCWD, dir.string(), rule);
    if (!top.ok()) {
        loader.file_failed(dir.string(), top.open_errno == ENOENT ? "not found" : top.problem);
        return loader.finish();
    }
    auto read = [&](int dir_fd, const fs::path& path) {
        auto [text, problem] = read_policy_file(dir_fd, path.filename().string(), rule);
        if (text) {
            loader.parse(path.string(), *text);
        } else {
            loader.file_failed(path.string(), problem);
        }
    };

    if (!main_text) {
        read(top.fd.get(), dir / "lwauth.conf");
    } else if (main_text->size() > static_cast<size_t>(kMaxFileSize)) {
        loader.file_failed((dir / "lwauth.conf").string(), "too large (more than 1 MiB)");
    } else {
        loader.parse((dir / "lwauth.conf").string(), std::string(*main_text));
    }

    const fs::path dropins = dir / "lwauth.conf.d";
    OpenedFile sub = open_policy_directory(top.fd.get(), "lwauth.conf.d", rule);
    if (!sub.ok()) {
        if (sub.open_errno != ENOENT) {
            loader.file_failed(dropins.string(), sub.problem);
        }
        return loader.finish();
    }
    // fdopendir() takes a descriptor of its own, so that `sub` still closes its one.
    int list_fd = ::fcntl(sub.fd.get(), F_DUPFD_CLOEXEC, 0);
    DIR* listing = list_fd >= 0 ? ::fdopendir(list_fd) : nullptr;
    if (listing == nullptr) {
        int error = errno;
        if (list_fd >= 0) {
            ::close(list_fd);
        }
        loader.file_failed(dropins.string(), std::string("cannot list: ") + std::strerror(error));
        return loader.finish();
    }
    std::vector<std::string> names;
    errno = 0;
    while (const struct dirent* entry = ::readdir(listing)) {
        std::string name = entry->d_name;
        // Hidden files are editors' and package managers' leftovers, as in systemd.
        if (name.ends_with(".conf") && !name.starts_with('.')) {
            names.push_back(std::move(name));
        }
        errno = 0;
    }
    int list_error = errno;
    ::closedir(listing);
    if (list_error != 0) {
        loader.file_failed(dropins.string(),
                           std::string("cannot list: ") + std::strerror(list_error));
    }
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
        read(sub.fd.get(), dropins / name);
    }
    return loader.finish();
}

}  // namespace

LoadResult load_directory(const std::filesystem::path& dir, const LoadOptions& options) {
    return load_directory_as(dir, std::nullopt, options);
}

LoadResult load_directory_with(const std::filesystem::path& dir, std::string_view main_text,
                               const LoadOptions& options) {
    return load_directory_as(dir, main_text, options);
}

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

LoadResult load_texts(const std::vector<std::pair<std::string, std::string>>& named_texts,
                      const LoadOptions& options) {
    Loader loader(options);
    for (const auto& [name, text] : named_texts) {
        loader.parse(name, text);
    }
    return loader.finish();
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

std::string describe(const UserPolicy& user, const Policy& policy) {
    std::string out;
    auto section = [&out](std::string_view name) {
        if (!out.empty()) {
            out += '\n';
        }
        out += "[" + std::string(name) + "]\n";
    };
    auto line = [&out](std::string_view key, const std::string& value) {
        out += std::string(key) + (value.empty() ? " =" : " = " + value) + "\n";
    };
    auto allowed = [](bool value) { return std::string(word_for(kAllowedWords, value)); };

    section("policy");
    line("two_step", to_string(user.two_step));
    line("contacts", to_string(policy.contacts));
    line("self_service_reauth", to_string(user.self_service_reauth));
    line("admin_group", policy.admin_group);
    line("admin_contact", policy.admin_contact);
    line("login_with_phone", allowed(user.login_with_phone));
    line("login_with_line", allowed(user.login_with_line));
    line("quick_login", allowed(user.quick_login));
    line("totp", allowed(user.totp));
    line("enroll_grace", format_duration(user.enroll_grace));
    line("remember_host", format_duration(user.remember_host));

    const CodePolicy& code = user.code;
    section("code");
    line("length", std::to_string(code.length));
    line("lifetime", format_duration(code.lifetime));
    line("tries", std::to_string(code.tries));
    line("resend_interval", format_duration(code.resend_interval));
    line("max_sends_per_hour", std::to_string(code.max_sends_per_hour));
    line("max_sends_per_destination_per_hour",
         std::to_string(code.max_sends_per_destination_per_hour));
    line("max_sends_per_host_per_hour", std::to_string(code.max_sends_per_host_per_hour));
    line("max_passwordless_sends_per_hour", std::to_string(code.max_passwordless_sends_per_hour));
    line("max_passwordless_sends_per_rhost_per_hour",
         std::to_string(code.max_passwordless_sends_per_rhost_per_hour));
    line("channels", kinds_text(code.channels));
    line("sms_country_prefixes", join(code.sms_country_prefixes, ", "));
    for (Kind kind : code.channels) {
        std::vector<std::string> names;
        for (const ChannelConfig* channel : policy.channels_for(kind)) {
            names.push_back(channel->name);
        }
        out += std::string("# ") + to_string(kind) +
               " is delivered by: " + (names.empty() ? "no channel" : join(names, ", ")) + "\n";
    }

    section("lockout");
    line("max_failures", std::to_string(user.lockout.max_failures));
    line("duration", format_duration(user.lockout.duration));
    line("passwordless_max_failures", std::to_string(user.lockout.passwordless_max_failures));
    line("passwordless_duration", format_duration(user.lockout.passwordless_duration));

    section("login");
    line("timeout", format_duration(policy.login_timeout));
    line("phone_local_only", word_for(kBoolWords, policy.phone_login.local_only));
    line("phone_services", join(policy.phone_login.services, ", "));

    section("quick_login");
    line("pin_min_length", std::to_string(policy.quick_login.pin_min_length));
    line("pin_max_age", format_duration(policy.quick_login.pin_max_age));
    line("fingerprint", allowed(policy.quick_login.fingerprint));
    line("local_only", word_for(kBoolWords, policy.quick_login.local_only));

    section("totp");
    line("issuer", policy.totp.issuer);
    line("digits", std::to_string(policy.totp.digits));
    line("period", format_duration(policy.totp.period));
    return out;
}

}  // namespace lwauth::policy
