// 2-step verification without a send: the code of the user's authenticator app (TOTP),
// and a recovery code, which SecondFactorLogin accepts at any prompt of 2-step.
#pragma once

#include "../../clock.hpp"
#include "../../codes.hpp"
#include "../method.hpp"
#include "../second_factor.hpp"

namespace lwauth {

/// What these methods use: the daemon's services (main.cpp), which outlive every login.
struct UnsentDeps {
    const Clock& clock;
    AsyncStore& store;
    const Hasher& hasher;
};

/// Shared by both: the lock checked, a wrong answer counted toward the lockout, the
/// login's tries ([code] tries), the failures cleared on success.
class UnsentMethod : public LoginMethod {
  public:
    explicit UnsentMethod(UnsentDeps deps) : deps_(deps) {}

    void begin(const MethodEnv& env, Done<Step> done) override;
    void answer(const MethodEnv& env, std::string_view answer, Done<Step> done) override;

  protected:
    /// The prompt of this method, in `language`.
    [[nodiscard]] virtual std::string prompt_text(Language language) const = 0;
    /// Checks the answer against the store (using it up when right): `done` gets the
    /// success step (with its lines), or nullopt for a wrong answer. `answer` is wiped
    /// when this returns.
    virtual void check(const MethodEnv& env, std::string_view answer,
                       Done<std::optional<Step>> done) = 0;
    /// The log event of a wrong answer.
    [[nodiscard]] virtual const char* wrong_event() const = 0;

    [[nodiscard]] Step prompt(Step step, Language language) const;
    UnsentDeps deps_;

  private:
    void wrong(const MethodEnv& env, Done<Step> done);
    void succeed(const MethodEnv& env, Step step, const LockState& state, Done<Step> done);

    int tries_left_ = -1;  // set at the first answer: [code] tries
};

class TotpMethod final : public UnsentMethod {
  public:
    using UnsentMethod::UnsentMethod;

  protected:
    [[nodiscard]] std::string prompt_text(Language language) const override;
    void check(const MethodEnv& env, std::string_view answer,
               Done<std::optional<Step>> done) override;
    [[nodiscard]] const char* wrong_event() const override { return "totp-wrong"; }
};

class RecoveryMethod final : public UnsentMethod {
  public:
    using UnsentMethod::UnsentMethod;
    /// Whether the answer has the form of a recovery code.
    [[nodiscard]] bool recognises(std::string_view answer) const override;

  protected:
    [[nodiscard]] std::string prompt_text(Language language) const override;
    void check(const MethodEnv& env, std::string_view answer,
               Done<std::optional<Step>> done) override;
    [[nodiscard]] const char* wrong_event() const override { return "recovery-wrong"; }
};

/// What both types share: their services, and a fresh `Method` for each login.
template <class Method>
class UnsentMethodType : public SecondFactorType {
  public:
    explicit UnsentMethodType(UnsentDeps deps) : deps_(deps) {}
    [[nodiscard]] std::shared_ptr<LoginMethod> create(const policy::Policy&,
                                                      const policy::UserPolicy&, const UserState&,
                                                      const LoginContext&) const override {
        return std::make_shared<Method>(deps_);
    }

  private:
    UnsentDeps deps_;
};

/// The authenticator app: applies when the user has one and [policy] totp allows it. It
/// asks at once, sending nothing (SecondFactorType::Role::Asks).
class TotpMethodType final : public UnsentMethodType<TotpMethod> {
  public:
    using UnsentMethodType::UnsentMethodType;
    [[nodiscard]] std::string id() const override { return "totp"; }
    [[nodiscard]] std::string label(const policy::Policy& policy,
                                    const policy::UserPolicy& user_policy, const UserState& state,
                                    Language language) const override;
    [[nodiscard]] Fit fit(const policy::Policy& policy, const policy::UserPolicy& user_policy,
                          const UserState& state, const LoginContext& context) const override;
    [[nodiscard]] Step unavailable(const LoginContext& context) const override;
    [[nodiscard]] Role role() const override { return Role::Asks; }
    [[nodiscard]] std::optional<policy::SecondFactor> factor() const override {
        return policy::SecondFactor::Totp;
    }
};

/// Recovery codes: applies when the user has some left. Accepted wherever 2-step asks
/// (SecondFactorType::Role::AnyPrompt); alone, it asks for one.
class RecoveryMethodType final : public UnsentMethodType<RecoveryMethod> {
  public:
    using UnsentMethodType::UnsentMethodType;
    [[nodiscard]] std::string id() const override { return "recovery"; }
    [[nodiscard]] std::string label(const policy::Policy& policy,
                                    const policy::UserPolicy& user_policy, const UserState& state,
                                    Language language) const override;
    [[nodiscard]] Fit fit(const policy::Policy& policy, const policy::UserPolicy& user_policy,
                          const UserState& state, const LoginContext& context) const override;
    [[nodiscard]] Step unavailable(const LoginContext& context) const override;
    [[nodiscard]] Role role() const override { return Role::AnyPrompt; }
    [[nodiscard]] std::optional<policy::SecondFactor> factor() const override {
        return policy::SecondFactor::Recovery;
    }
};

}  // namespace lwauth
