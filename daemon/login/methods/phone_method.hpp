// Log in with phone number: a code to the user's verified phone on every login, instead
// of the password. The same rules as 2-step (tries, lockout, caps, `r`, `n`), plus `p`
// for the password until a code has been checked.
#pragma once

#include "../primary.hpp"
#include "code_method.hpp"

namespace lwauth {

class PhoneMethodType final : public PrimaryMethodType {
  public:
    explicit PhoneMethodType(CodeDeps deps) : deps_(deps) {}

    [[nodiscard]] std::string id() const override { return "phone"; }
    [[nodiscard]] std::string label(const UserState& state, Language language) const override;
    [[nodiscard]] bool offered(const policy::Policy& policy, const policy::UserPolicy& user_policy,
                               const UserState& state, const LoginContext& context) const override;
    [[nodiscard]] std::shared_ptr<LoginMethod> create() const override;

  private:
    CodeDeps deps_;
};

}  // namespace lwauth
