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

}  // namespace

void AccountService::totp_add(const std::string& user, const std::string& owner,
                              Done<TotpEnrolment> done) {
    settle(done, [&] {
        auto up = user_policy(user);
        require_totp_allowed(up);
        store_.load_user(
            user, then<UserState>(done, [=, this](const UserState& state) {
                // Another way in: as a new contact, proved first.
                require_reauth(user, owner, up, state, N_("adding an authenticator app"));
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
                    then<void>(done, [this, user, app, record, until, done] {
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

void AccountService::totp_confirm(const std::string& user, const SecretString& code,
                                  Done<void> done) {
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
                    user, state.totp_pending.view(), *step, turn_on, then<void>(done, [user, done] {
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
                // Without the app, is any second factor left that the policy counts?
                UsableFactors left = usable_factors(up, state);
                left.totp = false;
                if (state.totp_set() && !left.any() && up.two_step == policy::TwoStep::Required) {
                    throw Error(Errc::PolicyForbids,
                                N_("2-step verification is required on this host; add a phone "
                                   "number or email address, or recovery codes, before removing "
                                   "the authenticator app"));
                }
                require_reauth(user, owner, up, state, N_("removing the authenticator app"));
                bool turn_off = state.totp_set() && state.two_step && !left.any();
                store_.set_totp(user, "", -1, then<void>(done, [this, user, turn_off, done] {
                                    log_event(LogLevel::Info, "totp-removed",
                                              "authenticator app removed", {{"USER", user}});
                                    if (!turn_off) {
                                        done(true);
                                        return;
                                    }
                                    // As with the last contact: nothing left to verify with.
                                    store_.set_two_step(user, false, then<void>(done, [user, done] {
                                                            log_event(
                                                                LogLevel::Info, "two-step",
                                                                "2-step verification turned off",
                                                                {{"USER", user}});
                                                            done(true);
                                                        }));
                                }));
            }));
    });
}

void AccountService::generate_recovery(const std::string& user, const std::string& owner,
                                       Done<std::vector<SecretString>> done) {
    settle(done, [&] {
        auto up = user_policy(user);
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
