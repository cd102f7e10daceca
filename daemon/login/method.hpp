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

/// What a login is once it is registered, fixed for its life: built once (by the engine's
/// add_login) and shared by the engine's record of the login and every MethodEnv of it.
struct LoginData {
    std::shared_ptr<const policy::Policy> policy;
    policy::UserPolicy user_policy;
    LoginContext context;
    std::string login_id;
};

/// The login a method runs for: per-login data only, held (not borrowed), so that an
/// environment captured by a callback stays valid after the login has ended. Copying one
/// copies two shared pointers: `policy`, `user_policy`, `context` and `login_id` are
/// references into the LoginData it holds (a copy refers to the same, which it holds
/// too). The services a method uses (clock, store, sender...) come through its type's
/// constructor from main.cpp.
struct MethodEnv {
    MethodEnv(std::shared_ptr<const LoginData> data, std::shared_ptr<const UserState> loaded_state,
              uint64_t wait_usec)
        : login(std::move(data)),
          loaded(std::move(loaded_state)),
          event_wait_usec(wait_usec),
          policy(login->policy),
          user_policy(login->user_policy),
          context(login->context),
          login_id(login->login_id) {}
    MethodEnv(const MethodEnv& other)
        : MethodEnv(other.login, other.loaded, other.event_wait_usec) {}
    MethodEnv& operator=(const MethodEnv&) = delete;
    ~MethodEnv() = default;

    /// The same login with `user_policy` changed by `change` (a method that narrows the
    /// code channels, say): a LoginData of its own.
    template <class F>
    [[nodiscard]] MethodEnv with_user_policy(F change) const {
        auto data = std::make_shared<LoginData>(*login);
        change(data->user_policy);
        return MethodEnv(std::move(data), loaded, event_wait_usec);
    }

    std::shared_ptr<const LoginData> login;
    /// The user's state as the engine read it to start the login (first step only), so
    /// a method need not read it (and unseal the contacts) again; null: read it.
    std::shared_ptr<const UserState> loaded;
    /// How long this step may be held for an outside event (awaits_event): the engine
    /// ends the login as denied when it has passed, before the client stops waiting.
    uint64_t event_wait_usec = 0;

    const std::shared_ptr<const policy::Policy>& policy;
    const policy::UserPolicy& user_policy;
    const LoginContext& context;
    const std::string& login_id;
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

    /// Whether `answer` has the form of this method's answers, so that another method's
    /// prompt may pass it here (a recovery code where 2-step asks for a code).
    [[nodiscard]] virtual bool recognises(std::string_view /*answer*/) const { return false; }
    /// Whether the method holds its step until an event from outside (notify) comes.
    /// Asked when begin() or answer() has returned without answering: the engine then
    /// ends the login as denied at MethodEnv::event_wait_usec, and a Cancel or a client
    /// that leaves the bus ends it too, dropping the method.
    [[nodiscard]] virtual bool awaits_event() const { return false; }
    /// An event from outside: for the step the method holds, the method answers that step
    /// through the Done<Step> it holds (now or later); at a prompt, it may keep the event
    /// for the next answer. It returns an error (InvalidArgument) for an event it does not
    /// take.
    virtual Result<void> notify(const LoginEvent& event) {
        return Error(Errc::InvalidArgument,
                     "the login's method waits for no event such as '" + event.kind + "'");
    }
};

}  // namespace lwauth
