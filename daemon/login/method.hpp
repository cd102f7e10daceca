// A login method: one way of proving who you are (a code to a contact, later LINE, a
// PIN...). The engine owns the conversation; a method owns what is asked and checked.
#pragma once

#include <string_view>

#include "../clock.hpp"
#include "../codes.hpp"
#include "../delivery.hpp"
#include "../store/store.hpp"
#include "lwauth/policy.hpp"
#include "step.hpp"

namespace lwauth {

/// What a method may use; all of it is owned by the engine and outlives the method.
struct MethodEnv {
    const Clock& clock;
    RandomSource& random;
    Store& store;
    CodeSender& sender;
    const Hasher& hasher;
    const policy::Policy& policy;
    const policy::UserPolicy& user_policy;
    const LoginContext& context;
    const std::string& login_id;
};

class LoginMethod {
  public:
    virtual ~LoginMethod() = default;
    /// The first step: send whatever must be sent, ask the first question.
    virtual Step begin(const MethodEnv& env) = 0;
    /// The next step for an answer. A verdict ends the login.
    virtual Step answer(const MethodEnv& env, std::string_view answer) = 0;
};

}  // namespace lwauth
