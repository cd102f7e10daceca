#include "passwordless.hpp"

#include <vector>

#include "../log.hpp"

namespace lwauth::passwordless {
namespace {

// The send log's keys the wrong codes are counted under: the user's, and the remote
// host's when there is one (a local console has none).
std::vector<std::string> failure_keys(const LoginContext& context) {
    std::vector<std::string> keys{"passwordless-failure-user:" + context.user};
    if (!context.rhost.empty()) {
        keys.push_back("passwordless-failure-rhost:" + context.rhost);
    }
    return keys;
}

}  // namespace

std::string suspended(Store& store, const Clock& clock, const policy::UserPolicy& user_policy,
                      const LoginContext& context, int failures_in_a_row) {
    if (failures_in_a_row >= kMaxFailuresInARow) {
        return std::to_string(kMaxFailuresInARow) + " wrong codes in a row before a password";
    }
    int64_t since = clock.now() - user_policy.lockout.passwordless_duration.count();
    std::vector<std::string> keys = failure_keys(context);
    for (size_t i = 0; i < keys.size(); ++i) {
        if (store.sends_since(keys[i], since) >= user_policy.lockout.passwordless_max_failures) {
            return i == 0 ? "too many wrong codes for this user before a password"
                          : "too many wrong codes from this remote host before a password";
        }
    }
    return "";
}

bool count_failure(Store& store, const Clock& clock, const policy::UserPolicy& user_policy,
                   const LoginContext& context) {
    int in_a_row = store.add_passwordless_failure(context.user);
    store.count_event(failure_keys(context), clock.now());
    std::string why = suspended(store, clock, user_policy, context, in_a_row);
    if (!why.empty()) {
        log_event(LogLevel::Warning, "passwordless-suspended",
                  "passwordless login suspended: " + why,
                  {{"USER", context.user},
                   {"SERVICE", context.service},
                   {"RHOST", context.rhost},
                   {"FAILURES", std::to_string(in_a_row)}});
    }
    return !why.empty();
}

}  // namespace lwauth::passwordless
