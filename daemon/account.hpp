// Self-service on one's own account: contacts and 2-step verification. Pure logic like
// the login engine; the bus layer decides who the caller is.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "clock.hpp"
#include "codes.hpp"
#include "delivery.hpp"
#include "lwauth/error.hpp"
#include "lwauth/policy.hpp"
#include "lwauth/secret.hpp"
#include "lwauth/users.hpp"
#include "store/store.hpp"

namespace lwauth {

struct AccountStatus {
    std::string user;
    policy::TwoStep two_step_policy = policy::TwoStep::Optional;
    policy::Contacts contacts_policy = policy::Contacts::Self;
    bool two_step_enabled = false;                        // in effect for this user's logins
    std::map<std::string, std::string> contacts;          // kind -> masked value
    std::map<std::string, std::string> pending_contacts;  // kind -> masked value awaiting a code
    int64_t locked_until = 0;
};

class AccountService {
  public:
    AccountService(const Clock& clock, RandomSource& random, Store& store, CodeSender& sender,
                   const Hasher& hasher, const UserDirectory& users)
        : clock_(clock),
          random_(random),
          store_(store),
          sender_(sender),
          hasher_(hasher),
          users_(users) {}

    void set_policy(std::shared_ptr<const policy::Policy> policy) { policy_ = std::move(policy); }

    [[nodiscard]] AccountStatus status(const std::string& user);
    /// Sends a confirmation code to a new phone number or email address.
    /// `done` gets nullopt once the code is on its way, or the error that stopped it
    /// (RateLimited, DeliveryFailed). Bad input throws at once, without calling `done`.
    void add_contact(const std::string& user, const std::string& kind, const std::string& value,
                     std::function<void(std::optional<Error>)> done);
    /// Verifies the code; saves the contact. Returns whether 2-step is now on.
    bool confirm_contact(const std::string& user, const std::string& kind,
                         const SecretString& code);
    void remove_contact(const std::string& user, const std::string& kind);
    void set_two_step(const std::string& user, bool enabled);
    /// Drops confirmations whose code has expired.
    void expire();

  private:
    struct PendingContact {
        std::string value;
        Digest code_hash{};
        int64_t expires_at = 0;
        int tries_left = 0;
    };

    [[nodiscard]] policy::UserPolicy user_policy(const std::string& user) const;
    void require_self_service() const;

    const Clock& clock_;
    RandomSource& random_;
    Store& store_;
    CodeSender& sender_;
    const Hasher& hasher_;
    const UserDirectory& users_;
    std::shared_ptr<const policy::Policy> policy_;
    std::map<std::pair<std::string, std::string>, PendingContact> pending_;  // (user, kind)
};

}  // namespace lwauth
