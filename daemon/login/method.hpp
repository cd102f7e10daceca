// A login method: one way of proving who you are (a code to a contact, later LINE, a
// PIN...). The engine owns the conversation; a method owns what is asked and checked.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "../store/async_store.hpp"
#include "event.hpp"
#include "lwauth/error.hpp"
#include "lwauth/policy.hpp"
#include "lwauth/result.hpp"
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
    /// How long this step may be held for an outside event (awaits_event): the engine
    /// ends the login as denied when it has passed, before the client stops waiting.
    uint64_t event_wait_usec = 0;
};

/// A method may have to wait (for a gateway, say), so it answers through `done`, exactly
/// once: before returning or later from the event loop. It is held by a shared_ptr and
/// keeps itself alive (shared_from_this) while it waits; the engine ignores an answer
/// for a login that ended meanwhile. The store (AsyncStore) is one such wait: whatever
/// comes after a read or a write runs from its callback, which holds the method.
class LoginMethod : public std::enable_shared_from_this<LoginMethod> {
  public:
    virtual ~LoginMethod() = default;
    /// The first step: send whatever must be sent, ask the first question.
    virtual void begin(const MethodEnv& env, Done<Step> done) = 0;
    /// The next step for an answer. A verdict ends the login.
    virtual void answer(const MethodEnv& env, std::string_view answer, Done<Step> done) = 0;

    /// Whether the method holds its step until an event from outside (notify) comes.
    /// Asked when begin() or answer() has returned without answering: the engine then
    /// ends the login as denied at MethodEnv::event_wait_usec, and a Cancel or a client
    /// that leaves the bus ends it too, dropping the method.
    [[nodiscard]] virtual bool awaits_event() const { return false; }
    /// An event from outside for the step the method holds: the method answers that step
    /// through the Done<Step> it holds (now or later), or returns an error (InvalidArgument)
    /// for an event it does not wait for.
    virtual Result<void> notify(const LoginEvent& event) {
        return Error(Errc::InvalidArgument,
                     "the login's method waits for no event such as '" + event.kind + "'");
    }
};

}  // namespace lwauth
