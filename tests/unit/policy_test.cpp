#include "lwauth/policy.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <variant>

#ifndef LWAUTH_SOURCE_DIR
#define LWAUTH_SOURCE_DIR "."
#endif

namespace lwauth::policy {

// Failures show policies in lwauth.conf syntax rather than as bytes.
void PrintTo(const UserPolicy& user, std::ostream* out) {
    *out << "\n" << describe(user, Policy{});
}

void PrintTo(const Policy& policy, std::ostream* out) {
    *out << "\n"
         << describe(policy.base, policy) << policy.channels.size() << " channel(s), "
         << policy.overrides.size() << " override section(s)\n";
}

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

LoadResult load(const std::string& text, const LoadOptions& options = {}) {
    return load_texts({{"lwauth.conf", text}}, options);
}

std::vector<std::string> messages(const std::vector<Diagnostic>& diagnostics) {
    std::vector<std::string> out;
    for (const auto& diagnostic : diagnostics) {
        out.push_back(diagnostic.to_string());
    }
    return out;
}

std::string all_errors(const LoadResult& result) {
    std::string out;
    for (const auto& line : messages(result.errors)) {
        out += line + "\n";
    }
    return out;
}

// The policy, failing the test with every error when there is none.
Policy loaded(const std::string& text, const LoadOptions& options = {}) {
    auto result = load(text, options);
    EXPECT_TRUE(result.errors.empty()) << all_errors(result);
    return result.policy.value_or(Policy{});
}

// The one error a text produces.
std::string only_error(const std::string& text, const LoadOptions& options = {}) {
    auto result = load(text, options);
    EXPECT_EQ(result.errors.size(), 1u) << all_errors(result);
    EXPECT_FALSE(result.policy.has_value());
    return result.errors.empty() ? std::string() : result.errors.front().to_string();
}

class TempDir {
  public:
    TempDir() {
        std::string pattern = (fs::temp_directory_path() / "lwauth-policy-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    [[nodiscard]] const fs::path& path() const { return path_; }

    fs::path write(const std::string& relative, const std::string& text, mode_t mode = 0600) const {
        fs::path file = path_ / relative;
        fs::create_directories(file.parent_path());
        std::ofstream(file) << text;
        ::chmod(file.c_str(), mode);
        return file;
    }

  private:
    fs::path path_;
};

// Policy files of this process's user, secrets read as lwauthd running as it would.
LoadOptions owned_by_me() {
    LoadOptions options;
    options.secret_reader = this_process_reader();
    options.policy_owner_uid = ::geteuid();
    return options;
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// ---- Basics -----------------------------------------------------------------------------

TEST(PolicyLoad, EmptyFileGivesBuiltInDefaults) {
    auto result = load("");
    ASSERT_TRUE(result.errors.empty()) << all_errors(result);
    ASSERT_TRUE(result.policy.has_value());
    EXPECT_EQ(*result.policy, Policy{});
    EXPECT_EQ(result.policy->base.code.lifetime, 5min);
    EXPECT_EQ(result.policy->base.lockout.duration, 15min);
}

TEST(PolicyLoad, ReadsEveryFixedSection) {
    Policy policy = loaded(R"([policy]
two_step = required
contacts = admin
admin_group = wheel
admin_contact = the IT desk, extension 1234
login_with_phone = allowed
totp = allowed

[code]
length = 8
lifetime = 2m
tries = 5
resend_interval = 0s
max_sends_per_hour = 10
max_sends_per_destination_per_hour = 4
max_sends_per_host_per_hour = 100000
channels = email, notification, sms
sms_country_prefixes = +81, +1

[lockout]
max_failures = 10
duration = 1h

[login]
timeout = 1h

[quick_login]
pin = allowed
fingerprint = allowed
pin_min_length = 8
max_failures = 3
lifetime = 7d
remote = yes
argon2_memory = 64M
argon2_time = 3
argon2_parallelism = 2

[totp]
issuer = Example Corp
digits = 8
period = 1m

[line]
channel_id = 1234567890
public_url = https://login.example.com/lwauth/
listen = [::1]:9000
id_token_alg = ES256
link_lifetime = 90s
max_age = 10m

[store]
backend = sqlite
path = /srv/lwauth/state.db

[directory]
backend = ldap
ldap_uri = ldaps://ldap.example.com
ldap_base = dc=example,dc=com
phone_attribute = telephoneNumber
)");
    EXPECT_EQ(policy.base.two_step, TwoStep::Required);
    EXPECT_EQ(policy.contacts, Contacts::Admin);
    EXPECT_EQ(policy.admin_group, "wheel");
    EXPECT_EQ(policy.admin_contact, "the IT desk, extension 1234");
    EXPECT_TRUE(policy.base.login_with_phone);
    EXPECT_FALSE(policy.base.login_with_line);
    EXPECT_TRUE(policy.base.totp);
    EXPECT_EQ(policy.base.code.length, 8);
    EXPECT_EQ(policy.base.code.lifetime, 2min);
    EXPECT_EQ(policy.base.code.tries, 5);
    EXPECT_EQ(policy.base.code.resend_interval, 0s);
    EXPECT_EQ(policy.base.code.max_sends_per_hour, 10);
    EXPECT_EQ(policy.base.code.max_sends_per_destination_per_hour, 4);
    EXPECT_EQ(policy.base.code.max_sends_per_host_per_hour, 100000);
    EXPECT_EQ(policy.base.code.channels,
              (std::vector<Kind>{Kind::Email, Kind::Notification, Kind::Sms}));
    EXPECT_EQ(policy.base.code.sms_country_prefixes, (std::vector<std::string>{"+81", "+1"}));
    EXPECT_EQ(policy.base.lockout.max_failures, 10);
    EXPECT_EQ(policy.base.lockout.duration, 1h);
    EXPECT_EQ(policy.login_timeout, 1h);
    EXPECT_TRUE(policy.base.quick_login.pin);
    EXPECT_TRUE(policy.base.quick_login.fingerprint);
    EXPECT_EQ(policy.base.quick_login.pin_min_length, 8);
    EXPECT_EQ(policy.base.quick_login.max_failures, 3);
    EXPECT_EQ(policy.base.quick_login.lifetime, 7 * 24h);
    EXPECT_TRUE(policy.base.quick_login.remote);
    EXPECT_EQ(policy.argon2, (Argon2Params{64 * 1024, 3, 2}));
    EXPECT_EQ(policy.totp.issuer, "Example Corp");
    EXPECT_EQ(policy.totp.digits, 8);
    EXPECT_EQ(policy.totp.period, 1min);
    EXPECT_EQ(policy.line.channel_id, "1234567890");
    EXPECT_EQ(policy.line.public_url, "https://login.example.com/lwauth/");
    EXPECT_EQ(policy.line.listen, "[::1]:9000");
    EXPECT_EQ(policy.line.id_token_alg, IdTokenAlg::Es256);
    EXPECT_EQ(policy.line.jwks_url, "https://api.line.me/oauth2/v2.1/certs");
    EXPECT_EQ(policy.line.link_lifetime, 90s);
    EXPECT_EQ(policy.line.max_age, 10min);
    EXPECT_EQ(policy.store.path, "/srv/lwauth/state.db");
    EXPECT_EQ(policy.directory.backend, DirectoryBackend::Ldap);
    EXPECT_EQ(policy.directory.ldap_base, "dc=example,dc=com");
    EXPECT_EQ(policy.directory.phone_attribute, "telephoneNumber");
    EXPECT_EQ(policy.directory.email_attribute, "mail");
}

TEST(PolicyLoad, DiagnosticWithoutLineOmitsIt) {
    EXPECT_EQ((Diagnostic{"/etc/lwauth/lwauth.conf", 0, "not found"}).to_string(),
              "/etc/lwauth/lwauth.conf: not found");
    EXPECT_EQ((Diagnostic{"a.conf", 7, "oops"}).to_string(), "a.conf:7: oops");
}

TEST(PolicyLoad, NamesValuesWithTheWordsOfTheFile) {
    EXPECT_STREQ(to_string(TwoStep::Optional), "optional");
    EXPECT_STREQ(to_string(Contacts::Admin), "admin");
    EXPECT_STREQ(to_string(Kind::Notification), "notification");
    EXPECT_STREQ(to_string(IdTokenAlg::Hs256), "HS256");
    EXPECT_STREQ(to_string(StoreBackend::Postgresql), "postgresql");
    EXPECT_STREQ(to_string(DirectoryBackend::Lineworks), "lineworks");
}

TEST(PolicyLoad, FormatsDurationsWithTheLargestExactUnit) {
    EXPECT_EQ(format_duration(0s), "0s");
    EXPECT_EQ(format_duration(90s), "90s");
    EXPECT_EQ(format_duration(15min), "15m");
    EXPECT_EQ(format_duration(2h), "2h");
    EXPECT_EQ(format_duration(30 * 24h), "30d");
    EXPECT_EQ(format_duration(25h), "25h");
}

// ---- Syntax -----------------------------------------------------------------------------

TEST(PolicySyntax, ReportsUnknownSectionWithFileAndLine) {
    // Keys of an unknown section are not reported again.
    EXPECT_EQ(only_error("[policy]\n\n[bogus]\nfoo = 1\nbar = 2\n"),
              "lwauth.conf:3: unknown section [bogus]");
}

TEST(PolicySyntax, ReportsUnknownKeyWithFileAndLine) {
    EXPECT_EQ(only_error("[code]\nlength = 6\nfoo = 1\n"),
              "lwauth.conf:3: unknown key 'foo' in [code]");
}

TEST(PolicySyntax, RejectsKeyOutsideAnySection) {
    EXPECT_EQ(only_error("two_step = required\n"),
              "lwauth.conf:1: key 'two_step' is not in any section");
}

TEST(PolicySyntax, RejectsMalformedLines) {
    EXPECT_EQ(only_error("[code]\njust some words\n"),
              "lwauth.conf:2: expected 'key = value' or a [section]");
    EXPECT_EQ(only_error("[code\n"), "lwauth.conf:1: expected a section header like [code]");
    EXPECT_EQ(only_error("[code]\nlength: 6\n"),
              "lwauth.conf:2: expected 'key = value' or a [section]");
    EXPECT_EQ(only_error("[code]\n= 6\n"), "lwauth.conf:2: missing key name before '='");
}

TEST(PolicySyntax, DuplicateKeyInOneFileIsAnError) {
    EXPECT_EQ(only_error("[code]\nlength = 6\ntries = 2\nlength = 7\n"),
              "lwauth.conf:4: duplicate key 'length' in [code] (first set on line 2)");
    // Also when the section is opened twice in the file.
    EXPECT_EQ(only_error("[code]\nlength = 6\n[lockout]\n[code]\nlength = 7\n"),
              "lwauth.conf:5: duplicate key 'length' in [code] (first set on line 2)");
}

TEST(PolicySyntax, AcceptsCommentsAtLineStartAndAfterWhitespace) {
    Policy policy = loaded(
        "# a comment\n; another\n[code] # section comment\nlength = 8 ; why eight\n"
        "tries = 2 # two\n[totp]\nissuer = Example;Corp#1\n");
    EXPECT_EQ(policy.base.code.length, 8);
    EXPECT_EQ(policy.base.code.tries, 2);
    EXPECT_EQ(policy.totp.issuer, "Example;Corp#1");  // no whitespace before: not comments
}

TEST(PolicySyntax, IndentedLinesAreReadAsTheirOwnKeys) {
    auto result = load("[code]\nlength = 8\n    tries = 2\n  bogus = 1\n");
    EXPECT_EQ(messages(result.errors),
              (std::vector<std::string>{"lwauth.conf:4: unknown key 'bogus' in [code]"}));
}

TEST(PolicySyntax, CountsLinesWithCrLfAndByteOrderMark) {
    EXPECT_EQ(only_error("\xEF\xBB\xBF[code]\r\nlength = 8\r\n\r\ntries = 0\r\n"),
              "lwauth.conf:4: bad value '0' for tries: expected an integer from 1 to 10");
}

TEST(PolicySyntax, RejectsOverlongLineWithoutLosingCount) {
    std::string text = "[totp]\nissuer = " + std::string(400, 'x') + "\n[code]\nlength = 99\n";
    auto result = load(text);
    ASSERT_EQ(result.errors.size(), 2u) << all_errors(result);
    EXPECT_EQ(result.errors[0].line, 2);
    EXPECT_NE(result.errors[0].message.find("line is too long"), std::string::npos);
    EXPECT_EQ(result.errors[1].to_string(),
              "lwauth.conf:4: bad value '99' for length: expected an integer from 6 to 10");
}

TEST(PolicySyntax, RejectsLongSectionNameWithoutTruncatingIt) {
    std::string name(60, 'a');
    EXPECT_EQ(only_error("[" + name + "]\nx = 1\n"),
              "lwauth.conf:1: unknown section [" + name + "]");
}

TEST(PolicySyntax, ReportsSeveralErrorsAtOnceWithFileAndLine) {
    auto result = load_texts({
        {"/etc/lwauth/lwauth.conf",
         "[policy]\n"
         "two_step = sometimes\n"  // 2
         "[code]\n"
         "length = 5\n"      // 4
         "lifetime = 300\n"  // 5
         "[bogus]\n"         // 6
         "[channel.sms]\n"   // 7
         "from = +15005550006\n"},
        {"/etc/lwauth/lwauth.conf.d/10-site.conf",
         "[lockout]\n"
         "\n"
         "max_failures = 0\n"  // 3
         "colour = blue\n"},   // 4
    });
    EXPECT_FALSE(result.policy.has_value());
    EXPECT_EQ(
        messages(result.errors),
        (std::vector<std::string>{
            "/etc/lwauth/lwauth.conf:2: bad value 'sometimes' for two_step: expected off, "
            "optional or required",
            "/etc/lwauth/lwauth.conf:4: bad value '5' for length: expected an integer from 6 to 10",
            "/etc/lwauth/lwauth.conf:5: bad value '300' for lifetime: expected a duration like "
            "30s, 5m, 2h or 30d",
            "/etc/lwauth/lwauth.conf:6: unknown section [bogus]",
            "/etc/lwauth/lwauth.conf:7: [channel.sms] has no type; set type = outbox, twilio, "
            "vonage, webhook, smtp, lineworks or line",
            "/etc/lwauth/lwauth.conf.d/10-site.conf:3: bad value '0' for max_failures: expected "
            "an integer from 1 to 1000",
            "/etc/lwauth/lwauth.conf.d/10-site.conf:4: unknown key 'colour' in [lockout]",
        }));
}

// ---- Values -----------------------------------------------------------------------------

TEST(PolicyValues, RejectsBadEnumListingAcceptedValues) {
    EXPECT_EQ(only_error("[policy]\ntwo_step = sometimes\n"),
              "lwauth.conf:2: bad value 'sometimes' for two_step: expected off, optional or "
              "required");
    EXPECT_EQ(only_error("[policy]\ntotp = yes\n"),
              "lwauth.conf:2: bad value 'yes' for totp: expected allowed or disabled");
}

TEST(PolicyValues, EnumWordsAreExactAndLowerCase) {
    EXPECT_EQ(only_error("[policy]\ntwo_step = Required\n"),
              "lwauth.conf:2: bad value 'Required' for two_step: expected off, optional or "
              "required");
}

TEST(PolicyValues, RejectsIntegerOutOfRangeNamingTheRange) {
    EXPECT_EQ(only_error("[code]\nlength = 11\n"),
              "lwauth.conf:2: bad value '11' for length: expected an integer from 6 to 10");
    EXPECT_EQ(only_error("[code]\nmax_sends_per_host_per_hour = 100001\n"),
              "lwauth.conf:2: bad value '100001' for max_sends_per_host_per_hour: expected an "
              "integer from 1 to 100000");
    EXPECT_EQ(only_error("[code]\ntries = -1\n"),
              "lwauth.conf:2: bad value '-1' for tries: expected an integer from 1 to 10");
}

TEST(PolicyValues, RejectsNonNumericInteger) {
    for (std::string value : {"six", "6x", "+6", "6.0", "0x6", "99999999999999999999999"}) {
        EXPECT_EQ(only_error("[code]\nlength = " + value + "\n"),
                  "lwauth.conf:2: bad value '" + value +
                      "' for length: expected an integer from 6 to 10");
    }
}

TEST(PolicyValues, ReadsTheTotpAlgorithmWindowAndSecondFactors) {
    auto policy = loaded(
        "[totp]\nalgorithm = SHA512\nwindow = 0\n[policy]\n"
        "second_factors = code, totp\nrequire_unrestricted = yes\n");
    EXPECT_EQ(policy.totp.algorithm, TotpAlgorithm::Sha512);
    EXPECT_EQ(policy.totp.window, 0);
    EXPECT_EQ(policy.base.second_factors,
              (std::vector<SecondFactor>{SecondFactor::Code, SecondFactor::Totp}));
    EXPECT_TRUE(policy.base.require_unrestricted);
    EXPECT_EQ(only_error("[totp]\nalgorithm = MD5\n"),
              "lwauth.conf:2: bad value 'MD5' for algorithm: expected SHA1, SHA256 or SHA512");
    EXPECT_EQ(only_error("[totp]\nwindow = 3\n"),
              "lwauth.conf:2: bad value '3' for window: expected an integer from 0 to 2");
    EXPECT_EQ(only_error("[policy]\nsecond_factors = totp, sms\n"),
              "lwauth.conf:2: bad value 'totp, sms' for second_factors: unknown item 'sms'; "
              "expected a list of totp, code or recovery");
}

TEST(PolicyValues, AcceptsOnlySixOrEightTotpDigits) {
    EXPECT_EQ(loaded("[totp]\ndigits = 8\n").totp.digits, 8);
    EXPECT_EQ(only_error("[totp]\ndigits = 7\n"),
              "lwauth.conf:2: bad value '7' for digits: expected 6 or 8");
}

TEST(PolicyValues, DaemonWorkersDefaultToTwoAndRangeFromOneToSixteen) {
    EXPECT_EQ(loaded("").daemon.workers, 2);
    EXPECT_EQ(loaded("[daemon]\nworkers = 1\n").daemon.workers, 1);
    EXPECT_EQ(loaded("[daemon]\nworkers = 16\n").daemon.workers, 16);
    EXPECT_EQ(only_error("[daemon]\nworkers = 0\n"),
              "lwauth.conf:2: bad value '0' for workers: expected an integer from 1 to 16");
    EXPECT_EQ(only_error("[daemon]\nworkers = 17\n"),
              "lwauth.conf:2: bad value '17' for workers: expected an integer from 1 to 16");
}

TEST(PolicyQuickLogin, DefaultsAreOffWithOwaspArgon2Costs) {
    const Policy policy = loaded("");
    const QuickLoginPolicy& quick = policy.base.quick_login;
    EXPECT_FALSE(quick.pin);
    EXPECT_FALSE(quick.fingerprint);
    EXPECT_EQ(quick.pin_min_length, 6);
    EXPECT_EQ(quick.max_failures, 5);
    EXPECT_EQ(quick.lifetime, 30 * 24h);
    EXPECT_FALSE(quick.remote);
    EXPECT_EQ(policy.argon2.memory_kib, 19456);
    EXPECT_EQ(policy.argon2.time, 2);
    EXPECT_EQ(policy.argon2.parallelism, 1);
}

TEST(PolicyQuickLogin, BoundsFollowNistAndArgon2) {
    EXPECT_EQ(loaded("[quick_login]\npin_min_length = 4\n").base.quick_login.pin_min_length, 4);
    EXPECT_EQ(only_error("[quick_login]\npin_min_length = 3\n"),
              "lwauth.conf:2: bad value '3' for pin_min_length: expected an integer from 4 to 32");
    EXPECT_EQ(only_error("[quick_login]\npin_min_length = 33\n"),
              "lwauth.conf:2: bad value '33' for pin_min_length: expected an integer from 4 to 32");
    EXPECT_EQ(loaded("[quick_login]\nmax_failures = 10\n").base.quick_login.max_failures, 10);
    EXPECT_EQ(only_error("[quick_login]\nmax_failures = 11\n"),
              "lwauth.conf:2: bad value '11' for max_failures: expected an integer from 1 to 10 "
              "(NIST SP 800-63B: at most 10)");
    EXPECT_EQ(only_error("[quick_login]\nlifetime = 30m\n"),
              "lwauth.conf:2: bad value '30m' for lifetime: expected a duration from 1h to 365d");
    EXPECT_EQ(only_error("[quick_login]\nargon2_time = 0\n"),
              "lwauth.conf:2: bad value '0' for argon2_time: expected an integer from 1 to 10");
    EXPECT_EQ(only_error("[quick_login]\nargon2_parallelism = 5\n"),
              "lwauth.conf:2: bad value '5' for argon2_parallelism: expected an integer from 1 "
              "to 4");
}

TEST(PolicyQuickLogin, Argon2MemoryIsASizeInBinaryUnits) {
    EXPECT_EQ(loaded("[quick_login]\nargon2_memory = 19M\n").argon2.memory_kib, 19456);
    EXPECT_EQ(loaded("[quick_login]\nargon2_memory = 19456K\n").argon2.memory_kib, 19456);
    EXPECT_EQ(loaded("[quick_login]\nargon2_memory = 1G\n").argon2.memory_kib, 1048576);
    EXPECT_EQ(loaded("[quick_login]\nargon2_memory = 8M\n").argon2.memory_kib, 8192);
    const std::string expected = ": expected a size like 19M, 19456K or 1G from 8M to 1G";
    for (std::string value : {"19", "19MiB", "19m", "M", "-1M", "8191K", "2G", "1025M",
                              "99999999999999999999G"}) {
        EXPECT_EQ(only_error("[quick_login]\nargon2_memory = " + value + "\n"),
                  "lwauth.conf:2: bad value '" + value + "' for argon2_memory" + expected);
    }
    Policy policy;
    policy.argon2.memory_kib = 20000;  // not a whole MiB: printed in KiB, as it reads back
    EXPECT_NE(describe(policy.base, policy).find("argon2_memory = 20000K\n"), std::string::npos);
}

TEST(PolicyQuickLogin, GroupsAndUsersChangeThePinButNotTheArgon2Costs) {
    Policy policy = loaded(
        "[quick_login]\npin = allowed\n[group:kiosk]\nquick_login.pin_min_length = 8\n"
        "[user:bob]\nquick_login.pin = disabled\n");
    EXPECT_EQ(policy.effective_for("ann", {"kiosk"}).quick_login.pin_min_length, 8);
    EXPECT_TRUE(policy.effective_for("ann", {"kiosk"}).quick_login.pin);
    EXPECT_FALSE(policy.effective_for("bob", {}).quick_login.pin);
    EXPECT_EQ(policy.effective_for("carol", {}).quick_login.pin_min_length, 6);
    EXPECT_NE(only_error("[user:bob]\nquick_login.argon2_time = 3\n")
                  .find("unknown key 'quick_login.argon2_time' in [user:bob]"),
              std::string::npos);
    EXPECT_NE(only_error("[policy]\nquick_login = allowed\n").find("unknown key 'quick_login'"),
              std::string::npos);
}

TEST(PolicyValues, AcceptsDurationsInEachUnit) {
    EXPECT_EQ(loaded("[code]\nlifetime = 45s\n").base.code.lifetime, 45s);
    EXPECT_EQ(loaded("[code]\nlifetime = 10m\n").base.code.lifetime, 10min);
    EXPECT_EQ(loaded("[lockout]\nduration = 2h\n").base.lockout.duration, 2h);
    EXPECT_EQ(loaded("[lockout]\nduration = 30d\n").base.lockout.duration, 30 * 24h);
}

TEST(PolicyValues, RejectsDurationWithoutUnit) {
    EXPECT_EQ(only_error("[code]\nlifetime = 300\n"),
              "lwauth.conf:2: bad value '300' for lifetime: expected a duration like 30s, 5m, "
              "2h or 30d");
}

TEST(PolicyValues, RejectsDurationWithUnknownUnit) {
    for (std::string value : {"5w", "5ms", "5 m", "-5m", "m", "5M", "5min", "1h30"}) {
        auto result = load("[lockout]\nduration = " + value + "\n");
        ASSERT_EQ(result.errors.size(), 1u) << value;
        EXPECT_EQ(
            result.errors[0].message,
            "bad value '" + value + "' for duration: expected a duration like 30s, 5m, 2h or 30d");
    }
}

TEST(PolicyValues, RejectsDurationThatOverflows) {
    for (std::string value :
         {"99999999999999999999999d", "9223372036854775807d", "18446744073709551615s"}) {
        auto result = load("[lockout]\nduration = " + value + "\n");
        ASSERT_EQ(result.errors.size(), 1u) << value;
        EXPECT_EQ(result.errors[0].message,
                  "bad value '" + value + "' for duration: expected a duration from 1m to 30d");
    }
}

TEST(PolicyValues, RejectsCodeLifetimeAboveTenMinutes) {
    EXPECT_EQ(only_error("[code]\nlifetime = 11m\n"),
              "lwauth.conf:2: bad value '11m' for lifetime: expected a duration from 30s to 10m "
              "(NIST SP 800-63B: at most 10 minutes)");
    EXPECT_EQ(only_error("[code]\nlifetime = 1h\n").substr(0, 40),
              "lwauth.conf:2: bad value '1h' for lifeti");
}

TEST(PolicyValues, RejectsDurationsBelowTheirMinimum) {
    EXPECT_EQ(only_error("[login]\ntimeout = 10s\n"),
              "lwauth.conf:2: bad value '10s' for timeout: expected a duration from 30s to 1h");
    EXPECT_EQ(only_error("[totp]\nperiod = 0s\n"),
              "lwauth.conf:2: bad value '0s' for period: expected a duration from 15s to 2m");
}

TEST(PolicyValues, ParsesListsTrimmingWhitespace) {
    Policy policy = loaded("[code]\nchannels =  email ,sms\t\nsms_country_prefixes = +81 ,  +1\n");
    EXPECT_EQ(policy.base.code.channels, (std::vector<Kind>{Kind::Email, Kind::Sms}));
    EXPECT_EQ(policy.base.code.sms_country_prefixes, (std::vector<std::string>{"+81", "+1"}));
    EXPECT_TRUE(loaded("[code]\nsms_country_prefixes =\n").base.code.sms_country_prefixes.empty());
}

TEST(PolicyValues, RejectsBadListItem) {
    EXPECT_EQ(only_error("[code]\nchannels = sms, fax\n"),
              "lwauth.conf:2: bad value 'sms, fax' for channels: unknown item 'fax'; expected a "
              "list of sms, email or notification");
    EXPECT_EQ(only_error("[code]\nchannels = sms,,email\n"),
              "lwauth.conf:2: bad value 'sms,,email' for channels: empty item in list; expected a "
              "list of sms, email or notification");
    EXPECT_EQ(only_error("[code]\nchannels = sms, sms\n"),
              "lwauth.conf:2: bad value 'sms, sms' for channels: 'sms' is listed twice");
    EXPECT_EQ(only_error("[code]\nchannels =\n"),
              "lwauth.conf:2: bad value '' for channels: expected a list of sms, email or "
              "notification");
    EXPECT_EQ(only_error("[code]\nsms_country_prefixes = +81, 44\n"),
              "lwauth.conf:2: bad value '+81, 44' for sms_country_prefixes: item '44' is not a "
              "country prefix like +81");
    EXPECT_EQ(only_error("[code]\nsms_country_prefixes = +81,\n"),
              "lwauth.conf:2: bad value '+81,' for sms_country_prefixes: empty item in list");
}

TEST(PolicyValues, AcceptsEveryBooleanSpelling) {
    for (std::string word : {"yes", "true", "on", "1"}) {
        EXPECT_TRUE(loaded("[quick_login]\nremote = " + word + "\n").base.quick_login.remote);
    }
    for (std::string word : {"no", "false", "off", "0"}) {
        EXPECT_FALSE(loaded("[quick_login]\nremote = " + word + "\n").base.quick_login.remote);
    }
    EXPECT_EQ(only_error("[quick_login]\nremote = maybe\n"),
              "lwauth.conf:2: bad value 'maybe' for remote: expected yes, no, true, false, "
              "on, off, 1 or 0");
}

TEST(PolicyValues, RejectsMalformedAddressesAndPaths) {
    EXPECT_EQ(only_error("[line]\nlisten = 8741\n"),
              "lwauth.conf:2: bad value '8741' for listen: expected host:port like "
              "127.0.0.1:8741");
    EXPECT_EQ(only_error("[line]\nlisten = localhost:70000\n"),
              "lwauth.conf:2: bad value 'localhost:70000' for listen: expected "
              "host:port like 127.0.0.1:8741");
    EXPECT_EQ(only_error("[line]\ntoken_url = ftp://example.com\n"),
              "lwauth.conf:2: bad value 'ftp://example.com' for token_url: expected a URL "
              "starting with https:// (http:// only to a loopback host: 127.0.0.1, [::1] or "
              "localhost)");
    EXPECT_EQ(only_error("[store]\npath = lwauth.db\n"),
              "lwauth.conf:2: bad value 'lwauth.db' for path: expected an absolute path");
    EXPECT_EQ(only_error("[directory]\nldap_uri = ldap.example.com\n"),
              "lwauth.conf:2: bad value 'ldap.example.com' for ldap_uri: expected a URL "
              "starting with ldap://, ldaps:// or ldapi://");
}

// LINE's endpoints and the URL the phone reaches are HTTPS; plain HTTP only to this host,
// where the tests' fake provider listens.
TEST(PolicyValues, LineUrlsAreHttpsOrLoopback) {
    const std::string https_only =
        "expected a URL starting with https:// (http:// only to a loopback host: 127.0.0.1, "
        "[::1] or localhost)";
    for (const char* key : {"public_url", "authorize_url", "token_url", "jwks_url", "issuer"}) {
        EXPECT_EQ(only_error(std::string("[line]\n") + key + " = http://line.example.com/x\n"),
                  std::string("lwauth.conf:2: bad value 'http://line.example.com/x' for ") + key +
                      ": " + https_only);
        EXPECT_EQ(only_error(std::string("[line]\n") + key + " = http://127.0.0.1.example.com\n"),
                  std::string("lwauth.conf:2: bad value 'http://127.0.0.1.example.com' for ") +
                      key + ": " + https_only);
        EXPECT_EQ(only_error(std::string("[line]\n") + key + " = http://localhost@evil.test/\n"),
                  std::string("lwauth.conf:2: bad value 'http://localhost@evil.test/' for ") + key +
                      ": " + https_only);
    }
    Policy fake = loaded(
        "[line]\npublic_url = http://127.0.0.1:8741\nauthorize_url = "
        "http://127.0.0.1:9000/oauth2/v2.1/authorize\ntoken_url = http://[::1]:9000/token\n"
        "jwks_url = http://localhost:9000/certs\nissuer = http://127.0.0.1:9000\n");
    EXPECT_EQ(fake.line.token_url, "http://[::1]:9000/token");
    EXPECT_EQ(fake.line.issuer, "http://127.0.0.1:9000");
    EXPECT_EQ(only_error("[line]\nissuer =\n"),
              "lwauth.conf:2: bad value '' for issuer: " + https_only);
    EXPECT_EQ(only_error("[line]\npublic_url = https://login.example.com/?next=1\n"),
              "lwauth.conf:2: bad value 'https://login.example.com/?next=1' for public_url: "
              "expected a base URL, without '?' or '#'");
}

TEST(PolicyValues, TheRedirectUriIsPublicUrlAndTheCallbackPath) {
    LinePolicy line;
    line.public_url = "https://login.example.com";
    EXPECT_EQ(line.redirect_uri(), "https://login.example.com/line/callback");
    line.public_url = "https://login.example.com/";
    EXPECT_EQ(line.redirect_uri(), "https://login.example.com/line/callback");
    line.public_url = "https://example.com:8443/lwauth/";
    EXPECT_EQ(line.redirect_uri(), "https://example.com:8443/lwauth/line/callback");
}

TEST(PolicyValues, LineChannelIdIsDigits) {
    EXPECT_EQ(loaded("[line]\nchannel_id = 1657000000\n").line.channel_id, "1657000000");
    EXPECT_EQ(only_error("[line]\nchannel_id = my-channel\n"),
              "lwauth.conf:2: bad value 'my-channel' for channel_id: expected up to 20 digits");
    EXPECT_EQ(only_error("[line]\nchannel_id = 123456789012345678901\n"),
              "lwauth.conf:2: bad value '123456789012345678901' for channel_id: expected up to "
              "20 digits");
}

TEST(PolicyValues, LineLinkLifetimeAndMaxAge) {
    const LinePolicy defaults;
    EXPECT_EQ(defaults.link_lifetime, 2min);  // sshd's default LoginGraceTime
    EXPECT_EQ(defaults.max_age, 0s);
    EXPECT_EQ(loaded("[line]\nlink_lifetime = 30s\n").line.link_lifetime, 30s);
    EXPECT_EQ(loaded("[line]\nlink_lifetime = 10m\n").line.link_lifetime, 10min);
    EXPECT_EQ(only_error("[line]\nlink_lifetime = 11m\n"),
              "lwauth.conf:2: bad value '11m' for link_lifetime: expected a duration from 30s "
              "to 10m");
    EXPECT_EQ(only_error("[line]\nlink_lifetime = 29s\n"),
              "lwauth.conf:2: bad value '29s' for link_lifetime: expected a duration from 30s "
              "to 10m");
    EXPECT_EQ(loaded("[line]\nmax_age =\n").line.max_age, 0s);
    EXPECT_EQ(loaded("[line]\nmax_age = 0s\n").line.max_age, 0s);
    EXPECT_EQ(loaded("[line]\nmax_age = 1h\n").line.max_age, 1h);
    EXPECT_EQ(only_error("[line]\nmax_age = 31d\n"),
              "lwauth.conf:2: bad value '31d' for max_age: expected a duration from 0s to 30d");
}

TEST(PolicyValues, LineConnectionsPerAddressDefaultsByListen) {
    // On loopback the one peer is the site's TLS proxy: every connection may be its.
    EXPECT_EQ(LinePolicy{}.connections_per_address_limit(), 64);
    for (const char* loopback : {"127.0.0.1:8741", "[::1]:8741", "localhost:8741"}) {
        EXPECT_EQ(loaded(std::string("[line]\nlisten = ") + loopback + "\n")
                      .line.connections_per_address_limit(),
                  64)
            << loopback;
    }
    for (const char* beyond : {"0.0.0.0:8741", "192.0.2.1:8741", "[::]:8741"}) {
        EXPECT_EQ(loaded(std::string("[line]\nlisten = ") + beyond + "\n")
                      .line.connections_per_address_limit(),
                  8)
            << beyond;
    }
    EXPECT_EQ(loaded("[line]\nconnections_per_address =\n").line.connections_per_address, 0);
}

TEST(PolicyValues, LineConnectionsPerAddressIsFrom1To64) {
    auto limit = [](const std::string& text) {
        return loaded("[line]\n" + text).line.connections_per_address_limit();
    };
    EXPECT_EQ(limit("connections_per_address = 1\n"), 1);
    EXPECT_EQ(limit("connections_per_address = 64\n"), 64);
    EXPECT_EQ(limit("connections_per_address = 16\n"), 16);
    EXPECT_EQ(limit("listen = 192.0.2.1:8741\nconnections_per_address = 20\n"), 20);
    EXPECT_EQ(limit("listen = 127.0.0.1:8741\nconnections_per_address = 4\n"), 4);
    const std::string expected =
        ": expected an integer from 1 to 64 (the endpoint's connections in all), or empty";
    for (const char* bad : {"0", "65", "-1", "8x", "eight"}) {
        EXPECT_EQ(only_error(std::string("[line]\nconnections_per_address = ") + bad + "\n"),
                  "lwauth.conf:2: bad value '" + std::string(bad) +
                      "' for connections_per_address" + expected)
            << bad;
    }
}

TEST(PolicyValues, LineCaFileAndProxy) {
    EXPECT_EQ(loaded("[line]\nca_file = /etc/ssl/line.pem\n").line.ca_file, "/etc/ssl/line.pem");
    EXPECT_EQ(loaded("[line]\nproxy = socks5h://proxy.example.com:1080\n").line.proxy,
              "socks5h://proxy.example.com:1080");
    EXPECT_EQ(loaded("[line]\nproxy =\n").line.proxy, "");
    EXPECT_NE(only_error("[line]\nca_file = line.pem\n"), "");
    EXPECT_NE(only_error("[line]\nproxy = proxy.example.com:3128\n"), "");
}

TEST(PolicyValues, LdapCaFileMustBeThere) {
    TempDir dir;
    fs::path ca = dir.write("ldap-ca.pem", "-----BEGIN CERTIFICATE-----\n", 0644);
    EXPECT_EQ(loaded("[directory]\nldap_ca_file = " + ca.string() + "\n").directory.ldap_ca_file,
              ca);
    EXPECT_EQ(loaded("[directory]\nldap_ca_file =\n").directory.ldap_ca_file, "");
    fs::path missing = dir.path() / "missing.pem";
    EXPECT_EQ(only_error("[directory]\nldap_ca_file = " + missing.string() + "\n"),
              "lwauth.conf:2: ldap_ca_file: " + missing.string() + ": No such file or directory");
    EXPECT_EQ(only_error("[directory]\nldap_ca_file = " + dir.path().string() + "\n"),
              "lwauth.conf:2: ldap_ca_file: " + dir.path().string() + ": not a regular file");
    EXPECT_EQ(only_error("[directory]\nldap_ca_file = ca.pem\n"),
              "lwauth.conf:2: bad value 'ca.pem' for ldap_ca_file: expected an absolute path");
}

TEST(PolicySecrets, TheSubjectKeyFileIsCheckedAsASecret) {
    TempDir dir;
    fs::path key = dir.write("line-subject.key", std::string(32, 'k'), 0600);
    EXPECT_EQ(loaded("[line]\nsubject_key_file = " + key.string() + "\n", owned_by_me())
                  .line.subject_key_file,
              key);
    ::chmod(key.c_str(), 0644);
    EXPECT_NE(only_error("[line]\nsubject_key_file = " + key.string() + "\n", owned_by_me())
                  .find("subject_key_file: " + key.string() + " must be owned by"),
              std::string::npos);
}

TEST(PolicySecrets, TheEarlierSubjectKeyFilesAreCheckedAsSecretsEachOnce) {
    TempDir dir;
    fs::path a = dir.write("line-subject-1.key", std::string(32, 'a'), 0600);
    fs::path b = dir.write("line-subject-2.key", std::string(32, 'b'), 0600);
    EXPECT_EQ(loaded("[line]\nsubject_old_key_files = " + a.string() + ", " + b.string() + "\n",
                     owned_by_me())
                  .line.subject_old_key_files,
              (std::vector<fs::path>{a, b}));
    EXPECT_NE(only_error("[line]\nsubject_old_key_files = " + a.string() + ", " + a.string() + "\n",
                         owned_by_me())
                  .find("is listed twice"),
              std::string::npos);
    ::chmod(b.c_str(), 0644);
    EXPECT_NE(only_error("[line]\nsubject_old_key_files = " + a.string() + ", " + b.string() + "\n",
                         owned_by_me())
                  .find("subject_old_key_files: " + b.string() + " must be owned by"),
              std::string::npos);
}

// ---- Secret files -----------------------------------------------------------------------

TEST(PolicySecrets, AcceptsSecretFileOwnedByTheOwnerWithMode0600) {
    TempDir dir;
    fs::path secret = dir.write("line-secret", "s3cr3t-value\n", 0600);
    Policy policy =
        loaded("[line]\nchannel_secret_file = " + secret.string() + "\n", owned_by_me());
    // Only the path is kept; the secret is read by whoever needs it, when it needs it.
    EXPECT_EQ(policy.line.channel_secret_file, secret);
    EXPECT_EQ(describe(policy.base, policy).find("s3cr3t"), std::string::npos);
}

// The packages' layout: root:lwauth 0640, lwauthd reading through its group.
TEST(PolicySecrets, AcceptsSecretFileReadableByLwauthdsGroupAlone) {
    TempDir dir;
    fs::path secret = dir.write("line-secret", "s3cr3t-value\n", 0640);
    EXPECT_EQ(loaded("[line]\nchannel_secret_file = " + secret.string() + "\n", owned_by_me())
                  .line.channel_secret_file,
              secret);
    LoadOptions other_group = owned_by_me();
    other_group.secret_reader.gid = ::getegid() + 1;
    EXPECT_NE(only_error("[line]\nchannel_secret_file = " + secret.string() + "\n", other_group)
                  .find("with mode 0640"),
              std::string::npos);
}

TEST(PolicySecrets, RejectsSecretFileReadableByOthers) {
    TempDir dir;
    fs::path secret = dir.write("line-secret", "x", 0644);
    std::string error =
        only_error("[line]\nchannel_secret_file = " + secret.string() + "\n", owned_by_me());
    EXPECT_TRUE(error.starts_with("lwauth.conf:2: channel_secret_file: " + secret.string() +
                                  " must be owned by root"))
        << error;
    EXPECT_TRUE(error.ends_with("; it is owned by " + owner_text(::geteuid()) + ", group " +
                                group_text(::getegid()) + ", with mode 0644"))
        << error;
}

TEST(PolicySecrets, RejectsSecretFileWritableByGroup) {
    TempDir dir;
    fs::path secret = dir.write("pg", "x", 0620);
    auto error = only_error("[store]\npassword_file = " + secret.string() + "\n", owned_by_me());
    EXPECT_NE(error.find("with mode 0620"), std::string::npos) << error;
}

TEST(PolicySecrets, RejectsSecretFileOwnedBySomeoneElse) {
    TempDir dir;
    fs::path secret = dir.write("ldap", "x", 0600);
    // Root's files are accepted: as root, give the file away; otherwise ask for another.
    LoadOptions options = owned_by_me();
    if (::geteuid() == 0) {
        ASSERT_EQ(::chown(secret.c_str(), 40123, static_cast<gid_t>(-1)), 0);
    } else {
        options.secret_reader.uid = ::geteuid() + 1;
    }
    auto error =
        only_error("[directory]\nldap_password_file = " + secret.string() + "\n", options);
    EXPECT_NE(error.find("must be owned by root"), std::string::npos) << error;
    EXPECT_NE(error.find("it is owned by uid"), std::string::npos) << error;
}

TEST(PolicySecrets, RejectsRelativeSecretPath) {
    EXPECT_EQ(only_error("[line]\nchannel_secret_file = secrets/line\n"),
              "lwauth.conf:2: bad value 'secrets/line' for channel_secret_file: expected an "
              "absolute path");
}

TEST(PolicySecrets, RejectsMissingSecretFile) {
    EXPECT_EQ(only_error("[line]\nchannel_secret_file = /nonexistent/lwauth/secret\n"),
              "lwauth.conf:2: channel_secret_file: /nonexistent/lwauth/secret: No such file or "
              "directory");
}

TEST(PolicySecrets, RejectsSecretPathThatIsNotARegularFile) {
    TempDir dir;
    EXPECT_EQ(
        only_error("[line]\nchannel_secret_file = " + dir.path().string() + "\n", owned_by_me()),
        "lwauth.conf:2: channel_secret_file: " + dir.path().string() + " is not a regular file");
}

TEST(PolicySecrets, RejectsASymbolicLinkToAGoodSecretFile) {
    TempDir dir;
    fs::path secret = dir.write("line-secret", "x", 0600);
    fs::create_symlink(secret, dir.path() / "link");
    EXPECT_EQ(only_error("[line]\nchannel_secret_file = " + (dir.path() / "link").string() + "\n",
                         owned_by_me()),
              "lwauth.conf:2: channel_secret_file: " + (dir.path() / "link").string() +
                  " is a symbolic link, which lwauth does not follow here");
}

TEST(PolicySecrets, AFifoInPlaceOfASecretFileDoesNotHang) {
    TempDir dir;
    fs::path fifo = dir.path() / "fifo";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    EXPECT_EQ(only_error("[line]\nchannel_secret_file = " + fifo.string() + "\n", owned_by_me()),
              "lwauth.conf:2: channel_secret_file: " + fifo.string() + " is not a regular file");
}

TEST(PolicySecrets, ChecksSecretFilesOfChannels) {
    TempDir dir;
    fs::path loose = dir.write("token", "x", 0604);
    auto result =
        load("[channel.line]\ntype = line\nchannel_access_token_file = " + loose.string() + "\n",
             owned_by_me());
    ASSERT_EQ(result.errors.size(), 1u) << all_errors(result);
    EXPECT_EQ(result.errors[0].line, 3);
    EXPECT_NE(result.errors[0].message.find("channel_access_token_file: " + loose.string() +
                                            " must be owned by"),
              std::string::npos);
}

// ---- Channels ---------------------------------------------------------------------------

TEST(PolicyChannels, ReadsOutboxChannelWithDefaults) {
    Policy policy =
        loaded("[channel.outbox]\ntype = outbox\npath = /var/lib/lwauth/outbox.jsonl\n");
    ASSERT_EQ(policy.channels.size(), 1u);
    const ChannelConfig& channel = policy.channels[0];
    EXPECT_EQ(channel.name, "outbox");
    EXPECT_EQ(channel.type, "outbox");
    EXPECT_EQ(channel.serves, (std::vector<Kind>{Kind::Sms, Kind::Email, Kind::Notification}));
    EXPECT_EQ(channel.timeout, 10s);
    EXPECT_EQ(channel.option("path"), "/var/lib/lwauth/outbox.jsonl");
    EXPECT_EQ(channel.option("proxy"), "");
    EXPECT_EQ(channel.file, "lwauth.conf");
    EXPECT_EQ(channel.line, 1);
}

TEST(PolicyChannels, FillsDefaultsByType) {
    TempDir dir;
    fs::path token = dir.write("twilio", "x");
    fs::path password = dir.write("smtp", "x");
    Policy policy = loaded(
        "[channel.sms]\ntype = twilio\naccount_sid = AC1\nauth_token_file = " + token.string() +
            "\nfrom = +15005550006\ntimeout = 30s\n"
            "[channel.mail]\ntype = smtp\nurl = smtps://mail.example.com\n"
            "from = lwauth@example.com\nusername = lwauth\npassword_file = " +
            password.string() + "\nproxy = http://proxy.example.com:3128\n",
        owned_by_me());
    ASSERT_EQ(policy.channels.size(), 2u);
    EXPECT_EQ(policy.channels[0].serves, std::vector<Kind>{Kind::Sms});
    EXPECT_EQ(policy.channels[0].timeout, 30s);
    EXPECT_EQ(policy.channels[0].option("base_url"), "https://api.twilio.com");
    EXPECT_EQ(policy.channels[0].option("auth_token_file"), token.string());
    EXPECT_EQ(policy.channels[1].serves, std::vector<Kind>{Kind::Email});
    // Unset: lwauthd words the subject in each message's language.
    EXPECT_EQ(policy.channels[1].option("subject"), "");
    EXPECT_EQ(policy.channels[1].option("proxy"), "http://proxy.example.com:3128");
}

TEST(PolicyChannels, TypeMayComeAfterOtherKeys) {
    TempDir dir;
    fs::path secret = dir.write("hmac", "x");
    Policy policy = loaded(
        "[channel.hook]\nurl = https://gw.example.com/send\nhmac_secret_file = " + secret.string() +
            "\ntype = webhook\n",
        owned_by_me());
    ASSERT_EQ(policy.channels.size(), 1u);
    EXPECT_EQ(policy.channels[0].type, "webhook");
    EXPECT_EQ(policy.channels[0].option("url"), "https://gw.example.com/send");
}

TEST(PolicyChannels, GatewaysAreReachedOverHttpsOnly) {
    TempDir dir;
    fs::path secret = dir.write("hmac", "x");
    EXPECT_EQ(only_error("[channel.hook]\ntype = webhook\nurl = http://gw.example.com/send\n"
                         "hmac_secret_file = " +
                             secret.string() + "\n",
                         owned_by_me()),
              "lwauth.conf:3: bad value 'http://gw.example.com/send' for url: expected a URL "
              "starting with https://");
}

// A lineworks channel with every required key; `secret` stands for both secret files.
std::string lineworks_section(const fs::path& secret) {
    return "[channel.works]\ntype = lineworks\nclient_id = c\nclient_secret_file = " +
           secret.string() + "\nservice_account = s\nprivate_key_file = " + secret.string() +
           "\nbot_id = 1\n";
}

TEST(PolicyChannels, MessengerUserIdsAreATemplateAndAMapFile) {
    TempDir dir;
    fs::path secret = dir.write("secret", "t");
    fs::path map = dir.write("users", "bob U0\n");
    std::string section = lineworks_section(secret);
    Policy policy =
        loaded(section + "user_id = {user}@example.com\nuser_map_file = " + map.string() + "\n",
               owned_by_me());
    EXPECT_EQ(policy.channels[0].option("user_id"), "{user}@example.com");
    EXPECT_EQ(policy.channels[0].option("user_map_file"), map.string());
    EXPECT_EQ(only_error(section + "user_id = {uid}@example.com\n", owned_by_me()),
              "lwauth.conf:8: bad value '{uid}@example.com' for user_id: an ID with no spaces, "
              "where {user} stands for the user name (e.g. {user}@example.com)");
}

// [directory] backend = lineworks reads members with a lineworks channel's service
// account, and only where the administrators' contacts are used.
TEST(PolicyRules, ALineWorksDirectoryNeedsALineWorksChannelAndAdminContacts) {
    TempDir dir;
    fs::path secret = dir.write("secret", "t");
    std::string channel = lineworks_section(secret) + "user_id = {user}@example.com\n";
    Policy policy = loaded("[policy]\ncontacts = admin\n[directory]\nbackend = lineworks\n"
                           "lineworks_channel = works\nlineworks_rate = 60\n" + channel,
                           owned_by_me());
    EXPECT_EQ(policy.directory.backend, DirectoryBackend::Lineworks);
    EXPECT_EQ(policy.directory.lineworks_channel, "works");
    EXPECT_EQ(policy.directory.lineworks_rate, 60);
    EXPECT_EQ(Policy{}.directory.lineworks_rate, 240) << "the service's limit";

    EXPECT_EQ(only_error("[policy]\ncontacts = admin\n[directory]\nbackend = lineworks\n" +
                             channel, owned_by_me()),
              "lwauth.conf:4: backend = lineworks requires lineworks_channel in [directory]: "
              "the name of the [channel.NAME] of type lineworks whose service account reads "
              "the members");
    EXPECT_EQ(only_error("[policy]\ncontacts = admin\n[directory]\nbackend = lineworks\n"
                         "lineworks_channel = outbox\n[channel.outbox]\ntype = outbox\n"
                         "path = /tmp/o\n"),
              "lwauth.conf:5: lineworks_channel = outbox names no [channel.outbox] of type "
              "lineworks");
    EXPECT_EQ(only_error("[directory]\nbackend = lineworks\nlineworks_channel = works\n" +
                             channel, owned_by_me()),
              "lwauth.conf:2: backend = lineworks requires contacts = admin in [policy]: under "
              "contacts = self users enter their own contacts and nothing is read from the "
              "directory");
    EXPECT_EQ(only_error("[directory]\nlineworks_rate = 241\n"),
              "lwauth.conf:2: bad value '241' for lineworks_rate: expected an integer from 1 "
              "to 240");
}

// The LINE Messaging API takes only the user IDs LINE issues (U and 32 hex digits), never
// the user name: a line channel needs user_map_file, or one literal ID.
TEST(PolicyChannels, ALineChannelNeedsLineUserIds) {
    TempDir dir;
    fs::path token = dir.write("token", "t");
    fs::path map = dir.write("users", "bob U0\n");
    std::string section =
        "[channel.line]\ntype = line\nchannel_access_token_file = " + token.string() + "\n";
    EXPECT_EQ(only_error(section, owned_by_me()),
              "lwauth.conf:1: [channel.line]: channel type line has no user's ID on the "
              "messenger: set user_map_file (lines 'USER U...' with the LINE user ID LINE gives "
              "each user)");
    EXPECT_EQ(only_error(section + "user_id = {user}\n", owned_by_me()),
              "lwauth.conf:4: bad value '{user}' for user_id: a LINE user ID is issued by LINE (U "
              "and 32 hex digits) and cannot be made from the user name; list each user's ID in "
              "user_map_file");
    EXPECT_EQ(only_error(section + "user_id = alice\n", owned_by_me()),
              "lwauth.conf:4: bad value 'alice' for user_id: expected a LINE user ID (U and 32 hex "
              "digits); list each user's ID in user_map_file");
    EXPECT_TRUE(
        load(section + "user_map_file = " + map.string() + "\n", owned_by_me()).errors.empty());
    EXPECT_TRUE(load(section + "user_id = U0123456789abcdef0123456789abcdef\n", owned_by_me())
                    .errors.empty());
}

// LINE WORKS takes its user ID or a login ID (name@domain), never a bare user name; its
// token scope is a key, bot.message by default.
TEST(PolicyChannels, ALineWorksChannelNeedsLoginIdsOrUserIds) {
    TempDir dir;
    fs::path secret = dir.write("secret", "t");
    fs::path map = dir.write("users", "bob x\n");
    std::string section = lineworks_section(secret);
    EXPECT_EQ(only_error(section, owned_by_me()),
              "lwauth.conf:1: [channel.works]: channel type lineworks has no user's ID on the "
              "messenger: set user_id = {user}@example.com (the members' login ID domain) or "
              "user_map_file (lines 'USER ID')");
    for (const char* bare : {"{user}", "{user}.example.com", "works-{user}"}) {
        EXPECT_EQ(only_error(section + "user_id = " + bare + "\n", owned_by_me()),
                  "lwauth.conf:8: bad value '" + std::string(bare) +
                      "' for user_id: LINE WORKS takes a login ID (name@domain) or a user ID, "
                      "never a bare user name; set e.g. user_id = {user}@example.com, or list "
                      "IDs in user_map_file");
    }
    EXPECT_EQ(only_error(section + "user_id = alice\n", owned_by_me()),
              "lwauth.conf:8: bad value 'alice' for user_id: expected a LINE WORKS login ID "
              "(name@domain) or user ID (8-4-4-4-12 letters and digits)");
    for (const char* good : {"{user}@example.com", "{user}.ops@works-123", "admin@example.com",
                             "4f6e1a52-0c1b-4d7e-9a3f-2b8c5d7e9f10"}) {
        EXPECT_TRUE(load(section + "user_id = " + good + "\n", owned_by_me()).errors.empty())
            << good;
    }
    Policy policy = loaded(section + "user_map_file = " + map.string() + "\n", owned_by_me());
    EXPECT_EQ(policy.channels[0].option("scope"), "bot.message") << "enough to send";
}

// A user_id without {user} names one account, which would get every user's codes.
TEST(PolicyChannels, AUserIdNamingOneAccountIsWarnedAbout) {
    TempDir dir;
    fs::path secret = dir.write("secret", "t");
    fs::path map = dir.write("users", "bob x\n");
    std::string section = lineworks_section(secret);
    auto one_account = [](const LoadResult& result) {
        std::vector<std::string> out;
        for (const auto& w : result.warnings) {
            if (w.message.find("user_id names one account") != std::string::npos) {
                out.push_back(w.message);
            }
        }
        return out;
    };
    LoadResult one = load(section + "user_id = admin@example.com\n", owned_by_me());
    ASSERT_TRUE(one.errors.empty());
    ASSERT_EQ(one_account(one).size(), 1u);
    EXPECT_NE(one_account(one)[0].find("every user has their codes sent to it"), std::string::npos)
        << one_account(one)[0];
    LoadResult mapped = load(
        section + "user_id = admin@example.com\nuser_map_file = " + map.string() + "\n",
        owned_by_me());
    ASSERT_EQ(one_account(mapped).size(), 1u);
    EXPECT_NE(one_account(mapped)[0].find("missing from user_map_file"), std::string::npos);
    EXPECT_TRUE(one_account(load(section + "user_id = {user}@example.com\n", owned_by_me())).empty());
}

TEST(PolicyChannels, ALineWorksScopeIsScopeWordsThatCanSend) {
    TempDir dir;
    fs::path secret = dir.write("secret", "t");
    std::string section = lineworks_section(secret) + "user_id = {user}@example.com\n";
    EXPECT_EQ(loaded(section + "scope = bot\n", owned_by_me()).channels[0].option("scope"), "bot");
    EXPECT_EQ(loaded(section + "scope = bot.message user.read\n", owned_by_me())
                  .channels[0]
                  .option("scope"),
              "bot.message user.read");
    for (const char* bad : {"bot,user.read", "bot.message  user.read", "bot/message"}) {
        EXPECT_EQ(only_error(section + "scope = " + bad + "\n", owned_by_me()),
                  "lwauth.conf:9: bad value '" + std::string(bad) +
                      "' for scope: expected scopes separated by single spaces, like bot.message");
    }
    EXPECT_EQ(only_error(section + "scope = user.read\n", owned_by_me()),
              "lwauth.conf:9: bad value 'user.read' for scope: sending a bot message needs the "
              "scope bot.message (or bot)");
}

TEST(PolicyLogin, PhoneLoginLimits) {
    Policy policy = loaded("[login]\nphone_local_only = yes\nphone_services = sshd, login\n");
    EXPECT_TRUE(policy.phone_login.local_only);
    EXPECT_EQ(policy.phone_login.services, (std::vector<std::string>{"sshd", "login"}));
    EXPECT_FALSE(policy.phone_login.allow("sshd", "192.0.2.7")) << "remote";
    EXPECT_TRUE(policy.phone_login.allow("login", ""));
    EXPECT_FALSE(policy.phone_login.allow("gdm-password", ""));
    EXPECT_TRUE(Policy{}.phone_login.allow("anything", "192.0.2.7")) << "no limits by default";
    EXPECT_EQ(only_error("[login]\nphone_services = sshd, ssh d\n"),
              "lwauth.conf:2: bad value 'sshd, ssh d' for phone_services: item 'ssh d' is not a "
              "PAM service name like sshd");
    EXPECT_EQ(only_error("[login]\nphone_services = sshd, sshd\n"),
              "lwauth.conf:2: bad value 'sshd, sshd' for phone_services: 'sshd' is listed twice");
}

TEST(PolicyChannels, ReportsMissingTypeAtTheSectionHeader) {
    EXPECT_EQ(only_error("[policy]\n\n[channel.sms]\npath = /tmp/x\n"),
              "lwauth.conf:3: [channel.sms] has no type; set type = outbox, twilio, vonage, "
              "webhook, smtp, lineworks or line");
    EXPECT_EQ(only_error("[channel.empty]\n"),
              "lwauth.conf:1: [channel.empty] has no type; set type = outbox, twilio, vonage, "
              "webhook, smtp, lineworks or line");
}

TEST(PolicyChannels, RejectsUnknownType) {
    EXPECT_EQ(only_error("[channel.x]\ntype = pigeon\n"),
              "lwauth.conf:2: bad value 'pigeon' for type: expected outbox, twilio, vonage, "
              "webhook, smtp, lineworks or line");
}

TEST(PolicyChannels, RejectsKeyOfAnotherChannelType) {
    EXPECT_EQ(only_error("[channel.outbox]\ntype = outbox\npath = /tmp/o\nfrom = +15005550006\n"),
              "lwauth.conf:4: key 'from' is not valid for channel type outbox (it is a key of "
              "twilio, vonage or smtp)");
}

TEST(PolicyChannels, RejectsKeyNoChannelTypeKnows) {
    EXPECT_EQ(only_error("[channel.outbox]\ntype = outbox\npath = /tmp/o\ncolour = red\n"),
              "lwauth.conf:4: unknown key 'colour' in [channel.outbox]");
}

TEST(PolicyChannels, ReportsMissingRequiredKeyAtTheSectionHeader) {
    EXPECT_EQ(only_error("[code]\n[channel.mail]\ntype = smtp\nfrom = a@b.c\n"),
              "lwauth.conf:2: [channel.mail]: channel type smtp requires key 'url'");
    auto result = load("[channel.mail]\ntype = smtp\n");
    EXPECT_EQ(messages(result.errors),
              (std::vector<std::string>{
                  "lwauth.conf:1: [channel.mail]: channel type smtp requires key 'url'",
                  "lwauth.conf:1: [channel.mail]: channel type smtp requires key 'from'"}));
    EXPECT_EQ(only_error("[channel.o]\ntype = outbox\npath =\n"),
              "lwauth.conf:3: empty value for required key 'path'");
}

TEST(PolicyChannels, RequiresTwilioSenderOrMessagingService) {
    TempDir dir;
    fs::path token = dir.write("twilio", "x");
    EXPECT_EQ(only_error("[channel.sms]\ntype = twilio\naccount_sid = AC1\nauth_token_file = " +
                             token.string() + "\n",
                         owned_by_me()),
              "lwauth.conf:1: [channel.sms]: channel type twilio requires key 'from' or "
              "'messaging_service_sid'");
}

TEST(PolicyChannels, ChecksValuesByType) {
    EXPECT_EQ(only_error("[channel.o]\ntype = outbox\npath = outbox.jsonl\n"),
              "lwauth.conf:3: bad value 'outbox.jsonl' for path: expected an absolute path");
    EXPECT_EQ(only_error("[channel.m]\ntype = smtp\nurl = https://mail\nfrom = a@b.c\n"),
              "lwauth.conf:3: bad value 'https://mail' for url: expected a URL starting with "
              "smtps:// or smtp://");
    EXPECT_EQ(only_error("[channel.o]\ntype = outbox\npath = /tmp/o\ntimeout = 5m\n"),
              "lwauth.conf:4: bad value '5m' for timeout: expected a duration from 1s to 2m");
}

TEST(PolicyChannels, AnSmtpUserNeedsAPasswordFile) {
    EXPECT_EQ(only_error("[channel.m]\ntype = smtp\nurl = smtp://mail\nfrom = a@b.c\n"
                         "username = me\n"),
              "lwauth.conf:1: [channel.m]: channel type smtp requires 'username' and "
              "'password_file' together");
}

TEST(PolicyChannels, AnEhloNameIsADomainOrAnAddressLiteral) {
    const std::string mail = "[channel.m]\ntype = smtp\nurl = smtp://mail\nfrom = a@b.c\n";
    for (const char* good : {"host.example.org", "[192.0.2.1]", "[IPv6:2001:db8::1]"}) {
        EXPECT_TRUE(load(mail + "ehlo_name = " + good + "\n").errors.empty()) << good;
    }
    for (const char* bad : {"host name", "host/x", "h%2f"}) {
        EXPECT_NE(only_error(mail + "ehlo_name = " + bad + "\n")
                      .find("ehlo_name must be a domain name or an address literal"),
                  std::string::npos)
            << bad;
    }
}

TEST(PolicyChannels, AnSmtpFromIsAnAsciiAddressWithAnOptionalDisplayName) {
    const std::string mail = "[channel.m]\ntype = smtp\nurl = smtp://mail\nfrom = ";
    for (const char* good :
         {"noreply@example.com", "lwauth <noreply@example.com>", "\"lwauth, IT\" <a@b.c>",
          "\xe8\xaa\x8d\xe8\xa8\xbc, IT <a@b.c>", "<a@b.c>"}) {
        EXPECT_TRUE(load(mail + good + "\n").errors.empty()) << good;
    }
    EXPECT_EQ(only_error(mail + "\xe8\xaa\x8d\xe8\xa8\xbc@example.jp\n"),
              "lwauth.conf:4: bad value '\xe8\xaa\x8d\xe8\xa8\xbc@example.jp' for from: expected an "
              "address in printable ASCII, like noreply@example.com (SMTPUTF8 is not used)");
    for (const char* bad : {"lwauth <n\xc3\xb6reply@example.com>", "lwauth <a b@c.d>",
                            "lwauth <a@b.c", "lwauth <a@b.c> x", "lwauth <>"}) {
        EXPECT_NE(only_error(mail + bad + "\n")
                      .find("lwauth.conf:4: bad value '" + std::string(bad) +
                            "' for from: expected an address in printable ASCII inside <...>"),
                  std::string::npos)
            << bad;
    }
    for (const char* bad : {"lwauth, IT <a@b.c>", "IT; lwauth <a@b.c>"}) {
        EXPECT_EQ(only_error(mail + bad + "\n"),
                  "lwauth.conf:4: bad value '" + std::string(bad) +
                      "' for from: expected a display name with ',' or ';' in double quotes, "
                      "like \"lwauth, IT\" <noreply@example.com>")
            << bad;
    }
}

TEST(PolicyChannels, RejectsKindTheTypeCannotServe) {
    EXPECT_EQ(
        only_error("[channel.m]\ntype = smtp\nurl = smtp://mail\nfrom = a@b.c\nserves = sms\n"),
        "lwauth.conf:5: channel type smtp cannot serve sms (it serves email)");
    Policy policy = loaded("[channel.o]\ntype = outbox\npath = /tmp/o\nserves = email\n");
    EXPECT_EQ(policy.channels[0].serves, std::vector<Kind>{Kind::Email});
}

TEST(PolicyChannels, RejectsBadChannelName) {
    EXPECT_EQ(only_error("[channel.my channel]\ntype = outbox\n"),
              "lwauth.conf:1: bad channel name 'my channel' in [channel.my channel]: use "
              "letters, digits, '_' and '-'");
}

TEST(PolicyChannels, ChannelsForListsServingChannelsInFileOrder) {
    Policy policy = loaded(
        "[channel.b]\ntype = outbox\npath = /tmp/b\nserves = email\n"
        "[channel.a]\ntype = outbox\npath = /tmp/a\n"
        "[channel.hook]\ntype = outbox\npath = /tmp/hook\nserves = sms\n");
    auto names = [&policy](Kind kind) {
        std::vector<std::string> out;
        for (const auto* channel : policy.channels_for(kind)) {
            out.push_back(channel->name);
        }
        return out;
    };
    EXPECT_EQ(names(Kind::Sms), (std::vector<std::string>{"a", "hook"}));
    EXPECT_EQ(names(Kind::Email), (std::vector<std::string>{"b", "a"}));
    EXPECT_EQ(names(Kind::Notification), (std::vector<std::string>{"a"}));
}

TEST(PolicyChannels, LaterFileChangesOneKeyOfAChannel) {
    auto result = load_texts({{"lwauth.conf", "[channel.o]\ntype = outbox\npath = /tmp/a\n"},
                              {"50-path.conf", "[channel.o]\npath = /tmp/b\n"}});
    ASSERT_TRUE(result.policy.has_value()) << all_errors(result);
    ASSERT_EQ(result.policy->channels.size(), 1u);
    EXPECT_EQ(result.policy->channels[0].option("path"), "/tmp/b");
    EXPECT_EQ(result.policy->channels[0].file, "lwauth.conf");
}

TEST(PolicyChannels, WarnsWhenNoChannelServesAListedKind) {
    auto result = load(
        "[code]\nchannels = sms, email\n[channel.m]\ntype = smtp\n"
        "url = smtp://mail\nfrom = a@b.c\n");
    ASSERT_TRUE(result.policy.has_value()) << all_errors(result);
    EXPECT_EQ(messages(result.warnings),
              (std::vector<std::string>{
                  "lwauth.conf:2: no [channel.*] section serves sms, which channels lists"}));
}

TEST(PolicyChannels, WarnsWhenAChannelWaitsLongerThanTheModule) {
    auto result = load(
        "[code]\nchannels = sms\n[channel.w]\ntimeout = 45s\ntype = webhook\nserves = sms\n"
        "url = https://gw.example.com/hook\n");
    EXPECT_EQ(messages(result.warnings),
              (std::vector<std::string>{
                  "lwauth.conf:4: timeout 45s is longer than pam_lwauth's default timeout=30: a "
                  "login waiting on this channel ends as unavailable when the module stops "
                  "waiting; lower it, or raise the module's timeout="}));
    // An SMTP transaction may take twice its timeout.
    auto smtp = load(
        "[code]\nchannels = email\n[channel.m]\ntype = smtp\n"
        "url = smtp://mail\nfrom = a@b.c\ntimeout = 20s\n");
    ASSERT_TRUE(smtp.policy.has_value()) << all_errors(smtp);
    EXPECT_EQ(messages(smtp.warnings),
              (std::vector<std::string>{
                  "lwauth.conf:7: timeout 20s (a whole SMTP transaction: up to 40s) is longer "
                  "than pam_lwauth's default timeout=30: a login waiting on this channel ends as "
                  "unavailable when the module stops waiting; lower it, or raise the module's "
                  "timeout="}));
    EXPECT_TRUE(load("[code]\nchannels = email\n[channel.m]\ntype = smtp\n"
                     "url = smtp://mail\nfrom = a@b.c\ntimeout = 15s\n")
                    .warnings.empty());
}

// ---- Cross-section rules ----------------------------------------------------------------

TEST(PolicyRules, LineLoginRequiresLineCredentials) {
    EXPECT_EQ(only_error("[policy]\nlogin_with_line = allowed\n[line]\nchannel_id = 123\n"),
              "lwauth.conf:2: login_with_line = allowed requires channel_secret_file, "
              "public_url in [line]");
    EXPECT_EQ(only_error("[user:alice]\nlogin_with_line = allowed\n"),
              "lwauth.conf:2: login_with_line = allowed requires channel_id, "
              "channel_secret_file, public_url in [line]");
    EXPECT_EQ(only_error("[group:staff]\nlogin_with_line = disabled\n"
                         "[group:ops]\nlogin_with_line = allowed\n"
                         "[line]\npublic_url = https://login.example.com\n"),
              "lwauth.conf:4: login_with_line = allowed requires channel_id, "
              "channel_secret_file in [line]");
    // Disabled everywhere (the default), nothing in [line] is needed.
    EXPECT_TRUE(load("[user:alice]\nlogin_with_line = disabled\n").errors.empty());
}

TEST(PolicyRules, LineLoginWithEveryRequiredKeyLoads) {
    TempDir dir;
    fs::path secret = dir.write("line-secret", "0123456789abcdef0123456789abcdef\n", 0600);
    Policy policy = loaded(
        "[policy]\nlogin_with_line = allowed\n[line]\nchannel_id = 1657000000\n"
        "channel_secret_file = " +
            secret.string() + "\npublic_url = https://login.example.com\n",
        owned_by_me());
    EXPECT_TRUE(policy.base.login_with_line);
    EXPECT_EQ(policy.line.redirect_uri(), "https://login.example.com/line/callback");
}

TEST(PolicyRules, Es256IdTokensRequireJwksUrl) {
    EXPECT_EQ(only_error("[line]\njwks_url =\nid_token_alg = ES256\n"),
              "lwauth.conf:3: id_token_alg = ES256 requires jwks_url in [line]");
    EXPECT_TRUE(load("[line]\njwks_url =\nid_token_alg = HS256\n").errors.empty());
    EXPECT_TRUE(load("[line]\nid_token_alg = ES256\n").errors.empty());  // LINE's, by default
}

TEST(PolicyRules, WarnsWhenTheLineEndpointListensBeyondLoopback) {
    // 2-step off: no warning about delivery channels.
    auto line = [](const std::string& listen) {
        return load("[policy]\ntwo_step = off\n[line]\nlisten = " + listen + "\n");
    };
    auto wide = line("0.0.0.0:8741");
    EXPECT_TRUE(wide.errors.empty());
    EXPECT_EQ(messages(wide.warnings),
              (std::vector<std::string>{
                  "lwauth.conf:4: listen = 0.0.0.0:8741 is not a loopback address: lwauthd's "
                  "LINE endpoint speaks plain HTTP, so it should sit behind the site's TLS "
                  "proxy (public_url) and be reachable only from it"}));
    for (const char* loopback : {"127.0.0.1:8741", "127.10.0.3:80", "[::1]:8741", "localhost:1"}) {
        EXPECT_TRUE(line(loopback).warnings.empty()) << loopback;
    }
    for (const char* beyond : {"127.0.0.1.evil.example:80", "127.0.0.:80", "127.0.0.256:80",
                               "[::2]:80", "192.0.2.1:8741"}) {
        EXPECT_EQ(line(beyond).warnings.size(), 1u) << beyond;
    }
}

TEST(PolicyRules, PostgresqlRequiresUrl) {
    EXPECT_EQ(only_error("[store]\nbackend = postgresql\n"),
              "lwauth.conf:2: backend = postgresql requires url in [store]");
}

TEST(PolicyRules, RefusesAPasswordInTheStoreUrl) {
    for (const char* url : {"host=db.example password=hunter2 dbname=lwauth",
                            "postgresql://lwauth:hunter2@db.example/lwauth",
                            // libpq decodes %XX in parameter names as in values
                            "postgresql://lwauth@db.example/lwauth?pass%77ord=hunter2",
                            "postgresql://lwauth@db.example/lwauth?%70%61%73%73%77%6F%72%64=x"}) {
        auto error = only_error(std::string("[store]\nbackend = postgresql\nurl = ") + url + "\n");
        EXPECT_NE(error.find("url must not hold a password"), std::string::npos) << error;
        EXPECT_EQ(error.find("hunter2"), std::string::npos) << error;
    }
    EXPECT_TRUE(load("[store]\nbackend = postgresql\n"
                     "url = postgresql://lwauth@db.example:5432/lwauth\n")
                    .errors.empty());
}

TEST(PolicyRules, LdapRequiresUriAndBase) {
    EXPECT_EQ(only_error("[directory]\nbackend = ldap\nldap_uri = ldap://ldap\n"),
              "lwauth.conf:2: backend = ldap requires ldap_uri and ldap_base in [directory]");
}

TEST(PolicyRules, LdapFilterNamesTheUserExactlyOnce) {
    const std::string expected =
        "lwauth.conf:2: ldap_filter must be one parenthesized LDAP filter with %u (the user "
        "name) exactly once, e.g. (uid=%u)";
    EXPECT_EQ(only_error("[directory]\nldap_filter = (uid=alice)\n"), expected);
    EXPECT_EQ(only_error("[directory]\nldap_filter = (|(uid=%u)(mail=%u))\n"), expected);
    EXPECT_EQ(only_error("[directory]\nldap_filter = uid=%u\n"), expected);
    EXPECT_TRUE(load("[directory]\nldap_filter = (&(objectClass=person)(uid=%u))\n")
                    .errors.empty());
}

TEST(PolicyRules, DirectoryMaxAgeOutlastsTheSyncInterval) {
    EXPECT_EQ(only_error("[directory]\nsync_interval = 2h\nmax_age = 1h\n"),
              "lwauth.conf:3: max_age must be longer than sync_interval in [directory]");
    EXPECT_EQ(only_error("[directory]\nsync_interval = 30s\n"),
              "lwauth.conf:2: bad value '30s' for sync_interval: expected a duration from 1m to "
              "1d");
}

// ---- Files ------------------------------------------------------------------------------

TEST(PolicyFiles, ReportsMissingLwauthConf) {
    TempDir dir;
    auto result = load_directory(dir.path());
    EXPECT_FALSE(result.policy.has_value());
    EXPECT_EQ(messages(result.errors),
              (std::vector<std::string>{(dir.path() / "lwauth.conf").string() + ": not found"}));
}

TEST(PolicyFiles, StillChecksDropInsWhenLwauthConfIsMissing) {
    TempDir dir;
    dir.write("lwauth.conf.d/10-a.conf", "[code]\nlength = 1\n", 0644);
    auto result = load_directory(dir.path());
    EXPECT_EQ(messages(result.errors),
              (std::vector<std::string>{
                  (dir.path() / "lwauth.conf").string() + ": not found",
                  (dir.path() / "lwauth.conf.d/10-a.conf").string() +
                      ":2: bad value '1' for length: expected an integer from 6 to 10"}));
}

TEST(PolicyFiles, ReportsUnreadableFileAsDiagnostic) {
    TempDir dir;
    fs::create_directories(dir.path() / "lwauth.conf");
    fs::create_directories(dir.path() / "lwauth.conf.d/oops.conf");
    auto result = load_directory(dir.path());
    EXPECT_EQ(messages(result.errors),
              (std::vector<std::string>{
                  (dir.path() / "lwauth.conf").string() + ": is not a regular file",
                  (dir.path() / "lwauth.conf.d/oops.conf").string() + ": is not a regular file"}));
}

// Each reason a policy file cannot be read is reported in its words; only a missing
// lwauth.conf.d is no error.
TEST(PolicyFiles, ReportsATooLargeFileAndADropInDirectoryThatIsNot) {
    TempDir dir;
    dir.write("lwauth.conf", std::string((1 << 20) + 1, '#'), 0644);
    dir.write("lwauth.conf.d", "", 0644);
    auto result = load_directory(dir.path());
    EXPECT_EQ(messages(result.errors),
              (std::vector<std::string>{
                  (dir.path() / "lwauth.conf").string() + ": too large (more than 1 MiB)",
                  (dir.path() / "lwauth.conf.d").string() + ": is not a directory"}));
}

TEST(PolicyFiles, DropInsApplyInLexicalOrderAndIgnoreOtherNames) {
    TempDir dir;
    dir.write("lwauth.conf", "[code]\nlength = 6\ntries = 2\n", 0644);
    dir.write("lwauth.conf.d/20-b.conf", "[code]\nlength = 8\n", 0644);
    dir.write("lwauth.conf.d/10-a.conf", "[code]\nlength = 7\nlifetime = 2m\n", 0644);
    dir.write("lwauth.conf.d/30-c.conf.bak", "[code]\nlength = 9\n", 0644);
    dir.write("lwauth.conf.d/README", "not ini at all\n", 0644);
    dir.write("lwauth.conf.d/.hidden.conf", "[code]\nlength = 10\n", 0644);
    auto result = load_directory(dir.path());
    ASSERT_TRUE(result.policy.has_value()) << all_errors(result);
    EXPECT_EQ(result.policy->base.code.length, 8);
    EXPECT_EQ(result.policy->base.code.lifetime, 2min);
    EXPECT_EQ(result.policy->base.code.tries, 2);
}

TEST(PolicyFiles, ErrorsInDropInsNameTheDropIn) {
    TempDir dir;
    dir.write("lwauth.conf", "[code]\n", 0644);
    dir.write("lwauth.conf.d/50-site.conf", "[code]\n\nlength = 0\n", 0644);
    auto result = load_directory(dir.path());
    EXPECT_EQ(messages(result.errors),
              (std::vector<std::string>{
                  (dir.path() / "lwauth.conf.d/50-site.conf").string() +
                  ":3: bad value '0' for length: expected an integer from 6 to 10"}));
}

// A policy file decides who administers lwauth: only root may have written it.
std::string must_be_roots(const std::string& owner, const std::string& mode) {
    return "must be owned by root and not writable by group or others (chmod go-w); it is "
           "owned by " +
           owner + " with mode " + mode;
}

TEST(PolicyFiles, RefusesALwauthConfThatOthersMayWrite) {
    if (::geteuid() != 0) {
        GTEST_SKIP() << "policy files must be root's: needs root";
    }
    TempDir dir;
    fs::path conf = dir.write("lwauth.conf", "[policy]\ntwo_step = off\n", 0666);
    auto result = load_directory(dir.path());
    EXPECT_FALSE(result.policy.has_value());
    EXPECT_EQ(messages(result.errors),
              (std::vector<std::string>{conf.string() + ": " + must_be_roots("root", "0666")}));
    ::chmod(conf.c_str(), 0620);
    EXPECT_EQ(load_directory(dir.path()).errors.size(), 1u) << "group-writable";
    ::chmod(conf.c_str(), 0644);
    EXPECT_TRUE(load_directory(dir.path()).errors.empty());
}

TEST(PolicyFiles, RefusesADropInOfAnotherUser) {
    if (::geteuid() != 0) {
        GTEST_SKIP() << "chown to another user: needs root";
    }
    TempDir dir;
    dir.write("lwauth.conf", "", 0644);
    fs::path dropin = dir.write("lwauth.conf.d/50-mine.conf",
                                "[policy]\ntwo_step = off\nadmin_group = users\n", 0644);
    ASSERT_EQ(::chown(dropin.c_str(), 1004, 1004), 0);
    auto result = load_directory(dir.path());
    EXPECT_FALSE(result.policy.has_value());
    ASSERT_EQ(result.errors.size(), 1u) << all_errors(result);
    EXPECT_EQ(result.errors[0].to_string(),
              dropin.string() + ": " + must_be_roots("uid 1004", "0644"));
}

TEST(PolicyFiles, RefusesPolicyFilesReachedThroughASymbolicLink) {
    if (::geteuid() != 0) {
        GTEST_SKIP() << "policy files must be root's: needs root";
    }
    TempDir dir;
    TempDir elsewhere;
    fs::path target = elsewhere.write("user.conf", "[policy]\ntwo_step = off\n", 0644);
    fs::create_symlink(target, dir.path() / "lwauth.conf");
    fs::create_directories(dir.path() / "lwauth.conf.d");
    fs::create_symlink(target, dir.path() / "lwauth.conf.d/50-link.conf");
    auto result = load_directory(dir.path());
    EXPECT_FALSE(result.policy.has_value());
    EXPECT_EQ(
        messages(result.errors),
        (std::vector<std::string>{(dir.path() / "lwauth.conf").string() +
                                      ": is a symbolic link, which lwauth does not follow here",
                                  (dir.path() / "lwauth.conf.d/50-link.conf").string() +
                                      ": is a symbolic link, which lwauth does not follow here"}));
}

TEST(PolicyFiles, RefusesPolicyDirectoriesThatOthersMayWrite) {
    if (::geteuid() != 0) {
        GTEST_SKIP() << "policy files must be root's: needs root";
    }
    TempDir dir;
    dir.write("lwauth.conf", "", 0644);
    dir.write("lwauth.conf.d/10-a.conf", "", 0644);
    ::chmod(dir.path().c_str(), 0777);
    auto result = load_directory(dir.path());
    EXPECT_EQ(messages(result.errors), (std::vector<std::string>{dir.path().string() + ": " +
                                                                 must_be_roots("root", "0777")}));

    ::chmod(dir.path().c_str(), 0755);
    ::chmod((dir.path() / "lwauth.conf.d").c_str(), 0775);
    result = load_directory(dir.path());
    EXPECT_EQ(messages(result.errors),
              (std::vector<std::string>{(dir.path() / "lwauth.conf.d").string() + ": " +
                                        must_be_roots("root", "0775")}));
    // The edit path (lwauthctl policy edit) checks the same directories and drop-ins.
    EXPECT_EQ(load_directory_with(dir.path(), "").errors.size(), 1u);
}

TEST(PolicyFiles, TheOwnerRequiredCanBeNamed) {
    TempDir dir;
    dir.write("lwauth.conf", "[code]\nlength = 8\n", 0644);
    LoadOptions options;
    options.policy_owner_uid = ::geteuid();
    auto mine = load_directory(dir.path(), options);
    ASSERT_TRUE(mine.policy.has_value()) << all_errors(mine);
    options.policy_owner_uid = ::geteuid() + 1;
    auto theirs = load_directory(dir.path(), options);
    ASSERT_EQ(theirs.errors.size(), 1u);
    EXPECT_NE(
        theirs.errors[0].message.find("must be owned by uid " + std::to_string(::geteuid() + 1)),
        std::string::npos)
        << theirs.errors[0].message;
}

TEST(PolicyFiles, AFifoInPlaceOfADropInDoesNotHang) {
    if (::geteuid() != 0) {
        GTEST_SKIP() << "policy files must be root's: needs root";
    }
    TempDir dir;
    dir.write("lwauth.conf", "", 0644);
    fs::create_directories(dir.path() / "lwauth.conf.d");
    ASSERT_EQ(::mkfifo((dir.path() / "lwauth.conf.d/10-fifo.conf").c_str(), 0644), 0);
    auto result = load_directory(dir.path());
    EXPECT_EQ(messages(result.errors),
              (std::vector<std::string>{(dir.path() / "lwauth.conf.d/10-fifo.conf").string() +
                                        ": is not a regular file"}));
}

TEST(PolicyFiles, SameKeyInALaterFileIsNotADuplicate) {
    auto result = load_texts({{"lwauth.conf", "[policy]\ntwo_step = optional\n"},
                              {"10-a.conf", "[policy]\ntwo_step = required\n"},
                              {"20-b.conf", "[policy]\ntwo_step = off\n"}});
    ASSERT_TRUE(result.policy.has_value()) << all_errors(result);
    EXPECT_EQ(result.policy->base.two_step, TwoStep::Off);
}

// ---- Overrides --------------------------------------------------------------------------

const char* const kOverrides = R"([policy]
two_step = optional
[code]
length = 6
[group:staff]
two_step = required
code.length = 8
[group:contractors]
two_step = off
code.lifetime = 2m
lockout.max_failures = 3
[user:alice]
code.length = 10
[group:staff]
lockout.duration = 1h
)";

TEST(PolicyOverrides, UsersInNoMatchingSectionGetTheBasePolicy) {
    Policy policy = loaded(kOverrides);
    EXPECT_EQ(policy.effective_for("bob", {"users"}), policy.base);
}

TEST(PolicyOverrides, GroupSectionsApplyInFileOrder) {
    Policy policy = loaded(kOverrides);
    UserPolicy both = policy.effective_for("carol", {"contractors", "staff"});
    // [group:contractors] comes after the first [group:staff]: its two_step wins, whatever
    // order the user's groups are listed in.
    EXPECT_EQ(both.two_step, TwoStep::Off);
    EXPECT_EQ(both.code.length, 8);
    EXPECT_EQ(both.code.lifetime, 2min);
    EXPECT_EQ(both.lockout.max_failures, 3);
    EXPECT_EQ(both.lockout.duration, 1h);  // the second [group:staff] merges in
    EXPECT_EQ(policy.effective_for("carol", {"staff", "contractors"}), both);
}

TEST(PolicyOverrides, UserSectionWinsOverGroups) {
    Policy policy = loaded(kOverrides);
    UserPolicy alice = policy.effective_for("alice", {"staff"});
    EXPECT_EQ(alice.two_step, TwoStep::Required);
    EXPECT_EQ(alice.code.length, 10);
    EXPECT_EQ(alice.lockout.duration, 1h);
    EXPECT_EQ(policy.effective_for("alice", {}).code.length, 10);
    EXPECT_EQ(policy.effective_for("alice", {}).two_step, TwoStep::Optional);
}

TEST(PolicyOverrides, LanguageIsSetForAllAndOverriddenPerGroupAndUser) {
    Policy policy = loaded(
        "[policy]\nlanguage = ja\n[group:overseas]\nlanguage = en\n[user:alice]\nlanguage = ja\n");
    EXPECT_EQ(policy.base.language, lwauth::Language::Ja);
    EXPECT_EQ(policy.effective_for("bob", {"overseas"}).language, lwauth::Language::En);
    EXPECT_EQ(policy.effective_for("alice", {"overseas"}).language, lwauth::Language::Ja);
    EXPECT_EQ(loaded("").base.language, lwauth::Language::En) << "English by default";
    EXPECT_EQ(only_error("[policy]\nlanguage = fr\n"),
              "lwauth.conf:2: bad value 'fr' for language: expected en or ja");
}

TEST(PolicyOverrides, UserSectionWinsEvenWhenGroupSectionComesLater) {
    auto result = load_texts({{"lwauth.conf", "[user:alice]\ntotp = allowed\n"},
                              {"90-late.conf", "[group:staff]\ntotp = disabled\n"}});
    ASSERT_TRUE(result.policy.has_value()) << all_errors(result);
    EXPECT_TRUE(result.policy->effective_for("alice", {"staff"}).totp);
    EXPECT_FALSE(result.policy->effective_for("bob", {"staff"}).totp);
}

TEST(PolicyOverrides, SectionsOfTheSameNameInLaterFilesWin) {
    auto result = load_texts({{"lwauth.conf", "[group:staff]\ncode.tries = 2\n"},
                              {"10-a.conf", "[group:staff]\ncode.tries = 5\n"}});
    ASSERT_TRUE(result.policy.has_value()) << all_errors(result);
    EXPECT_EQ(result.policy->effective_for("x", {"staff"}).code.tries, 5);
}

TEST(PolicyOverrides, RejectsKeysThatCannotBeOverridden) {
    const std::string allowed =
        "two_step, self_service_reauth, login_with_phone, login_with_line, totp, "
        "second_factors, require_unrestricted, enroll_grace, remember_host, language, "
        "code.length, code.lifetime, code.tries, code.channels, lockout.max_failures, "
        "lockout.duration, quick_login.pin, quick_login.fingerprint, "
        "quick_login.pin_min_length, quick_login.max_failures, quick_login.lifetime, "
        "quick_login.remote";
    EXPECT_EQ(only_error("[group:staff]\ncontacts = admin\n"),
              "lwauth.conf:2: unknown key 'contacts' in [group:staff]: expected one of " + allowed);
    EXPECT_EQ(only_error("[user:bob]\ncode.resend_interval = 1m\n"),
              "lwauth.conf:2: unknown key 'code.resend_interval' in [user:bob]: expected one of " +
                  allowed);
    EXPECT_EQ(only_error("[user:bob]\nlength = 8\n"),
              "lwauth.conf:2: unknown key 'length' in [user:bob]: expected one of " + allowed);
}

TEST(PolicyOverrides, ValidatesOverrideValuesLikeTheirSections) {
    EXPECT_EQ(only_error("[group:staff]\ncode.lifetime = 20m\n"),
              "lwauth.conf:2: bad value '20m' for code.lifetime: expected a duration from 30s to "
              "10m (NIST SP 800-63B: at most 10 minutes)");
    EXPECT_EQ(only_error("[user:bob]\ncode.channels = fax\n"),
              "lwauth.conf:2: bad value 'fax' for code.channels: unknown item 'fax'; expected a "
              "list of sms, email or notification");
}

TEST(PolicyOverrides, RejectsSectionWithoutName) {
    EXPECT_EQ(only_error("[group:]\ntwo_step = off\n"),
              "lwauth.conf:1: bad section [group:]: expected [group:NAME]");
}

TEST(PolicyOverrides, KeepsSectionsWithTheirOrigin) {
    Policy policy = loaded(kOverrides);
    ASSERT_EQ(policy.overrides.size(), 4u);
    EXPECT_EQ(policy.overrides[2].scope, Override::Scope::User);
    EXPECT_EQ(policy.overrides[2].name, "alice");
    EXPECT_EQ(policy.overrides[2].line, 12);
    ASSERT_EQ(policy.overrides[2].settings.size(), 1u);
    const Setting& setting = policy.overrides[2].settings[0];
    EXPECT_EQ(setting.key, "code.length");
    EXPECT_EQ(setting.value, "10");
    EXPECT_EQ(setting.file, "lwauth.conf");
    EXPECT_EQ(setting.line, 13);
}

TEST(PolicyOverrides, EachLineIsCompiledAtLoadIntoATypedPatch) {
    Policy policy = loaded(kOverrides);
    const Patch& length = policy.overrides[2].settings[0].patch;  // [user:alice] code.length
    ASSERT_TRUE(std::holds_alternative<int>(length.value));
    EXPECT_EQ(std::get<int>(length.value), 10);
    const Patch& lifetime = policy.overrides[1].settings[1].patch;  // code.lifetime = 2m
    ASSERT_TRUE(std::holds_alternative<std::chrono::seconds>(lifetime.value));
    EXPECT_EQ(std::get<std::chrono::seconds>(lifetime.value), 2min);

    UserPolicy user;
    length.apply(user);
    lifetime.apply(user);
    EXPECT_EQ(user.code.length, 10);
    EXPECT_EQ(user.code.lifetime, 2min);
    UserPolicy only_those;
    only_those.code.length = 10;
    only_those.code.lifetime = 2min;
    EXPECT_EQ(user, only_those);
}

// The effective policy comes from the patches alone: with the text of every override
// line made meaningless after the load, every user still gets what the lines said.
TEST(PolicyOverrides, EffectivePolicyParsesNoText) {
    Policy policy = loaded(kOverrides);
    UserPolicy carol = policy.effective_for("carol", {"contractors", "staff"});
    UserPolicy alice = policy.effective_for("alice", {"staff"});
    for (auto& section : policy.overrides) {
        for (auto& setting : section.settings) {
            setting.key = "not a key";
            setting.value = "not a value";
        }
    }
    EXPECT_EQ(policy.effective_for("carol", {"contractors", "staff"}), carol);
    EXPECT_EQ(policy.effective_for("alice", {"staff"}), alice);
    EXPECT_EQ(alice.code.length, 10);
    EXPECT_EQ(carol.two_step, TwoStep::Off);
}

TEST(PolicyOverrides, EveryOverridableKeyTakesItsValueFromTheLoad) {
    auto result = load(
        "[user:alice]\ntwo_step = required\nself_service_reauth = none\n"
        "login_with_phone = allowed\nlogin_with_line = disabled\n"
        "totp = allowed\nenroll_grace = 2d\nremember_host = 12h\ncode.length = 8\n"
        "code.lifetime = 4m\ncode.tries = 2\ncode.channels = email, sms\n"
        "lockout.max_failures = 7\nlockout.duration = 2h\nquick_login.pin = allowed\n"
        "quick_login.fingerprint = allowed\nquick_login.pin_min_length = 10\n"
        "quick_login.max_failures = 2\nquick_login.lifetime = 1d\nquick_login.remote = yes\n");
    ASSERT_TRUE(result.policy.has_value()) << all_errors(result);
    UserPolicy expected;
    expected.two_step = TwoStep::Required;
    expected.self_service_reauth = Reauth::None;
    expected.login_with_phone = true;
    expected.totp = true;
    expected.enroll_grace = 48h;
    expected.remember_host = 12h;
    expected.code.length = 8;
    expected.code.lifetime = 4min;
    expected.code.tries = 2;
    expected.code.channels = {Kind::Email, Kind::Sms};
    expected.lockout.max_failures = 7;
    expected.lockout.duration = 2h;
    expected.quick_login = {true, true, 10, 2, 24h, true};
    EXPECT_EQ(result.policy->effective_for("alice", {}), expected);
    EXPECT_EQ(result.policy->effective_for("bob", {}), UserPolicy{});
}

// ---- describe ---------------------------------------------------------------------------

TEST(PolicyDescribe, ShowsEffectiveValuesAndDeliveringChannels) {
    Policy policy = loaded(std::string(kOverrides) +
                           "[channel.o]\ntype = outbox\npath = /tmp/o\nserves = sms\n");
    std::string text = describe(policy.effective_for("alice", {"staff"}), policy);
    EXPECT_NE(text.find("[policy]\ntwo_step = required\n"), std::string::npos) << text;
    EXPECT_NE(text.find("admin_group =\n"), std::string::npos) << text;
    EXPECT_NE(text.find("[code]\nlength = 10\nlifetime = 5m\n"), std::string::npos) << text;
    EXPECT_NE(text.find("# sms is delivered by: o\n# email is delivered by: no channel\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("[lockout]\nmax_failures = 5\nduration = 1h\n"), std::string::npos) << text;
    EXPECT_NE(text.find("[quick_login]\npin = disabled\nfingerprint = disabled\n"),
              std::string::npos)
        << text;
}

// Generated from the key table: every key of the sections that shape a login, in the
// table's order, each printed the way the loader reads it.
TEST(PolicyDescribe, PrintsTheDefaultPolicyKeyByKey) {
    const Policy policy;
    EXPECT_EQ(describe(policy.base, policy), R"([policy]
two_step = optional
contacts = self
self_service_reauth = code
admin_group =
admin_contact =
login_with_phone = disabled
login_with_line = disabled
totp = disabled
second_factors = totp, code, recovery
require_unrestricted = no
enroll_grace = 0s
remember_host = 0s
language = en

[code]
length = 6
lifetime = 5m
tries = 3
resend_interval = 30s
max_sends_per_hour = 30
max_sends_per_destination_per_hour = 30
max_sends_per_host_per_hour = 1000
max_sends_per_fleet_per_hour = 0
max_passwordless_sends_per_hour = 15
max_passwordless_sends_per_rhost_per_hour = 30
channels = sms, email
sms_country_prefixes =
# sms is delivered by: no channel
# email is delivered by: no channel

[lockout]
max_failures = 5
duration = 15m
passwordless_max_failures = 5
passwordless_duration = 15m

[login]
timeout = 5m
phone_local_only = no
phone_services =

[quick_login]
pin = disabled
fingerprint = disabled
pin_min_length = 6
max_failures = 5
lifetime = 30d
remote = no
argon2_memory = 19M
argon2_time = 2
argon2_parallelism = 1

[totp]
issuer = lwauth
digits = 6
period = 30s
algorithm = SHA1
window = 1
)");
}

TEST(PolicyDescribe, PrintsEveryKeyOfItsSections) {
    const Policy policy;
    std::string text = describe(policy.base, policy);
    const std::set<std::string> described{"policy", "code",        "lockout",
                                          "login",  "quick_login", "totp"};
    std::string section;
    size_t at = 0;
    for (const auto& [name, key] : known_keys()) {
        if (!described.contains(name)) {
            continue;
        }
        if (name != section) {
            section = name;
            at = text.find("[" + name + "]\n");
            ASSERT_NE(at, std::string::npos) << name;
        }
        at = text.find("\n" + key + " =", at);
        EXPECT_NE(at, std::string::npos)
            << "[" << name << "] " << key << " missing or out of order";
    }
}

TEST(PolicyDescribe, OutputReadsBackAsTheSamePolicy) {
    Policy policy = loaded(kOverrides);
    UserPolicy carol = policy.effective_for("carol", {"staff", "contractors"});
    auto reread = load(describe(carol, policy));
    ASSERT_TRUE(reread.policy.has_value()) << all_errors(reread);
    EXPECT_EQ(reread.policy->base, carol);
}

TEST(PolicyValues, ACompoundDurationIsRefusedWithTheSingleUnitToWrite) {
    EXPECT_EQ(only_error("[lockout]\nduration = 1h30m\n"),
              "lwauth.conf:2: bad value '1h30m' for duration: expected a duration like 30s, 5m, "
              "2h or 30d, one number and one unit: write 1h30m as 90m");
    EXPECT_EQ(only_error("[code]\nlifetime = 2m30s\n"),
              "lwauth.conf:2: bad value '2m30s' for lifetime: expected a duration like 30s, 5m, "
              "2h or 30d, one number and one unit: write 2m30s as 150s");
}

// ---- Turning channels off and ordering them ---------------------------------------------

constexpr const char* kTwoOutboxes = R"([channel.a]
type = outbox
path = /nonexistent/a.jsonl
serves = sms, email

[channel.b]
type = outbox
path = /nonexistent/b.jsonl
serves = sms
)";

std::vector<std::string> names_for(const Policy& policy, Kind kind) {
    std::vector<std::string> names;
    for (const ChannelConfig* channel : policy.channels_for(kind)) {
        names.push_back(channel->name);
    }
    return names;
}

TEST(PolicyChannels, ADropInCanTurnOffAChannelOfLwauthConf) {
    auto result =
        load_texts({{"lwauth.conf", kTwoOutboxes}, {"10-a.conf", "[channel.a]\nenabled = no\n"}});
    ASSERT_TRUE(result.policy.has_value()) << all_errors(result);
    EXPECT_EQ(names_for(*result.policy, Kind::Sms), (std::vector<std::string>{"b"}));
    EXPECT_TRUE(names_for(*result.policy, Kind::Email).empty());
}

TEST(PolicyChannels, ADisabledChannelIsNotChecked) {
    auto result = load("[channel.broken]\ntype = twilio\nenabled = no\n");
    ASSERT_TRUE(result.policy.has_value()) << all_errors(result);
    EXPECT_TRUE(result.policy->channels.empty());
    EXPECT_EQ(only_error("[channel.x]\ntype = outbox\npath = /x\nenabled = perhaps\n"),
              "lwauth.conf:4: bad value 'perhaps' for enabled: expected yes, no, true, false, "
              "on, off, 1 or 0");
}

TEST(PolicyChannels, OrderDecidesWhichChannelIsTriedFirst) {
    Policy defined = loaded(kTwoOutboxes);
    EXPECT_EQ(names_for(defined, Kind::Sms), (std::vector<std::string>{"a", "b"}));
    auto reordered =
        load_texts({{"lwauth.conf", kTwoOutboxes}, {"10-b.conf", "[channel.b]\norder = 10\n"}});
    ASSERT_TRUE(reordered.policy.has_value()) << all_errors(reordered);
    EXPECT_EQ(names_for(*reordered.policy, Kind::Sms), (std::vector<std::string>{"b", "a"}));
    EXPECT_EQ(only_error(std::string(kTwoOutboxes) + "order = 101\n"),
              "lwauth.conf:10: bad value '101' for order: expected an integer from 0 to 100");
}

TEST(PolicyChannels, AnOutboxOutsideATestDirectoryIsWarnedAbout) {
    TempDir dir;
    dir.write("lwauth.conf", kTwoOutboxes, 0644);
    auto quiet = load_directory(dir.path(), owned_by_me());
    EXPECT_TRUE(quiet.warnings.empty()) << messages(quiet.warnings).front();
    LoadOptions options = owned_by_me();
    options.test_directories.clear();
    auto warned = load_directory(dir.path(), options);
    ASSERT_TRUE(warned.policy.has_value()) << all_errors(warned);
    EXPECT_EQ(messages(warned.warnings),
              (std::vector<std::string>{
                  (dir.path() / "lwauth.conf").string() +
                      ":1: [channel.a] is an outbox: every code it serves (sms, email) is written "
                      "to /nonexistent/a.jsonl and reaches no user; use it only for tests and "
                      "demos, or set enabled = no",
                  (dir.path() / "lwauth.conf").string() +
                      ":6: [channel.b] is an outbox: every code it serves (sms) is written to "
                      "/nonexistent/b.jsonl and reaches no user; use it only for tests and demos, "
                      "or set enabled = no"}));
}

TEST(PolicyChannels, NoChannelAtAllIsOneWarningUnlessTwoStepIsOffEverywhere) {
    auto none = load("[policy]\ntwo_step = required\n");
    ASSERT_EQ(none.warnings.size(), 1u);
    EXPECT_NE(none.warnings[0].message.find("no delivery channel configured"), std::string::npos);
    EXPECT_TRUE(load("[policy]\ntwo_step = off\n").warnings.empty());
    EXPECT_EQ(load("[policy]\ntwo_step = off\n[group:ops]\ntwo_step = required\n").warnings.size(),
              1u);
}

// ---- The shipped files ------------------------------------------------------------------

const fs::path kShippedDir = fs::path(LWAUTH_SOURCE_DIR) / "etc/lwauth";

// The shipped policy delivers nothing until the administrator names a channel: a code
// that goes to a file reaches no user. The one warning says so.
// The source tree's owner stands in for root, who owns the installed files.
LoadOptions owned_like_the_source_tree() {
    struct stat st {};
    ::stat(kShippedDir.c_str(), &st);
    LoadOptions options;
    options.policy_owner_uid = st.st_uid;
    return options;
}

TEST(ShippedPolicy, LoadsCleanlyAndConfiguresNoDeliveryChannel) {
    auto result = load_directory(kShippedDir, owned_like_the_source_tree());
    ASSERT_TRUE(result.errors.empty()) << all_errors(result);
    ASSERT_EQ(result.warnings.size(), 1u) << all_errors(result);
    EXPECT_EQ(result.warnings[0].to_string(),
              (kShippedDir / "lwauth.conf").string() +
                  ": no delivery channel configured: lwauthd sends no code, so nobody can add a "
                  "contact or pass 2-step verification, until a [channel.NAME] section names "
                  "one (see lwauth.conf(5))");
    ASSERT_TRUE(result.policy.has_value());
    const Policy& policy = *result.policy;
    EXPECT_EQ(policy.base, UserPolicy{});
    EXPECT_EQ(policy.base.code.channels, (std::vector<Kind>{Kind::Sms, Kind::Email}));
    EXPECT_TRUE(policy.channels.empty());
}

// "#key = value" lines state the defaults: uncommented, they must change nothing.
TEST(ShippedPolicy, CommentedValuesAreTheBuiltInDefaults) {
    std::string text = read_file(kShippedDir / "lwauth.conf");
    ASSERT_FALSE(text.empty());
    std::string uncommented =
        std::regex_replace(text, std::regex("^#([a-z])", std::regex::multiline), "$1");
    ASSERT_NE(uncommented, text);
    auto shipped = load_texts({{"lwauth.conf", text}});
    auto defaults = load_texts({{"lwauth.conf (uncommented)", uncommented}});
    ASSERT_TRUE(shipped.policy.has_value()) << all_errors(shipped);
    ASSERT_TRUE(defaults.policy.has_value()) << all_errors(defaults);
    Policy expected = *shipped.policy;
    Policy actual = *defaults.policy;
    EXPECT_EQ(actual, expected);
    EXPECT_EQ(actual.base, UserPolicy{});
}

// The keys every channel has, documented once in the shipped file's channel comment.
bool common_channel_key(const std::string& key) {
    static const std::set<std::string> common = {"serves",  "timeout", "order",
                                                 "enabled", "ca_file", "proxy"};
    return common.contains(key);
}

// Every key the loader accepts appears in its section of the shipped lwauth.conf, as a
// default ("#key = ...") or an example ("# key = ..."); the keys every channel has appear
// in the comment on channels ("#   timeout = ...").
TEST(ShippedPolicy, DocumentsEveryKeyTheLoaderAccepts) {
    std::set<std::pair<std::string, std::string>> documented;
    std::set<std::string> common_documented;
    std::istringstream text(read_file(kShippedDir / "lwauth.conf"));
    const std::regex section(R"(^# ?\[([^\]]+)\]$|^\[([^\]]+)\]$)");
    const std::regex key(R"(^(?:# ?)?([a-z_.][a-z0-9_.]*) =)");
    const std::regex common(R"(^#   ([a-z_]+) +=)");
    std::string current;
    for (std::string line; std::getline(text, line);) {
        std::smatch match;
        if (std::regex_match(line, match, section)) {
            current = match[1].matched ? match[1].str() : match[2].str();
        } else if (std::regex_search(line, match, common)) {
            common_documented.insert(match[1].str());
        } else if (std::regex_search(line, match, key)) {
            documented.emplace(current, match[1].str());
        }
    }
    for (const auto& [name, k] : known_keys()) {
        if (name.starts_with("channel.") && common_channel_key(k)) {
            EXPECT_TRUE(common_documented.contains(k)) << "channels' " << k;
        } else {
            EXPECT_TRUE(documented.contains({name, k})) << "[" << name << "] " << k;
        }
    }
}

// Every key the loader accepts is a term of lwauth.conf(5) (a line after .TP), in the
// section of its own or, for a channel, of its type ("type = twilio") or of every channel.
TEST(ManPage, LwauthConfDocumentsEveryKeyTheLoaderAccepts) {
    std::istringstream text(read_file(fs::path(LWAUTH_SOURCE_DIR) / "docs/lwauth.conf.5"));
    std::set<std::pair<std::string, std::string>> terms;
    const std::regex heading(R"re(^\.S[HS] "?([^"]*)"?$)re");
    const std::regex term(R"re(^\.(?:B|BR|BI|I|IR) "?([a-z_][a-z0-9_]*))re");
    std::string current;
    bool after_tp = false;
    for (std::string line; std::getline(text, line);) {
        std::smatch match;
        if (std::regex_match(line, match, heading)) {
            current = match[1].str();
        } else if (after_tp && std::regex_search(line, match, term)) {
            terms.emplace(current, match[1].str());
        }
        after_tp = line == ".TP";
    }
    auto heading_of = [](const std::string& section) {
        if (section.starts_with("channel.")) {
            return "type = " + section.substr(8);
        }
        return "[" + section + "] SECTION";
    };
    for (const auto& [name, k] : known_keys()) {
        bool found = terms.contains({heading_of(name), k});
        if (!found && name.starts_with("channel.")) {
            found = terms.contains({"[channel.NAME] SECTIONS", k});
        }
        EXPECT_TRUE(found) << "lwauth.conf(5) has no term for [" << name << "] " << k;
    }
}

}  // namespace
}  // namespace lwauth::policy
