// The table of the keys of lwauth.conf's fixed sections ([policy], [code], [lockout]...):
// for each, its section, whether [group:] and [user:] may override it, and how its value
// is parsed and applied.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "lwauth/policy.hpp"

namespace lwauth::policy::detail {

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

std::string bad_value(const Input& in, const std::string& expected);

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

// The table, in the order of lwauth.conf(5).
const std::vector<KeySpec>& key_specs();

bool is_fixed_section(std::string_view name);

const KeySpec* find_key(std::string_view section, std::string_view key);

// The key as an override writes it ("code.length"), when overrides may set it.
const KeySpec* find_override_key(std::string_view key);

// Every key an override may set, for a diagnostic.
std::string override_keys_text();

}  // namespace lwauth::policy::detail
