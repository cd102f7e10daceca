// A login method: one way of proving who you are (a code to a contact, later LINE, a
// PIN...). The engine owns the conversation; a method owns what is asked and checked.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "../store/store.hpp"
#include "lwauth/error.hpp"
#include "lwauth/policy.hpp"
#include "step.hpp"

namespace lwauth {

/// The login a method runs for: per-login data only, copied in, so that an environment
/// captured by a callback stays valid after the login has ended. The services a method
/// uses (clock, store, sender...) come through its type's constructor from main.cpp.
struct MethodEnv {
    std::shared_ptr<const policy::Policy> policy;
    policy::UserPolicy user_policy;
    LoginContext context;
    std::string login_id;
    /// The user's state as the engine read it to start the login (first step only), so
    /// a method need not read it (and unseal the contacts) again; null: read it.
    std::shared_ptr<const UserState> loaded;
};

/// A step, or the error that ended the login instead.
struct StepResult {
    std::optional<Step> step;
    std::optional<Error> error;

    static StepResult of(Step s) { return {std::move(s), std::nullopt}; }
    static StepResult failure(Error e) { return {std::nullopt, std::move(e)}; }
};

using StepDone = std::function<void(StepResult)>;

/// A method may have to wait (for a gateway, say), so it answers through `done`, exactly
/// once: before returning or later from the event loop. It is held by a shared_ptr and
/// keeps itself alive (shared_from_this) while it waits; the engine ignores an answer
/// for a login that ended meanwhile.
class LoginMethod : public std::enable_shared_from_this<LoginMethod> {
  public:
    virtual ~LoginMethod() = default;
    /// The first step: send whatever must be sent, ask the first question.
    virtual void begin(const MethodEnv& env, StepDone done) = 0;
    /// The next step for an answer. A verdict ends the login.
    virtual void answer(const MethodEnv& env, std::string_view answer, StepDone done) = 0;
};

}  // namespace lwauth
