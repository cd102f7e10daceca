// Loading lwauth.conf: the files of a policy directory, each read line by line (every line
// parsed once, by the line reader), the sections and keys as read, and the checks that need
// the whole policy.
//
// The pieces live beside this file: policy_lines (the line reader), policy_values (the value
// parsers), policy_keys (the key table), policy_channels (the channel schemas) and
// policy_files (reading files); the effective policy and describe() are in policy_effective.
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <system_error>
#include <variant>

#include "lwauth/bus_names.hpp"
#include "lwauth/policy.hpp"
#include "lwauth/text.hpp"
#include "policy_channels.hpp"
#include "policy_files.hpp"
#include "policy_keys.hpp"
#include "policy_lines.hpp"
#include "policy_values.hpp"

namespace lwauth::policy {
namespace {

using namespace detail;
using namespace std::chrono_literals;

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

class Loader {
  public:
    explicit Loader(const LoadOptions& options, std::filesystem::path directory = {})
        : options_(options), directory_(std::move(directory)) {}

    // A file that could not be read: it still counts for the order of diagnostics.
    void file_failed(const std::string& name, const std::string& reason) {
        files_.push_back(name);
        error({name, 0}, reason);
    }

    // A policy file read that has another name: a warning about the file as a whole.
    void warn_other_names(const std::string& path) {
        warnings_.push_back({path, 0, other_names_warning(path)});
    }

    void parse(const std::string& name, const std::string& text) {
        files_.push_back(name);
        file_ = name;
        line_ = 0;
        section_ = {};
        seen_.clear();
        std::string_view rest = text;
        while (!rest.empty()) {
            size_t end = std::min(rest.find('\n'), rest.size());
            std::string_view raw = rest.substr(0, end);
            rest.remove_prefix(std::min(end + 1, rest.size()));
            ++line_;
            if (line_ == 1 && raw.starts_with("\xEF\xBB\xBF")) {
                raw.remove_prefix(3);  // UTF-8 byte order mark
            }
            read_line(raw);
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
        warn_line_listen();
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

    // One line, read once: its shape, and for a setting its key and value.
    void read_line(std::string_view raw) {
        Line line = classify_line(raw);
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
                if (line.text.size() > kMaxLineLength) {
                    error(here(), "line is too long (at most " + std::to_string(kMaxLineLength) +
                                      " characters after removing comments and indentation)");
                } else {
                    set(std::string(line.key), std::string(line.value));
                }
                break;
        }
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
        Input in{key, value, options_, &notes_};
        switch (section_.kind) {
            case SectionKind::Fixed:
                set_fixed(in);
                break;
            case SectionKind::Channel:
                channels_[section_.index].settings[key] = {key, value, file_, line_, {}};
                break;
            case SectionKind::Group:
            case SectionKind::User:
                set_override(in);
                break;
            default:
                break;
        }
        warn_notes(here());
    }

    void set_fixed(const Input& in) {
        const KeySpec* spec = find_key(section_.name, in.key);
        if (spec == nullptr) {
            error(here(), "unknown key '" + std::string(in.key) + "' in [" + section_.name + "]");
            return;
        }
        Target target{policy_, policy_.base};
        if (auto applied = spec->rule.apply(target, in); !applied) {
            error(here(), applied.error().what());
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
        auto patch = spec->rule.compile(in);
        if (!patch) {
            error(here(), patch.error().what());
            return;
        }
        policy_.overrides[section_.index].settings.push_back(
            {std::string(in.key), std::string(in.value), file_, line_, std::move(*patch)});
    }

    // ---- Checks once every file is read.

    void finish_channel(const RawChannel& raw) {
        const ChannelType* type = channel_enabled(raw) ? channel_type(raw) : nullptr;
        if (type == nullptr) {
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
            set_channel_key(channel, *type, raw, key, setting);
            warn_notes({setting.file, setting.line});
        }
        fill_channel_options(channel, *type, raw);
        if (type->check != nullptr && errors_.size() == errors_before) {
            if (auto checked = type->check(channel); !checked) {
                error(raw.header, "[channel." + raw.name + "]: " + checked.error().what());
            }
        }
        policy_.channels.push_back(std::move(channel));
    }

    // enabled = no: the channel is left out, unchecked (it may be off because it is
    // broken), so a drop-in can turn off a channel that lwauth.conf defines.
    bool channel_enabled(const RawChannel& raw) {
        if (auto enabled = raw.settings.find("enabled"); enabled != raw.settings.end()) {
            auto parsed = word_parser(kBoolWords)(enabled->second.value);
            if (!parsed) {
                error({enabled->second.file, enabled->second.line},
                      "bad value '" + enabled->second.value +
                          "' for enabled: " + parsed.error().what());
                return false;
            }
            if (!*parsed) {
                return false;
            }
        }
        return true;
    }

    // The channel's type, or nullptr when it has none or an unknown one (reported).
    const ChannelType* channel_type(const RawChannel& raw) {
        auto type_setting = raw.settings.find("type");
        if (type_setting == raw.settings.end()) {
            error(raw.header,
                  "[channel." + raw.name + "] has no type; set type = " + channel_type_choices());
            return nullptr;
        }
        const Setting& type_line = type_setting->second;
        const ChannelType* type = find_channel_type(type_line.value);
        if (type == nullptr) {
            error(
                {type_line.file, type_line.line},
                "bad value '" + type_line.value + "' for type: expected " + channel_type_choices());
        }
        return type;
    }

    void set_channel_key(ChannelConfig& channel, const ChannelType& type, const RawChannel& raw,
                         const std::string& key, const Setting& setting) {
        Location at{setting.file, setting.line};
        Input in{key, setting.value, options_, &notes_};
        if (key == "type" || key == "enabled") {
            return;
        }
        if (key == "order") {
            auto parsed = integer_parser(0, 100)(in.value);
            if (parsed) {
                channel.order = *parsed;
            } else {
                error(at, bad_value(in, parsed.error()).what());
            }
        } else if (key == "serves") {
            set_serves(channel, type, in, at);
        } else if (key == "timeout") {
            auto parsed = duration_parser(1s, 2min)(in.value);
            if (parsed) {
                channel.timeout = *parsed;
                set_at_["channel." + channel.name + ".timeout"] = at;  // warn_slow_channels
            } else {
                error(at, bad_value(in, parsed.error()).what());
            }
        } else if (const OptionSpec* option = find_channel_option(type, key)) {
            if (setting.value.empty()) {
                return;  // an empty value unsets the key
            }
            if (auto checked = check_option(option->check, in); !checked) {
                error(at, checked.error().what());
            } else {
                channel.options[key] = setting.value;
            }
        } else if (auto owners = types_with_option(key); !owners.empty()) {
            error(at, "key '" + key + "' is not valid for channel type " + std::string(type.name) +
                          " (it is a key of " + owners + ")");
        } else {
            error(at, "unknown key '" + key + "' in [channel." + raw.name + "]");
        }
    }

    // The type's defaults for the keys not set; a required key missing or empty is an error.
    void fill_channel_options(ChannelConfig& channel, const ChannelType& type,
                              const RawChannel& raw) {
        for (const auto& option : type.options) {
            std::string key(option.key);
            if (channel.options.contains(key)) {
                continue;
            }
            if (!option.default_value.empty()) {
                channel.options[key] = option.default_value;
            } else if (option.need == Need::Required && !raw.settings.contains(key)) {
                error(raw.header, "[channel." + raw.name + "]: channel type " +
                                      std::string(type.name) + " requires key '" + key + "'");
            } else if (option.need == Need::Required && raw.settings.at(key).value.empty()) {
                error({raw.settings.at(key).file, raw.settings.at(key).line},
                      "empty value for required key '" + key + "'");
            }
        }
    }

    void set_serves(ChannelConfig& channel, const ChannelType& type, const Input& in,
                    const Location& at) {
        auto parsed = kinds_parser()(in.value);
        if (!parsed) {
            error(at, bad_value(in, parsed.error()).what());
            return;
        }
        for (Kind kind : *parsed) {
            if (std::find(type.can_serve.begin(), type.can_serve.end(), kind) ==
                type.can_serve.end()) {
                error(at, "channel type " + std::string(type.name) + " cannot serve " +
                              to_string(kind) + " (it serves " + kinds_text(type.can_serve) + ")");
                return;
            }
        }
        channel.serves = std::move(*parsed);
    }

    // Where a fixed-section key was last set, or the first file when it kept its default.
    Location set_at(const std::string& dotted_key) const {
        auto it = set_at_.find(dotted_key);
        if (it != set_at_.end()) {
            return it->second;
        }
        return {files_.empty() ? std::string() : files_.front(), 0};
    }

    // Where login_with_line = allowed is first set (the base, then an override), if anywhere.
    std::optional<Location> line_login_allowed_at() const {
        if (policy_.base.login_with_line) {
            return set_at("policy.login_with_line");
        }
        for (const auto& section : policy_.overrides) {
            for (const auto& setting : section.settings) {
                if (setting.key == "login_with_line" && std::get<bool>(setting.patch.value)) {
                    return Location{setting.file, setting.line};
                }
            }
        }
        return std::nullopt;
    }

    // LINE login cannot work without the channel's credentials and the URL the phone
    // reaches; ES256 ID tokens cannot be checked without LINE's keys.
    void check_line_login() {
        const LinePolicy& line = policy_.line;
        if (line.id_token_alg == IdTokenAlg::Es256 && line.jwks_url.empty()) {
            error(set_at("line.id_token_alg"), "id_token_alg = ES256 requires jwks_url in [line]");
        }
        auto enabled = line_login_allowed_at();
        if (!enabled) {
            return;
        }
        std::vector<std::string> missing;
        if (line.channel_id.empty()) {
            missing.emplace_back("channel_id");
        }
        if (line.channel_secret_file.empty()) {
            missing.emplace_back("channel_secret_file");
        }
        if (line.public_url.empty()) {
            missing.emplace_back("public_url");
        }
        if (!missing.empty()) {
            error(*enabled,
                  "login_with_line = allowed requires " + join(missing, ", ") + " in [line]");
        }
    }

    // lwauthd's endpoint speaks plain HTTP: on any other address than loopback, the
    // phone's requests would cross the network in clear unless a TLS proxy takes them.
    void warn_line_listen() {
        auto at = set_at_.find("line.listen");
        if (at == set_at_.end() || is_loopback_listen(policy_.line.listen)) {
            return;
        }
        warnings_.push_back({at->second.file, at->second.line,
                             "listen = " + policy_.line.listen +
                                 " is not a loopback address: lwauthd's LINE endpoint speaks "
                                 "plain HTTP, so it should sit behind the site's TLS proxy "
                                 "(public_url) and be reachable only from it"});
    }

    // A password= keyword (libpq decodes %XX in a URL's parameter names too, so
    // "pass%77ord=" is one), or a URL's user:password@.
    static bool url_holds_password(const std::string& url) {
        if (percent_decoded(url).find("password") != std::string::npos) {
            return true;
        }
        size_t scheme = url.find("://");
        if (scheme == std::string::npos) {
            return false;
        }
        std::string authority = url.substr(scheme + 3, url.find_first_of("/?", scheme + 3));
        size_t at = authority.rfind('@');
        return at != std::string::npos && authority.substr(0, at).find(':') != std::string::npos;
    }

    static std::string percent_decoded(const std::string& text) {
        std::string out;
        for (size_t i = 0; i < text.size(); ++i) {
            if (text[i] == '%' && i + 2 < text.size() &&
                std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
                std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
                out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
                i += 2;
            } else {
                out += text[i];
            }
        }
        return out;
    }

    void check_store() {
        if (policy_.store.backend == StoreBackend::Postgresql && policy_.store.url.empty()) {
            error(set_at("store.backend"), "backend = postgresql requires url in [store]");
        }
        // lwauth.conf is readable by all: the password belongs in password_file.
        if (url_holds_password(policy_.store.url)) {
            error(set_at("store.url"),
                  "url must not hold a password (lwauth.conf is readable by everyone): put it "
                  "in password_file");
        }
    }

    void check_directory() {
        const auto& directory = policy_.directory;
        if (directory.backend == DirectoryBackend::Ldap &&
            (directory.ldap_uri.empty() || directory.ldap_base.empty())) {
            error(set_at("directory.backend"),
                  "backend = ldap requires ldap_uri and ldap_base in [directory]");
        }
        if (directory.backend == DirectoryBackend::Lineworks) {
            check_lineworks_directory();
        }
        if (!directory.ldap_bind_dn.empty() && directory.ldap_password_file.empty()) {
            error(set_at("directory.ldap_bind_dn"), "ldap_bind_dn requires ldap_password_file");
        }
        // Exactly one %u: the filter must name the user, and only once, so that a
        // template mistake cannot match everyone (RFC 4515 escaping applies to the name).
        const std::string& filter = directory.ldap_filter;
        size_t at = filter.find("%u");
        if (at == std::string::npos || filter.find("%u", at + 2) != std::string::npos ||
            filter.front() != '(' || filter.back() != ')') {
            error(set_at("directory.ldap_filter"),
                  "ldap_filter must be one parenthesized LDAP filter with %u (the user name) "
                  "exactly once, e.g. (uid=%u)");
        }
        if (directory.max_age <= directory.sync_interval) {
            error(set_at("directory.max_age"),
                  "max_age must be longer than sync_interval in [directory]");
        }
    }

    // The directory reads members with the service account of a lineworks channel, so
    // that its credentials and its users' IDs are written once; and it is the source of
    // contacts only where the administrators' contacts are used.
    void check_lineworks_directory() {
        const auto& directory = policy_.directory;
        if (directory.lineworks_channel.empty()) {
            error(set_at("directory.backend"),
                  "backend = lineworks requires lineworks_channel in [directory]: the name "
                  "of the [channel.NAME] of type lineworks whose service account reads the "
                  "members");
        } else {
            auto channel = std::find_if(
                policy_.channels.begin(), policy_.channels.end(),
                [&](const ChannelConfig& c) { return c.name == directory.lineworks_channel; });
            if (channel == policy_.channels.end() || channel->type != "lineworks") {
                error(set_at("directory.lineworks_channel"),
                      "lineworks_channel = " + directory.lineworks_channel +
                          " names no [channel." + directory.lineworks_channel +
                          "] of type lineworks");
            }
        }
        if (policy_.contacts != Contacts::Admin) {
            error(set_at("directory.backend"),
                  "backend = lineworks requires contacts = admin in [policy]: under "
                  "contacts = self users enter their own contacts and nothing is read from "
                  "the directory");
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
                     (longest != channel.timeout
                          ? " (a whole SMTP transaction: up to " + format_duration(longest) + ")"
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
                two_step_somewhere |= setting.key == "two_step" &&
                                      std::get<TwoStep>(setting.patch.value) != TwoStep::Off;
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
                    check(std::get<std::vector<Kind>>(setting.patch.value),
                          {setting.file, setting.line});
                }
            }
        }
    }

    // ---- Diagnostics.

    Location here() const { return {file_, line_}; }

    // The words the keys just read left (Input::warnings), as warnings at `at`.
    void warn_notes(const Location& at) {
        for (auto& note : notes_) {
            warnings_.push_back({at.file, at.line, std::move(note)});
        }
        notes_.clear();
    }


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
    std::vector<std::string> notes_;  // Input::warnings of the key being read

    // The file being parsed.
    std::string file_;
    int line_ = 0;
    Section section_;
    std::map<std::pair<std::string, std::string>, int> seen_;  // (section, key) -> line
};

// load_directory, with `main_text` (when set) read in place of DIR/lwauth.conf.
LoadResult load_directory_as(const std::filesystem::path& dir,
                             const std::optional<std::string_view>& main_text,
                             const LoadOptions& options) {
    namespace fs = std::filesystem;
    Loader loader(options, dir);
    const FileRule rule{options.policy_owner_uid, 022, std::nullopt, std::nullopt, true};
    auto top = open_policy_directory(AT_FDCWD, dir.string(), rule);
    if (!top) {
        loader.file_failed(dir.string(), policy_file_error(top.error()).what());
        return loader.finish();
    }
    auto read = [&](int dir_fd, const fs::path& path) {
        auto file = read_policy_file(dir_fd, path.filename().string(), rule);
        if (file) {
            if (file->other_names) {
                loader.warn_other_names(path.string());
            }
            loader.parse(path.string(), file->text);
        } else {
            loader.file_failed(path.string(), file.error().what());
        }
    };

    if (!main_text) {
        read(top->fd.get(), dir / "lwauth.conf");
    } else if (main_text->size() > static_cast<size_t>(kMaxFileSize)) {
        loader.file_failed((dir / "lwauth.conf").string(), "too large (more than 1 MiB)");
    } else {
        loader.parse((dir / "lwauth.conf").string(), std::string(*main_text));
    }

    const fs::path dropins = dir / "lwauth.conf.d";
    auto sub = open_policy_directory(top->fd.get(), "lwauth.conf.d", rule);
    if (!sub) {
        if (sub.error().code() != Errc::NotFound) {
            loader.file_failed(dropins.string(), sub.error().what());
        }
        return loader.finish();
    }
    // fdopendir() takes a descriptor of its own, so that `sub` still closes its one.
    int list_fd = ::fcntl(sub->fd.get(), F_DUPFD_CLOEXEC, 0);
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
        read(sub->fd.get(), dropins / name);
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

LoadResult load_texts(const std::vector<std::pair<std::string, std::string>>& named_texts,
                      const LoadOptions& options) {
    Loader loader(options);
    for (const auto& [name, text] : named_texts) {
        loader.parse(name, text);
    }
    return loader.finish();
}

}  // namespace lwauth::policy
