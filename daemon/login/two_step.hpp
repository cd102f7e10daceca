// 2-step verification as the policy has it, whichever second factor runs: whether it
// applies to a user, what a locked account is told, the places [policy] remember_host
// keeps, and what a user who has set up no second factor gets (the enrolment grace, or
// a refusal). The engine calls these without knowing any method.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "../clock.hpp"
#include "../store/async_store.hpp"
#include "lwauth/policy.hpp"
#include "step.hpp"

namespace lwauth {

/// Whether 2-step verification applies to the user's logins: required by the policy, or
/// optional and turned on by the user; never under two_step = off.
[[nodiscard]] inline bool two_step_applies(const policy::UserPolicy& user_policy,
                                           const UserState& state) {
    return user_policy.two_step == policy::TwoStep::Required ||
           (user_policy.two_step == policy::TwoStep::Optional && state.two_step);
}

/// What a user is told of a lock: how long it lasts, or that an administrator must end it.
[[nodiscard]] std::string locked_text(int64_t locked_until, int64_t now, Language language);

/// While the account is locked (`locked_until` after `now`): the `maxtries` step that ends
/// an answer, with locked_text; else nullopt.
[[nodiscard]] std::optional<Step> locked_refusal(int64_t locked_until, int64_t now,
                                                 Language language);

namespace two_step {

/// `success` without a second factor when [policy] remember_host holds this place
/// (host_remembered), logged; else nullopt.
void remembered_step(AsyncStore& store, const Clock& clock, const policy::UserPolicy& user_policy,
                     const LoginContext& context, Done<std::optional<Step>> done);

/// After a full 2-step login succeeded: this place need not ask for a second factor
/// while [policy] remember_host lasts. Nothing when it is off or the login has no origin.
void remember_place(AsyncStore& store, const Clock& clock, const policy::UserPolicy& user_policy,
                    const LoginContext& context, Done<void> done);

/// Whether the mark that the user enrolled ends their enrolment grace on this host. The
/// mark is the user's (shared by every host of a PostgreSQL store) and the policy the
/// host's: a mark that may have come from a factor this host does not count (an app or
/// recovery codes outside its second_factors, which the user still has) does not.
[[nodiscard]] bool enrolled_here(const policy::UserPolicy& user_policy, const UserState& state);

/// The verdict for a user who has set up no second factor: `success` with how to enroll
/// while [policy] enroll_grace lasts (started by the first such login), unless the user
/// enrolled before; else `denied`.
void unenrolled_step(AsyncStore& store, const Clock& clock, const policy::Policy& policy,
                     const policy::UserPolicy& user_policy, const LoginContext& context,
                     const UserState& state, Done<Step> done);

/// Counts a wrong answer after the password (a code, an authenticator app's code, a
/// recovery code) under the 2-step lockout, locking the account at a limit in the same
/// store operation, and logs it (`what`: "code-wrong", "totp-wrong"...). `done` gets the
/// step that ends the login (`maxtries`, with its line) when the account is now locked,
/// else nullopt: the method asks again, if it has tries left.
void count_wrong_answer(AsyncStore& store, const Clock& clock,
                        const policy::UserPolicy& user_policy, const LoginContext& context,
                        const char* what, const char* message, Done<std::optional<Step>> done);

}  // namespace two_step
}  // namespace lwauth
