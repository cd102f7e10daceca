// The administrator's policy: /etc/lwauth/lwauth.conf plus drop-ins in lwauth.conf.d/.
//
// Loading never throws for bad input: every problem in every file comes back as a
// Diagnostic with file and line, so `lwauthctl policy check` can list them all at once
// and lwauthd can refuse to start (or keep its running policy on reload) with reasons.
// docs/lwauth.conf.5 is the reference for the format; etc/lwauth/lwauth.conf is the
// shipped default and documents every key.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "lwauth/files.hpp"
#include "lwauth/i18n.hpp"

namespace lwauth::policy {

enum class TwoStep { Off, Optional, Required };
enum class Contacts { Self, Admin };
// Whether a user's own change that weakens their login (2-step off, a verified contact
// removed or replaced) must first be confirmed with a code to a verified contact.
enum class Reauth { Code, None };
enum class Kind { Sms, Email, Notification };
enum class IdTokenAlg { Hs256, Es256 };
enum class TotpAlgorithm { Sha1, Sha256, Sha512 };
// The second factors of 2-step verification ([policy] second_factors): an authenticator
// app, a code sent to a contact (SMS, email, a notification), a recovery code.
enum class SecondFactor { Totp, Code, Recovery };
enum class StoreBackend { Sqlite, Postgresql };
enum class DirectoryBackend { None, Ldap, Lineworks };

/// The word used for the value in lwauth.conf ("optional").
[[nodiscard]] const char* to_string(TwoStep value);
/// The word used for the value in lwauth.conf ("self").
[[nodiscard]] const char* to_string(Contacts value);
/// The word used for the value in lwauth.conf ("code").
[[nodiscard]] const char* to_string(Reauth value);
/// The word used for the value in lwauth.conf ("sms").
[[nodiscard]] const char* to_string(Kind value);
/// The word used for the value in lwauth.conf ("HS256").
[[nodiscard]] const char* to_string(IdTokenAlg value);
/// The word used for the value in lwauth.conf ("SHA1").
[[nodiscard]] const char* to_string(TotpAlgorithm value);
/// The word used for the value in lwauth.conf ("totp").
[[nodiscard]] const char* to_string(SecondFactor value);
/// The word used for the value in lwauth.conf ("sqlite").
[[nodiscard]] const char* to_string(StoreBackend value);
/// The word used for the value in lwauth.conf ("none").
[[nodiscard]] const char* to_string(DirectoryBackend value);

/// A duration the way lwauth.conf writes it: the largest of d, h, m, s that divides it
/// exactly ("15m", "90s", "30d").
[[nodiscard]] std::string format_duration(std::chrono::seconds value);

struct CodePolicy {
    int length = 6;
    std::chrono::seconds lifetime{300};
    int tries = 3;  // wrong answers allowed per code
    std::chrono::seconds resend_interval{30};
    // Sized so that someone who opens a few dozen sessions an hour never meets them,
    // while a stolen password cannot run up more than that in SMS (lwauth.conf(5)).
    int max_sends_per_hour = 30;  // per user
    int max_sends_per_destination_per_hour = 30;
    int max_sends_per_host_per_hour = 1000;
    // Every host's codes together, on a store they share ([store] backend = postgresql);
    // 0: no such cap.
    int max_sends_per_fleet_per_hour = 0;
    // Before any password (mode=primary), a budget of its own: per user, and per remote
    // host; the per-destination and host limits above apply to it apart. Anyone who
    // knows a user name can spend it, so it is smaller.
    int max_passwordless_sends_per_hour = 15;
    int max_passwordless_sends_per_rhost_per_hour = 30;
    std::vector<Kind> channels{Kind::Sms, Kind::Email};  // delivery kinds, in order of preference
    std::vector<std::string> sms_country_prefixes;       // "+81"...; empty: any number
    friend bool operator==(const CodePolicy&, const CodePolicy&) = default;
};

struct LockoutPolicy {
    int max_failures = 5;
    std::chrono::seconds duration{900};
    // Wrong codes before any password, per user and per remote host, within
    // passwordless_duration, that suspend the passwordless methods (for that long).
    int passwordless_max_failures = 5;
    std::chrono::seconds passwordless_duration{900};
    friend bool operator==(const LockoutPolicy&, const LockoutPolicy&) = default;
};

/// [quick_login]: a PIN or a fingerprint on this machine, after a full login. The part
/// that [group:] and [user:] may change; the Argon2id costs are Argon2Params.
struct QuickLoginPolicy {
    static constexpr int kMinPinLength = 4;  // pin_min_length's bounds
    static constexpr int kMaxPinLength = 32;

    bool pin = false;          // pin = allowed | disabled
    bool fingerprint = false;  // fingerprint = allowed | disabled
    int pin_min_length = 6;    // 4-32 digits
    // Wrong PINs in a row after which the PIN is disabled until the next full login
    // (NIST SP 800-63B: at most 10).
    int max_failures = 5;
    // How long after a full login quick login may be used; a full login re-arms it.
    std::chrono::seconds lifetime{30 * 24 * 3600};
    bool remote = false;  // offered to remote sessions too (never by default)
    friend bool operator==(const QuickLoginPolicy&, const QuickLoginPolicy&) = default;
};

/// The part of the policy that [group:NAME] and [user:NAME] sections can change.
struct UserPolicy {
    TwoStep two_step = TwoStep::Optional;
    Reauth self_service_reauth = Reauth::Code;
    bool login_with_phone = false;
    bool login_with_line = false;
    bool totp = false;
    // The second factors a user may use, in the order a login offers them.
    std::vector<SecondFactor> second_factors{SecondFactor::Totp, SecondFactor::Code,
                                             SecondFactor::Recovery};
    // A code sent by SMS or email alone does not pass 2-step (NIST SP 800-63B: those are
    // restricted); an authenticator app or a recovery code must.
    bool require_unrestricted = false;
    // A user with no contact a code can reach logs in without a code for this long from
    // their first such login (0: refused at once).
    std::chrono::seconds enroll_grace{0};
    // After a full 2-step login, the same user from the same remote host (or local
    // terminal) and PAM service is not asked for a code again for this long (0: off).
    std::chrono::seconds remember_host{0};
    CodePolicy code;
    LockoutPolicy lockout;
    QuickLoginPolicy quick_login;
    // The language of a login's lines and code message when the PAM session's locale
    // names none lwauth has ([policy] language).
    Language language = Language::En;
    friend bool operator==(const UserPolicy&, const UserPolicy&) = default;
};

/// Where a passwordless method may be offered.
struct MethodLimits {
    bool local_only = false;            // only to sessions without a remote host
    std::vector<std::string> services;  // PAM services it is offered to; empty: any

    /// Whether a session of `service` from `rhost` ("" when local) may use the method.
    [[nodiscard]] bool allow(const std::string& service, const std::string& rhost) const;
    friend bool operator==(const MethodLimits&, const MethodLimits&) = default;
};

/// The Argon2id costs of new PIN hashes ([quick_login] argon2_*). The default is OWASP's
/// minimum for Argon2id: m = 19 MiB, t = 2, p = 1. A stored hash keeps the costs it was
/// made with (in its PHC string) until the next right PIN rehashes it with these.
struct Argon2Params {
    // The bounds of the policy keys, and of the costs lwauthd accepts in a stored hash.
    static constexpr int kMinMemoryKib = 8 * 1024;
    static constexpr int kMaxMemoryKib = 1024 * 1024;
    static constexpr int kMaxTime = 10;
    static constexpr int kMaxParallelism = 4;

    int memory_kib = 19 * 1024;  // m, in KiB: 8 MiB to 1 GiB
    int time = 2;                // t, passes over the memory: 1-10
    int parallelism = 1;         // p, lanes: 1-4
    friend bool operator==(const Argon2Params&, const Argon2Params&) = default;
};

struct TotpPolicy {
    std::string issuer = "lwauth";
    int digits = 6;
    std::chrono::seconds period{30};
    TotpAlgorithm algorithm = TotpAlgorithm::Sha1;
    int window = 1;  // time steps accepted before and after the current one
    friend bool operator==(const TotpPolicy&, const TotpPolicy&) = default;
};

/// The path below [line] public_url where LINE sends the phone back after approval.
inline constexpr std::string_view kLineCallbackPath = "/line/callback";

/// [line]: LINE Login (OpenID Connect), for login_with_line.
struct LinePolicy {
    std::string channel_id;  // the LINE Login channel's ID (digits); its ID tokens' aud
    std::filesystem::path channel_secret_file;
    // The HTTPS base the phone reaches (the site's TLS proxy in front of `listen`).
    std::string public_url;
    std::string listen = "127.0.0.1:8741";  // host:port of lwauthd's plain-HTTP endpoint
    // The endpoint's connections at once, in all and from one client address.
    static constexpr int kMaxConnections = 64;
    static constexpr int kDefaultConnectionsPerAddress = 8;
    // From one client address, 1 to kMaxConnections; 0: by `listen`
    // (connections_per_address_limit()).
    int connections_per_address = 0;
    std::string authorize_url = "https://access.line.me/oauth2/v2.1/authorize";
    std::string token_url = "https://api.line.me/oauth2/v2.1/token";
    std::string jwks_url = "https://api.line.me/oauth2/v2.1/certs";  // empty: none (HS256)
    std::string issuer = "https://access.line.me";  // the `iss` an ID token must carry
    IdTokenAlg id_token_alg = IdTokenAlg::Hs256;
    // How long a login's (or a link attempt's) short link stays usable: inside sshd's
    // default LoginGraceTime (120 s), so that the link dies no later than the session.
    std::chrono::seconds link_lifetime{120};
    std::chrono::seconds max_age{0};  // sent as max_age to LINE; 0: not sent
    // The key of the keyed hash of `sub` that a link keeps (a fleet shares one file);
    // empty: the host's own key (code.key in lwauthd's state directory).
    std::filesystem::path subject_key_file;
    // Earlier subject keys: a link kept under one of them still matches, and is kept again
    // under subject_key_file when it does (a rotation without unlinking anyone).
    std::vector<std::filesystem::path> subject_old_key_files;
    // How lwauthd reaches LINE's token and keys endpoints: a CA bundle instead of the
    // system's, and a proxy (never the environment's); empty: none.
    std::string ca_file;
    std::string proxy;

    /// The redirect URI registered on the LINE Developers console and sent as
    /// redirect_uri: public_url without a trailing '/', then kLineCallbackPath
    /// ("https://login.example.com/lwauth" -> "https://login.example.com/lwauth/line/callback").
    [[nodiscard]] std::string redirect_uri() const;

    /// The endpoint's limit of connections from one client address: connections_per_address
    /// when set, else kMaxConnections when `listen` is a loopback address (the peer is then
    /// always the site's TLS proxy, which limits each client itself), else
    /// kDefaultConnectionsPerAddress.
    [[nodiscard]] int connections_per_address_limit() const;

    friend bool operator==(const LinePolicy&, const LinePolicy&) = default;
};

struct StorePolicy {
    StoreBackend backend = StoreBackend::Sqlite;
    std::filesystem::path path;  // empty: the daemon's default under its state directory
    // backend = postgresql: a libpq connection string or postgresql:// URL, without the
    // password, which comes from password_file (a secret file) or ~/.pgpass.
    std::string url;
    std::filesystem::path password_file;
    // Keys the administrator gives every host of a fleet (secret files of 32 bytes or 64
    // hex digits); empty: code.key and contacts.key of the state directory, made there.
    std::filesystem::path code_key_file;
    // Earlier code keys: recovery codes kept under them still match, and send counts of
    // a destination under them are checked too.
    std::vector<std::filesystem::path> code_old_key_files;
    std::filesystem::path contacts_key_file;
    // Earlier contacts keys: what they sealed still opens (until `lwauthctl admin rekey`).
    std::vector<std::filesystem::path> contacts_old_key_files;
    friend bool operator==(const StorePolicy&, const StorePolicy&) = default;
};

/// How lwauthd itself runs. Read at start only: a reload that changes it says so.
struct DaemonPolicy {
    int workers = 2;  // threads for CPU-heavy work (PIN hashing), 1-16
    friend bool operator==(const DaemonPolicy&, const DaemonPolicy&) = default;
};

struct DirectoryPolicy {
    DirectoryBackend backend = DirectoryBackend::None;
    std::string ldap_uri;
    std::string ldap_base;
    std::string ldap_bind_dn;
    std::filesystem::path ldap_password_file;
    // The PEM CA file the directory's certificate must chain to; empty: libldap's
    // (TLS_CACERT of /etc/ldap/ldap.conf, the system's CA store on Debian).
    std::filesystem::path ldap_ca_file;
    // The search filter; %u stands for the user name, escaped per RFC 4515 section 3.
    std::string ldap_filter = "(uid=%u)";
    std::string phone_attribute = "mobile";
    std::string email_attribute = "mail";
    // backend = lineworks: the [channel.NAME] of type lineworks whose service account and
    // user IDs are used, and the most Directory API requests a minute.
    std::string lineworks_channel;
    static constexpr int kMaxLineworksRate = 240;  // the service's limit (paid plans)
    int lineworks_rate = kMaxLineworksRate;
    std::chrono::seconds sync_interval{15 * 60};  // between background synchronizations
    // Contacts not confirmed by the directory for this long are removed (fail closed).
    std::chrono::seconds max_age{24 * 3600};
    friend bool operator==(const DirectoryPolicy&, const DirectoryPolicy&) = default;
};

/// One [channel.NAME] section, validated for its type.
struct ChannelConfig {
    std::string name;
    std::string type;  // outbox, twilio, vonage, webhook, smtp, lineworks, line
    std::vector<Kind> serves;
    std::chrono::seconds timeout{10};
    int order = 50;  // a kind's channels are tried by order (0-100), then as defined
    // Every other key of the section, validated, with the type's defaults filled in
    // (e.g. base_url). Secret keys (*_file) hold the path, never the secret.
    std::map<std::string, std::string> options;
    std::string file;  // where the section was first opened
    int line = 0;

    /// The value of an option, or "" when it is not set and has no default.
    [[nodiscard]] std::string option(const std::string& key) const;
    friend bool operator==(const ChannelConfig&, const ChannelConfig&) = default;
};

/// What one line of a [group:NAME] or [user:NAME] section does to a user's policy,
/// compiled when the policy is loaded: the value, already parsed and typed, and the
/// UserPolicy field it is written to. Applying it parses nothing.
struct Patch {
    using Value = std::variant<bool, int, std::chrono::seconds, TwoStep, Reauth, Language,
                               std::vector<Kind>, std::vector<SecondFactor>>;
    void (*write)(UserPolicy&, const Value&) = nullptr;
    Value value;

    void apply(UserPolicy& user) const { write(user, value); }
    friend bool operator==(const Patch&, const Patch&) = default;
};

/// One key = value line of a [group:NAME] or [user:NAME] section, validated and compiled.
/// Keys are those of [policy] ("two_step") or dotted ("code.length"); key and value are
/// kept as written for diagnostics, the patch is what the line does.
struct Setting {
    std::string key;
    std::string value;
    std::string file;
    int line = 0;
    Patch patch;
    friend bool operator==(const Setting&, const Setting&) = default;
};

/// One [group:NAME] or [user:NAME] section as it appeared in a file. Sections with the
/// same name are kept apart and applied in the order they were read, so a later one wins.
struct Override {
    enum class Scope { Group, User };
    Scope scope = Scope::Group;
    std::string name;
    std::vector<Setting> settings;  // in file order
    std::string file;
    int line = 0;
    friend bool operator==(const Override&, const Override&) = default;
};

struct Policy {
    UserPolicy base;
    Contacts contacts = Contacts::Self;
    std::string admin_group;    // empty: only root administers
    std::string admin_contact;  // how users reach their administrator ("IT desk, ext. 1234")
    std::chrono::seconds login_timeout{300};
    MethodLimits phone_login;  // [login] phone_local_only, phone_services
    Argon2Params argon2;  // [quick_login] argon2_memory, argon2_time, argon2_parallelism
    TotpPolicy totp;
    LinePolicy line;
    StorePolicy store;
    DaemonPolicy daemon;
    DirectoryPolicy directory;
    std::vector<ChannelConfig> channels;  // in file order
    std::vector<Override> overrides;      // in file order

    /// The effective policy for a user who is in the given groups: the base sections,
    /// then every [group:G] for the user's groups in file order, then [user:NAME], each
    /// applied from its compiled patches.
    [[nodiscard]] UserPolicy effective_for(const std::string& user,
                                           const std::vector<std::string>& groups) const;

    /// The same, asking `groups_of` for the user's groups only when a [group:] section
    /// exists: a group lookup goes through NSS (files, sssd, LDAP) and costs more than the
    /// rest of a login's policy, while most policies name no group.
    template <class GroupsOf>
    [[nodiscard]] UserPolicy effective_for_lazy(const std::string& user,
                                                GroupsOf&& groups_of) const {
        return has_group_sections() ? effective_for(user, groups_of())
                                    : effective_for(user, std::vector<std::string>{});
    }

    /// Whether any [group:] section exists.
    [[nodiscard]] bool has_group_sections() const;

    /// Channels (in file order) that serve a kind.
    [[nodiscard]] std::vector<const ChannelConfig*> channels_for(Kind kind) const;

    friend bool operator==(const Policy&, const Policy&) = default;
};

struct Diagnostic {
    std::string file;
    int line = 0;  // 0: about the file as a whole
    std::string message;

    /// "file:line: message", or "file: message" when line is 0.
    [[nodiscard]] std::string to_string() const;
    friend bool operator==(const Diagnostic&, const Diagnostic&) = default;
};

struct LoadOptions {
    // Who reads the *_file secrets (secret_file_rule): lwauthd's user and group. lwauthd
    // names itself; lwauthctl names the `lwauth` account when there is one, else root.
    SecretReader secret_reader;
    // The owner required of the policy directory, lwauth.conf.d and every file read;
    // none of them may be writable by group or others. lwauthd and lwauthctl keep root;
    // the unit tests, which may run unprivileged, name their own user.
    uid_t policy_owner_uid = 0;
    // Policy directories below these (tests', demos') may use an outbox channel without
    // the warning that it keeps every code from its user.
    std::vector<std::string> test_directories{"/tmp/", "/var/tmp/"};
};

struct LoadResult {
    std::optional<Policy> policy;  // set only when errors is empty
    std::vector<Diagnostic> errors;
    // Legal but probably unintended (e.g. a delivery kind that no channel serves);
    // they never stop a load.
    std::vector<Diagnostic> warnings;
};

/// Reads DIR/lwauth.conf and DIR/lwauth.conf.d/*.conf (lexical order, later wins).
[[nodiscard]] LoadResult load_directory(const std::filesystem::path& dir,
                                        const LoadOptions& options = {});

/// As load_directory, with `main_text` read in place of DIR/lwauth.conf (an edit that
/// is not installed yet).
[[nodiscard]] LoadResult load_directory_with(const std::filesystem::path& dir,
                                             std::string_view main_text,
                                             const LoadOptions& options = {});

/// Every key the loader accepts, as (section, key): the fixed sections ("code",
/// "length"), and for each channel type a section "channel.TYPE" with the keys every
/// channel has and the type's own. For the tests that hold the documentation to it.
[[nodiscard]] std::vector<std::pair<std::string, std::string>> known_keys();

/// Parses files given as (name, text) pairs, layered in order as if they were lwauth.conf
/// and its drop-ins; `name` is used in diagnostics.
[[nodiscard]] LoadResult load_texts(
    const std::vector<std::pair<std::string, std::string>>& named_texts,
    const LoadOptions& options = {});

/// The [channel.NAME] types the loader accepts ("outbox", "twilio", "smtp"...): the one
/// list of them, which lwauthd's channel factory builds from.
[[nodiscard]] std::vector<std::string_view> channel_type_names();
/// Whether `key` of a channel of `type` names a secret file (auth_token_file...): the keys
/// the loader checks as secrets are the only ones lwauthd reads secrets from.
[[nodiscard]] bool is_channel_secret_key(std::string_view type, std::string_view key);

/// A messenger channel's `user_id` template ("{user}@example.com"): `{user}` stands for
/// the user name; no other brace, space or control character may appear.
[[nodiscard]] bool user_id_template_valid(std::string_view user_id_template);
/// The template with every `{user}` replaced by `user`. The template must be valid.
[[nodiscard]] std::string expand_user_id(std::string_view user_id_template, std::string_view user);

/// A LINE user ID as the Messaging API takes it in "to": "U" and 32 lower-case hex
/// digits, issued by LINE per provider (never the user's name or LINE ID).
[[nodiscard]] bool is_line_user_id(std::string_view id);
/// An ID LINE WORKS API 2.0 takes for a member in a bot message's path: a user ID (five
/// groups of 8-4-4-4-12 letters and digits, as the Directory API issues them) or a login
/// ID ("name@domain").
[[nodiscard]] bool is_lineworks_user_id(std::string_view id);

/// Human-readable dump of an effective policy (key = value lines grouped by section, in
/// lwauth.conf syntax), used by `lwauthctl policy check --user`.
[[nodiscard]] std::string describe(const UserPolicy& user, const Policy& policy);

}  // namespace lwauth::policy
