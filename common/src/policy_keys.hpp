// The table of the keys of lwauth.conf's fixed sections ([policy], [code], [lockout]...):
// for each, its section, how its value is parsed and applied, whether [group:] and
// [user:] may override it (and then how a line is compiled into a Patch), and how
// describe() prints its value.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "lwauth/policy.hpp"
#include "lwauth/result.hpp"

namespace lwauth::policy::detail {

// What a key writes to: the whole policy, and the user policy (the base).
struct Target {
    Policy& policy;
    UserPolicy& user;
};

struct Input {
    std::string_view key;  // as written ("length" in [code], "code.length" in an override)
    std::string_view value;
    const LoadOptions& options;
    // Where a key that is taken but deserves a word puts it (a secret file with another
    // name); the loader makes each a warning at the key's line. None: not said.
    std::vector<std::string>* warnings = nullptr;
};

// A *_file key's secret file checked (check_secret_file): the error, or success with the
// file's warning, if any, put in `in.warnings`.
Result<void> check_secret_input(const Input& in);

// "bad value 'V' for KEY: " and what the parser expected.
std::string bad_value(const Input& in, const std::string& expected);
Error bad_value(const Input& in, const Error& expected);

// Parses a value and writes it to the target.
using Apply = std::function<Result<void>(Target&, const Input&)>;
// Parses a value into the patch an override line applies.
using Compile = std::function<Result<Patch>(const Input&)>;
// The value as lwauth.conf writes it, for describe().
using Show = std::function<std::string(const Policy&, const UserPolicy&)>;

struct KeyRule {
    Apply apply;
    Compile compile;  // empty: [group:] and [user:] may not set the key
    Show show;
};

struct KeySpec {
    std::string_view section;
    std::string_view key;
    KeyRule rule;

    [[nodiscard]] bool overridable() const { return static_cast<bool>(rule.compile); }

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
