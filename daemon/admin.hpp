// Administration of other users' login settings (the Admin interface): pure logic like
// AccountService. The bus layer has already checked that the caller is root or in the
// policy's admin group; every action here is logged with the caller's UID. Changes to
// root (UID 0) or to a member of the admin group are root's alone. Every operation that
// reads or writes the store answers through its `done`, exactly once, errors included.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "account.hpp"
#include "lwauth/result.hpp"
#include "lwauth/users.hpp"
#include "store/async_store.hpp"

namespace lwauth {

class AdminService {
  public:
    AdminService(AsyncStore& store, AccountService& account, const UserDirectory& users)
        : store_(store), account_(account), users_(users) {}

    /// Everyone the store knows, by name, as Account.Status shows them (masked).
    void list_users(Done<std::vector<AccountStatus>> done);
    /// One user; NotFound for a name this host does not know.
    void show_user(const std::string& user, Done<AccountStatus> done);
    /// The user's effective policy in lwauth.conf syntax (after group and user sections).
    [[nodiscard]] std::string show_policy(const std::string& user);

    /// Sets the phone or email of the user's profile. Under `contacts = admin` it is also
    /// the contact that login codes go to, at once; under `contacts = self` the user
    /// chooses to use it (`lwauthctl contact use-profile`) and confirms it by code.
    void set_contact(uid_t admin, const std::string& user, const std::string& kind,
                     const std::string& value, Done<void> done);
    /// Removes the profile's phone or email and a login contact that came from it (never
    /// the user's own login-only number).
    void remove_contact(uid_t admin, const std::string& user, const std::string& kind,
                        Done<void> done);
    /// Ends a lockout and clears the count of failed codes.
    void unlock(uid_t admin, const std::string& user, Done<void> done);
    /// what: pin, line, contacts (every login contact; 2-step goes off with them), hosts
    /// (the places remember_host skips the code at) or all (those four, the lockout and
    /// the start of the enrolment grace). The profile stays. One store transaction.
    void reset(uid_t admin, const std::string& user, const std::string& what, Done<void> done);

  private:
    void require_known(const std::string& user) const;
    /// Throws AccessDenied (and logs it) unless `admin` is root or `user` is neither root
    /// nor in the admin group: a member of the group must not weaken root's 2-step
    /// verification, nor another member's (or their own: that is the Account interface).
    void require_may_change(uid_t admin, const std::string& user, const std::string& action) const;
    /// Whether changes to `user` are for root alone; true when that cannot be told.
    [[nodiscard]] bool for_root_alone(const std::string& user) const;

    /// The end of set_contact, once the profile is saved.
    void set_login_contact(uid_t admin, const std::string& user, const Contact& profile,
                           const UserState& state, Done<void> done);

    AsyncStore& store_;
    AccountService& account_;
    const UserDirectory& users_;
};

}  // namespace lwauth
