#include "fingerprint_method.hpp"

#include <utility>

#include "../two_step.hpp"
#include "lwauth/error.hpp"

namespace lwauth {
namespace {

constexpr const char* kPrompt =
    N_("Touch the fingerprint reader, or press Enter for other choices: ");
constexpr const char* kNotAvailable = N_("The fingerprint reader is not available.");

// The fingerprint's prompt, after `step`'s lines.
Step prompt_step(Language language, Step step = Step{}) {
    step.prompt = tr(language, kPrompt);
    step.echo = true;
    return step;
}

// Nothing let the user in: the password (and 2-step after it) decides. `lines` are
// errors to show first; none for a user who simply has no prints.
Step password_instead(std::vector<std::string> lines, Language language) {
    Step step = Step::verdict_of(bus::kVerdictIgnore);
    if (lines.empty()) {
        return step;
    }
    for (std::string& line : lines) {
        step.error(std::move(line));
    }
    step.info(tr(language, "Log in with your password instead."));
    return step;
}

// Why the fingerprint cannot be used now, once failures have paused or disabled it.
std::string stopped_text(const FingerprintFailures& failures, int64_t now, Language language) {
    if (fingerprint_gate(failures, now) == FingerprintGate::Disabled) {
        return tr(language,
                  "Too many failed fingerprint attempts: log in with your password to use your "
                  "fingerprint again.");
    }
    // TRANSLATORS: %s is a number of seconds.
    return format_text(tr(language,
                          "Too many failed fingerprint attempts: try again in %s s, or "
                          "use your password."),
                       {std::to_string(failures.paused_until - now)});
}

}  // namespace

void FingerprintMethod::begin(const MethodEnv& env, Done<Step> done) {
    env_.emplace(env.login, nullptr, env.event_wait_usec);
    if (env.loaded) {
        open(*env.loaded, std::move(done));
        return;
    }
    // Chosen from the menu: the state is read again, as the menu's step has passed.
    deps_.store.load_user(
        env.context.user,
        then<UserState>(std::move(done), [self = self()](const UserState& state, Done<Step>& next) {
            self->open(state, std::move(next));
        }));
}

void FingerprintMethod::open(const UserState& state, Done<Step> done) {
    int64_t now = deps_.clock.now();
    if (fingerprint_gate(state.fingerprint, now) != FingerprintGate::Allowed) {
        done(stopped(state.fingerprint, now, {}));
        return;
    }
    scan();
    done(prompt_step(env_->context.language));
}

void FingerprintMethod::scan() {
    std::weak_ptr<FingerprintMethod> weak = self();
    try {
        verification_ = deps_.fprint.verify(
            env_->context.user,
            [weak](const FprintRetry& retry) {
                if (auto method = weak.lock()) {
                    method->progress_.push_back(
                        tr(method->env_->context.language, retry.message.c_str()));
                }
            },
            [weak](Result<FprintOutcome> outcome) {
                if (auto method = weak.lock()) {
                    method->judge(std::move(outcome));
                }
            });
    } catch (const Error& e) {
        const LoginContext& login = env_->context;
        log_event(LogLevel::Error, "fingerprint-unavailable",
                  std::string("fingerprint verification not started: ") + e.what(),
                  {{"USER", login.user}, {"SERVICE", login.service}, {"RHOST", login.rhost}});
        judge(Error(Errc::Unavailable, tr(env_->context.language, kNotAvailable)));
    }
}

void FingerprintMethod::judge(Result<FprintOutcome> outcome) {
    const LoginContext& login = env_->context;
    judging_ = true;
    progress_.clear();
    if (!outcome) {
        // FprintClient logged the cause (fprint-unavailable); its message is for the user.
        log_event(
            LogLevel::Notice, "fingerprint-unavailable",
            std::string("fingerprint login gave way to the password: ") + outcome.error().what(),
            {{"USER", login.user}, {"SERVICE", login.service}, {"RHOST", login.rhost}});
        bool for_user = outcome.error().code() == Errc::Unavailable;
        Language language = env_->context.language;
        // FprintClient's reasons for the user are msgids (N_).
        decided(password_instead({tr(language, for_user ? outcome.error().what() : kNotAvailable)},
                                 language));
        return;
    }
    const std::string& user = login.user;
    switch (*outcome) {
        case FprintOutcome::Match:
            // Read again: another login may have paused or disabled the fingerprint, or
            // codes locked the account, since this verification began.
            deps_.store.load_user(user, [self = self()](Result<UserState> state) {
                if (!state) {
                    self->decided(state.error());
                    return;
                }
                self->matched(*state);
            });
            return;
        case FprintOutcome::NoMatch:
            deps_.store.add_fingerprint_failure(
                user, deps_.clock.now(), [self = self()](Result<FingerprintFailures> failures) {
                    if (!failures) {
                        self->decided(failures.error());
                        return;
                    }
                    self->after_no_match(*failures);
                });
            return;
        case FprintOutcome::TimedOut:
            log_event(LogLevel::Info, "fingerprint-timeout", "no finger was read in time",
                      {{"USER", login.user}, {"SERVICE", login.service}, {"RHOST", login.rhost}});
            decided(password_instead({tr(env_->context.language, "No finger was read in time.")},
                                     env_->context.language));
            return;
        case FprintOutcome::NoPrints:
            log_event(LogLevel::Info, "fingerprint-no-prints",
                      "the user has no fingerprint enrolled",
                      {{"USER", login.user}, {"SERVICE", login.service}, {"RHOST", login.rhost}});
            decided(password_instead({}, env_->context.language));
            return;
    }
}

void FingerprintMethod::matched(const UserState& state) {
    const LoginContext& login = env_->context;
    int64_t now = deps_.clock.now();
    if (state.locked_until > now) {
        log_event(LogLevel::Notice, "fingerprint-locked",
                  "fingerprint matched, but the account is locked",
                  {{"USER", login.user}, {"SERVICE", login.service}, {"RHOST", login.rhost}});
        Step step = Step::verdict_of(bus::kVerdictMaxTries);
        step.error(locked_text(state.locked_until, now, env_->context.language));
        decided(std::move(step));
        return;
    }
    if (fingerprint_gate(state.fingerprint, now) != FingerprintGate::Allowed) {
        decided(stopped(state.fingerprint, now, {}));
        return;
    }
    log_event(LogLevel::Info, "fingerprint-match", "fingerprint matched",
              {{"USER", login.user}, {"SERVICE", login.service}, {"RHOST", login.rhost}});
    deps_.store.clear_fingerprint_failures(
        login.user,
        then<void>(
            Done<Step>([self = self()](Result<Step> step) { self->decided(std::move(step)); }),
            [](Done<Step>& next) { next(Step::verdict_of(bus::kVerdictSuccess)); }));
}

void FingerprintMethod::after_no_match(const FingerprintFailures& failures) {
    const LoginContext& login = env_->context;
    log_event(LogLevel::Notice, "fingerprint-no-match",
              "fingerprint did not match (" + std::to_string(failures.in_a_row) + " in a row)",
              {{"USER", login.user}, {"SERVICE", login.service}, {"RHOST", login.rhost}});
    std::string no_match = tr(login.language, "The fingerprint did not match.");
    int64_t now = deps_.clock.now();
    if (fingerprint_gate(failures, now) != FingerprintGate::Allowed) {
        decided(stopped(failures, now, {no_match}));
        return;
    }
    Step step;
    step.error(no_match);
    // The reader reads again once the user has read this: a finger left on it is not
    // counted again and again unseen.
    scan_when_shown_ = true;
    decided(prompt_step(env_->context.language, std::move(step)));
}

Step FingerprintMethod::stopped(const FingerprintFailures& failures, int64_t now,
                                std::vector<std::string> lines) const {
    const LoginContext& login = env_->context;
    if (failures.disabled) {
        log_event(LogLevel::Notice, "fingerprint-disabled",
                  "fingerprint login disabled until a full login",
                  {{"USER", login.user}, {"SERVICE", login.service}, {"RHOST", login.rhost}});
    } else {
        log_event(LogLevel::Notice, "fingerprint-paused",
                  "fingerprint login paused after failed matches",
                  {{"USER", login.user}, {"SERVICE", login.service}, {"RHOST", login.rhost}});
    }
    lines.push_back(stopped_text(failures, now, login.language));
    return password_instead(std::move(lines), login.language);
}

void FingerprintMethod::decided(Result<Step> step) {
    judging_ = false;
    if (held_) {
        show(std::exchange(held_, nullptr), std::move(step));
        return;
    }
    kept_ = std::move(step);
}

void FingerprintMethod::show(const Done<Step>& done, Result<Step> step) {
    if (std::exchange(scan_when_shown_, false)) {
        scan();
    }
    done(std::move(step));
}

void FingerprintMethod::answer(const MethodEnv&, std::string_view answer, Done<Step> done) {
    // `p` while fprintd's latest answer is a failed match (counted already) or a scan to
    // repeat is the password too; only a verdict it brought is given whatever the line.
    bool to_password = chooses_password(answer);
    if (kept_ && !(to_password && kept_->ok() && !kept_->value().finished())) {
        Result<Step> step = std::move(*kept_);
        kept_.reset();
        show(done, std::move(step));
        return;
    }
    kept_.reset();
    scan_when_shown_ = false;
    if (judging_) {
        held_ = std::move(done);  // awaits_event() until decided()
        return;
    }
    if (!progress_.empty() && !to_password) {
        // A finger was read but must be read again: the reader is still waiting.
        Step step;
        for (std::string& line : std::exchange(progress_, {})) {
            step.info(std::move(line));
        }
        done(prompt_step(env_->context.language, std::move(step)));
        return;
    }
    // fprintd has read no finger yet (or the user typed p): the password.
    verification_.reset();  // stopped and released
    const LoginContext& login = env_->context;
    log_event(LogLevel::Info, "fingerprint-skipped",
              "the password chosen instead of the fingerprint",
              {{"USER", login.user}, {"SERVICE", login.service}, {"RHOST", login.rhost}});
    done(Step::verdict_of(bus::kVerdictIgnore));
}

bool FingerprintMethodType::offered(const policy::Policy&, const policy::UserPolicy& user_policy,
                                    const UserState& state, const LoginContext& context) const {
    const policy::QuickLoginPolicy& quick = user_policy.quick_login;
    if (!quick.fingerprint || state.quick_armed_at == 0) {
        return false;
    }
    int64_t now = deps_.clock.now();
    return now < state.quick_armed_at + quick.lifetime.count() &&
           fingerprint_gate(state.fingerprint, now) != FingerprintGate::Disabled &&
           (quick.remote || !context.remote());
}

std::shared_ptr<LoginMethod> FingerprintMethodType::create() const {
    return std::make_shared<FingerprintMethod>(deps_);
}

}  // namespace lwauth
