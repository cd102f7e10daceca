// The login conversation state machine: pure logic, no I/O of its own. It takes a clock,
// a random source, a store, a code sender and a user directory as interfaces, so unit
// tests drive every branch under a fake clock.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "../clock.hpp"
#include "../codes.hpp"
#include "../delivery.hpp"
#include "../store/store.hpp"
#include "lwauth/policy.hpp"
#include "lwauth/secret.hpp"
#include "lwauth/users.hpp"
#include "method.hpp"
#include "step.hpp"

namespace lwauth {

struct EngineDeps {
    const Clock& clock;
    RandomSource& random;
    Store& store;
    CodeSender& sender;
    const Hasher& hasher;
    const UserDirectory& users;
};

class LoginEngine {
  public:
    static constexpr size_t kMaxPendingLogins = 4096;

    LoginEngine(EngineDeps deps, std::shared_ptr<const policy::Policy> policy)
        : deps_(deps), policy_(std::move(policy)) {}

    /// Replaces the policy for logins started from now on; running logins keep theirs.
    void set_policy(std::shared_ptr<const policy::Policy> policy) { policy_ = std::move(policy); }
    [[nodiscard]] const std::shared_ptr<const policy::Policy>& policy() const { return policy_; }

    /// Starts a login. A step without a verdict carries the login's id.
    Step start(const LoginContext& context);
    /// Answers the current prompt of login `id` started by `owner`.
    /// Throws Error(NoSuchLogin) for an unknown, finished or expired id, or another owner's.
    Step answer(const std::string& id, const std::string& owner, const SecretString& answer);
    /// Ends a login without a verdict. Unknown ids are ignored.
    void cancel(const std::string& id, const std::string& owner);
    /// Ends every login of a bus client that has gone away.
    void cancel_owner(const std::string& owner);
    /// Ends logins idle for longer than the policy's login timeout. Returns how many.
    size_t expire();

    [[nodiscard]] size_t pending() const { return logins_.size(); }

  private:
    struct Pending {
        LoginContext context;
        std::shared_ptr<const policy::Policy> policy;
        policy::UserPolicy user_policy;
        std::unique_ptr<LoginMethod> method;
        int64_t expires_at = 0;
    };

    Step start_second_factor(const LoginContext& context, const policy::UserPolicy& user_policy);
    Step run(const std::string& id, Pending& pending, bool first, std::string_view answer);
    std::string new_id();

    EngineDeps deps_;
    std::shared_ptr<const policy::Policy> policy_;
    std::map<std::string, Pending> logins_;
};

}  // namespace lwauth
