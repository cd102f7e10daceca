#include "code_method.hpp"

#include <algorithm>
#include <string>

#include "../../log.hpp"
#include "../passwordless.hpp"
#include "../remember.hpp"
#include "lwauth/bus_texts.hpp"
#include "lwauth/error.hpp"
#include "lwauth/mask.hpp"
#include "lwauth/text.hpp"

namespace lwauth {
namespace {

constexpr const char* kCodePrompt = N_("Verification code: ");

// "The next code can be sent in 12 minutes.", or "Try again later." when not known: a
// sentence of its own, after another one of the login's.
std::string next_code_text(int64_t retry_at, int64_t now, Language language) {
    if (retry_at <= now) {
        return tr(language, "Try again later.");
    }
    return format_text(tr(language, "The next code can be sent in %s."),
                       {duration_text(retry_at - now, language)});
}

}  // namespace

// "Too many codes were sent recently. The next code can be sent in 12 minutes.", or "...
// Try again later." when not known. One sentence pattern each (bus_texts.hpp), since
// lwauthctl shows it too.
std::string rate_limited_text(int64_t retry_at, int64_t now, Language language) {
    if (retry_at <= now) {
        return tr(language, "Too many codes were sent recently. Try again later.");
    }
    WaitCount wait = wait_count(retry_at - now);
    return bus_text(
        language,
        wait.minutes ? bus_texts::kCodesRateLimitedMinutes : bus_texts::kCodesRateLimitedSeconds,
        {std::to_string(wait.count)}, static_cast<unsigned long>(wait.count));
}

namespace {

// A notification named by the messenger that carries it, as its user knows it.
// TRANSLATORS: the notification words complete "A verification code was sent %1$s to
// %2$s." and "...; the code was sent %2$s.".
const char* notification_word(const policy::Policy& policy, const std::string& channel) {
    for (const auto& config : policy.channels) {
        if (config.name == channel) {
            if (config.type == "lineworks") {
                return N_("as a LINE WORKS message");
            }
            if (config.type == "line") {
                return N_("as a LINE message");
            }
        }
    }
    return N_("as a notification");
}

// How a code of `kind` went, through `channel` ("" for the first that serves the kind).
std::string kind_word(const policy::Policy& policy, policy::Kind kind, Language language,
                      std::string channel = "") {
    switch (kind) {
        case policy::Kind::Sms:
            return tr(language, "by SMS");
        case policy::Kind::Email:
            return tr(language, "by email");
        case policy::Kind::Notification: {
            if (channel.empty()) {
                auto serving = policy.channels_for(policy::Kind::Notification);
                channel = serving.empty() ? "" : serving.front()->name;
            }
            return tr(language, notification_word(policy, channel));
        }
    }
    return "";
}

// "SMS could not be sent; the code was sent as a LINE WORKS message."
std::string fallback_line(const policy::Policy& policy, policy::Kind failed, policy::Kind used,
                          const std::string& channel, Language language) {
    const char* what = failed == policy::Kind::Sms     ? N_("SMS")
                       : failed == policy::Kind::Email ? N_("The email")
                                                       : N_("The notification");
    return format_text(tr(language, "%1$s could not be sent; the code was sent %2$s."),
                       {tr(language, what), kind_word(policy, used, language, channel)});
}

std::string code_context(const std::string& login_id) {
    return "login:" + login_id;
}

const char* contact_word(const std::string& kind, Language language) {
    return kind == "phone" ? tr(language, "phone number") : tr(language, "email address");
}

}  // namespace

std::shared_ptr<const UserState> with_profile_contacts(const UserState& state) {
    auto view = std::make_shared<UserState>(state);
    view->contacts = state.profile;
    for (Contact& contact : view->contacts) {
        contact.source = "profile";
    }
    return view;
}

MethodEnv CodeMethod::scoped(const MethodEnv& env) const {
    if (options_.kinds.empty()) {
        return env;
    }
    std::vector<policy::Kind> kinds;
    for (policy::Kind kind : env.user_policy.code.channels) {
        if (std::find(options_.kinds.begin(), options_.kinds.end(), kind) != options_.kinds.end()) {
            kinds.push_back(kind);
        }
    }
    for (policy::Kind kind : options_.kinds) {
        if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end() &&
            !env.policy->channels_for(kind).empty()) {
            kinds.push_back(kind);
        }
    }
    return env.with_user_policy(
        [&](policy::UserPolicy& user_policy) { user_policy.code.channels = std::move(kinds); });
}

Step CodeMethod::prompt(Step step) const {
    step.prompt = tr(language_, kCodePrompt);
    step.echo = false;
    return step;
}

void CodeMethod::send_new_code(const MethodEnv& env, Step step, Sent then) {
    if (env.loaded) {
        send_to(env, env.loaded, std::move(step), std::move(then));
        return;
    }
    // Read now: the contacts may have changed since the login started. Kept alive by
    // `self` while the store answers, though the login may end meanwhile.
    deps_.store.load_user(env.context.user, [self = self(), env, step = std::move(step),
                                             then = std::move(then)](Result<UserState> state) {
        if (!state) {
            then(state.error());
            return;
        }
        self->send_to(env, std::make_shared<const UserState>(std::move(*state)), step, then);
    });
}

void CodeMethod::send_to(const MethodEnv& env, std::shared_ptr<const UserState> state, Step step,
                         Sent then) {
    SecretString code = generate_code(deps_.random, env.user_policy.code.length);
    Digest hash = deps_.hasher.keyed_hash(code_context(env.login_id), code.view());
    std::vector<Contact> profile;  // the contacts a right code may adopt
    if (options_.profile_contacts && state->contacts.empty()) {
        state = with_profile_contacts(*state);
        profile = state->contacts;
    }
    MethodEnv kept = env;
    kept.loaded.reset();  // the contacts need not outlive the send
    CodePurpose purpose =
        options_.password_instead ? CodePurpose::PasswordlessLogin : CodePurpose::Login;
    deps_.sender.send_login_code(
        env.context.user, *env.policy, env.user_policy, *state, code,
        [self = self(), env = std::move(kept), hash, step = std::move(step), then = std::move(then),
         profile = std::move(profile)](Result<Delivered> outcome) mutable {
            self->code_sent(env, hash, profile, std::move(outcome), std::move(step), then);
        },
        purpose, env.context.rhost, env.context.language);
}

void CodeMethod::code_sent(const MethodEnv& env, const Digest& hash,
                           const std::vector<Contact>& profile, Result<Delivered> outcome,
                           Step step, const Sent& then) {
    if (!outcome) {
        if (outcome.error().code() == Errc::RateLimited) {
            step.error(rate_limited_text(outcome.error().retry_at(), deps_.clock.now(),
                                         env.context.language));
            then(Sending{SendState::RateLimited, std::move(step)});
            return;
        }
        if (outcome.error().code() != Errc::DeliveryFailed) {
            then(outcome.error());  // the store's: the login ends with it
            return;
        }
        step.error(tr(env.context.language,
                      "The verification code could not be sent. Try again later, or ask your "
                      "administrator."));
        then(Sending{SendState::Failed, std::move(step)});
        return;
    }
    adopt_.reset();
    for (const Contact& contact : profile) {
        if (contact.kind == contact_kind_for(outcome->kind)) {
            adopt_ = contact;
            step.info(format_text(
                tr(env.context.language,
                   "You have no %1$s for verification codes yet, so the code went to the one "
                   "in your profile. Typing it makes that %1$s yours for verification codes."),
                {contact_word(contact.kind, env.context.language)}));
        }
    }
    code_hash_ = hash;
    has_code_ = true;
    int64_t now = deps_.clock.now();
    code_expires_ = now + env.user_policy.code.lifetime.count();
    last_sent_ = now;
    tries_left_ = env.user_policy.code.tries;
    if (outcome->instead_of) {
        step.info(fallback_line(*env.policy, *outcome->instead_of, outcome->kind, outcome->channel,
                                language_));
    }
    bool notify = !env.policy->channels_for(policy::Kind::Notification).empty() &&
                  outcome->kind != policy::Kind::Notification;
    std::string sent =
        format_text(tr(language_, "A verification code was sent %1$s to %2$s."),
                    {kind_word(*env.policy, outcome->kind, language_, outcome->channel),
                     outcome->shown_destination});
    std::string again =
        notify ? format_text(tr(language_, "Type r to get a new code, or n to get it %s."),
                             {kind_word(*env.policy, policy::Kind::Notification, language_)})
               : tr(language_, "Type r to get a new code.");
    step.info(sent + " " + again);
    if (options_.password_instead && !checked_) {
        step.info(tr(language_, "Type p to log in with your password instead."));
    }
    then(Sending{SendState::Sent, std::move(step)});
}

void CodeMethod::begin(const MethodEnv& env, Done<Step> done) {
    language_ = env.context.language;
    MethodEnv unscoped = env;
    unscoped.loaded.reset();  // the contacts need not outlive the send
    send_new_code(scoped(env), Step{},
                  then<Sending>(std::move(done),
                                [self = self(), unscoped](Sending sent, Done<Step>& next_done) {
                                    Step& step = sent.step;
                                    switch (sent.state) {
                                        case SendState::Sent:
                                            next_done(self->prompt(std::move(step)));
                                            return;
                                        case SendState::RateLimited:
                                            step.verdict = bus::kVerdictDenied;
                                            break;
                                        case SendState::Failed:
                                            step.verdict = bus::kVerdictUnavailable;
                                            break;
                                    }
                                    if (self->options_.password_instead) {
                                        // Nothing was checked: the password (and 2-step after it)
                                        // still decides, unless 2-step would refuse anyway.
                                        self->password_instead(
                                            unscoped, std::move(step),
                                            tr(self->language_,
                                               "Log in with your password instead."),
                                            std::move(next_done));
                                        return;
                                    }
                                    next_done(std::move(step));
                                }));
}

void CodeMethod::password_instead(const MethodEnv& unscoped, Step step, const std::string& instead,
                                  Done<Step> done) {
    auto ignore = [instead](Step told) {
        if (!instead.empty()) {
            told.info(instead);
        }
        told.verdict = bus::kVerdictIgnore;
        return told;
    };
    const policy::UserPolicy& up = unscoped.user_policy;
    if (up.two_step == policy::TwoStep::Off) {
        done(ignore(std::move(step)));
        return;
    }
    auto capped = [self = self(), unscoped, step, ignore, done](const UserState& state) {
        self->capped_after_password(
            unscoped, state,
            then<int64_t>(done, [self, unscoped, step, ignore, done](int64_t until) mutable {
                if (until == 0) {
                    done(ignore(std::move(step)));
                    return;
                }
                // The password would lead to a code that cannot be sent: not asked for.
                log_event(LogLevel::Notice, "login-capped",
                          "password not offered: the 2-step code after it would exceed a send cap",
                          {{"USER", unscoped.context.user},
                           {"SERVICE", unscoped.context.service},
                           {"RHOST", unscoped.context.rhost}});
                step.error(format_text(
                    tr(self->language_,
                       "Logging in with your password would not help now: the verification code "
                       "after it cannot be sent either. %s"),
                    {next_code_text(until, self->deps_.clock.now(), self->language_)}));
                step.verdict = bus::kVerdictDenied;
                done(std::move(step));
            }));
    };
    if (unscoped.loaded) {
        capped(*unscoped.loaded);
        return;
    }
    deps_.store.load_user(unscoped.context.user, then<UserState>(done, capped));
}

void CodeMethod::capped_after_password(const MethodEnv& unscoped, const UserState& state,
                                       Done<int64_t> done) {
    const policy::UserPolicy& up = unscoped.user_policy;
    if (!two_step_applies(up, state)) {
        done(int64_t{0});
        return;
    }
    if (!remembers_places(up, unscoped.context)) {
        deps_.sender.login_capped_until(unscoped.context.user, *unscoped.policy, up, state,
                                        unscoped.context.rhost, std::move(done));
        return;
    }
    host_remembered(deps_.store, deps_.clock, up, unscoped.context,
                    then<bool>(std::move(done), [self = self(), unscoped, state](
                                                    bool remembered, Done<int64_t>& until) {
                        if (remembered) {
                            until(int64_t{0});
                            return;
                        }
                        self->deps_.sender.login_capped_until(
                            unscoped.context.user, *unscoped.policy, unscoped.user_policy, state,
                            unscoped.context.rhost, std::move(until));
                    }));
}

void CodeMethod::wrong_code(const MethodEnv& env, Done<Step> done) {
    const std::string& user = env.context.user;
    if (options_.password_instead) {
        // Before any password: counted apart, and never a lock of the account.
        log_event(LogLevel::Notice, "code-wrong", "wrong verification code before a password",
                  {{"USER", user}, {"SERVICE", env.context.service}, {"RHOST", env.context.rhost}});
        passwordless::count_failure(
            deps_.store, deps_.clock, env.user_policy, env.context,
            then<bool>(std::move(done), [self = self()](bool suspended, Done<Step>& next_done) {
                Step step;
                if (!suspended) {
                    next_done(self->another_try(std::move(step)));
                    return;
                }
                step.error(tr(self->language_,
                              "Too many wrong codes. Log in with your password and verification "
                              "code instead."));
                step.verdict = bus::kVerdictMaxTries;
                next_done(std::move(step));
            }));
        return;
    }
    two_step::count_wrong_answer(
        deps_.store, deps_.clock, env.user_policy, env.context, "code-wrong",
        "wrong verification code",
        then<std::optional<Step>>(
            std::move(done), [self = self()](std::optional<Step> locked, Done<Step>& next_done) {
                next_done(locked ? std::move(*locked) : self->another_try(Step{}));
            }));
}

Step CodeMethod::another_try(Step step) {
    if (--tries_left_ <= 0) {
        step.error(
            tr(language_,
               "Wrong code. No tries are left for this code; log in again to get a new one."));
        step.verdict = bus::kVerdictDenied;
        return step;
    }
    step.error(format_text(tr_n(language_, "Wrong code. %s try left.", "Wrong code. %s tries left.",
                                static_cast<unsigned long>(tries_left_)),
                           {std::to_string(tries_left_)}));
    return prompt(std::move(step));
}

void CodeMethod::answer(const MethodEnv& unscoped, std::string_view raw, Done<Step> done) {
    language_ = unscoped.context.language;
    MethodEnv env = scoped(unscoped);
    std::string answer(trim(raw));
    ScopedWipe wipe(answer);

    if (options_.password_instead && !checked_ && (answer == "p" || answer == "P")) {
        password_instead(unscoped, Step{}, "", std::move(done));
        return;
    }
    bool resend = answer == "r" || answer == "R";
    bool notify = answer == "n" || answer == "N";
    // Compared now, so that the answer is wiped before the store is read; whether it counts
    // is decided after the lock is.
    bool right =
        has_code_ && looks_like_code(answer, env.user_policy.code.length) &&
        digest_equal(deps_.hasher.keyed_hash(code_context(env.login_id), answer), code_hash_);
    deps_.store.lock_state(
        env.context.user,
        then<LockState>(std::move(done), [self = self(), env, resend, notify, right](
                                             const LockState& state, Done<Step>& next_done) {
            if (auto locked =
                    locked_refusal(state.locked_until, self->deps_.clock.now(), self->language_)) {
                next_done(std::move(*locked));
                return;
            }
            if (resend || notify) {
                self->new_code_asked(env, notify, std::move(next_done));
                return;
            }
            self->check_code(env, right, state, std::move(next_done));
        }));
}

void CodeMethod::new_code_asked(const MethodEnv& env, bool notify, Done<Step> done) {
    Step step;
    if (notify && env.policy->channels_for(policy::Kind::Notification).empty()) {
        step.error(tr(language_, "Service notifications are not available on this host."));
        done(prompt(std::move(step)));
        return;
    }
    int64_t wait = last_sent_ + env.user_policy.code.resend_interval.count() - deps_.clock.now();
    if (wait > 0) {
        step.error(format_text(tr(language_, "Please wait %s before asking for a new code."),
                               {duration_text(wait, language_)}));
        done(prompt(std::move(step)));
        return;
    }
    // The user may ask for the code in the workplace's messenger (SMS cannot arrive).
    MethodEnv send_env = notify ? env.with_user_policy([](policy::UserPolicy& user_policy) {
        user_policy.code.channels = {policy::Kind::Notification};
    })
                                : env;
    // On failure the code already sent stays valid: the user may still have it.
    send_new_code(
        send_env, std::move(step),
        then<Sending>(std::move(done), [self = self()](Sending sent, Done<Step>& next_done) {
            next_done(self->prompt(std::move(sent.step)));
        }));
}

void CodeMethod::check_code(const MethodEnv& env, bool right, const LockState& state,
                            Done<Step> done) {
    if (!has_code_ || deps_.clock.now() >= code_expires_) {
        has_code_ = false;
        Step step;
        step.error(
            tr(language_, "The verification code has expired. Log in again to get a new one."));
        step.verdict = bus::kVerdictDenied;
        done(std::move(step));
        return;
    }
    checked_ = true;  // from here on, only this method decides
    if (!right) {
        wrong_code(env, std::move(done));
        return;
    }
    // Single use: the code is gone the moment it is accepted.
    has_code_ = false;
    code_hash_.fill(0);
    if (state.failures != 0 || state.locked_until != 0 || state.passwordless_failures != 0) {
        // A write (and its fsync) only when there is something to clear.
        deps_.store.clear_failures(
            env.context.user,
            then<void>(std::move(done), [self = self(), env](Done<Step>& next_done) {
                self->succeed(env, std::move(next_done));
            }));
        return;
    }
    succeed(env, std::move(done));
}

void CodeMethod::succeed(const MethodEnv& env, Done<Step> done) {
    Step step = Step::verdict_of(bus::kVerdictSuccess);
    if (adopt_) {
        adopt_profile_contact(env, std::move(step), std::move(done));
        return;
    }
    done(std::move(step));
}

void CodeMethod::adopt_profile_contact(const MethodEnv& env, Step step, Done<Step> done) {
    const Contact contact = *std::exchange(adopt_, std::nullopt);
    auto adopted = [env, contact, step, done]() mutable {
        log_event(LogLevel::Info, "contact-adopted",
                  "the profile's contact that received the login code is now the login contact",
                  {{"USER", env.context.user},
                   {"KIND", contact.kind},
                   {"SERVICE", env.context.service},
                   {"RHOST", env.context.rhost}});
        Language language = env.context.language;
        step.info(format_text(
            tr(language, "Your profile's %1$s %2$s now receives your verification codes."),
            {contact_word(contact.kind, language), mask_contact(contact.kind, contact.value)}));
        done(std::move(step));
    };
    deps_.store.load_user(
        env.context.user, then<UserState>(done, [self = self(), env, contact, step, done,
                                                 adopted](const UserState& state) {
            const std::string& user = env.context.user;
            const Contact* profile = state.profile_contact(contact.kind);
            if (profile == nullptr || profile->value != contact.value ||
                state.contact(contact.kind) != nullptr) {
                // The administrator changed the profile, or the user saved a contact of that
                // kind, while the code was on its way: the login stands, the adoption does not.
                log_event(LogLevel::Notice, "contact-not-adopted",
                          "profile contact not made the login contact: it changed during the login",
                          {{"USER", user}, {"KIND", contact.kind}});
                done(step);
                return;
            }
            AsyncStore& store = self->deps_.store;
            bool turn_on = !state.two_step && env.user_policy.two_step != policy::TwoStep::Off;
            store.save_contact_and_two_step(user, Contact{contact.kind, contact.value, "profile"},
                                            turn_on, then<void>(done, adopted));
        }));
}

bool CodeMethodType::to_profile(const policy::Policy& policy, const policy::UserPolicy& user_policy,
                                const UserState& state) const {
    // No login contact yet, but the administrator's profile has one: the code goes
    // there, and a right code makes it the login contact (as LINE WORKS uses a profile
    // number once its user accepts it).
    return state.contacts.empty() && !state.profile.empty() &&
           deps_.sender.reachable(policy, user_policy, *with_profile_contacts(state));
}

std::string CodeMethodType::label(const policy::Policy& policy,
                                  const policy::UserPolicy& user_policy, const UserState& state,
                                  Language language) const {
    const std::vector<Contact>& contacts =
        to_profile(policy, user_policy, state) ? state.profile : state.contacts;
    std::string where;
    for (const Contact& contact : contacts) {
        std::string masked = mask_contact(contact.kind, contact.value);
        // TRANSLATORS: joins two masked contacts: "+81 •• •••• 5678 or a•••@example.jp".
        where = where.empty() ? masked : format_text(tr(language, "%1$s or %2$s"), {where, masked});
    }
    if (where.empty()) {
        return tr(language, "a verification code");
    }
    return format_text(tr(language, "a verification code sent to %s"), {where});
}

SecondFactorType::Fit CodeMethodType::fit(const policy::Policy& policy,
                                          const policy::UserPolicy& user_policy,
                                          const UserState& state, const LoginContext&) const {
    // A messenger's notification may reach the user by user name, with no contact saved.
    if (to_profile(policy, user_policy, state) ||
        deps_.sender.reachable(policy, user_policy, state)) {
        return Fit::Applies;
    }
    return state.contacts.empty() ? Fit::NotSetUp : Fit::Unavailable;
}

Step CodeMethodType::unavailable(const LoginContext& context) const {
    log_event(LogLevel::Error, "login-unreachable",
              "login refused: no configured channel reaches the user's contacts",
              {{"USER", context.user}, {"SERVICE", context.service}});
    Step step = Step::verdict_of(bus::kVerdictDenied);
    step.error(tr(context.language,
                  "Your verification code cannot be delivered: no delivery channel on this host "
                  "reaches your saved contacts. Ask your administrator."));
    return step;
}

std::shared_ptr<LoginMethod> CodeMethodType::create(const policy::Policy& policy,
                                                    const policy::UserPolicy& user_policy,
                                                    const UserState& state,
                                                    const LoginContext&) const {
    CodeMethod::Options options;
    options.profile_contacts = to_profile(policy, user_policy, state);
    return std::make_shared<CodeMethod>(deps_, std::move(options));
}

}  // namespace lwauth
