// The effective policy of one user (the base, then the overrides that apply), and
// describe(), which prints it.
#include <algorithm>

#include "lwauth/policy.hpp"
#include "policy_keys.hpp"
#include "policy_values.hpp"

namespace lwauth::policy {

using namespace detail;

namespace {

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
