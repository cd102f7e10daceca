// The effective policy of one user (the base, then the overrides that apply), and
// describe(), which prints it.
#include <algorithm>
#include <iterator>
#include <string_view>

#include "lwauth/policy.hpp"
#include "policy_keys.hpp"
#include "policy_values.hpp"

namespace lwauth::policy {

using namespace detail;

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
                setting.patch.apply(effective);
            }
        }
    }
    for (const auto& section : overrides) {
        if (section.scope == Override::Scope::User && section.name == user) {
            for (const auto& setting : section.settings) {
                setting.patch.apply(effective);
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

// The sections describe() prints: those that shape a user's logins. [line], [store],
// [daemon] and [directory] say how lwauthd reaches the outside world.
constexpr std::string_view kDescribedSections[] = {"policy", "code",        "lockout",
                                                   "login",  "quick_login", "totp"};

bool described(std::string_view section) {
    return std::find(std::begin(kDescribedSections), std::end(kDescribedSections), section) !=
           std::end(kDescribedSections);
}

// "# sms is delivered by: o", for each kind the user's codes may go by.
std::string delivered_by(const UserPolicy& user, const Policy& policy) {
    std::string out;
    for (Kind kind : user.code.channels) {
        std::vector<std::string> names;
        for (const ChannelConfig* channel : policy.channels_for(kind)) {
            names.push_back(channel->name);
        }
        out += std::string("# ") + to_string(kind) +
               " is delivered by: " + (names.empty() ? "no channel" : join(names, ", ")) + "\n";
    }
    return out;
}

}  // namespace

// Every key of the described sections, in the order of the key table, printed by the
// key's own rule; [code] ends with the channels that deliver each kind.
std::string describe(const UserPolicy& user, const Policy& policy) {
    std::string out;
    std::string_view section;
    auto end_section = [&] {
        if (section == "code") {
            out += delivered_by(user, policy);
        }
    };
    for (const auto& spec : key_specs()) {
        if (!described(spec.section)) {
            continue;
        }
        if (spec.section != section) {
            end_section();
            out += (out.empty() ? "[" : "\n[") + std::string(spec.section) + "]\n";
            section = spec.section;
        }
        std::string value = spec.rule.show(policy, user);
        out += std::string(spec.key) + (value.empty() ? " =" : " = " + value) + "\n";
    }
    end_section();
    return out;
}

}  // namespace lwauth::policy
