// mode=second_factor: the methods of 2-step verification. Each is a SecondFactorType
// that says whether it fits a login and makes the LoginMethod that runs it; the engine
// asks every type and knows none of them. One applies → that method at once; several →
// one prompt to choose (SecondFactorLogin); none → the refusal of a type the user set up
// but that cannot run now, else what two_step::unenrolled_step says.
#pragma once

#include <memory>
#include <optional>
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

    /// How it takes part when several apply.
    enum class Role {
        Choice,     // a line of the numbered choice
        Asks,       // sends nothing: asked at once, with the others named (an app's code)
        Sends,      // sends something when it begins: `s` at an Asks prompt begins it
        AnyPrompt,  // its answers are recognised wherever 2-step asks (a recovery code)
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
    [[nodiscard]] virtual Role role() const { return Role::Choice; }
    /// The word of [policy] second_factors that names it; none: not named there, offered
    /// after those that are.
    [[nodiscard]] virtual std::optional<policy::SecondFactor> factor() const {
        return std::nullopt;
    }
    /// A restricted authenticator (NIST SP 800-63B 5.1.3.3: SMS, email): not enough alone
    /// under [policy] require_unrestricted.
    [[nodiscard]] virtual bool restricted() const { return false; }
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
        SecondFactorType::Role role = SecondFactorType::Role::Choice;
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
    /// Begins `method`; its first prompt says what else may be typed there (`s` for the
    /// method that sends, a recovery code).
    void begin_chosen(const MethodEnv& env, std::shared_ptr<LoginMethod> method, Done<Step> done);
    /// `done`, keeping the prompt of each step that asks (to ask it again after an answer
    /// that went to the method of every prompt); `first`: add the lines of begin_chosen.
    [[nodiscard]] Done<Step> prompting(const MethodEnv& env, bool first, Done<Step> done);

    AsyncStore& store_;
    const Clock& clock_;
    std::vector<Choice> choices_;
    std::shared_ptr<LoginMethod> chosen_;
    std::optional<Choice> sends_;       // begun by `s` at the prompt of an Asks method
    std::optional<Choice> any_prompt_;  // accepted at every prompt
    std::string prompt_;                // the chosen method's last prompt
    bool echo_ = false;
    int retries_left_ = kChoiceRetries;
};

}  // namespace lwauth
