// [policy] remember_host: a place a user finished a full 2-step login from recently.
#pragma once

#include "../clock.hpp"
#include "../store/store.hpp"
#include "lwauth/policy.hpp"
#include "step.hpp"

namespace lwauth {

/// Whether the user finished a full 2-step login through the same PAM service from the
/// same origin within the policy's remember_host (as it is now, so that lowering it
/// applies to places already remembered).
[[nodiscard]] inline bool host_remembered(Store& store, const Clock& clock,
                                          const policy::UserPolicy& user_policy,
                                          const LoginContext& context) {
    if (user_policy.remember_host.count() <= 0) {
        return false;
    }
    int64_t verified_at = store.host_verified_at(context.user, context.service, context.origin());
    int64_t now = clock.now();
    return verified_at != 0 && verified_at <= now &&
           now < verified_at + user_policy.remember_host.count();
}

}  // namespace lwauth
