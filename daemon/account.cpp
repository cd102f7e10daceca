#include "account.hpp"

#include "login/remember.hpp"
#include "log.hpp"
#include "login/methods/code_method.hpp"
#include "lwauth/error.hpp"
#include "lwauth/mask.hpp"

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
    return Error(Errc::InvalidCode, "wrong code; " + std::to_string(tries_left) +
                                        (tries_left == 1 ? " try" : " tries") + " left");
}

void require_two_step_available(const policy::UserPolicy& up) {
    if (up.two_step == policy::TwoStep::Off) {
        throw Error(Errc::NotEnabled, "2-step verification is not enabled on this host");
    }
}

}  // namespace

void check_contact_kind(const std::string& kind) {
    if (kind != "phone" && kind != "email") {
        throw Error(Errc::InvalidArgument, "the contact kind must be 'phone' or 'email'");
    }
}

std::string normalized_contact(const std::string& kind, const std::string& value) {
    check_contact_kind(kind);
    std::string normalized = kind == "phone" ? normalize_phone(value) : normalize_email(value);
    if (normalized.empty()) {
        throw Error(Errc::InvalidArgument,
                    kind == "phone"
                        ? "not a phone number in international form, such as +81 90 1234 5678"
                        : "not a valid email address");
    }
    return normalized;
}

policy::UserPolicy AccountService::user_policy(const std::string& user) const {
    return policy_->effective_for_lazy(user, [&] { return users_.groups_of(user); });
}

void AccountService::require_self_service() const {
    if (policy_->contacts == policy::Contacts::Admin) {
        std::string how = policy_->admin_contact.empty()
                              ? "ask them to change yours"
                              : "to change yours, contact " + policy_->admin_contact;
        throw Error(
            Errc::ManagedByAdmin,
            "your administrator manages phone numbers and email addresses on this host; " + how);
    }
}

AccountStatus AccountService::status(const std::string& user) {
    auto up = user_policy(user);
    UserState state = store_.load_user(user);
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
    if (up.quick_login) {
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
    s.pin_set = state.pin_set;
    int64_t now = clock_.now();
    for (const auto& [key, pending] : pending_) {
        if (key.first == user && pending.expires_at > now) {
            s.pending_contacts[key.second] = mask_contact(key.second, pending.value);
        }
    }
    s.locked_until = state.locked_until > now ? state.locked_until : 0;
    if (up.remember_host.count() > 0) {
        // As the engine judges a place (login/remember.hpp).
        for (const auto& host : store_.remembered_hosts(user)) {
            int64_t until = remembered_until(host, up);
            if (host.verified_at <= now && now < until) {
                s.remembered_hosts.push_back({host.service, host.origin, until});
            }
        }
    }
    if (state.contacts.empty() && !state.enrolled && s.two_step_enabled &&
        up.enroll_grace.count() > 0 && state.enroll_grace_started != 0) {
        s.enroll_grace_until = state.enroll_grace_started + up.enroll_grace.count();
    }
    return s;
}

int AccountService::forget_hosts(const std::string& user) {
    int forgotten = store_.forget_hosts(user);
    log_event(LogLevel::Notice, "hosts-forgotten",
              "the user's remembered places were forgotten; codes are asked there again",
              {{"USER", user}, {"COUNT", std::to_string(forgotten)}});
    return forgotten;
}

void AccountService::add_contact(const std::string& user, const std::string& owner,
                                 const std::string& kind, const std::string& value,
                                 std::function<void(std::optional<Error>)> done) {
    check_contact_kind(kind);
    auto up = user_policy(user);
    require_two_step_available(up);
    require_self_service();
    std::string normalized = normalized_contact(kind, value);
    if (kind == "phone" && !sms_prefix_allowed(up.code, normalized)) {
        throw Error(Errc::PolicyForbids,
                    "phone numbers of this country cannot be used on this host");
    }
    // Before any code leaves: a new contact decides where login codes go.
    UserState state = store_.load_user(user);
    require_reauth(user, owner, up, state, "adding a " + kind);
    send_confirmation(user, kind, normalized, "self", state.contacts.empty(), std::move(done));
}

void AccountService::use_profile_contact(const std::string& user, const std::string& owner,
                                         const std::string& kind,
                                         std::function<void(std::optional<Error>)> done) {
    check_contact_kind(kind);
    auto up = user_policy(user);
    require_two_step_available(up);
    require_self_service();
    UserState state = store_.load_user(user);
    const Contact* profile = state.profile_contact(kind);
    if (profile == nullptr) {
        throw Error(Errc::NotFound, "your profile has no " + kind +
                                        "; your administrator sets it, or add your own with "
                                        "lwauthctl contact add " +
                                        kind);
    }
    if (kind == "phone" && !sms_prefix_allowed(up.code, profile->value)) {
        throw Error(Errc::PolicyForbids,
                    "phone numbers of this country cannot be used on this host");
    }
    require_reauth(user, owner, up, state, "using the profile's " + kind);
    send_confirmation(user, kind, profile->value, "profile", state.contacts.empty(),
                      std::move(done));
}

void AccountService::send_confirmation(const std::string& user, const std::string& kind,
                                       const std::string& value, const std::string& source,
                                       bool unproved,
                                       std::function<void(std::optional<Error>)> done) {
    auto up = user_policy(user);
    policy::Kind delivery = kind == "phone" ? policy::Kind::Sms : policy::Kind::Email;
    if (policy_->channels_for(delivery).empty()) {
        throw Error(Errc::NotEnabled,
                    kind == "phone" ? "this host cannot send SMS" : "this host cannot send email");
    }
    SecretString code = generate_code(random_, up.code.length);
    PendingContact pending;
    pending.value = value;
    pending.source = source;
    pending.code_hash = hasher_.keyed_hash(confirm_context(user, kind), code.view());
    pending.tries_left = up.code.tries;
    pending.unproved = unproved;
    auto lifetime = up.code.lifetime.count();
    sender_.send_confirmation(
        user, *policy_, up, Contact{kind, value, source}, code,
        [this, user, kind, lifetime, pending = std::move(pending),
         done = std::move(done)](Result<Delivered> outcome) mutable {
            if (!outcome) {
                const Error& e = outcome.error();
                done(Error(e.code(), e.code() == Errc::RateLimited
                                         ? rate_limited_text(e.retry_at(), clock_.now())
                                         : "the confirmation code could not be sent; try "
                                           "again later or ask your administrator"));
                return;
            }
            pending.expires_at = clock_.now() + lifetime;
            pending_[{user, kind}] = std::move(pending);
            log_event(LogLevel::Info, "contact-pending", "confirmation code sent for a new contact",
                      {{"USER", user}, {"KIND", kind}});
            done(std::nullopt);
        });
}

bool AccountService::confirm_contact(const std::string& user, const std::string& owner,
                                     const std::string& kind, const SecretString& code) {
    check_contact_kind(kind);
    require_self_service();
    auto it = pending_.find({user, kind});
    if (it == pending_.end()) {
        throw Error(Errc::NotFound, "no " + kind + " is waiting for confirmation; add it first");
    }
    if (clock_.now() >= it->second.expires_at) {
        pending_.erase(it);
        throw Error(Errc::Expired, "the confirmation code has expired; add the " + kind + " again");
    }
    auto up = user_policy(user);
    if (it->second.unproved) {
        // Sent when there was nothing to prove with; a contact verified since then (the
        // user's, or one another process of theirs slipped in first) is what proves it
        // now. Checked before the code is, so that the code is still good afterwards.
        UserState state = store_.load_user(user);
        require_reauth(user, owner, up, state, "saving the " + kind);
    }
    if (it->second.source == "profile") {
        // An administrator's change cancels the confirmation, but one made while the code
        // was on its way came before the confirmation was recorded: the value confirmed must
        // still be the profile's.
        UserState state = store_.load_user(user);
        const Contact* profile = state.profile_contact(kind);
        if (profile == nullptr || profile->value != it->second.value) {
            pending_.erase(it);
            throw Error(Errc::NotFound, "your profile's " + kind +
                                            " was changed after the code was sent; use it again "
                                            "with lwauthctl contact use-profile " +
                                            kind);
        }
    }
    if (!code_matches(hasher_, confirm_context(user, kind), code, up.code.length,
                      it->second.code_hash)) {
        if (--it->second.tries_left <= 0) {
            pending_.erase(it);
            throw Error(Errc::InvalidCode,
                        "wrong code, and no tries are left; add the " + kind + " again");
        }
        throw wrong_code(it->second.tries_left);
    }
    store_.save_contact(user, Contact{kind, it->second.value, it->second.source});
    pending_.erase(it);
    UserState state = store_.load_user(user);
    if (!state.two_step && up.two_step != policy::TwoStep::Off) {
        // Saving a verified contact is what turns 2-step verification on.
        store_.set_two_step(user, true);
    }
    log_event(LogLevel::Info, "contact-verified",
              up.two_step != policy::TwoStep::Off ? "contact verified; 2-step verification on"
                                                  : "contact verified",
              {{"USER", user}, {"KIND", kind}});
    return up.two_step != policy::TwoStep::Off;
}

void AccountService::remove_contact(const std::string& user, const std::string& owner,
                                    const std::string& kind) {
    check_contact_kind(kind);
    require_self_service();
    UserState state = store_.load_user(user);
    auto up = user_policy(user);
    if (state.contact(kind) == nullptr) {
        // Cancels a confirmation in progress, which may have been started with proof.
        require_reauth(user, owner, up, state, "cancelling the " + kind + " being added");
        pending_.erase({user, kind});
        throw Error(Errc::NotFound, "no verified " + kind + " is saved");
    }
    bool last = state.contacts.size() == 1;
    if (last && up.two_step == policy::TwoStep::Required) {
        throw Error(
            Errc::PolicyForbids,
            "2-step verification is required on this host; add another phone number or email "
            "address before removing this one");
    }
    require_reauth(user, owner, up, state, "removing your " + kind);
    store_.remove_contact(user, kind);
    if (last) {
        store_.set_two_step(user, false);
    }
    log_event(LogLevel::Info, "contact-removed", "contact removed",
              {{"USER", user}, {"KIND", kind}});
}

void AccountService::set_two_step(const std::string& user, const std::string& owner, bool enabled) {
    auto up = user_policy(user);
    if (up.two_step == policy::TwoStep::Off) {
        throw Error(Errc::NotEnabled, "2-step verification is not enabled on this host");
    }
    if (!enabled && up.two_step == policy::TwoStep::Required) {
        throw Error(Errc::PolicyForbids,
                    "your administrator requires 2-step verification on this host");
    }
    UserState state = store_.load_user(user);
    if (enabled && state.contacts.empty()) {
        throw Error(
            Errc::PolicyForbids,
            "add and confirm a phone number or email address first (lwauthctl contact add)");
    }
    if (!enabled && state.two_step) {
        require_reauth(user, owner, up, state, "turning 2-step verification off");
    }
    store_.set_two_step(user, enabled);
    log_event(LogLevel::Info, "two-step",
              enabled ? "2-step verification turned on" : "2-step verification turned off",
              {{"USER", user}});
}

void AccountService::require_reauth(const std::string& user, const std::string& owner,
                                    const policy::UserPolicy& up, const UserState& state,
                                    const std::string& change) const {
    if (up.self_service_reauth == policy::Reauth::None || state.contacts.empty()) {
        return;
    }
    auto it = reauth_until_.find({user, owner});
    if (!owner.empty() && it != reauth_until_.end() && clock_.now() < it->second) {
        return;
    }
    if (!sender_.reachable(*policy_, up, state)) {
        // No code can reach the user to prove it: fail closed, and say who can help.
        throw Error(Errc::NotEnabled,
                    change +
                        " needs a code to your verified phone number or email address, "
                        "and no channel on this host reaches them; " +
                        (policy_->admin_contact.empty()
                             ? std::string("ask your administrator")
                             : "ask your administrator (" + policy_->admin_contact + ")"));
    }
    throw Error(Errc::ReauthRequired,
                change +
                    " needs proof that it is you: confirm with a code sent to your verified "
                    "phone number or email address first");
}

void AccountService::start_reauth(
    const std::string& user, const std::string& owner,
    std::function<void(std::optional<Error>, std::string shown)> done) {
    auto up = user_policy(user);
    UserState state = store_.load_user(user);
    if (state.contacts.empty()) {
        throw Error(Errc::NotFound,
                    "no verified phone number or email address is saved to send a code to");
    }
    if (owner.empty()) {
        throw Error(Errc::AccessDenied, "the caller's bus connection has no name");
    }
    if (!sender_.reachable(*policy_, up, state)) {
        throw Error(Errc::NotEnabled, "no channel on this host reaches your verified contacts");
    }
    SecretString code = generate_code(random_, up.code.length);
    PendingReauth pending;
    pending.code_hash = hasher_.keyed_hash(reauth_context(user, owner), code.view());
    pending.tries_left = up.code.tries;
    auto lifetime = up.code.lifetime.count();
    sender_.send_login_code(
        user, *policy_, up, state, code,
        [this, user, owner, lifetime, pending = std::move(pending),
         done = std::move(done)](Result<Delivered> outcome) mutable {
            if (!outcome) {
                const Error& e = outcome.error();
                done(Error(e.code(), e.code() == Errc::RateLimited
                                         ? rate_limited_text(e.retry_at(), clock_.now())
                                         : "the code could not be sent; try again later or "
                                           "ask your administrator"),
                     "");
                return;
            }
            pending.expires_at = clock_.now() + lifetime;
            pending_reauth_[{user, owner}] = std::move(pending);
            log_event(LogLevel::Info, "reauth-pending",
                      "code sent to confirm a change to the user's login settings",
                      {{"USER", user}, {"CHANNEL", outcome->channel}});
            done(std::nullopt, outcome->shown_destination);
        },
        CodePurpose::Reauth);
}

void AccountService::reauth(const std::string& user, const std::string& owner,
                            const SecretString& code) {
    auto it = pending_reauth_.find({user, owner});
    if (it == pending_reauth_.end()) {
        throw Error(Errc::NotFound, "no code is waiting to be confirmed; ask for one first");
    }
    if (clock_.now() >= it->second.expires_at) {
        pending_reauth_.erase(it);
        throw Error(Errc::Expired, "the code has expired; ask for a new one");
    }
    auto up = user_policy(user);
    if (!code_matches(hasher_, reauth_context(user, owner), code, up.code.length,
                      it->second.code_hash)) {
        if (--it->second.tries_left <= 0) {
            pending_reauth_.erase(it);
            log_event(LogLevel::Warning, "reauth-failed",
                      "wrong codes to confirm a change to the user's login settings",
                      {{"USER", user}});
            throw Error(Errc::InvalidCode, "wrong code, and no tries are left; ask for a new one");
        }
        throw wrong_code(it->second.tries_left);
    }
    pending_reauth_.erase(it);
    reauth_until_[{user, owner}] = clock_.now() + kReauthGrantSeconds;
    log_event(LogLevel::Info, "reauth", "the user confirmed a change to their login settings",
              {{"USER", user}});
}

void AccountService::forget_owner(const std::string& owner) {
    std::erase_if(pending_reauth_, [&](const auto& entry) { return entry.first.second == owner; });
    std::erase_if(reauth_until_, [&](const auto& entry) { return entry.first.second == owner; });
}

void AccountService::forget_pending(const std::string& user, const std::string& kind) {
    std::erase_if(pending_, [&](const auto& entry) {
        return entry.first.first == user && (kind.empty() || entry.first.second == kind);
    });
    if (kind.empty()) {
        std::erase_if(pending_reauth_,
                      [&](const auto& entry) { return entry.first.first == user; });
        std::erase_if(reauth_until_, [&](const auto& entry) { return entry.first.first == user; });
    }
}

void AccountService::forget_pending_profile(const std::string& user, const std::string& kind) {
    auto it = pending_.find({user, kind});
    if (it != pending_.end() && it->second.source == "profile") {
        pending_.erase(it);
    }
}

void AccountService::expire() {
    int64_t now = clock_.now();
    std::erase_if(pending_, [&](const auto& entry) { return now >= entry.second.expires_at; });
    std::erase_if(pending_reauth_,
                  [&](const auto& entry) { return now >= entry.second.expires_at; });
    std::erase_if(reauth_until_, [&](const auto& entry) { return now >= entry.second; });
}

}  // namespace lwauth
