#include "pin_method.hpp"

#include <algorithm>
#include <utility>

#include "../../log.hpp"
#include "../two_step.hpp"
#include "lwauth/error.hpp"
#include "lwauth/text.hpp"

namespace lwauth {
namespace {

constexpr const char* kPrompt = N_("PIN (p for your password): ");
constexpr const char* kPromptAfterCheck = N_("PIN: ");  // `p` no longer chooses the password
constexpr const char* kDisabled =
    N_("Too many wrong PINs: the PIN is disabled. Log in with your password to use it again.");
// Wrong PINs left at which the user is told how many remain.
constexpr int kFewLeft = 2;

// Digits within the bounds any [quick_login] pin_min_length allows: anything else is not
// a PIN typed wrong but something else typed, and is not counted.
bool looks_like_pin(std::string_view answer) {
    return answer.size() >= static_cast<size_t>(policy::QuickLoginPolicy::kMinPinLength) &&
           answer.size() <= static_cast<size_t>(policy::QuickLoginPolicy::kMaxPinLength) &&
           std::all_of(answer.begin(), answer.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string wrong_text(int left, Language language) {
    if (left > kFewLeft) {
        return tr(language, "Wrong PIN.");
    }
    return format_text(tr_n(language, "Wrong PIN. %s try left before the PIN is disabled.",
                            "Wrong PIN. %s tries left before the PIN is disabled.",
                            static_cast<unsigned long>(left)),
                       {std::to_string(left)});
}

// A wrong PIN counted: `failures`, the count with it.
void log_pin_event(LogLevel level, const char* event, const std::string& message,
                   const LoginContext& context, int failures) {
    log_event(level, event, message,
              {{"USER", context.user},
               {"SERVICE", context.service},
               {"RHOST", context.rhost},
               {"FAILURES", std::to_string(failures)}});
}

}  // namespace

bool pin_usable(const policy::QuickLoginPolicy& quick_login, const UserState& state, int64_t now) {
    return quick_login.pin && state.pin_set && !state.pin_hash.empty() &&
           now < state.quick_armed_at + quick_login.lifetime.count() &&
           state.pin_failures < quick_login.max_failures;
}

Step PinMethod::prompt(Step step) const {
    step.prompt = tr(language_, checked_ ? kPromptAfterCheck : kPrompt);
    step.echo = false;
    return step;
}

Step PinMethod::give_way(std::string why) const {
    Step step;
    step.error(std::move(why));
    if (checked_) {
        return prompt(std::move(step));
    }
    step.info(tr(language_, "Log in with your password instead."));
    step.verdict = bus::kVerdictIgnore;
    return step;
}

void PinMethod::begin(const MethodEnv& env, Done<Step> done) {
    language_ = env.context.language;
    done(prompt(Step{}));
}

void PinMethod::answer(const MethodEnv& env, std::string_view raw, Done<Step> done) {
    language_ = env.context.language;
    std::string_view answer = trim(raw);
    if (!checked_ && chooses_password(answer)) {
        done(Step::verdict_of(bus::kVerdictIgnore));
        return;
    }
    if (!looks_like_pin(answer)) {
        Step step;
        step.error(checked_ ? tr(language_, "A PIN is digits only.")
                            : tr(language_, "A PIN is digits only, or type p for your password."));
        done(prompt(std::move(step)));
        return;
    }
    // Read now: another login may have counted wrong PINs, or the PIN changed, since.
    auto pin = std::make_shared<SecretString>(answer);
    deps_.store.load_user(
        env.context.user,
        then<UserState>(std::move(done),
                        [self = self(), env, pin](const UserState& state, Done<Step>& next_done) {
                            self->check(env, std::move(*pin), state, std::move(next_done));
                        }));
}

void PinMethod::check(const MethodEnv& env, SecretString pin, const UserState& state,
                      Done<Step> done) {
    int64_t now = deps_.clock.now();
    const policy::QuickLoginPolicy& quick_login = env.user_policy.quick_login;
    if (state.locked_until > now) {
        Step step = Step::verdict_of(bus::kVerdictMaxTries);
        step.error(locked_text(state.locked_until, now, language_));
        done(std::move(step));
        return;
    }
    if (state.pin_failures >= quick_login.max_failures && state.pin_set) {
        Step step = Step::verdict_of(bus::kVerdictDenied);
        step.error(tr(language_, kDisabled));
        done(std::move(step));
        return;
    }
    if (!pin_usable(quick_login, state, now)) {
        // Removed or expired since the login started: nothing to check it against.
        if (!checked_) {
            done(give_way(tr(language_, "Your PIN can no longer be used.")));
            return;
        }
        Step step = Step::verdict_of(bus::kVerdictDenied);
        step.error(tr(language_, "Your PIN can no longer be used. Log in with your password."));
        done(std::move(step));
        return;
    }
    const policy::Argon2Params& costs = env.policy->argon2;
    if (quick::needs_rehash(state.pin_hash, costs)) {
        rehash_pin_ = pin.clone();  // a right PIN is hashed again under the policy's costs
        rehash_of_ = state.pin_hash;
    }
    // Held apart from the job's callback: if the pool refuses the job, it is still here.
    auto reply = std::make_shared<Done<Step>>(std::move(done));
    try {
        job_ = deps_.hasher.verify_pin(
            std::move(pin), state.pin_hash, costs,
            [self = self(), env, reply](Result<quick::PinCheck> checked) {
                if (!checked) {
                    self->rehash_pin_.clear();
                    (*reply)(Error(Errc::Internal, std::string("the PIN could not be checked: ") +
                                                       checked.error().what()));
                    return;
                }
                self->checked_ = true;
                // Counted before the verdict, right or wrong: logins at once cannot try more
                // PINs than max_failures between two right ones. A right PIN then clears it.
                self->deps_.store.add_pin_failure(
                    env.context.user,
                    then<int>(std::move(*reply),
                              [self, env, check = *checked](int failures, Done<Step>& next_done) {
                                  self->judge(env, check, failures, std::move(next_done));
                              }));
            });
    } catch (const Error& e) {
        rehash_pin_.clear();
        if (e.code() != Errc::Unavailable) {
            (*reply)(e);
            return;
        }
        // Too many checks wait for a worker: nothing was checked, nothing is counted.
        log_event(LogLevel::Warning, "pin-busy", "PIN not checked: too many checks are waiting",
                  {{"USER", env.context.user},
                   {"SERVICE", env.context.service},
                   {"RHOST", env.context.rhost}});
        (*reply)(give_way(tr(language_, "Your PIN cannot be checked right now.")));
    }
}

void PinMethod::judge(const MethodEnv& env, const quick::PinCheck& check, int failures,
                      Done<Step> done) {
    int max_failures = env.user_policy.quick_login.max_failures;
    if (failures > max_failures || (!check.match && failures >= max_failures)) {
        rehash_pin_.clear();
        log_pin_event(LogLevel::Warning, "pin-disabled",
                      "PIN disabled until the next full login: too many wrong PINs", env.context,
                      failures);
        Step step = Step::verdict_of(bus::kVerdictDenied);
        step.error(tr(language_, kDisabled));
        done(std::move(step));
        return;
    }
    if (!check.match) {
        rehash_pin_.clear();
        log_pin_event(LogLevel::Notice, "pin-wrong", "wrong PIN", env.context, failures);
        Step step;
        step.error(wrong_text(max_failures - failures, language_));
        done(prompt(std::move(step)));
        return;
    }
    succeed(env, check.needs_rehash, std::move(done));
}

void PinMethod::succeed(const MethodEnv& env, bool rehash, Done<Step> done) {
    deps_.store.clear_pin_failures(
        env.context.user,
        then<void>(std::move(done), [self = self(), env, rehash](Done<Step>& next_done) {
            log_event(LogLevel::Info, "login-pin", "logged in with the PIN",
                      {{"USER", env.context.user},
                       {"SERVICE", env.context.service},
                       {"RHOST", env.context.rhost}});
            if (rehash && !self->rehash_pin_.empty()) {
                self->rehash(env, std::move(next_done));
                return;
            }
            self->rehash_pin_.clear();
            next_done(Step::verdict_of(bus::kVerdictSuccess));
        }));
}

void PinMethod::rehash(const MethodEnv& env, Done<Step> done) {
    // The login has succeeded whatever happens here: a hash that cannot be made again
    // keeps the old one, which still verifies.
    auto succeeded = [env, done = std::move(done)](const Result<bool>& replaced) {
        if (replaced && *replaced) {
            log_event(LogLevel::Info, "pin-rehashed",
                      "PIN hash made again with the policy's Argon2id costs",
                      {{"USER", env.context.user}});
        } else {
            log_event(
                LogLevel::Error, "pin-rehash-failed",
                std::string("PIN hash not made again: ") +
                    (replaced ? "the PIN was changed during the login" : replaced.error().what()),
                {{"USER", env.context.user}});
        }
        done(Step::verdict_of(bus::kVerdictSuccess));
    };
    auto finish = std::make_shared<decltype(succeeded)>(std::move(succeeded));
    try {
        job_ = deps_.hasher.hash_pin(
            std::move(rehash_pin_), env.policy->argon2,
            [self = self(), env, finish](Result<std::string> phc) {
                if (!phc) {
                    (*finish)(Result<bool>(phc.error()));
                    return;
                }
                // Only in place of the hash that was checked, in one step: a PIN removed
                // or set meanwhile stays.
                self->deps_.store.replace_pin_hash(
                    env.context.user, self->rehash_of_, *phc,
                    [finish](const Result<bool>& replaced) { (*finish)(replaced); });
            });
    } catch (const Error& e) {
        (*finish)(Result<bool>(e));
    }
}

bool PinMethodType::offered(const policy::Policy&, const policy::UserPolicy& user_policy,
                            const UserState& state, const LoginContext& context) const {
    // Bound to the machine: a remote session only when the policy says so.
    return pin_usable(user_policy.quick_login, state, deps_.clock.now()) &&
           (user_policy.quick_login.remote || !context.remote());
}

std::shared_ptr<LoginMethod> PinMethodType::create() const {
    return std::make_shared<PinMethod>(deps_);
}

}  // namespace lwauth
