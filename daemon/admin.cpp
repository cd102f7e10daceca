#include "admin.hpp"

#include <algorithm>

#include "log.hpp"
#include "lwauth/bus_texts.hpp"
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

void log_test_failed(uid_t admin, const std::string& user, const Error& e) {
    log_event(
        LogLevel::Warning, "test-send-failed",
        std::string("administrator's test message not sent: ") + e.what(),
        {{"ADMIN_UID", std::to_string(admin)}, {"USER", user}, {"REASON", errc_name(e.code())}});
}

}  // namespace

void AdminService::require_known(const std::string& user) const {
    if (user.empty() || !users_.exists(user)) {
        throw Error(Errc::NotFound, bus_text(bus_texts::kNoSuchUser, {user}));
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
                N_("only root may change the login settings of root or of a member of the "
                   "admin group"));
}

void AdminService::list_users(Done<std::vector<AccountStatus>> done) {
    store_.list_users(
        then<std::vector<std::string>>(done, [this, done](std::vector<std::string> names) {
            if (names.empty()) {
                done(std::vector<AccountStatus>{});
                return;
            }
            // Every user's status asked at once; the answer goes when the last arrives, or with
            // the first error.
            struct Gather {
                std::vector<AccountStatus> statuses;
                size_t waiting = 0;
                bool failed = false;
            };
            auto gather = std::make_shared<Gather>();
            gather->statuses.resize(names.size());
            gather->waiting = names.size();
            for (size_t i = 0; i < names.size(); ++i) {
                account_.status(names[i], [gather, i, done](Result<AccountStatus> status) {
                    if (gather->failed) {
                        return;
                    }
                    if (!status.ok()) {
                        gather->failed = true;
                        done(status.error());
                        return;
                    }
                    gather->statuses[i] = std::move(status).value();
                    if (--gather->waiting == 0) {
                        done(std::move(gather->statuses));
                    }
                });
            }
        }));
}

void AdminService::show_user(const std::string& user, Done<AccountStatus> done) {
    settle(done, [&] {
        require_known(user);
        account_.status(user, done);
    });
}

std::string AdminService::show_policy(const std::string& user) {
    require_known(user);
    return policy::describe(account_.user_policy(user), account_.policy());
}

void AdminService::set_contact(uid_t admin, const std::string& user, const std::string& kind,
                               const std::string& value, Done<void> done) {
    settle(done, [&] {
        check_contact_kind(kind);
        require_known(user);
        require_may_change(admin, user, "contact-set");
        require_not_from_directory(user);
        Contact profile{kind, normalized_contact(kind, value), "admin"};
        store_.load_user(user, then<UserState>(done, [=, this](const UserState& state) {
                             set_login_contact(admin, user, profile, state, done);
                         }));
    });
}

void AdminService::require_not_from_directory(const std::string& user) const {
    // The next synchronization would undo the change: the directory is where it is made.
    const policy::Policy& policy = account_.policy();
    if (policy.contacts == policy::Contacts::Admin &&
        policy.directory.backend != policy::DirectoryBackend::None) {
        throw Error(Errc::ManagedByAdmin, bus_text(bus_texts::kAdminFromDirectory, {user}));
    }
}

void AdminService::set_login_contact(uid_t admin, const std::string& user, const Contact& profile,
                                     const UserState& state, Done<void> done) {
    const std::string& kind = profile.kind;
    if (account_.policy().contacts == policy::Contacts::Admin) {
        // The directory is the truth: the profile's value is the login contact. Both are
        // saved in one step, so that no failure between them leaves the profile showing the
        // new value while codes still go to the old one (a lost phone's).
        store_.save_profile_and_login_contact(
            user, profile, then<void>(done, [=, this] {
                account_.forget_pending(user, kind);
                log_admin(admin, user, "contact-set", "administrator set a contact for login codes",
                          kind);
                done(Result<void>::success());
            }));
        return;
    }
    store_.set_profile_contact(user, profile, then<void>(done, [=, this] {
                                   // A confirmation of the old value must not make it the
                                   // login contact later.
                                   account_.forget_pending_profile(user, kind);
                                   ask_to_confirm_again(admin, user, profile, state, done);
                               }));
}

void AdminService::ask_to_confirm_again(uid_t admin, const std::string& user,
                                        const Contact& profile, const UserState& state,
                                        Done<void> done) {
    const std::string& kind = profile.kind;
    const Contact* login = state.contact(kind);
    if (login != nullptr && login->source != "self" && login->value != profile.value) {
        // The user confirmed the old profile value; the new one needs its own confirmation.
        store_.remove_contact_and_two_step(
            user, kind, usable_factors(account_.user_policy(user), state).others(),
            then<bool>(done, [=](bool) {
                log_admin(admin, user, "contact-set",
                          "administrator changed a profile contact; the user must confirm it again",
                          kind);
                done(Result<void>::success());
            }));
        return;
    }
    log_admin(admin, user, "contact-set", "administrator set a profile contact", kind);
    done(Result<void>::success());
}

void AdminService::remove_contact(uid_t admin, const std::string& user, const std::string& kind,
                                  Done<void> done) {
    settle(done, [&] {
        check_contact_kind(kind);
        require_known(user);
        require_may_change(admin, user, "contact-remove");
        require_not_from_directory(user);
        store_.load_user(
            user, then<UserState>(done, [=, this](const UserState& state) {
                const Contact* login = state.contact(kind);
                bool from_profile = login != nullptr && login->source != "self";
                if (state.profile_contact(kind) == nullptr && !from_profile) {
                    throw Error(Errc::NotFound, bus_text(kind == "phone" ? bus_texts::kNoAdminPhone
                                                                         : bus_texts::kNoAdminEmail,
                                                         {user}));
                }
                // The profile's value and the login contact taken from it go in one step,
                // so that no failure between them leaves codes going to a number the
                // profile no longer shows (a lost phone's); 2-step goes off with the last.
                store_.remove_profile_and_login_contact(
                    user, kind, usable_factors(account_.user_policy(user), state).others(),
                    then<bool>(done, [=, this](bool) {
                        account_.forget_pending_profile(user, kind);
                        log_admin(admin, user, "contact-remove", "administrator removed a contact",
                                  kind);
                        done(Result<void>::success());
                    }));
            }));
    });
}

void AdminService::unlock(uid_t admin, const std::string& user, Done<void> done) {
    settle(done, [&] {
        require_known(user);
        require_may_change(admin, user, "unlock");
        store_.clear_failures(user, then<void>(done, [=] {
                                  log_admin(admin, user, "unlock",
                                            "administrator unlocked the user");
                                  done(Result<void>::success());
                              }));
    });
}

void AdminService::reset(uid_t admin, const std::string& user, const std::string& what,
                         Done<void> done) {
    settle(done, [&] {
        if (what != "pin" && what != "line" && what != "contacts" && what != "hosts" &&
            what != "totp" && what != "all") {
            throw Error(Errc::InvalidArgument,
                        N_("reset what: pin, line, contacts, hosts, totp or all"));
        }
        require_known(user);
        require_may_change(admin, user, "reset");
        bool all = what == "all";
        ResetScope scope;
        scope.pin = all || what == "pin";
        scope.line = all || what == "line";
        scope.contacts = all || what == "contacts";
        // A reset of the contacts (a lost phone, say) forgets the places too: a code is
        // asked again everywhere.
        scope.hosts = scope.contacts || what == "hosts";
        scope.failures = all;
        scope.totp = all || what == "totp";
        scope.recovery = all;
        // The next login without a contact starts the enrolment grace afresh.
        scope.enroll_grace = all;
        // 2-step goes off with the last factor the user's policy counts, unless required.
        scope.counted = removal_rule(account_.user_policy(user));
        if (scope.contacts) {
            account_.forget_pending(user);
        }
        if (scope.line) {
            // A link approved after the reset would bring the link back.
            account_.withdraw_line_links(user);
        }
        store_.reset(user, scope, then<void>(done, [=] {
                         log_admin(admin, user, "reset", "administrator reset the user's settings",
                                   what);
                         done(Result<void>::success());
                     }));
    });
}

void AdminService::recovery_codes(uid_t admin, const std::string& user,
                                  Done<std::vector<SecretString>> done) {
    settle(done, [&] {
        require_known(user);
        require_may_change(admin, user, "recovery");
        // Allowed even where the policy does not count them (another host of a shared
        // store may), but said in the log: here they neither enrol the user nor pass 2-step.
        bool counted = recovery_counted(account_.user_policy(user));
        account_.store_recovery_codes(
            user, [admin, user, counted, done](Result<std::vector<SecretString>> codes) {
                if (codes && counted) {
                    log_admin(admin, user, "recovery", "administrator generated recovery codes");
                } else if (codes) {
                    log_admin(admin, user, "recovery",
                              "administrator generated recovery codes, which the user's policy "
                              "on this host does not count",
                              "uncounted");
                }
                done(std::move(codes));
            });
    });
}

void AdminService::test_send(uid_t admin, const std::string& user, Done<Delivered> done) {
    // Every refusal past the caller's check is logged, as a failed delivery is.
    Done<Delivered> logged = [admin, user, done = std::move(done)](Result<Delivered> sent) {
        if (sent) {
            done(std::move(sent));
            return;
        }
        log_test_failed(admin, user, sent.error());
        if (sent.error().code() == Errc::RateLimited) {
            const bool budget = std::string_view(sent.error().what()) == kTestBudgetReached;
            done(Error(Errc::RateLimited,
                       budget ? bus_text(bus_texts::kTestSendBudget,
                                         {user, std::to_string(kTestSendsPerUserPerHour),
                                          std::to_string(kTestSendsPerAdminPerHour)})
                              : bus_text(bus_texts::kTestSendCapped, {user}),
                       sent.error().retry_at()));
            return;
        }
        done(std::move(sent));
    };
    settle(logged, [&] {
        require_known(user);
        // It counts against the user's login codes: a member of the admin group must not
        // use up root's or another member's (their own is theirs to test).
        if (users_.name_of(admin) != user) {
            require_may_change(admin, user, "test-send");
        }
        auto up = account_.user_policy(user);
        store_.load_user(user, then<UserState>(logged, [=, this](const UserState& state) {
                             send_test(admin, user, up, state, logged);
                         }));
    });
}

void AdminService::send_test(uid_t admin, const std::string& user, const policy::UserPolicy& up,
                             const UserState& state, Done<Delivered> done) {
    if (!sender_.reachable(account_.policy(), up, state)) {
        if (state.contacts.empty()) {
            throw Error(Errc::NotFound, bus_text(bus_texts::kTestSendNoContact, {user}));
        }
        throw Error(Errc::NotEnabled, bus_text(bus_texts::kTestSendNoChannel, {user}));
    }
    sender_.send_test_message(admin, user, account_.policy(), up, state, test_message_text(host_, up.language),
                              [admin, user, done = std::move(done)](Result<Delivered> sent) {
                                  if (sent) {
                                      log_event(LogLevel::Notice, "test-sent",
                                                "administrator's test message sent",
                                                {{"ADMIN_UID", std::to_string(admin)},
                                                 {"USER", user},
                                                 {"CHANNEL", sent->channel},
                                                 {"KIND", policy::to_string(sent->kind)}});
                                      if (sent->kind == policy::Kind::Notification) {
                                          sent->shown_destination = user + "'s workplace account";
                                      }
                                  }
                                  done(std::move(sent));
                              });
}

struct AdminService::RekeyRun {
    uid_t admin = 0;
    std::vector<std::string> users;
    size_t next = 0;         // the next user to rekey
    RekeyCounts counts;      // of the users done
    std::string unopenable;  // users with a value no key opens, for the log
    Done<RekeyCounts> done;
    bool waiting = false;  // a user's rekey has not answered yet
    bool answered_inline = false;
};

void AdminService::rekey(uid_t admin, Done<RekeyCounts> done) {
    store_.list_users(
        then<std::vector<std::string>>(done, [this, admin, done](std::vector<std::string> users) {
            auto run = std::make_shared<RekeyRun>();
            run->admin = admin;
            run->users = std::move(users);
            run->done = done;
            rekey_next(run);
        }));
}

void AdminService::rekey_next(const std::shared_ptr<RekeyRun>& run) {
    // A loop rather than a call from each answer: a store that answers at once (SQLite)
    // would otherwise nest one call per user.
    while (run->next < run->users.size()) {
        const std::string& user = run->users[run->next];
        run->waiting = true;
        run->answered_inline = true;
        store_.rekey_user(user, [this, run, user](Result<RekeyCounts> counts) {
            run->waiting = false;
            if (!counts.ok()) {
                finish_rekey(*run, &counts.error());  // stopped: no further user
                return;
            }
            if (counts->unopenable > 0 && run->unopenable.size() < 1024) {
                run->unopenable += (run->unopenable.empty() ? "" : ",") + user;
            }
            run->counts += *counts;
            ++run->next;
            if (!run->answered_inline) {
                rekey_next(run);
            }
        });
        run->answered_inline = false;
        if (run->waiting || run->next > run->users.size()) {
            return;
        }
    }
    if (run->next == run->users.size()) {
        finish_rekey(*run, nullptr);
    }
}

void AdminService::finish_rekey(RekeyRun& run, const Error* stopped) {
    // USERS: the users done of those the store listed; UNOPENABLE_USERS only names users.
    const bool some_unopenable = run.counts.unopenable > 0;
    std::string message =
        stopped != nullptr ? std::string("rekey stopped: ") + stopped->what() +
                                 "; every value is still open with the old or the new key"
        : some_unopenable ? "sealed values rekeyed; some are opened by no key and were kept"
                          : "sealed values rekeyed";
    log_event(stopped != nullptr || some_unopenable ? LogLevel::Warning : LogLevel::Notice,
              "admin-rekey", message,
              {{"ADMIN_UID", std::to_string(run.admin)},
               {"USERS", std::to_string(std::min(run.next, run.users.size())) + "/" +
                             std::to_string(run.users.size())},
               {"RESEALED", std::to_string(run.counts.resealed)},
               {"CURRENT", std::to_string(run.counts.current)},
               {"UNOPENABLE", std::to_string(run.counts.unopenable)},
               {"UNOPENABLE_USERS", run.unopenable},
               {"REASON", stopped != nullptr ? errc_name(stopped->code()) : ""}});
    run.next = run.users.size() + 1;
    if (stopped != nullptr) {
        run.done(*stopped);
    } else {
        run.done(run.counts);
    }
}

}  // namespace lwauth
