#include "admin.hpp"

#include <algorithm>

#include "log.hpp"
#include "lwauth/error.hpp"
#include "lwauth/mask.hpp"

namespace lwauth {
namespace {

void log_admin(uid_t admin, const std::string& user, const std::string& action,
               const std::string& message, const std::string& detail = "") {
    if (detail.empty()) {
        log_event(LogLevel::Notice, "admin-action", message,
                  {{"ADMIN_UID", std::to_string(admin)}, {"USER", user}, {"ACTION", action}});
    } else {
        log_event(LogLevel::Notice, "admin-action", message,
                  {{"ADMIN_UID", std::to_string(admin)},
                   {"USER", user},
                   {"ACTION", action},
                   {"DETAIL", detail}});
    }
}

}  // namespace

void AdminService::require_known(const std::string& user) const {
    if (user.empty() || !users_.exists(user)) {
        throw Error(Errc::NotFound, "there is no user '" + user + "' on this host");
    }
}

bool AdminService::for_root_alone(const std::string& user) const {
    std::optional<uid_t> uid = users_.uid_of(user);
    if (user == "root" || !uid || *uid == 0) {
        return true;
    }
    const std::string& group = account_.policy().admin_group;
    if (group.empty()) {
        return false;  // nobody but root administers
    }
    // Every user is at least in their primary group: no groups at all means the lookup
    // failed, and an administrator must not pass for an ordinary user.
    std::vector<std::string> groups = users_.groups_of(user);
    return groups.empty() || std::find(groups.begin(), groups.end(), group) != groups.end();
}

void AdminService::require_may_change(uid_t admin, const std::string& user,
                                      const std::string& action) const {
    if (admin == 0 || !for_root_alone(user)) {
        return;
    }
    log_event(LogLevel::Warning, "access-denied",
              "administrator refused: root and the admin group are changed by root alone",
              {{"ADMIN_UID", std::to_string(admin)}, {"USER", user}, {"ACTION", action}});
    throw Error(Errc::AccessDenied,
                "only root may change the login settings of root or of a member of the admin "
                "group");
}

std::vector<AccountStatus> AdminService::list_users() {
    std::vector<AccountStatus> out;
    for (const auto& name : store_.list_users()) {
        out.push_back(account_.status(name));
    }
    return out;
}

AccountStatus AdminService::show_user(const std::string& user) {
    require_known(user);
    return account_.status(user);
}

std::string AdminService::show_policy(const std::string& user) {
    require_known(user);
    return policy::describe(account_.user_policy(user), account_.policy());
}

void AdminService::set_contact(uid_t admin, const std::string& user, const std::string& kind,
                               const std::string& value) {
    check_contact_kind(kind);
    require_known(user);
    require_may_change(admin, user, "contact-set");
    std::string normalized = normalized_contact(kind, value);
    UserState state = store_.load_user(user);
    store_.set_profile_contact(user, Contact{kind, normalized, "admin"});
    if (account_.policy().contacts == policy::Contacts::Admin) {
        // The directory is the truth: the profile's value is the login contact.
        store_.save_contact(user, Contact{kind, normalized, "admin"});
        account_.forget_pending(user, kind);
        log_admin(admin, user, "contact-set", "administrator set a contact for login codes", kind);
        return;
    }
    // A confirmation of the old value must not make it the login contact later.
    account_.forget_pending_profile(user, kind);
    const Contact* login = state.contact(kind);
    if (login != nullptr && login->source != "self" && login->value != normalized) {
        // The user confirmed the old profile value; the new one needs its own confirmation.
        store_.remove_contact(user, kind);
        if (state.contacts.size() == 1) {
            store_.set_two_step(user, false);
        }
        log_admin(admin, user, "contact-set",
                  "administrator changed a profile contact; the user must confirm it again", kind);
        return;
    }
    log_admin(admin, user, "contact-set", "administrator set a profile contact", kind);
}

void AdminService::remove_contact(uid_t admin, const std::string& user, const std::string& kind) {
    check_contact_kind(kind);
    require_known(user);
    require_may_change(admin, user, "contact-remove");
    UserState state = store_.load_user(user);
    const Contact* login = state.contact(kind);
    bool from_profile = login != nullptr && login->source != "self";
    if (state.profile_contact(kind) == nullptr && !from_profile) {
        throw Error(Errc::NotFound, "user '" + user + "' has no " + kind +
                                        " set by an administrator (a number or address the user "
                                        "added is theirs: use admin reset to clear it)");
    }
    store_.remove_profile_contact(user, kind);
    account_.forget_pending_profile(user, kind);
    if (from_profile) {
        store_.remove_contact(user, kind);
        if (state.contacts.size() == 1) {
            store_.set_two_step(user, false);
        }
    }
    log_admin(admin, user, "contact-remove", "administrator removed a contact", kind);
}

void AdminService::unlock(uid_t admin, const std::string& user) {
    require_known(user);
    require_may_change(admin, user, "unlock");
    store_.clear_failures(user);
    log_admin(admin, user, "unlock", "administrator unlocked the user");
}

void AdminService::reset(uid_t admin, const std::string& user, const std::string& what) {
    if (what != "pin" && what != "line" && what != "contacts" && what != "hosts" && what != "all") {
        throw Error(Errc::InvalidArgument, "reset what: pin, line, contacts, hosts or all");
    }
    require_known(user);
    require_may_change(admin, user, "reset");
    bool all = what == "all";
    if (all || what == "pin") {
        store_.set_pin_hash(user, "");
    }
    if (all || what == "line") {
        store_.set_line_link(user, "");
    }
    if (all || what == "contacts") {
        UserState state = store_.load_user(user);
        for (const auto& c : state.contacts) {
            store_.remove_contact(user, c.kind);
        }
        account_.forget_pending(user);
        store_.set_two_step(user, false);
    }
    // A reset of the contacts (a lost phone, say) forgets the places too: a code is asked
    // again everywhere.
    if (all || what == "contacts" || what == "hosts") {
        store_.forget_hosts(user);
    }
    if (all) {
        store_.clear_failures(user);
        // The next login without a contact starts the enrolment grace afresh.
        store_.clear_enroll_grace(user);
    }
    log_admin(admin, user, "reset", "administrator reset the user's settings", what);
}

}  // namespace lwauth
