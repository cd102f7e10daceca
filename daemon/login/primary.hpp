// mode=primary: the passwordless methods. Each is a PrimaryMethodType that says whether
// it is offered to a session and makes the LoginMethod that runs it; main.cpp builds
// them with the services they use, and the engine asks every type and knows none of
// them. Several offered → PrimaryMenu; one → that method at once, with `p` for the
// password; none → the password alone (PAM_IGNORE).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "../store/async_store.hpp"
#include "lwauth/policy.hpp"
#include "method.hpp"
#include "step.hpp"

namespace lwauth {

class PrimaryMethodType {
  public:
    virtual ~PrimaryMethodType() = default;
    /// "phone": for logs.
    [[nodiscard]] virtual std::string id() const = 0;
    /// The menu line ("a code sent to your phone (+81 •• •••• 5678)") in `language`:
    /// masked only.
    [[nodiscard]] virtual std::string label(const UserState& state, Language language) const = 0;
    /// Whether the policy enables the method for this user, the user has set it up,
    /// and this session (PAM service, remote host) may use it.
    [[nodiscard]] virtual bool offered(const policy::Policy& policy,
                                       const policy::UserPolicy& user_policy,
                                       const UserState& state,
                                       const LoginContext& context) const = 0;
    /// A fresh method for one login. It offers `p` (the password instead) while it has
    /// not checked anything yet, and never answers `ignore` after that.
    [[nodiscard]] virtual std::shared_ptr<LoginMethod> create() const = 0;
    /// Whether it may serve a login that a caller other than root started for its own
    /// user (LoginContext::unprivileged: a screen locker running as the user). The engine
    /// never offers such a login a type that answers false.
    [[nodiscard]] virtual bool serves_unprivileged() const { return true; }
    /// Whether it counts its own failures apart from the passwordless budget
    /// (passwordless.hpp): such a type is still offered while that budget is spent, which
    /// anyone who knows the user name can do from afar.
    [[nodiscard]] virtual bool counts_apart() const { return false; }
};

using PrimaryMethodTypes = std::vector<std::shared_ptr<const PrimaryMethodType>>;

/// The answer that chooses the password instead of a passwordless method.
[[nodiscard]] bool chooses_password(std::string_view answer);

/// The menu when several methods are offered: a numbered choice, `p` for the password.
/// Once a method is chosen, every answer goes to it.
class PrimaryMenu final : public LoginMethod {
  public:
    struct Choice {
        std::shared_ptr<const PrimaryMethodType> type;
        std::string label;
    };
    explicit PrimaryMenu(std::vector<Choice> choices) : choices_(std::move(choices)) {}

    void begin(const MethodEnv& env, Done<Step> done) override;
    void answer(const MethodEnv& env, std::string_view answer, Done<Step> done) override;
    /// The chosen method's, which may wait for an outside event.
    [[nodiscard]] bool awaits_event() const override;
    Result<void> notify(const LoginEvent& event) override;

  private:
    [[nodiscard]] Step menu(Step step, Language language) const;

    std::vector<Choice> choices_;
    std::shared_ptr<LoginMethod> chosen_;
};

}  // namespace lwauth
