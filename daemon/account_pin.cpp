// Quick login's PIN on one's own account: set within the window after a full login on
// this host (or after the step-up), checked against the rules, hashed on the worker pool.
#include "account.hpp"
#include "log.hpp"
#include "lwauth/bus_names.hpp"
#include "lwauth/bus_texts.hpp"
#include "lwauth/error.hpp"

namespace lwauth {

void AccountService::set_pin(const std::string& user, const std::string& owner, SecretString pin,
                             Done<void> done) {
    // Held by the steps below and moved into the hashing job: never copied, wiped when
    // the last holder lets go.
    auto held = std::make_shared<SecretString>(std::move(pin));
    settle(done, [&] {
        auto up = user_policy(user);
        if (!up.quick_login.pin) {
            throw Error(Errc::NotEnabled,
                        N_("quick login with a PIN is not allowed for you on this host"));
        }
        store_.load_user(user, then<UserState>(done, [=, this](const UserState& state) {
                             // The window first: the rules' sentences tell of the user's
                             // phone numbers, for those who may set a PIN only.
                             require_pin_window(user, owner, up, state);
                             if (!common_pins_) {
                                 throw Error(Errc::Unavailable,
                                             N_("no PIN can be set now: the list of common "
                                                "PINs could not be read; ask your "
                                                "administrator"));
                             }
                             std::vector<std::string> phones;
                             for (const auto* contacts : {&state.contacts, &state.profile}) {
                                 for (const auto& contact : *contacts) {
                                     if (contact.kind == bus::kContactPhone) {
                                         phones.push_back(contact.value);
                                     }
                                 }
                             }
                             quick::check_pin(held->view(), up.quick_login.pin_min_length, phones,
                                              *common_pins_)
                                 .value();
                             store_pin(user, held, done);
                         }));
    });
}

void AccountService::require_pin_window(const std::string& user, const std::string& owner,
                                        const policy::UserPolicy& up,
                                        const UserState& state) const {
    int64_t now = clock_.now();
    if (state.full_login_at != 0 && state.full_login_at <= now &&
        now - state.full_login_at < kPinWindowSeconds) {
        return;
    }
    auto it = reauth_until_.find({user, owner});
    if (!owner.empty() && it != reauth_until_.end() && now < it->second) {
        return;
    }
    std::string minutes = std::to_string(kPinWindowSeconds / 60);
    UsableFactors factors = usable_factors(up, state);
    if (factors.unsent()) {
        // The app or a recovery code answers: the text does not promise a code sent.
        throw Error(Errc::ReauthRequired,
                    bus_text(bus_texts::kPinWindowReauthUnsent, {minutes}));
    }
    if (factors.code && sender_.reachable(*policy_, up, state)) {
        throw Error(Errc::ReauthRequired, bus_text(bus_texts::kPinWindowReauth, {minutes}));
    }
    throw Error(Errc::PolicyForbids, bus_text(bus_texts::kPinWindowLogin, {minutes}));
}

void AccountService::store_pin(const std::string& user, std::shared_ptr<SecretString> pin,
                               Done<void> done) {
    if (pin_hasher_ == nullptr) {
        throw Error(Errc::Internal, N_("no PIN hasher in this lwauthd"));
    }
    uint64_t serial = ++pin_job_serial_;
    // The job's completion is moved out of the pool before it runs, so it may drop its Job.
    Job job = pin_hasher_->hash_pin(
        std::move(*pin), policy_->argon2, [this, user, serial, done](Result<std::string> hashed) {
            pin_jobs_.erase(serial);
            settle(done, [&] {
                store_.set_pin(user, hashed.value(), then<void>(done, [user, done] {
                                   log_event(LogLevel::Info, "pin-set", "quick-login PIN set",
                                             {{"USER", user}});
                                   done(Result<void>::success());
                               }));
            });
        });
    pin_jobs_.emplace(serial, std::move(job));
}

void AccountService::remove_pin(const std::string& user, Done<bool> done) {
    store_.load_user(user, then<UserState>(done, [this, user, done](const UserState& state) {
                         if (!state.pin_set) {
                             done(false);
                             return;
                         }
                         store_.set_pin_hash(user, "", then<void>(done, [user, done] {
                                                 log_event(LogLevel::Info, "pin-removed",
                                                           "quick-login PIN removed",
                                                           {{"USER", user}});
                                                 done(true);
                                             }));
                     }));
}

}  // namespace lwauth
