// lwauthd on the bus: the Login, Account and Admin interfaces of org.lwauth.Auth1.
// This layer only decodes, checks who is calling, and encodes; the decisions are in
// LoginEngine and AccountService.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "account.hpp"
#include "admin.hpp"
#include "login/engine.hpp"
#include "lwauth/result.hpp"
#include "lwauth/sd_bus.hpp"
#include "lwauth/users.hpp"

namespace lwauth {

class BusService {
  public:
    /// reload: reloads the policy; Error(BadPolicy) saying why when the new one is refused.
    BusService(LoginEngine& engine, AccountService& account, AdminService& admin,
               const UserDirectory& users, std::function<Result<void>()> reload)
        : engine_(engine),
          account_(account),
          admin_(admin),
          users_(users),
          reload_(std::move(reload)) {}

    /// Registers the object, its interfaces and the client-gone watch on the bus.
    void attach(sd_bus* bus);
    /// Serves the Login interface alone on a private peer-to-peer connection (the login
    /// socket) whose peer had EUID `euid` when it connected. `owner` stands for it where a
    /// bus client's unique name would: the logins it starts are its own. `event` is the
    /// loop that serves it (the connection itself is not attached to one).
    void attach_private(sd_bus* bus, const std::string& owner, uid_t euid, sd_event* event);
    /// A private connection has closed: its logins end, as a bus client's that left.
    void detach_private(sd_bus* bus);

    // Method handlers (sd-bus C callbacks forward here).
    int login_start(sd_bus_message* m);
    int login_answer(sd_bus_message* m);
    int login_cancel(sd_bus_message* m);
    int login_confirm(sd_bus_message* m);
    int account_status(sd_bus_message* m);
    int account_add_contact(sd_bus_message* m);
    int account_use_profile_contact(sd_bus_message* m);
    int account_confirm_contact(sd_bus_message* m);
    int account_remove_contact(sd_bus_message* m);
    int account_set_two_step(sd_bus_message* m);
    int account_start_reauth(sd_bus_message* m);
    int account_reauth(sd_bus_message* m);
    int account_forget(sd_bus_message* m);
    int account_link_line(sd_bus_message* m);
    int account_line_link_status(sd_bus_message* m);
    int account_unlink_line(sd_bus_message* m);
    int account_set_pin(sd_bus_message* m);
    int account_add_totp(sd_bus_message* m);
    int account_confirm_totp(sd_bus_message* m);
    int account_remove_totp(sd_bus_message* m);
    int account_generate_recovery(sd_bus_message* m);
    int account_remove_pin(sd_bus_message* m);
    int admin_list_users(sd_bus_message* m);
    int admin_show_user(sd_bus_message* m);
    int admin_show_policy(sd_bus_message* m);
    int admin_set_contact(sd_bus_message* m);
    int admin_remove_contact(sd_bus_message* m);
    int admin_unlock(sd_bus_message* m);
    int admin_reset(sd_bus_message* m);
    int admin_recovery_codes(sd_bus_message* m);
    int admin_reload_policy(sd_bus_message* m);
    int admin_test_send(sd_bus_message* m);
    int name_owner_changed(sd_bus_message* m);

    /// Whether the caller's EUID is root (false when it cannot be told): root is told the
    /// detail of an internal error, other callers a generic text.
    [[nodiscard]] bool caller_is_root(sd_bus_message* m) const noexcept;

  private:
    class DeadlineReply;

    [[nodiscard]] uid_t caller_euid(sd_bus_message* m) const;
    /// What a login belongs to: the caller's unique bus name, or the owner of its private
    /// connection.
    [[nodiscard]] std::string owner_of(sd_bus_message* m) const;
    /// Whether the caller's process is in a local logind session with a seat
    /// (in_local_seat_session of the PID the bus gives for its connection); false when
    /// that cannot be told.
    [[nodiscard]] bool caller_sits_here(sd_bus_message* m) const noexcept;
    /// A caller other than root (EUID `uid`) may start a login for its own user alone:
    /// the name of `uid` must be `user`; else AccessDenied, logged with its UID.
    void require_own_login(sd_bus_message* m, uid_t uid, const std::string& user) const;
    /// The caller's UID when it is root or in the admin group; else AccessDenied.
    uid_t require_admin(sd_bus_message* m) const;
    [[nodiscard]] std::string caller_user(sd_bus_message* m) const;

    LoginEngine& engine_;
    AccountService& account_;
    AdminService& admin_;
    const UserDirectory& users_;
    std::function<Result<void>()> reload_;
    static constexpr size_t kMaxKnownSenders = 65536;
    // The EUID of each unique name that has called, until it leaves the bus.
    mutable std::map<std::string, uid_t, std::less<>> euid_of_sender_;
    struct PrivateCaller {
        std::string owner;
        uid_t euid;
        sd_event* event;
    };
    // The loop that serves the connection `m` came on.
    [[nodiscard]] sd_event* event_of(sd_bus_message* m) const;
    // The private connections being served, by connection.
    std::map<sd_bus*, PrivateCaller, std::less<>> private_callers_;
    BusSlotPtr object_slot_;
    BusSlotPtr match_slot_;
    // The replies whose deadline timer is armed: each is kept until its timer fires or
    // the engine answers, and goes with the service.
    std::map<const DeadlineReply*, std::shared_ptr<DeadlineReply>> deadlines_;
};

}  // namespace lwauth
