// Second factors that are not sent: the authenticator app (TOTP) and recovery codes, on
// one's own account. Enrolling an app takes a first valid code before it counts.
#include "account.hpp"
#include "log.hpp"
#include "lwauth/error.hpp"
#include "second/recovery.hpp"
#include "second/totp.hpp"

namespace lwauth {
namespace {

void require_totp_allowed(const policy::UserPolicy& up) {
    if (!up.totp || std::find(up.second_factors.begin(), up.second_factors.end(),
                              policy::SecondFactor::Totp) == up.second_factors.end()) {
        throw Error(Errc::NotEnabled,
                    N_("authenticator apps are not allowed for you on this host"));
    }
}

void require_recovery_allowed(const policy::UserPolicy& up) {
    if (!recovery_counted(up)) {
        throw Error(Errc::NotEnabled,
                    N_("recovery codes are not a second factor for you on this host"));
    }
}

Error totp_last_factor() {
    return Error(Errc::PolicyForbids,
                 N_("2-step verification is required on this host; add a phone number or email "
                    "address, or recovery codes, before removing the authenticator app"));
}

}  // namespace

bool recovery_counted(const policy::UserPolicy& up) {
    return std::find(up.second_factors.begin(), up.second_factors.end(),
                     policy::SecondFactor::Recovery) != up.second_factors.end();
}

void AccountService::totp_add(const std::string& user, const std::string& owner,
                              Done<TotpEnrolment> done) {
    settle(done, [&] {
        auto up = user_policy(user);
        require_totp_allowed(up);
        store_.load_user(
            user, then<UserState>(done, [=, this](const UserState& state) {
                // Another way in: as a new contact, proved first.
                require_reauth(user, owner, up, state, N_("adding an authenticator app"));
                // With nothing to prove with, confirming it will ask for proof if the user
                // has a factor by then (as a contact's confirmation does).
                bool proved = usable_factors(up, state).any();
                uint8_t key[totp::kSecretBytes];
                random_.fill(key, sizeof key);
                // The app is set up with [totp] as it is now, and keeps it: the parameters
                // go into its record beside the secret.
                auto app = std::make_shared<totp::App>(totp::App{
                    SecretString(std::string_view(reinterpret_cast<const char*>(key), sizeof key)),
                    totp::params_of(policy_->totp)});
                secure_wipe(key, sizeof key);
                auto record = std::make_shared<SecretString>(totp::encode(*app));
                int64_t until = clock_.now() + kTotpEnrolSeconds;
                store_.set_totp_pending(
                    user, record->view(), until,
                    then<void>(done, [this, user, app, record, until, proved, done] {
                        if (proved) {
                            totp_proved_[user] = until;
                        } else {
                            totp_proved_.erase(user);
                        }
                        TotpEnrolment enrolment{
                            totp::otpauth_uri(*app, policy_->totp.issuer, user + "@" + host_),
                            until};
                        log_event(LogLevel::Info, "totp-pending",
                                  "authenticator app enrolment started", {{"USER", user}});
                        done(std::move(enrolment));
                    }));
            }));
    });
}

void AccountService::totp_confirm(const std::string& user, const std::string& owner,
                                  const SecretString& code, Done<void> done) {
    auto answer = std::make_shared<SecretString>(code.clone());
    settle(done, [&] {
        auto up = user_policy(user);
        require_totp_allowed(up);
        store_.load_user(
            user, then<UserState>(done, [=, this](const UserState& state) {
                int64_t now = clock_.now();
                if (state.totp_pending.empty()) {
                    throw Error(Errc::NotFound, N_("no authenticator app is waiting for its first "
                                                   "code; start with lwauthctl totp add"));
                }
                if (now >= state.totp_pending_until) {
                    throw Error(Errc::Expired,
                                N_("the authenticator app was not confirmed in time; "
                                   "start again with lwauthctl totp add"));
                }
                auto proved = totp_proved_.find(user);
                if (proved == totp_proved_.end() || proved->second != state.totp_pending_until) {
                    // Begun when there was nothing to prove with (or elsewhere): a factor
                    // saved since then is what proves it now, before the code is checked.
                    require_reauth(user, owner, up, state, N_("saving the authenticator app"));
                }
                // Not counted toward the lockout: whoever calls holds the secret.
                auto step = totp::matching_step(totp::decode(state.totp_pending.view()),
                                                answer->view(), now, policy_->totp.window, -1);
                if (!step) {
                    throw Error(Errc::InvalidCode,
                                N_("that is not the authenticator app's current "
                                   "code; check the device's clock and try again"));
                }
                // The app and the 2-step it turns on in one step, as a contact's.
                bool turn_on = !state.two_step && up.two_step != policy::TwoStep::Off;
                store_.set_totp_and_two_step(
                    user, state.totp_pending.view(), *step, turn_on,
                    then<void>(done, [this, user, done] {
                        totp_proved_.erase(user);
                        log_event(LogLevel::Info, "totp-added", "authenticator app added",
                                  {{"USER", user}});
                        done(Result<void>::success());
                    }));
            }));
    });
}

void AccountService::totp_remove(const std::string& user, const std::string& owner,
                                 Done<bool> done) {
    settle(done, [&] {
        auto up = user_policy(user);
        store_.load_user(
            user, then<UserState>(done, [=, this](const UserState& state) {
                if (!state.totp_set() && state.totp_pending.empty()) {
                    done(false);
                    return;
                }
                // Said before the step-up, from what was read; the store judges again.
                UsableFactors left = usable_factors(up, state);
                left.totp = false;
                if (state.totp_set() && !left.any() && up.two_step == policy::TwoStep::Required) {
                    throw totp_last_factor();
                }
                require_reauth(user, owner, up, state, N_("removing the authenticator app"));
                // The app, and 2-step with it when nothing counted is left, in one step
                // judged on fresh state: a contact removed meanwhile is seen.
                store_.remove_second_factor(
                    user, "totp", removal_rule(up),
                    then<Removal>(done, [user, done](Removal removal) {
                        if (removal == Removal::Refused) {
                            throw totp_last_factor();
                        }
                        if (removal == Removal::Absent) {
                            done(false);
                            return;
                        }
                        log_event(LogLevel::Info, "totp-removed", "authenticator app removed",
                                  {{"USER", user}});
                        if (removal == Removal::TwoStepOff) {
                            // As with the last contact: nothing left to verify with.
                            log_event(LogLevel::Info, "two-step", "2-step verification turned off",
                                      {{"USER", user}});
                        }
                        done(true);
                    }));
            }));
    });
}

void AccountService::generate_recovery(const std::string& user, const std::string& owner,
                                       Done<std::vector<SecretString>> done) {
    settle(done, [&] {
        auto up = user_policy(user);
        // Codes the policy does not count would mark the user enrolled, and prove nothing.
        require_recovery_allowed(up);
        store_.load_user(
            user, then<UserState>(done, [=, this](const UserState& state) {
                require_reauth(user, owner, up, state, N_("making new recovery codes"));
                store_recovery_codes(user, [user, done](Result<std::vector<SecretString>> codes) {
                    if (codes) {
                        log_event(LogLevel::Notice, "recovery-generated",
                                  "new recovery codes generated", {{"USER", user}});
                    }
                    done(std::move(codes));
                });
            }));
    });
}

void AccountService::store_recovery_codes(const std::string& user,
                                          Done<std::vector<SecretString>> done) {
    auto codes = std::make_shared<std::vector<SecretString>>(recovery::draw_codes(random_));
    store_.set_recovery_codes(user, recovery::hashes(hasher_, user, *codes),
                              then<void>(done, [codes, done] { done(std::move(*codes)); }));
}

}  // namespace lwauth
