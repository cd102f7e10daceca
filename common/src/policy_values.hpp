// The words and values of lwauth.conf: the words each setting takes, the small text jobs
// of the loader, and the value parsers that turn a value's text into a typed value.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lwauth/policy.hpp"
#include "lwauth/result.hpp"

namespace lwauth::policy::detail {

// ---- Words ------------------------------------------------------------------------------

template <class T>
struct Word {
    std::string_view text;
    T value;
};

inline constexpr Word<TwoStep> kTwoStepWords[] = {
    {"off", TwoStep::Off}, {"optional", TwoStep::Optional}, {"required", TwoStep::Required}};
inline constexpr Word<Reauth> kReauthWords[] = {{"code", Reauth::Code}, {"none", Reauth::None}};
inline constexpr Word<Language> kLanguageWords[] = {{"en", Language::En}, {"ja", Language::Ja}};
inline constexpr Word<Contacts> kContactsWords[] = {{"self", Contacts::Self},
                                                    {"admin", Contacts::Admin}};
inline constexpr Word<Kind> kKindWords[] = {
    {"sms", Kind::Sms}, {"email", Kind::Email}, {"notification", Kind::Notification}};
inline constexpr Word<IdTokenAlg> kIdTokenAlgWords[] = {{"HS256", IdTokenAlg::Hs256},
                                                        {"ES256", IdTokenAlg::Es256}};
inline constexpr Word<TotpAlgorithm> kTotpAlgorithmWords[] = {{"SHA1", TotpAlgorithm::Sha1},
                                                              {"SHA256", TotpAlgorithm::Sha256},
                                                              {"SHA512", TotpAlgorithm::Sha512}};
inline constexpr Word<SecondFactor> kSecondFactorWords[] = {{"totp", SecondFactor::Totp},
                                                            {"code", SecondFactor::Code},
                                                            {"recovery", SecondFactor::Recovery}};
inline constexpr Word<StoreBackend> kStoreBackendWords[] = {
    {"sqlite", StoreBackend::Sqlite}, {"postgresql", StoreBackend::Postgresql}};
inline constexpr Word<DirectoryBackend> kDirectoryBackendWords[] = {
    {"none", DirectoryBackend::None},
    {"ldap", DirectoryBackend::Ldap},
    {"lineworks", DirectoryBackend::Lineworks}};
inline constexpr Word<bool> kAllowedWords[] = {{"allowed", true}, {"disabled", false}};
// The first word for each value is the one describe() prints.
inline constexpr Word<bool> kBoolWords[] = {{"yes", true},    {"no", false}, {"true", true},
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
std::string join_choices(const std::vector<std::string_view>& items);

template <class T, size_t N>
std::string word_choices(const Word<T> (&words)[N]) {
    std::vector<std::string_view> texts;
    for (const auto& word : words) {
        texts.push_back(word.text);
    }
    return join_choices(texts);
}

std::string join(const std::vector<std::string>& items, std::string_view separator);

std::string kinds_text(const std::vector<Kind>& kinds);
std::string second_factors_text(const std::vector<SecondFactor>& factors);

// ---- Text helpers -----------------------------------------------------------------------

bool is_space(char c);

bool has_space(std::string_view text);

// The trimmed items of a comma-separated list; none for an empty text.
std::vector<std::string_view> split_list(std::string_view text);

// ---- Value parsers ----------------------------------------------------------------------
//
// A parser turns the text of a value into a typed value, or an Error (BadPolicy) whose
// message says what it expected ("expected an integer from 6 to 10").

template <class T>
Result<T> reject(const std::string& expected) {
    return Result<T>::failure(Errc::BadPolicy, expected);
}

template <class T, size_t N>
auto word_parser(const Word<T> (&words)[N]) {
    return [&words](std::string_view text) -> Result<T> {
        for (const auto& word : words) {
            if (word.text == text) {
                return word.value;
            }
        }
        return reject<T>("expected " + word_choices(words));
    };
}

template <class T>
using Parser = std::function<Result<T>(std::string_view)>;

std::optional<long long> parse_integer(std::string_view text);

// `note` says why the range is what it is, when that is not obvious.
Parser<int> integer_parser(int min, int max, std::string note = {});

Parser<int> integer_choice_parser(std::vector<int> choices);

// As integer_parser, with an empty value read as 0: a default that other keys decide.
Parser<int> optional_integer_parser(int min, int max, std::string note = {});

// `note` says why the range is what it is, when that is not obvious.
Parser<std::chrono::seconds> duration_parser(std::chrono::seconds min, std::chrono::seconds max,
                                             std::string note = {});

// As duration_parser from 0s to `max`, with an empty value read as 0s (none).
Parser<std::chrono::seconds> optional_duration_parser(std::chrono::seconds max);
// A memory size in KiB, written with a binary unit: 19M (MiB), 19456K (KiB), 1G (GiB).
Parser<int> size_kib_parser(int min_kib, int max_kib);
// A size in KiB the way size_kib_parser reads it, in the largest unit that divides it.
std::string format_size_kib(int kib);

// A list of kinds, each at most once.
Parser<std::vector<Kind>> kinds_parser();
// A list of second factors, each at most once.
Parser<std::vector<SecondFactor>> second_factors_parser();

// A list of PAM service names (sshd, login, gdm-password...); empty means any service.
Parser<std::vector<std::string>> services_parser();

// A list of "+<digits>" (E.164 allows at most 15 digits); empty means no restriction.
Parser<std::vector<std::string>> prefixes_parser();

enum class Empty { Allowed, Refused };

Parser<std::string> text_parser(Empty empty);

// A URL with one of the given schemes ("https://"), no spaces and something after the
// scheme. Only the shape is checked; libcurl and the servers judge the rest.
Parser<std::string> url_parser(std::vector<std::string_view> schemes, Empty empty);

// The host of a URL ("example.com", "[::1]"), without user name or port.
std::string_view url_host(std::string_view url);

// localhost, [::1] or an address of 127.0.0.0/8.
bool is_loopback_host(std::string_view host);

// Whether the host of a host:port (host_port_parser's shape) is a loopback host.
bool is_loopback_listen(std::string_view host_port);

// An https:// URL; an http:// one only to a loopback host (the tests' fakes on this host).
Parser<std::string> https_url_parser(Empty empty);

// As https_url_parser, empty allowed, without '?' or '#' (paths are appended to it).
Parser<std::string> base_url_parser();

// Decimal digits only, at most `max_length` of them (a LINE channel ID).
Parser<std::string> digits_parser(Empty empty, size_t max_length);

// Any "scheme://rest" URL (proxies may be http://, https://, socks5://...).
Parser<std::string> any_url_parser();

Parser<std::string> absolute_path_parser(Empty empty);

Parser<std::string> host_port_parser();

}  // namespace lwauth::policy::detail
