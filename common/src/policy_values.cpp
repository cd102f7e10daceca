// The value parsers of lwauth.conf, and the words the policy prints its values with.
#include "policy_values.hpp"

#include <algorithm>
#include <charconv>
#include <system_error>

#include "lwauth/text.hpp"

namespace lwauth::policy::detail {

using std::chrono::seconds;

namespace {

struct DurationUnit {
    char suffix;
    long long seconds;
};
constexpr DurationUnit kDurationUnits[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};

constexpr const char* kDurationShape = "expected a duration like 30s, 5m, 2h or 30d";

// Memory sizes in binary units, counted in KiB (Argon2's m).
struct SizeUnit {
    char suffix;
    long long kib;
};
constexpr SizeUnit kSizeUnits[] = {{'G', 1024 * 1024}, {'M', 1024}, {'K', 1}};

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

}  // namespace

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

std::string second_factors_text(const std::vector<SecondFactor>& factors) {
    std::vector<std::string> words;
    for (SecondFactor factor : factors) {
        words.emplace_back(to_string(factor));
    }
    return join(words, ", ");
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

std::optional<long long> parse_integer(std::string_view text) {
    long long value = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc{} || ptr != end || text.empty()) {
        return std::nullopt;
    }
    return value;
}

Parser<int> integer_parser(int min, int max, std::string note) {
    return [min, max, note = std::move(note)](std::string_view text) -> Result<int> {
        auto value = parse_integer(text);
        if (!value || *value < min || *value > max) {
            return reject<int>("expected an integer from " + std::to_string(min) + " to " +
                               std::to_string(max) + note);
        }
        return static_cast<int>(*value);
    };
}

Parser<int> optional_integer_parser(int min, int max, std::string note) {
    return [bounded = integer_parser(min, max, std::move(note))](std::string_view text) {
        return text.empty() ? Result<int>(0) : bounded(text);
    };
}

Parser<int> integer_choice_parser(std::vector<int> choices) {
    return [choices = std::move(choices)](std::string_view text) -> Result<int> {
        auto value = parse_integer(text);
        if (value && std::find(choices.begin(), choices.end(), *value) != choices.end()) {
            return static_cast<int>(*value);
        }
        std::vector<std::string> words;
        for (int choice : choices) {
            words.push_back(std::to_string(choice));
        }
        std::vector<std::string_view> views(words.begin(), words.end());
        return reject<int>("expected " + join_choices(views));
    };
}

// `note` says why the range is what it is, when that is not obvious.
Parser<seconds> duration_parser(seconds min, seconds max, std::string note) {
    return [min, max, note = std::move(note)](std::string_view text) -> Result<seconds> {
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
        return value;
    };
}

// As duration_parser from 0s, with an empty value read as 0s (none).
Parser<seconds> optional_duration_parser(seconds max) {
    return [bounded = duration_parser(seconds{0}, max)](std::string_view text) -> Result<seconds> {
        if (text.empty()) {
            return seconds{0};
        }
        return bounded(text);
    };
}

Parser<int> size_kib_parser(int min_kib, int max_kib) {
    return [min_kib, max_kib](std::string_view text) -> Result<int> {
        std::string expected = "expected a size like 19M, 19456K or 1G from " +
                               format_size_kib(min_kib) + " to " + format_size_kib(max_kib);
        const SizeUnit* unit = nullptr;
        for (const auto& candidate : kSizeUnits) {
            if (!text.empty() && text.back() == candidate.suffix) {
                unit = &candidate;
            }
        }
        auto count = unit == nullptr ? std::nullopt : parse_integer(text.substr(0, text.size() - 1));
        if (!count || *count > max_kib / unit->kib || *count * unit->kib < min_kib) {
            return reject<int>(expected);
        }
        return static_cast<int>(*count * unit->kib);
    };
}

std::string format_size_kib(int kib) {
    for (const auto& unit : kSizeUnits) {
        if (kib != 0 && kib % unit.kib == 0) {
            return std::to_string(kib / unit.kib) + unit.suffix;
        }
    }
    return std::to_string(kib) + "K";
}

// A list of kinds, each at most once.
namespace {

// A list of words of `list`, each at most once.
template <class T, size_t N>
Parser<std::vector<T>> word_list_parser(const Word<T> (&list)[N]) {
    return [&list](std::string_view text) -> Result<std::vector<T>> {
        using Items = std::vector<T>;
        std::string expected = "expected a list of " + word_choices(list);
        auto items = split_list(text);
        if (items.empty()) {
            return reject<Items>(expected);
        }
        Items values;
        for (auto item : items) {
            if (item.empty()) {
                return reject<Items>("empty item in list; " + expected);
            }
            auto parsed = word_parser(list)(item);
            if (!parsed) {
                return reject<Items>("unknown item '" + std::string(item) + "'; " + expected);
            }
            if (std::find(values.begin(), values.end(), *parsed) != values.end()) {
                return reject<Items>("'" + std::string(item) + "' is listed twice");
            }
            values.push_back(*parsed);
        }
        return values;
    };
}

}  // namespace

Parser<std::vector<Kind>> kinds_parser() {
    return word_list_parser(kKindWords);
}

Parser<std::vector<SecondFactor>> second_factors_parser() {
    return word_list_parser(kSecondFactorWords);
}

// A list of PAM service names (sshd, login, gdm-password...); empty means any service.
Parser<std::vector<std::string>> services_parser() {
    return [](std::string_view text) -> Result<std::vector<std::string>> {
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
        return names;
    };
}

// A list of "+<digits>" (E.164 allows at most 15 digits); empty means no restriction.
Parser<std::vector<std::string>> prefixes_parser() {
    return [](std::string_view text) -> Result<std::vector<std::string>> {
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
        return prefixes;
    };
}

Parser<std::string> text_parser(Empty empty) {
    return [empty](std::string_view text) -> Result<std::string> {
        if (text.empty() && empty == Empty::Refused) {
            return reject<std::string>("expected a non-empty value");
        }
        return std::string(text);
    };
}

// A URL with one of the given schemes ("https://"), no spaces and something after the
// scheme. Only the shape is checked; libcurl and the servers judge the rest.
Parser<std::string> url_parser(std::vector<std::string_view> schemes, Empty empty) {
    return [schemes = std::move(schemes), empty](std::string_view text) -> Result<std::string> {
        if (text.empty() && empty == Empty::Allowed) {
            return std::string();
        }
        for (auto scheme : schemes) {
            if (text.starts_with(scheme) && text.size() > scheme.size() && !has_space(text)) {
                return std::string(text);
            }
        }
        return reject<std::string>("expected a URL starting with " + join_choices(schemes));
    };
}

// The host of a URL's authority ("[::1]" with its brackets), without user or port.
std::string_view url_host(std::string_view url) {
    size_t sep = url.find("://");
    std::string_view authority = sep == std::string_view::npos ? url : url.substr(sep + 3);
    authority = authority.substr(0, authority.find_first_of("/?#"));
    if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
        authority.remove_prefix(at + 1);
    }
    if (authority.starts_with('[')) {
        return authority.substr(0, authority.find(']') + 1);
    }
    return authority.substr(0, authority.find(':'));
}

bool is_loopback_host(std::string_view host) {
    if (host == "localhost" || host == "[::1]") {
        return true;
    }
    // 127.0.0.0/8, written as four decimal numbers.
    if (!host.starts_with("127.") || host.ends_with('.') ||
        std::count(host.begin(), host.end(), '.') != 3) {
        return false;
    }
    while (!host.empty()) {
        std::string_view part = host.substr(0, host.find('.'));
        auto number = parse_integer(part);
        if (part.empty() || part.size() > 3 || !number || *number < 0 || *number > 255) {
            return false;
        }
        host.remove_prefix(std::min(part.size() + 1, host.size()));
    }
    return true;
}

bool is_loopback_listen(std::string_view host_port) {
    return is_loopback_host(host_port.substr(0, host_port.rfind(':')));
}

// https:// anywhere; http:// only to this host itself (the tests' fakes).
Parser<std::string> https_url_parser(Empty empty) {
    return [empty](std::string_view text) -> Result<std::string> {
        auto shaped = url_parser({"https://", "http://"}, empty)(text);
        if (!shaped || (text.starts_with("http://") && !is_loopback_host(url_host(text)))) {
            return reject<std::string>(
                "expected a URL starting with https:// (http:// only to a loopback host: "
                "127.0.0.1, [::1] or localhost)");
        }
        return shaped;
    };
}

// A base that paths are appended to: an https URL (see above) without query or fragment.
Parser<std::string> base_url_parser() {
    return
        [https = https_url_parser(Empty::Allowed)](std::string_view text) -> Result<std::string> {
            auto parsed = https(text);
            if (parsed && text.find_first_of("?#") != std::string_view::npos) {
                return reject<std::string>("expected a base URL, without '?' or '#'");
            }
            return parsed;
        };
}

Parser<std::string> digits_parser(Empty empty, size_t max_length) {
    return [empty, max_length](std::string_view text) -> Result<std::string> {
        if (text.empty() && empty == Empty::Allowed) {
            return std::string();
        }
        if (text.empty() || text.size() > max_length ||
            !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
            return reject<std::string>("expected up to " + std::to_string(max_length) + " digits");
        }
        return std::string(text);
    };
}

// Any "scheme://rest" URL (proxies may be http://, https://, socks5://...).
Parser<std::string> any_url_parser() {
    return [](std::string_view text) -> Result<std::string> {
        size_t sep = text.find("://");
        if (sep == std::string_view::npos || sep == 0 || sep + 3 == text.size() ||
            has_space(text)) {
            return reject<std::string>("expected a URL like http://proxy.example.com:3128");
        }
        return std::string(text);
    };
}

Parser<std::string> absolute_path_parser(Empty empty) {
    return [empty](std::string_view text) -> Result<std::string> {
        if (text.empty() && empty == Empty::Allowed) {
            return std::string();
        }
        if (!text.starts_with('/')) {
            return reject<std::string>("expected an absolute path");
        }
        return std::string(text);
    };
}

Parser<std::string> host_port_parser() {
    return [](std::string_view text) -> Result<std::string> {
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
        return std::string(text);
    };
}

}  // namespace lwauth::policy::detail

namespace lwauth::policy {

using namespace detail;

std::string LinePolicy::redirect_uri() const {
    std::string_view base = public_url;
    while (base.ends_with('/')) {
        base.remove_suffix(1);
    }
    return std::string(base) + std::string(kLineCallbackPath);
}

int LinePolicy::connections_per_address_limit() const {
    if (connections_per_address > 0) {
        return connections_per_address;
    }
    // On loopback every peer is the site's TLS proxy, which keeps per-client limits of its
    // own: its one address stands for every phone.
    return is_loopback_listen(listen) ? kMaxConnections : kDefaultConnectionsPerAddress;
}

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

const char* to_string(TotpAlgorithm value) {
    return word_for(kTotpAlgorithmWords, value);
}

const char* to_string(SecondFactor value) {
    return word_for(kSecondFactorWords, value);
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

}  // namespace lwauth::policy
