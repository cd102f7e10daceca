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

// Whether the count under keys[i] or a later key has reached `max` since `since`: the
// reason, or "".
void reached(AsyncStore& store, std::vector<std::string> keys, size_t i, int64_t since, int max,
             Done<std::string> done) {
    if (i >= keys.size()) {
        done(std::string());
        return;
    }
    std::string key = keys[i];
    store.sends_since(
        key, since,
        then<int>(std::move(done), [&store, keys = std::move(keys), i, since, max](
                                       int count, Done<std::string>& why) mutable {
            if (count >= max) {
                why(std::string(i == 0 ? "too many wrong codes for this user before a password"
                                       : "too many wrong codes from this remote host before a "
                                         "password"));
                return;
            }
            reached(store, std::move(keys), i + 1, since, max, std::move(why));
        }));
}

}  // namespace

void suspended(AsyncStore& store, const Clock& clock, const policy::UserPolicy& user_policy,
               const LoginContext& context, int failures_in_a_row, Done<std::string> done) {
    if (failures_in_a_row >= kMaxFailuresInARow) {
        done(std::to_string(kMaxFailuresInARow) + " wrong codes in a row before a password");
        return;
    }
    int64_t since = clock.now() - user_policy.lockout.passwordless_duration.count();
    reached(store, failure_keys(context), 0, since, user_policy.lockout.passwordless_max_failures,
            std::move(done));
}

void count_failure(AsyncStore& store, const Clock& clock, const policy::UserPolicy& user_policy,
                   const LoginContext& context, Done<bool> done) {
    // The store and the clock are the daemon's and outlive every login.
    store.add_passwordless_failure(
        context.user, then<int>(std::move(done), [&store, &clock, user_policy, context](
                                                     int in_a_row, Done<bool>& after_count) {
            store.count_event(
                failure_keys(context), clock.now(),
                then<void>(std::move(after_count), [&store, &clock, user_policy, context,
                                                    in_a_row](Done<bool>& after_event) {
                    suspended(
                        store, clock, user_policy, context, in_a_row,
                        then<std::string>(
                            std::move(after_event),
                            [context, in_a_row](const std::string& why, Done<bool>& after_check) {
                                if (!why.empty()) {
                                    log_event(LogLevel::Warning, "passwordless-suspended",
                                              "passwordless login suspended: " + why,
                                              {{"USER", context.user},
                                               {"SERVICE", context.service},
                                               {"RHOST", context.rhost},
                                               {"FAILURES", std::to_string(in_a_row)}});
                                }
                                after_check(!why.empty());
                            }));
                }));
        }));
}

}  // namespace lwauth::passwordless
