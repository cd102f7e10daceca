// Administration of other users' login settings (the Admin interface): pure logic like
// AccountService. The bus layer has already checked that the caller is root or in the
// policy's admin group; every action here is logged with the caller's UID. Changes to
// root (UID 0) or to a member of the admin group are root's alone. Every operation that
// reads or writes the store answers through its `done`, exactly once, errors included.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "account.hpp"
#include "delivery.hpp"
#include "lwauth/result.hpp"
#include "lwauth/users.hpp"
#include "store/async_store.hpp"

namespace lwauth {

class AdminService {
  public:
    /// `host` is this host's name, as a test message names it.
    AdminService(AsyncStore& store, AccountService& account, const UserDirectory& users,
                 CodeSender& sender, std::string host)
        : store_(store),
          account_(account),
          users_(users),
          sender_(sender),
          host_(std::move(host)) {}

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
    /// Sends the user a test message (test_message_text, no code) where a login code would
    /// go, so that an administrator can check a channel: `done` gets where it went (the
    /// destination masked), or the error: NotFound (no such user, or no contact and no
    /// notification channel), NotEnabled (no channel serves the user's contacts),
    /// RateLimited (a send cap of the user's login codes is reached: nothing is sent) or
    /// DeliveryFailed with the last channel's reason (which names the channel). It counts against
    /// the caps as a login code does, and is logged (test-sent, test-send-failed). Sent to root or
    /// to another member of the admin group, it is root's alone (AccessDenied): it uses up that
    /// user's login codes.
    void test_send(uid_t admin, const std::string& user, Done<Delivered> done);
    /// A new set of recovery codes for `user` (who lost every second factor), shown once;
    /// the old set stops working. The same callers as Reset.
    void recovery_codes(uid_t admin, const std::string& user, Done<std::vector<SecretString>> done);

    /// Seals again under the current contacts key every value an earlier key sealed (the
    /// login and profile contacts, the authenticator app and an enrolment waiting), user by
    /// user, each user one short store step: logins go on in between, and a stop midway
    /// leaves each value under one key or the other. `done` gets the counts; a value no key
    /// opens is counted, never removed. Logged as admin-rekey. Root and the admin group:
    /// it changes no user's settings, only the key their values are sealed under.
    void rekey(uid_t admin, Done<RekeyCounts> done);

  private:
    struct RekeyRun;
    /// Rekeys the users of `run` from its next one on; returns when the store answers later
    /// (its answer carries on) or when every user is done.
    void rekey_next(const std::shared_ptr<RekeyRun>& run);
    static void finish_rekey(RekeyRun& run, const Error* stopped);

    void require_known(const std::string& user) const;
    /// Throws AccessDenied (and logs it) unless `admin` is root or `user` is neither root
    /// nor in the admin group: a member of the group must not weaken root's 2-step
    /// verification, nor another member's (or their own: that is the Account interface).
    void require_may_change(uid_t admin, const std::string& user, const std::string& action) const;
    /// Throws ManagedByAdmin when the user's contacts come from [directory] (LDAP).
    void require_not_from_directory(const std::string& user) const;
    /// Whether changes to `user` are for root alone; true when that cannot be told.
    [[nodiscard]] bool for_root_alone(const std::string& user) const;

    /// The end of test_send, once the store has read the user.
    void send_test(uid_t admin, const std::string& user, const policy::UserPolicy& up,
                   const UserState& state, Done<Delivered> done);
    /// The end of set_contact, once the store has read the user: the profile contact and,
    /// under `contacts = admin`, the login contact with it in one store step.
    void set_login_contact(uid_t admin, const std::string& user, const Contact& profile,
                           const UserState& state, Done<void> done);
    /// The end of set_contact outside `contacts = admin`, once the profile is saved: a login
    /// contact confirmed from the old profile value is removed, to be confirmed again.
    void ask_to_confirm_again(uid_t admin, const std::string& user, const Contact& profile,
                              const UserState& state, Done<void> done);

    AsyncStore& store_;
    AccountService& account_;
    const UserDirectory& users_;
    CodeSender& sender_;
    std::string host_;
};

}  // namespace lwauth
