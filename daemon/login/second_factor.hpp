// mode=second_factor: the methods of 2-step verification. Each is a SecondFactorType
// that says whether it fits a login and makes the LoginMethod that runs it; the engine
// asks every type and knows none of them. One applies → that method at once; several →
// one prompt to choose (SecondFactorLogin); none → the refusal of a type the user set up
// but that cannot run now, else what two_step::unenrolled_step says.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "../clock.hpp"
#include "../store/async_store.hpp"
#include "lwauth/policy.hpp"
#include "method.hpp"
#include "step.hpp"

namespace lwauth {

class SecondFactorType {
  public:
    enum class Fit {
        Applies,      // it can run for this login
        Unavailable,  // the user has set it up, but it cannot run now
        NotSetUp,     // the user has not set it up
    };

    virtual ~SecondFactorType() = default;
    /// "code": for logs.
    [[nodiscard]] virtual std::string id() const = 0;
    /// The line of the choice ("a verification code sent to +81 •• •••• 5678") in
    /// `language`: masked only.
    [[nodiscard]] virtual std::string label(const policy::Policy& policy,
                                            const policy::UserPolicy& user_policy,
                                            const UserState& state, Language language) const = 0;
    /// How it fits this user (their policy and state) and this session.
    [[nodiscard]] virtual Fit fit(const policy::Policy& policy,
                                  const policy::UserPolicy& user_policy, const UserState& state,
                                  const LoginContext& context) const = 0;
    /// The verdict (logged) when it is Unavailable and no other type applies.
    [[nodiscard]] virtual Step unavailable(const LoginContext& context) const = 0;
    /// A fresh method for one login it applies to. Nothing happens before its `begin`.
    [[nodiscard]] virtual std::shared_ptr<LoginMethod> create(
        const policy::Policy& policy, const policy::UserPolicy& user_policy, const UserState& state,
        const LoginContext& context) const = 0;
    /// Whether it may serve a login that a caller other than root started for its own
    /// user (LoginContext::unprivileged); the engine never offers it such a login when not.
    [[nodiscard]] virtual bool serves_unprivileged() const { return true; }
};

using SecondFactorTypes = std::vector<std::shared_ptr<const SecondFactorType>>;

/// The second factor of one login: when several types apply, one prompt to choose, then
/// every answer goes to the chosen method. Whichever method it is, its `success` records
/// the place for [policy] remember_host (two_step::remember_place).
class SecondFactorLogin final : public LoginMethod {
  public:
    struct Choice {
        std::string label;
        std::shared_ptr<LoginMethod> method;
    };
    /// A choice not in the list is asked again this many times, then the login is denied.
    static constexpr int kChoiceRetries = 1;

    SecondFactorLogin(AsyncStore& store, const Clock& clock, std::vector<Choice> choices)
        : store_(store), clock_(clock), choices_(std::move(choices)) {}

    void begin(const MethodEnv& env, Done<Step> done) override;
    void answer(const MethodEnv& env, std::string_view answer, Done<Step> done) override;

  private:
    [[nodiscard]] Step menu(Step step, Language language) const;
    /// `done`, after recording the place of a success.
    [[nodiscard]] Done<Step> remembering(const MethodEnv& env, Done<Step> done) const;

    AsyncStore& store_;
    const Clock& clock_;
    std::vector<Choice> choices_;
    std::shared_ptr<LoginMethod> chosen_;
    int retries_left_ = kChoiceRetries;
};

}  // namespace lwauth
