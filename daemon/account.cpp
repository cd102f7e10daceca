#include "account.hpp"

#include <algorithm>

#include "log.hpp"
#include "login/methods/code_method.hpp"
#include "login/remember.hpp"
#include "login/two_step.hpp"
#include "lwauth/bus_names.hpp"
#include "lwauth/bus_texts.hpp"
#include "lwauth/error.hpp"
#include "lwauth/mask.hpp"
#include "lwauth/text.hpp"
#include "second/recovery.hpp"
#include "second/totp.hpp"

namespace lwauth {
namespace {

std::string confirm_context(const std::string& user, const std::string& kind) {
    return "confirm:" + user + ":" + kind;
}

// A reauthentication code proves the user to one bus connection: it cannot confirm a
// contact or a login, nor another connection's change.
std::string reauth_context(const std::string& user, const std::string& owner) {
    return "reauth:" + user + ":" + owner;
}

// Whether `code` is the code whose keyed hash under `context` is `expected`, compared in
// constant time.
bool code_matches(const Hasher& hasher, const std::string& context, const SecretString& code,
                  int length, const Digest& expected) {
    return looks_like_code(code.view(), length) &&
           digest_equal(hasher.keyed_hash(context, code.view()), expected);
}

// A wrong code with `tries_left` tries after it.
Error wrong_code(int tries_left) {
    return Error(Errc::InvalidCode, bus_text(bus_texts::kWrongCode, {std::to_string(tries_left)},
                                             static_cast<unsigned long>(tries_left)));
}

// One of two whole sentences by the contact's kind, each marked N_() where it is written:
// Japanese orders a sentence's words otherwise, so a kind is never glued into one.
const char* by_kind(const std::string& kind, const char* phone, const char* email) {
    return kind == "phone" ? phone : email;
}

Error last_contact_required() {
    return Error(Errc::PolicyForbids,
                 N_("2-step verification is required on this host; add another phone number or "
                    "email address, or an authenticator app, before removing this one"));
}

Error expired_confirmation(const std::string& kind) {
    return Error(Errc::Expired,
                 by_kind(kind, N_("the confirmation code has expired; add the phone again"),
                         N_("the confirmation code has expired; add the email again")));
}

Error not_waiting(const std::string& kind) {
    return Error(Errc::NotFound,
                 by_kind(kind, N_("no phone is waiting for confirmation; add it first"),
                         N_("no email is waiting for confirmation; add it first")));
}

// What a locked account is told at a step-up (and how long is not said: as a login would).
constexpr const char* kLockedText =
    N_("too many wrong codes: this account is locked for now; try again later");

bool listed(const policy::UserPolicy& up, policy::SecondFactor factor) {
    return std::find(up.second_factors.begin(), up.second_factors.end(), factor) !=
           up.second_factors.end();
}

void require_two_step_available(const policy::UserPolicy& up) {
    if (up.two_step == policy::TwoStep::Off) {
        throw Error(Errc::NotEnabled, N_("2-step verification is not enabled on this host"));
    }
}

// What a caller is told when a code could not be sent: when to try again after a cap,
// else only that it failed (the channel's reason is in the log).
// `not_sent` is marked N_(): lwauthctl translates it as it arrives.
Error send_failed(const Error& e, int64_t now, const char* not_sent) {
    return Error(e.code(), e.code() == Errc::RateLimited
                               ? rate_limited_text(e.retry_at(), now, Language::En)
                               : std::string(not_sent));
}

// Whether a step-up's code is sent only on request: when the app, or recovery codes
// ranked before the code in second_factors, can answer without it.
bool code_on_request(const policy::UserPolicy& up, const UsableFactors& factors) {
    if (factors.totp) {
        return true;
    }
    for (policy::SecondFactor factor : up.second_factors) {
        if (factor == policy::SecondFactor::Code) {
            return false;
        }
        if (factor == policy::SecondFactor::Recovery && factors.recovery) {
            return true;
        }
    }
    return false;
}

}  // namespace

UsableFactors usable_factors(const policy::UserPolicy& up, const UserState& state) {
    UsableFactors factors;
    factors.code = !state.contacts.empty() && listed(up, policy::SecondFactor::Code);
    factors.totp = state.totp_set() && up.totp && listed(up, policy::SecondFactor::Totp);
    factors.recovery = state.recovery_codes > 0 && listed(up, policy::SecondFactor::Recovery);
    return factors;
}

RemovalRule removal_rule(const policy::UserPolicy& up) {
    RemovalRule rule;
    rule.code = listed(up, policy::SecondFactor::Code);
    rule.others.totp = up.totp && listed(up, policy::SecondFactor::Totp);
    rule.others.recovery = listed(up, policy::SecondFactor::Recovery);
    rule.required = up.two_step == policy::TwoStep::Required;
    return rule;
}

void check_contact_kind(const std::string& kind) {
    if (kind != "phone" && kind != "email") {
        throw Error(Errc::InvalidArgument, N_("the contact kind must be 'phone' or 'email'"));
    }
}

std::string normalized_contact(const std::string& kind, const std::string& value) {
    check_contact_kind(kind);
    std::string normalized = kind == "phone" ? normalize_phone(value) : normalize_email(value);
    if (normalized.empty()) {
        throw Error(Errc::InvalidArgument,
                    by_kind(kind,
                            N_("not a phone number in international form, such as +81 90 1234 "
                               "5678"),
                            N_("not a valid email address")));
    }
    return normalized;
}

policy::UserPolicy AccountService::user_policy(const std::string& user) const {
    return policy_->effective_for_lazy(user, [&] { return users_.groups_of(user); });
}

void AccountService::require_self_service() const {
    if (policy_->contacts == policy::Contacts::Admin &&
        policy_->directory.backend != policy::DirectoryBackend::None) {
        throw Error(Errc::ManagedByAdmin,
                    policy_->admin_contact.empty()
                        ? N_("your phone number and email address come from the company "
                             "directory; ask your administrator to change them")
                        : bus_text(bus_texts::kFromDirectory, {policy_->admin_contact}));
    }
    if (policy_->contacts == policy::Contacts::Admin) {
        throw Error(Errc::ManagedByAdmin,
                    policy_->admin_contact.empty()
                        ? N_("your administrator manages phone numbers and email addresses on "
                             "this host; ask them to change yours")
                        : bus_text(bus_texts::kManagedByAdmin, {policy_->admin_contact}));
    }
}

AccountStatus AccountService::status_of(const std::string& user, const policy::UserPolicy& up,
                                        const UserState& state) const {
    AccountStatus s;
    s.user = user;
    s.two_step_policy = up.two_step;
    s.contacts_policy = policy_->contacts;
    s.admin_contact = policy_->admin_contact;
    s.two_step_enabled = two_step_applies(up, state);
    if (up.two_step != policy::TwoStep::Off) {
        s.methods.emplace_back("two_step");
    }
    if (up.login_with_phone) {
        s.methods.emplace_back("login_with_phone");
    }
    if (up.login_with_line && !policy_->line.channel_id.empty()) {
        s.methods.emplace_back("login_with_line");
    }
    if (up.quick_login.pin) {
        s.methods.emplace_back("quick_login");
    }
    if (up.totp) {
        s.methods.emplace_back("totp");
    }
    for (const auto& c : state.contacts) {
        s.contacts[c.kind] = mask_contact(c.kind, c.value);
        s.contact_sources[c.kind] = c.source;
    }
    for (const auto& c : state.profile) {
        s.profile[c.kind] = mask_contact(c.kind, c.value);
    }
    s.line_linked = state.line_linked;
    s.totp_set = state.totp_set();
    s.recovery_codes = state.recovery_codes;
    s.pin_set = state.pin_set;
    if (state.pin_set) {
        s.pin_until = state.quick_armed_at + up.quick_login.lifetime.count();
        s.pin_disabled = state.pin_failures >= up.quick_login.max_failures;
    }
    int64_t now = clock_.now();
    s.locked_until = state.locked_until > now ? state.locked_until : 0;
    if (state.contacts.empty() && !two_step::enrolled_here(up, state) && s.two_step_enabled &&
        up.enroll_grace.count() > 0 && state.enroll_grace_started != 0) {
        s.enroll_grace_until = state.enroll_grace_started + up.enroll_grace.count();
    }
    return s;
}

void AccountService::status(const std::string& user, Done<AccountStatus> done) {
    settle(done, [&] {
        auto up = user_policy(user);
        store_.load_user(user, then<UserState>(done, [this, user, up, done](UserState state) {
                             store_.confirmations(
                                 user,
                                 then<std::vector<Confirmation>>(
                                     done, [this, user, up, state,
                                            done](const std::vector<Confirmation>& confirmations) {
                                         AccountStatus s = status_of(user, up, state);
                                         int64_t now = clock_.now();
                                         for (const auto& pending : confirmations) {
                                             if (pending.expires_at > now) {
                                                 s.pending_contacts[pending.kind] =
                                                     mask_contact(pending.kind, pending.value);
                                             }
                                         }
                                         remembered_status(user, up, std::move(s), done);
                                     }));
                         }));
    });
}

void AccountService::remembered_status(const std::string& user, const policy::UserPolicy& up,
                                       AccountStatus s, Done<AccountStatus> done) {
    if (up.remember_host.count() <= 0) {
        done(std::move(s));
        return;
    }
    store_.remembered_hosts(
        user, then<std::vector<RememberedHost>>(
                  done, [this, up, s = std::move(s),
                         done](const std::vector<RememberedHost>& hosts) mutable {
                      // As the engine judges a place (login/remember.hpp).
                      int64_t now = clock_.now();
                      for (const auto& host : hosts) {
                          int64_t until = remembered_until(host, up);
                          if (host.verified_at <= now && now < until) {
                              s.remembered_hosts.push_back({host.service, host.origin, until});
                          }
                      }
                      done(std::move(s));
                  }));
}

void AccountService::forget_hosts(const std::string& user, Done<int> done) {
    store_.forget_hosts(
        user, 0, then<int>(done, [user, done](int forgotten) {
            log_event(LogLevel::Notice, "hosts-forgotten",
                      "the user's remembered places were forgotten; codes are asked there again",
                      {{"USER", user}, {"COUNT", std::to_string(forgotten)}});
            done(forgotten);
        }));
}

void AccountService::add_contact(const std::string& user, const std::string& owner,
                                 const std::string& kind, const std::string& value,
                                 Done<void> done) {
    settle(done, [&] {
        check_contact_kind(kind);
        auto up = user_policy(user);
        require_two_step_available(up);
        require_self_service();
        std::string normalized = normalized_contact(kind, value);
        if (kind == "phone" && !sms_prefix_allowed(up.code, normalized)) {
            throw Error(Errc::PolicyForbids,
                        N_("phone numbers of this country cannot be used on this host"));
        }
        // Before any code leaves: a new contact decides where login codes go.
        store_.load_user(user, then<UserState>(done, [=, this](const UserState& state) {
                             require_reauth(user, owner, up, state,
                                            by_kind(kind, N_("adding a phone number"),
                                                    N_("adding an email address")));
                             send_confirmation(user, kind, normalized, "self",
                                               !usable_factors(up, state).any(), done);
                         }));
    });
}

void AccountService::use_profile_contact(const std::string& user, const std::string& owner,
                                         const std::string& kind, Done<void> done) {
    settle(done, [&] {
        check_contact_kind(kind);
        auto up = user_policy(user);
        require_two_step_available(up);
        require_self_service();
        store_.load_user(
            user, then<UserState>(done, [=, this](const UserState& state) {
                const Contact* profile = state.profile_contact(kind);
                if (profile == nullptr) {
                    throw Error(Errc::NotFound,
                                by_kind(kind,
                                        N_("your profile has no phone; your administrator sets "
                                           "it, or add your own with lwauthctl contact add phone"),
                                        N_("your profile has no email; your administrator sets "
                                           "it, or add your own with lwauthctl contact add "
                                           "email")));
                }
                if (kind == "phone" && !sms_prefix_allowed(up.code, profile->value)) {
                    throw Error(Errc::PolicyForbids,
                                N_("phone numbers of this country cannot be used on this "
                                   "host"));
                }
                require_reauth(user, owner, up, state,
                               by_kind(kind, N_("using the profile's phone number"),
                                       N_("using the profile's email address")));
                send_confirmation(user, kind, profile->value, "profile",
                                  !usable_factors(up, state).any(), done);
            }));
    });
}

void AccountService::send_confirmation(const std::string& user, const std::string& kind,
                                       const std::string& value, const std::string& source,
                                       bool unproved, Done<void> done) {
    auto up = user_policy(user);
    policy::Kind delivery = kind == "phone" ? policy::Kind::Sms : policy::Kind::Email;
    if (policy_->channels_for(delivery).empty()) {
        throw Error(Errc::NotEnabled, by_kind(kind, N_("this host cannot send SMS"),
                                              N_("this host cannot send email")));
    }
    SecretString code = generate_code(random_, up.code.length);
    Confirmation pending;
    pending.kind = kind;
    pending.value = value;
    pending.source = source;
    pending.code_hash = hasher_.keyed_hex(confirm_context(user, kind), code.view());
    pending.tries_left = up.code.tries;
    pending.unproved = unproved;
    auto lifetime = up.code.lifetime.count();
    sender_.send_confirmation(
        user, *policy_, up, Contact{kind, value, source}, code,
        [this, user, kind, lifetime, pending = std::move(pending),
         done = std::move(done)](Result<Delivered> outcome) mutable {
            if (!outcome) {
                done(send_failed(outcome.error(), clock_.now(),
                                 N_("the confirmation code could not be sent; "
                                    "try again later or ask your administrator")));
                return;
            }
            pending.expires_at = clock_.now() + lifetime;
            // In the store, so that lwauthd on another host sharing it, or this one after
            // a restart, finishes it. Logged once recorded: a code whose confirmation was
            // not recorded cannot be used, and the caller is told so.
            store_.put_confirmation(user, pending, then<void>(done, [user, kind, done] {
                                        log_event(LogLevel::Info, "contact-pending",
                                                  "confirmation code sent for a new contact",
                                                  {{"USER", user}, {"KIND", kind}});
                                        done(Result<void>::success());
                                    }));
        });
}

void AccountService::confirm_contact(const std::string& user, const std::string& owner,
                                     const std::string& kind, const SecretString& code,
                                     Done<bool> done) {
    settle(done, [&] {
        check_contact_kind(kind);
        require_self_service();
        auto up = user_policy(user);
        // Hashed now, while the caller's code is at hand; the store compares it and takes
        // the try after the checks that need the user's state. What cannot be a code
        // matches nothing ("").
        std::string answer_hash = looks_like_code(code.view(), up.code.length)
                                      ? hasher_.keyed_hex(confirm_context(user, kind), code.view())
                                      : std::string();
        store_.confirmations(
            user,
            then<std::vector<Confirmation>>(
                done, [=, this](const std::vector<Confirmation>& confirmations) {
                    auto it = std::find_if(confirmations.begin(), confirmations.end(),
                                           [&](const Confirmation& c) { return c.kind == kind; });
                    if (it == confirmations.end()) {
                        throw not_waiting(kind);
                    }
                    if (clock_.now() >= it->expires_at) {
                        drop_confirmations(user, kind, "");
                        throw expired_confirmation(kind);
                    }
                    Confirmation pending = *it;
                    store_.load_user(user, then<UserState>(done, [=, this](const UserState& state) {
                                         finish_confirmation(user, owner, up, state, pending,
                                                             answer_hash, done);
                                     }));
                }));
    });
}

void AccountService::finish_confirmation(const std::string& user, const std::string& owner,
                                         const policy::UserPolicy& up, const UserState& state,
                                         const Confirmation& pending,
                                         const std::string& answer_hash, Done<bool> done) {
    const std::string& kind = pending.kind;
    if (pending.unproved) {
        // Sent when there was nothing to prove with; a contact verified since then (the
        // user's, or one another process of theirs slipped in first) is what proves it
        // now. Checked before the code is, so that the code is still good afterwards.
        require_reauth(
            user, owner, up, state,
            by_kind(kind, N_("saving the phone number"), N_("saving the email address")));
    }
    if (pending.source == "profile") {
        // An administrator's change cancels the confirmation, but one made while the code
        // was on its way came before the confirmation was recorded: the value confirmed must
        // still be the profile's.
        const Contact* profile = state.profile_contact(kind);
        if (profile == nullptr || profile->value != pending.value) {
            drop_confirmations(user, kind, "profile");
            throw Error(Errc::NotFound,
                        by_kind(kind,
                                N_("your profile's phone was changed after the code was sent; use "
                                   "it again with lwauthctl contact use-profile phone"),
                                N_("your profile's email was changed after the code was sent; use "
                                   "it again with lwauthctl contact use-profile email")));
        }
    }
    // The try and the check in one store step: answers on every host sharing the store are
    // each counted once, and of right answers at once one confirms.
    store_.answer_confirmation(
        user, kind, answer_hash, clock_.now(),
        then<ConfirmationAnswer>(done, [=, this](const ConfirmationAnswer& answer) {
            switch (answer.outcome) {
                case ConfirmationOutcome::Absent:
                    throw not_waiting(kind);
                case ConfirmationOutcome::Expired:
                    throw expired_confirmation(kind);
                case ConfirmationOutcome::Wrong:
                    if (answer.tries_left <= 0) {
                        throw Error(Errc::InvalidCode,
                                    by_kind(kind,
                                            N_("wrong code, and no tries are left; add the phone "
                                               "again"),
                                            N_("wrong code, and no tries are left; add the email "
                                               "again")));
                    }
                    throw wrong_code(answer.tries_left);
                case ConfirmationOutcome::Right:
                    break;
            }
            save_confirmed(user, up, answer.confirmation, done);
        }));
}

void AccountService::save_confirmed(const std::string& user, const policy::UserPolicy& up,
                                    const Confirmation& confirmed, Done<bool> done) {
    bool two_step = up.two_step != policy::TwoStep::Off;
    // Saving a verified contact is what turns 2-step verification on: one step, so that
    // neither a crash nor a store error leaves one without the other.
    store_.save_contact_and_two_step(
        user, Contact{confirmed.kind, confirmed.value, confirmed.source}, two_step,
        [this, user, confirmed, two_step, done](Result<void> saved) {
            if (!saved) {
                // The code was right and nothing was saved: the confirmation is put back,
                // open for the same code as before this answer.
                store_.put_confirmation(
                    user, confirmed, [done, error = saved.error()](Result<void>) { done(error); });
                return;
            }
            log_event(LogLevel::Info, "contact-verified",
                      two_step ? "contact verified; 2-step verification on" : "contact verified",
                      {{"USER", user}, {"KIND", confirmed.kind}});
            done(two_step);
        });
}

void AccountService::remove_contact(const std::string& user, const std::string& owner,
                                    const std::string& kind, Done<void> done) {
    settle(done, [&] {
        check_contact_kind(kind);
        require_self_service();
        auto up = user_policy(user);
        store_.load_user(
            user, then<UserState>(done, [=, this](const UserState& state) {
                if (state.contact(kind) == nullptr) {
                    // Cancels a confirmation in progress, which may have been started with proof.
                    require_reauth(user, owner, up, state,
                                   by_kind(kind, N_("cancelling the phone number being added"),
                                           N_("cancelling the email address being added")));
                    store_.drop_confirmations(
                        user, kind, "", then<int>(done, [kind](int) {
                            throw Error(Errc::NotFound,
                                        by_kind(kind, N_("no verified phone is saved"),
                                                N_("no verified email is saved")));
                        }));
                    return;
                }
                UsableFactors factors = usable_factors(up, state);
                if (state.contacts.size() == 1 && up.two_step == policy::TwoStep::Required &&
                    !factors.unsent()) {
                    throw last_contact_required();
                }
                require_reauth(user, owner, up, state,
                               by_kind(kind, N_("removing your phone number"),
                                       N_("removing your email address")));
                // Judged again by the store on fresh state, in the step that removes it: an
                // app removed meanwhile is seen.
                store_.remove_second_factor(
                    user, kind, removal_rule(up), then<Removal>(done, [=](Removal removal) {
                        if (removal == Removal::Refused) {
                            throw last_contact_required();
                        }
                        if (removal == Removal::Absent) {
                            throw Error(Errc::NotFound,
                                        by_kind(kind, N_("no verified phone is saved"),
                                                N_("no verified email is saved")));
                        }
                        log_event(LogLevel::Info, "contact-removed", "contact removed",
                                  {{"USER", user}, {"KIND", kind}});
                        done(Result<void>::success());
                    }));
            }));
    });
}

void AccountService::set_two_step(const std::string& user, const std::string& owner, bool enabled,
                                  Done<void> done) {
    settle(done, [&] {
        auto up = user_policy(user);
        if (up.two_step == policy::TwoStep::Off) {
            throw Error(Errc::NotEnabled, N_("2-step verification is not enabled on this host"));
        }
        if (!enabled && up.two_step == policy::TwoStep::Required) {
            throw Error(Errc::PolicyForbids,
                        N_("your administrator requires 2-step verification on this host"));
        }
        store_.load_user(
            user, then<UserState>(done, [=, this](const UserState& state) {
                if (enabled && !usable_factors(up, state).any()) {
                    throw Error(Errc::PolicyForbids,
                                N_("add and confirm a phone number or email address (lwauthctl "
                                   "contact add) or an authenticator app (lwauthctl totp add) "
                                   "first"));
                }
                if (!enabled && state.two_step) {
                    require_reauth(user, owner, up, state, N_("turning 2-step verification off"));
                }
                store_.set_two_step(user, enabled, then<void>(done, [user, enabled, done] {
                                        log_event(LogLevel::Info, "two-step",
                                                  enabled ? "2-step verification turned on"
                                                          : "2-step verification turned off",
                                                  {{"USER", user}});
                                        done(Result<void>::success());
                                    }));
            }));
    });
}

void AccountService::require_reauth(const std::string& user, const std::string& owner,
                                    const policy::UserPolicy& up, const UserState& state,
                                    const std::string& change) const {
    UsableFactors factors = usable_factors(up, state);
    if (up.self_service_reauth == policy::Reauth::None || !factors.any()) {
        return;
    }
    auto it = reauth_until_.find({user, owner});
    if (!owner.empty() && it != reauth_until_.end() && clock_.now() < it->second) {
        return;
    }
    if (factors.unsent()) {
        throw Error(Errc::ReauthRequired, bus_text(bus_texts::kReauthRequiredUnsent, {change}));
    }
    if (!sender_.reachable(*policy_, up, state)) {
        // No code can reach the user to prove it: fail closed, and say who can help.
        throw Error(Errc::NotEnabled, policy_->admin_contact.empty()
                                          ? bus_text(bus_texts::kReauthUnreachable, {change})
                                          : bus_text(bus_texts::kReauthUnreachableContact,
                                                     {change, policy_->admin_contact}));
    }
    throw Error(Errc::ReauthRequired, bus_text(bus_texts::kReauthRequired, {change}));
}

void AccountService::start_reauth(const std::string& user, const std::string& owner,
                                  Done<ReauthOffer> done) {
    settle(done, [&] {
        if (owner.empty()) {
            throw Error(Errc::AccessDenied, N_("the caller's bus connection has no name"));
        }
        auto up = user_policy(user);
        store_.load_user(user, then<UserState>(done, [=, this](const UserState& state) {
                             send_reauth(user, owner, up, state, done);
                         }));
    });
}

void AccountService::send_reauth(const std::string& user, const std::string& owner,
                                 const policy::UserPolicy& up, const UserState& state,
                                 Done<ReauthOffer> done) {
    UsableFactors factors = usable_factors(up, state);
    if (!factors.any()) {
        throw Error(Errc::NotFound, N_("no verified phone number or email address, authenticator "
                                       "app or recovery code is saved to confirm it is you"));
    }
    if (state.locked_until > clock_.now()) {
        throw Error(Errc::LockedOut, kLockedText);
    }
    // The user's tries are spent (on this connection or another): no code is sent that no
    // answer could use.
    auto tries = reauth_tries_.find(user);
    if (tries != reauth_tries_.end() && clock_.now() < tries->second.expires_at &&
        tries->second.left <= 0) {
        throw Error(Errc::InvalidCode, N_("no tries are left; try again in a few minutes"));
    }
    PendingReauth pending;
    if (!factors.code || !sender_.reachable(*policy_, up, state)) {
        if (!factors.unsent()) {
            throw Error(Errc::NotEnabled,
                        N_("no channel on this host reaches your verified contacts"));
        }
        done(await_reauth(user, owner, up, factors, pending, ""));
        return;
    }
    if (code_on_request(up, factors)) {
        // The app (or recovery codes ranked before the code) answers: a code is sent only
        // when the connection asks again (lwauthctl's "s"), as a login sends it on "s".
        auto earlier = pending_reauth_.find({user, owner});
        bool asked_again = earlier != pending_reauth_.end() &&
                           clock_.now() < earlier->second.expires_at &&
                           !earlier->second.code_sent;
        if (!asked_again) {
            pending.code_on_request = true;
            done(await_reauth(user, owner, up, factors, pending, ""));
            return;
        }
    }
    SecretString code = generate_code(random_, up.code.length);
    pending.code_sent = true;
    pending.code_hash = hasher_.keyed_hash(reauth_context(user, owner), code.view());
    sender_.send_login_code(
        user, *policy_, up, state, code,
        [this, user, owner, up, factors, pending,
         done = std::move(done)](Result<Delivered> outcome) mutable {
            if (!outcome) {
                if (!factors.unsent()) {
                    done(send_failed(outcome.error(), clock_.now(),
                                     N_("the code could not be sent; try again later or ask your "
                                        "administrator")));
                    return;
                }
                // The app or a recovery code still proves the user; the code did not go
                // (the delivery's own event says why).
                pending.code_sent = false;
                done(await_reauth(user, owner, up, factors, pending, ""));
                return;
            }
            log_event(LogLevel::Info, "reauth-pending",
                      "code sent to confirm a change to the user's login settings",
                      {{"USER", user}, {"CHANNEL", outcome->channel}});
            done(await_reauth(user, owner, up, factors, pending, outcome->shown_destination));
        },
        CodePurpose::Reauth);
}

ReauthOffer AccountService::await_reauth(const std::string& user, const std::string& owner,
                                         const policy::UserPolicy& up, const UsableFactors& factors,
                                         PendingReauth pending, const std::string& shown) {
    ReauthOffer offer{shown, {}};
    for (policy::SecondFactor factor : up.second_factors) {
        if (factor == policy::SecondFactor::Totp && factors.totp) {
            offer.accepted.emplace_back(bus::kReauthAcceptsTotp);
        } else if (factor == policy::SecondFactor::Code && pending.code_sent) {
            offer.accepted.emplace_back(bus::kReauthAcceptsCode);
        } else if (factor == policy::SecondFactor::Code && pending.code_on_request) {
            offer.accepted.emplace_back(bus::kReauthAcceptsSend);
        } else if (factor == policy::SecondFactor::Recovery && factors.recovery) {
            offer.accepted.emplace_back(bus::kReauthAcceptsRecovery);
        }
    }
    // A new step-up replaces the connection's earlier one, its code with it. The user's
    // tries go on: neither a new connection nor a new code brings more before they expire.
    int64_t now = clock_.now();
    pending.expires_at = now + up.code.lifetime.count();
    pending.serial = ++reauth_serial_;
    auto earlier = pending_reauth_.find({user, owner});
    if (earlier != pending_reauth_.end() && now < earlier->second.expires_at &&
        earlier->second.busy) {
        pending.busy = true;  // until the answer in flight ends
        pending.serial = earlier->second.serial;
    }
    auto tries = reauth_tries_.find(user);
    if (tries == reauth_tries_.end() || now >= tries->second.expires_at) {
        reauth_tries_[user] = {up.code.tries, pending.expires_at};
    }
    pending_reauth_[{user, owner}] = pending;
    return offer;
}

void AccountService::reauth(const std::string& user, const std::string& owner,
                            const SecretString& code, Done<void> done) {
    auto answer = std::make_shared<SecretString>(trim(code.view()));
    settle(done, [&] {
        auto it = pending_reauth_.find({user, owner});
        if (it == pending_reauth_.end()) {
            throw Error(Errc::NotFound,
                        N_("no code is waiting to be confirmed; ask for one first"));
        }
        if (clock_.now() >= it->second.expires_at) {
            pending_reauth_.erase(it);
            throw Error(Errc::Expired, N_("the code has expired; ask for a new one"));
        }
        if (it->second.busy) {
            throw Error(Errc::InvalidArgument,
                        N_("an answer to this confirmation is being checked; wait for its "
                           "reply"));
        }
        auto up = user_policy(user);
        // The user's tries, whichever connection answers (gone with their time: as many
        // again).
        int64_t now = clock_.now();
        auto [tries, fresh] = reauth_tries_.try_emplace(user);
        if (fresh || now >= tries->second.expires_at) {
            tries->second = {up.code.tries, now + up.code.lifetime.count()};
        }
        if (tries->second.left <= 0) {
            throw Error(Errc::InvalidCode, N_("no tries are left; try again in a few minutes"));
        }
        // One answer at a time, its try taken before the store is read (as a login's is):
        // answers sent at once are judged one after the other, each on the state the one
        // before it left.
        it->second.busy = true;
        int tries_left = --tries->second.left;
        uint64_t serial = it->second.serial;
        Done<void> finish = [this, user, owner, serial, done](Result<void> result) {
            auto found = pending_reauth_.find({user, owner});
            if (found != pending_reauth_.end() && found->second.serial == serial) {
                found->second.busy = false;
            }
            done(std::move(result));
        };
        settle(finish, [&] {
            store_.load_user(user, then<UserState>(finish, [=, this](const UserState& state) {
                                 check_reauth(user, owner, up, state, answer, tries_left,
                                              finish);
                             }));
        });
    });
}

void AccountService::check_reauth(const std::string& user, const std::string& owner,
                                  const policy::UserPolicy& up, const UserState& state,
                                  std::shared_ptr<SecretString> answer, int tries_left,
                                  Done<void> done) {
    auto it = pending_reauth_.find({user, owner});
    if (it == pending_reauth_.end()) {
        throw Error(Errc::NotFound, N_("no code is waiting to be confirmed; ask for one first"));
    }
    int64_t now = clock_.now();
    if (state.locked_until > now) {
        throw Error(Errc::LockedOut, kLockedText);
    }
    UsableFactors factors = usable_factors(up, state);
    std::optional<SecretString> recovery_code =
        factors.recovery ? recovery::normalized(answer->view()) : std::nullopt;
    if (recovery_code) {
        recovery::use_code(
            store_, hasher_, user, *recovery_code, then<int>(done, [=, this](int left) {
                if (left < 0) {
                    wrong_reauth(user, owner, up, tries_left, done);
                    return;
                }
                log_event(LogLevel::Notice, "recovery-used",
                          "recovery code used to confirm a change to the user's login settings",
                          {{"USER", user}, {"LEFT", std::to_string(left)}});
                grant_reauth(user, owner, "recovery", done);
            }));
        return;
    }
    if (it->second.code_sent && code_matches(hasher_, reauth_context(user, owner), *answer,
                                             up.code.length, it->second.code_hash)) {
        grant_reauth(user, owner, "code", done);
        return;
    }
    std::optional<int64_t> step;
    if (factors.totp) {
        totp::App app = totp::decode(state.totp_secret.view());
        int window = policy_->totp.window;
        step = totp::matching_step(app, answer->view(), now, window, state.totp_last_step);
        if (!step && totp::matching_step(app, answer->view(), now, window, -1)) {
            log_event(LogLevel::Notice, "totp-reused",
                      "authenticator app code refused: used already", {{"USER", user}});
        }
    }
    if (!step) {
        wrong_reauth(user, owner, up, tries_left, done);
        return;
    }
    // Its time step is used up in one store operation, as at a login: of a login and a
    // step-up (or two) with the same code, one passes.
    store_.use_totp_step(user, *step, then<bool>(done, [=, this](bool taken) {
                             if (!taken) {
                                 log_event(LogLevel::Notice, "totp-reused",
                                           "authenticator app code refused: used already",
                                           {{"USER", user}});
                                 wrong_reauth(user, owner, up, tries_left, done);
                                 return;
                             }
                             grant_reauth(user, owner, "totp", done);
                         }));
}

void AccountService::grant_reauth(const std::string& user, const std::string& owner,
                                  const char* method, Done<void> done) {
    // A right answer clears the failure counts, as a right code after the password does;
    // in one store operation with the check of the lock, so that a lock set since the
    // state was read (by wrong answers in flight, or on another host) is neither passed
    // nor undone.
    store_.clear_failures_unless_locked(
        user, clock_.now(), then<bool>(done, [=, this](bool cleared) {
            if (!cleared) {
                pending_reauth_.erase({user, owner});
                throw Error(Errc::LockedOut, kLockedText);
            }
            pending_reauth_.erase({user, owner});
            reauth_tries_.erase(user);
            reauth_until_[{user, owner}] = clock_.now() + kReauthGrantSeconds;
            log_event(LogLevel::Info, "reauth",
                      "the user confirmed a change to their login settings",
                      {{"USER", user}, {"METHOD", method}});
            done(Result<void>::success());
        }));
}

void AccountService::wrong_reauth(const std::string& user, const std::string& owner,
                                  const policy::UserPolicy& up, int tries_left,
                                  Done<void> done) {
    int64_t duration = up.lockout.duration.count();
    // Counted as a wrong code after the password is, and locked in the same step at
    // max_failures: a step-up is no way around the lockout. Not counted in a row: that
    // count locks until an administrator unlocks, and a step-up needs no password.
    store_.add_failure(
        user,
        {.max_failures = up.lockout.max_failures,
         .until = clock_.now() + duration,
         .max_in_a_row = 0,
         .in_a_row = false,
         .now = clock_.now()},
        then<FailureCount>(done, [=, this](const FailureCount& count) {
            log_event(LogLevel::Notice, "reauth-wrong",
                      "wrong answer to confirm a change to the user's login settings",
                      {{"USER", user}, {"FAILURES", std::to_string(count.failures)}});
            if (count.locked_before != 0) {
                // Locked while the answer was checked: not counted, and the lock stays.
                pending_reauth_.erase({user, owner});
                throw Error(Errc::LockedOut, kLockedText);
            }
            if (count.locked_until != 0) {
                pending_reauth_.erase({user, owner});
                log_event(LogLevel::Warning, "locked-out",
                          "account locked after too many wrong codes",
                          {{"USER", user},
                           {"DURATION_S", std::to_string(count.locked_until - clock_.now())}});
                throw Error(Errc::LockedOut, kLockedText);
            }
            if (tries_left > 0) {
                throw wrong_code(tries_left);
            }
            log_event(LogLevel::Warning, "reauth-failed",
                      "wrong codes to confirm a change to the user's login settings",
                      {{"USER", user}});
            auto it = pending_reauth_.find({user, owner});
            if (it != pending_reauth_.end() && it->second.code_sent) {
                pending_reauth_.erase(it);  // its code is spent
            }
            // The user's tries, on every connection, until they expire.
            throw Error(Errc::InvalidCode,
                        N_("wrong code, and no tries are left; try again in a few minutes"));
        }));
}

void AccountService::forget_owner(const std::string& owner) {
    forget_line_link(owner);
    std::erase_if(pending_reauth_, [&](const auto& entry) { return entry.first.second == owner; });
    std::erase_if(reauth_until_, [&](const auto& entry) { return entry.first.second == owner; });
}

void AccountService::drop_confirmations(const std::string& user, const std::string& kind,
                                        const std::string& source) {
    store_.drop_confirmations(user, kind, source, [user](Result<int> dropped) {
        if (!dropped) {
            log_event(
                LogLevel::Error, "store-failed",
                std::string("cannot drop a confirmation in progress: ") + dropped.error().what(),
                {{"USER", user}});
        }
    });
}

void AccountService::forget_pending(const std::string& user, const std::string& kind) {
    drop_confirmations(user, kind, "");
    if (kind.empty()) {
        std::erase_if(pending_reauth_,
                      [&](const auto& entry) { return entry.first.first == user; });
        std::erase_if(reauth_until_, [&](const auto& entry) { return entry.first.first == user; });
        reauth_tries_.erase(user);
    }
}

void AccountService::forget_pending_profile(const std::string& user, const std::string& kind) {
    drop_confirmations(user, kind, "profile");
}

void AccountService::expire() {
    int64_t now = clock_.now();
    std::erase_if(pending_reauth_,
                  [&](const auto& entry) { return now >= entry.second.expires_at; });
    std::erase_if(reauth_until_, [&](const auto& entry) { return now >= entry.second; });
    std::erase_if(reauth_tries_,
                  [&](const auto& entry) { return now >= entry.second.expires_at; });
}

}  // namespace lwauth
