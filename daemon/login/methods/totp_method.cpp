#include "totp_method.hpp"

#include <algorithm>

#include "../../log.hpp"
#include "../../second/recovery.hpp"
#include "../../second/totp.hpp"
#include "../two_step.hpp"
#include "lwauth/bus_names.hpp"
#include "lwauth/text.hpp"

namespace lwauth {

Step UnsentMethod::prompt(Step step, Language language) const {
    step.prompt = prompt_text(language);
    step.echo = false;
    return step;
}

void UnsentMethod::begin(const MethodEnv& env, Done<Step> done) {
    done(prompt(Step{}, env.context.language));
}

void UnsentMethod::answer(const MethodEnv& env, std::string_view raw, Done<Step> done) {
    if (tries_left_ < 0) {
        tries_left_ = env.user_policy.code.tries;
    }
    auto answer = std::make_shared<SecretString>(trim(raw));
    auto self = std::static_pointer_cast<UnsentMethod>(shared_from_this());
    deps_.store.lock_state(
        env.context.user,
        then<LockState>(std::move(done), [self, env, answer](const LockState& state,
                                                             Done<Step>& next_done) {
            if (auto locked = locked_refusal(state.locked_until, self->deps_.clock.now(),
                                             env.context.language)) {
                next_done(std::move(*locked));
                return;
            }
            self->check(
                env, answer->view(),
                then<std::optional<Step>>(
                    next_done, [self, env, state](std::optional<Step> right, Done<Step>& checked) {
                        if (!right) {
                            self->wrong(env, std::move(checked));
                            return;
                        }
                        self->succeed(env, std::move(*right), state, std::move(checked));
                    }));
        }));
}

void UnsentMethod::succeed(const MethodEnv& env, Step step, const LockState& state,
                           Done<Step> done) {
    step.verdict = bus::kVerdictSuccess;
    if (state.failures == 0 && state.locked_until == 0 && state.passwordless_failures == 0) {
        done(std::move(step));
        return;
    }
    // A write (and its fsync) only when there is something to clear.
    deps_.store.clear_failures(
        env.context.user,
        then<void>(std::move(done), [step](Done<Step>& next_done) { next_done(step); }));
}

void UnsentMethod::wrong(const MethodEnv& env, Done<Step> done) {
    auto self = std::static_pointer_cast<UnsentMethod>(shared_from_this());
    two_step::count_wrong_answer(
        deps_.store, deps_.clock, env.user_policy, env.context, wrong_event(),
        "wrong code after the password",
        then<std::optional<Step>>(
            std::move(done), [self, env](std::optional<Step> locked, Done<Step>& next_done) {
                if (locked) {
                    next_done(std::move(*locked));
                    return;
                }
                Language language = env.context.language;
                Step step;
                if (--self->tries_left_ <= 0) {
                    step.error(tr(language, "Wrong code. No tries are left; log in again."));
                    step.verdict = bus::kVerdictDenied;
                    next_done(std::move(step));
                    return;
                }
                step.error(format_text(
                    tr_n(language, "Wrong code. %s try left.", "Wrong code. %s tries left.",
                         static_cast<unsigned long>(self->tries_left_)),
                    {std::to_string(self->tries_left_)}));
                next_done(self->prompt(std::move(step), language));
            }));
}

namespace {

// A code of the app that was right once: replayed, or typed again in the same step.
void log_reused(const LoginContext& context) {
    log_event(LogLevel::Notice, "totp-reused", "authenticator app code refused: used already",
              {{"USER", context.user}, {"SERVICE", context.service}, {"RHOST", context.rhost}});
}

}  // namespace

std::string TotpMethod::prompt_text(Language language) const {
    return tr(language, "Authenticator app code: ");
}

void TotpMethod::check(const MethodEnv& env, std::string_view answer,
                       Done<std::optional<Step>> done) {
    auto held = std::make_shared<SecretString>(answer);
    auto self = std::static_pointer_cast<TotpMethod>(shared_from_this());
    deps_.store.load_user(
        env.context.user,
        then<UserState>(std::move(done), [self, env, held](const UserState& state,
                                                           Done<std::optional<Step>>& next) {
            std::optional<int64_t> step;
            bool reused = false;
            if (state.totp_set()) {
                // The app's own parameters; [totp] gives only the window.
                totp::App app = totp::decode(state.totp_secret.view());
                int64_t now = self->deps_.clock.now();
                int window = env.policy->totp.window;
                step = totp::matching_step(app, held->view(), now, window, state.totp_last_step);
                reused = !step && totp::matching_step(app, held->view(), now, window, -1);
            }
            if (!step) {
                if (reused) {
                    log_reused(env.context);
                }
                next(std::optional<Step>());
                return;
            }
            // The step is taken in one store operation: of two logins that typed the same
            // code, one passes; the other is told the code was used.
            self->deps_.store.use_totp_step(
                env.context.user, *step,
                then<bool>(next, [env](bool taken, Done<std::optional<Step>>& used) {
                    if (!taken) {
                        log_reused(env.context);
                        used(std::optional<Step>());
                        return;
                    }
                    log_event(LogLevel::Info, "totp-accepted", "authenticator app code accepted",
                              {{"USER", env.context.user}, {"SERVICE", env.context.service}});
                    used(std::optional<Step>(Step{}));
                }));
        }));
}

std::string RecoveryMethod::prompt_text(Language language) const {
    return tr(language, "Recovery code: ");
}

bool RecoveryMethod::recognises(std::string_view answer) const {
    return recovery::normalized(trim(answer)).has_value();
}

void RecoveryMethod::check(const MethodEnv& env, std::string_view answer,
                           Done<std::optional<Step>> done) {
    std::optional<SecretString> code = recovery::normalized(answer);
    if (!code) {
        done(std::optional<Step>());
        return;
    }
    deps_.store.use_recovery_code(
        env.context.user, recovery::hash(deps_.hasher, env.context.user, *code),
        then<int>(std::move(done), [env](int left, Done<std::optional<Step>>& next) {
            if (left < 0) {
                next(std::optional<Step>());
                return;
            }
            log_event(LogLevel::Notice, "recovery-used", "recovery code used",
                      {{"USER", env.context.user},
                       {"SERVICE", env.context.service},
                       {"RHOST", env.context.rhost},
                       {"LEFT", std::to_string(left)}});
            Language language = env.context.language;
            Step step;
            step.info(
                format_text(tr_n(language, "Recovery code accepted: %s recovery code is left.",
                                 "Recovery code accepted: %s recovery codes are left.",
                                 static_cast<unsigned long>(left)),
                            {std::to_string(left)}));
            if (left <= 3) {
                step.info(tr(language, "Make a new set soon with: lwauthctl recovery generate"));
            }
            next(std::optional<Step>(std::move(step)));
        }));
}

std::string TotpMethodType::label(const policy::Policy&, const policy::UserPolicy&,
                                  const UserState&, Language language) const {
    return tr(language, "a code from your authenticator app");
}

SecondFactorType::Fit TotpMethodType::fit(const policy::Policy&,
                                          const policy::UserPolicy& user_policy,
                                          const UserState& state, const LoginContext&) const {
    if (!state.totp_set()) {
        return Fit::NotSetUp;
    }
    return user_policy.totp ? Fit::Applies : Fit::Unavailable;
}

Step TotpMethodType::unavailable(const LoginContext& context) const {
    log_event(LogLevel::Error, "login-unreachable",
              "login refused: the policy no longer allows the user's authenticator app",
              {{"USER", context.user}, {"SERVICE", context.service}});
    Step step = Step::verdict_of(bus::kVerdictDenied);
    step.error(tr(context.language,
                  "Authenticator apps are not allowed for your account on this host. Ask your "
                  "administrator."));
    return step;
}

std::string RecoveryMethodType::label(const policy::Policy&, const policy::UserPolicy&,
                                      const UserState&, Language language) const {
    return tr(language, "a recovery code");
}

SecondFactorType::Fit RecoveryMethodType::fit(const policy::Policy&, const policy::UserPolicy&,
                                              const UserState& state, const LoginContext&) const {
    return state.recovery_codes > 0 ? Fit::Applies : Fit::NotSetUp;
}

Step RecoveryMethodType::unavailable(const LoginContext& context) const {
    Step step = Step::verdict_of(bus::kVerdictDenied);
    step.error(tr(context.language, "Recovery codes cannot be used now."));
    return step;
}

}  // namespace lwauth
