#include "store.hpp"

#include <openssl/crypto.h>

#include <algorithm>

namespace lwauth {

namespace {

// Whether the user has a second factor that `rule` counts.
bool any_counted(const UserState& state, const RemovalRule& rule) {
    return (rule.code && !state.contacts.empty()) || (rule.others.totp && state.totp_set()) ||
           (rule.others.recovery && state.recovery_codes > 0);
}

}  // namespace

bool hashes_equal(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && !a.empty() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

ConfirmationAnswer Store::answer_confirmation_steps(const std::string& user,
                                                    const std::string& kind,
                                                    std::optional<Confirmation> found,
                                                    std::string_view answer_hash, int64_t now) {
    ConfirmationAnswer answer;
    if (!found) {
        return answer;
    }
    if (now >= found->expires_at || found->tries_left <= 0) {
        (void)drop_confirmations(user, kind);
        answer.outcome =
            found->tries_left > 0 ? ConfirmationOutcome::Expired : ConfirmationOutcome::Absent;
        return answer;
    }
    if (hashes_equal(answer_hash, found->code_hash)) {
        (void)drop_confirmations(user, kind);
        answer.outcome = ConfirmationOutcome::Right;
        answer.confirmation = std::move(*found);
        return answer;
    }
    answer.outcome = ConfirmationOutcome::Wrong;
    answer.tries_left = found->tries_left - 1;
    if (answer.tries_left <= 0) {
        (void)drop_confirmations(user, kind);
    } else {
        found->tries_left = answer.tries_left;
        put_confirmation(user, *found);
    }
    return answer;
}

void Store::reset_steps(const std::string& user, const ResetScope& scope) {
    if (scope.pin) {
        set_pin_hash(user, "");
    }
    if (scope.line) {
        set_line_link(user, "");
    }
    if (scope.contacts) {
        for (const auto& contact : load_user(user).contacts) {
            remove_contact(user, contact.kind);
        }
        set_two_step(user, false);
        // A confirmation in progress would bring a contact back.
        (void)drop_confirmations(user, "");
    }
    if (scope.hosts) {
        (void)forget_hosts(user);
    }
    if (scope.failures) {
        clear_failures(user);
        clear_pin_failures(user);
        clear_fingerprint_failures(user);
    }
    if (scope.enroll_grace) {
        clear_enroll_grace(user);
    }
    if (scope.totp) {
        set_totp(user, "", -1);
    }
    if (scope.recovery) {
        set_recovery_codes(user, {});
    }
    if ((scope.totp || scope.recovery) && !scope.contacts && !scope.counted.required) {
        // As the user's own removal: with no factor left to verify with, 2-step would
        // refuse every login.
        UserState left = load_user(user);
        if (left.two_step && !any_counted(left, scope.counted)) {
            set_two_step(user, false);
        }
    }
}

bool Store::remove_contact_and_two_step_steps(const std::string& user, const std::string& kind,
                                              const OtherFactors& others) {
    UserState state = load_user(user);
    if (state.contact(kind) == nullptr) {
        return false;
    }
    remove_contact(user, kind);
    if (state.contacts.size() > 1 || (others.totp && state.totp_set()) ||
        (others.recovery && state.recovery_codes > 0)) {
        return false;
    }
    set_two_step(user, false);
    return true;
}

Removal Store::remove_second_factor_steps(const std::string& user, const std::string& factor,
                                          const RemovalRule& rule) {
    UserState state = load_user(user);
    const bool app = factor == "totp";
    if (app ? !state.totp_set() && state.totp_pending.empty() : state.contact(factor) == nullptr) {
        return Removal::Absent;
    }
    // What would be left, from the state read in this step.
    UserState left = state;
    if (app) {
        left.totp_secret.clear();
    } else {
        std::erase_if(left.contacts, [&](const Contact& c) { return c.kind == factor; });
    }
    const bool none_left = !any_counted(left, rule);
    if (rule.required && none_left && any_counted(state, rule)) {
        return Removal::Refused;
    }
    if (app) {
        set_totp(user, "", -1);
    } else {
        remove_contact(user, factor);
    }
    // An enrolment waiting that never counted leaves 2-step as it was.
    if (state.two_step && none_left && (!app || state.totp_set())) {
        set_two_step(user, false);
        return Removal::TwoStepOff;
    }
    return Removal::Removed;
}

void Store::save_contact_and_two_step_steps(const std::string& user, const Contact& contact,
                                            bool two_step) {
    save_contact(user, contact);
    if (two_step) {
        set_two_step(user, true);
    }
}

void Store::set_totp_and_two_step_steps(const std::string& user, std::string_view secret,
                                        int64_t last_step, bool two_step) {
    set_totp(user, secret, last_step);
    if (two_step) {
        set_two_step(user, true);
    }
}

void Store::save_profile_and_login_contact_steps(const std::string& user, const Contact& contact) {
    set_profile_contact(user, contact);
    save_contact(user, contact);
}

bool Store::remove_profile_and_login_contact_steps(const std::string& user, const std::string& kind,
                                                   const std::optional<OtherFactors>& others) {
    remove_profile_contact(user, kind);
    UserState state = load_user(user);
    const Contact* login = state.contact(kind);
    if (login == nullptr || login->source == "self") {
        return false;
    }
    if (!others) {
        remove_contact(user, kind);
        return false;
    }
    return remove_contact_and_two_step_steps(user, kind, *others);
}

std::string sealed_binding(const std::string& user, SealedValue::Place place,
                           const std::string& kind) {
    switch (place) {
        case SealedValue::Place::Contact:
            return user + '\n' + kind;
        case SealedValue::Place::Profile:
            return "profile\n" + user + '\n' + kind;
        case SealedValue::Place::Totp:
            return "totp\n" + user;
        case SealedValue::Place::TotpPending:
            return "totp-pending\n" + user;
    }
    return {};
}

RekeyCounts Store::reseal_values(
    const ContactCipher& cipher, const std::string& user, const std::vector<SealedValue>& values,
    const std::function<void(const SealedValue& old, const std::string& resealed)>& write) {
    RekeyCounts counts;
    for (const SealedValue& value : values) {
        ContactCipher::Resealing r =
            cipher.reseal(value.sealed, sealed_binding(user, value.place, value.kind));
        if (r.outcome == ContactCipher::Reseal::Resealed) {
            write(value, r.sealed);
        }
        counts.count(r.outcome);
    }
    return counts;
}

int64_t Store::lock_for(const FailureCount& count, const LockRule& rule) {
    if (rule.max_in_a_row > 0 && count.in_a_row >= rule.max_in_a_row) {
        return kLockedUntilUnlocked;
    }
    if (rule.max_failures > 0 && count.failures >= rule.max_failures) {
        return rule.until;
    }
    return 0;
}

}  // namespace lwauth
