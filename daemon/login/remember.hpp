// [policy] remember_host: a place a user finished a full 2-step login from recently.
#pragma once

#include <algorithm>

#include "../clock.hpp"
#include "../store/async_store.hpp"
#include "lwauth/policy.hpp"
#include "step.hpp"

namespace lwauth {

/// Until when a remembered place holds: the end its own login was given, and never later
/// than that login plus the policy's remember_host as it is now (so that lowering it
/// applies to places already remembered, and raising it brings none back). 0 when
/// remember_host is off, or require_unrestricted is on (remembers_places).
[[nodiscard]] inline int64_t remembered_until(const RememberedHost& host,
                                              const policy::UserPolicy& user_policy) {
    if (user_policy.remember_host.count() <= 0 || user_policy.require_unrestricted) {
        return 0;
    }
    return std::min(host.until, host.verified_at + user_policy.remember_host.count());
}

/// Whether [policy] remember_host may remember, or has remembered, the place of this
/// login: it is on, and the login has an origin (LoginContext::origin). Never for a
/// login started by a caller other than root, whose service and terminal are its own
/// word: a place it recorded would spare other logins of the user their code. Never
/// under [policy] require_unrestricted either: a place remembered after a code by SMS or
/// email would stand in for the unrestricted factor the policy asks for at every login.
[[nodiscard]] inline bool remembers_places(const policy::UserPolicy& user_policy,
                                           const LoginContext& context) {
    return user_policy.remember_host.count() > 0 && !user_policy.require_unrestricted &&
           !context.origin().empty() && !context.unprivileged;
}

/// Whether the user finished a full 2-step login through the same PAM service from the
/// same origin recently enough (remembered_until). A login with no origin never is.
inline void host_remembered(AsyncStore& store, const Clock& clock,
                            const policy::UserPolicy& user_policy, const LoginContext& context,
                            Done<bool> done) {
    if (!remembers_places(user_policy, context)) {
        done(false);
        return;
    }
    // The clock is the daemon's and outlives every login.
    store.remembered_host(
        context.user, context.service, context.origin(),
        then<std::optional<RememberedHost>>(
            std::move(done),
            [&clock, user_policy](const std::optional<RememberedHost>& host, Done<bool>& answer) {
                int64_t now = clock.now();
                answer(host && host->verified_at <= now &&
                       now < remembered_until(*host, user_policy));
            }));
}

}  // namespace lwauth
