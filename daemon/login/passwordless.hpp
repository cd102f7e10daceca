// The budget of the passwordless methods (mode=primary): what happens before any
// password is asked for, which anyone who knows a user name can cause. Wrong codes are
// counted per user and per remote host, apart from the 2-step lockout; reaching
// [lockout] passwordless_max_failures within passwordless_duration suspends the
// passwordless methods for that user (or from that remote host) until the count ages
// out, and kMaxFailuresInARow in a row suspend them until the user's next right code.
// Neither ever locks the account: the password and 2-step keep their own lockout and
// caps, so a flood of unauthenticated logins cannot keep the user out.
#pragma once

#include <string>

#include "../clock.hpp"
#include "../store/async_store.hpp"
#include "lwauth/policy.hpp"
#include "step.hpp"

namespace lwauth::passwordless {

/// Why the passwordless methods are suspended for this login's user or remote host
/// ("" when they are not): what the log says.
void suspended(AsyncStore& store, const Clock& clock, const policy::UserPolicy& user_policy,
               const LoginContext& context, int failures_in_a_row, Done<std::string> done);

/// Counts one wrong code typed before any password; `done` gets whether the passwordless
/// methods are now suspended for the user or the remote host.
void count_failure(AsyncStore& store, const Clock& clock, const policy::UserPolicy& user_policy,
                   const LoginContext& context, Done<bool> done);

}  // namespace lwauth::passwordless
