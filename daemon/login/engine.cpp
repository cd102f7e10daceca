#include "engine.hpp"

#include <algorithm>

#include <ctime>
#include <utility>

#include "../log.hpp"
#include "lwauth/error.hpp"
#include "lwauth/text.hpp"
#include "passwordless.hpp"
#include "remember.hpp"
#include "two_step.hpp"

namespace lwauth {
std::string LoginEngine::new_id() {
    uint8_t raw[16];
    deps_.random.fill(raw, sizeof raw);
    return hex_encode(raw, sizeof raw);
}

namespace {

// What a caller other than root says of where its login comes from is its own word: a
// remote host keeps the login remote, but is no place whose wrong-code counts and send
// caps the logins of other users from that host share.
void believe_locally(LoginContext& context) {
    context.session_remote = context.remote();
    context.rhost.clear();
}

}  // namespace

void LoginEngine::start(const LoginContext& context, Done<Step> done) {
    if (context.user.empty() || context.user.size() > 256) {
        throw Error(Errc::InvalidArgument, "the login context needs a user name");
    }
    if (context.mode != bus::kModeSecondFactor && context.mode != bus::kModePrimary) {
        throw Error(Errc::InvalidArgument, "unknown login mode '" + context.mode + "'");
    }
    done = awaiting_confirmation(context, std::move(done));
    auto starting = std::make_shared<Starting>(
        Starting{context, policy_, policy_->effective_for_lazy(context.user, [&] {
                     return deps_.users.groups_of(context.user);
                 })});
    if (context.unprivileged) {
        believe_locally(starting->context);
    }
    starting->context.language =
        language_of_locale(context.locale).value_or(starting->user_policy.language);
    if (context.mode == bus::kModeSecondFactor &&
        starting->user_policy.two_step == policy::TwoStep::Off) {
        done(Step::verdict_of(bus::kVerdictIgnore));
        return;
    }
    // The rest runs when the store answers, at once or later: what it needs is held by
    // `starting`, and the engine outlives every login.
    deps_.store.load_user(
        context.user,
        then<UserState>(std::move(done), [this, starting](UserState state, Done<Step>& next_done) {
            if (deps_.contacts_missing && state.contact("phone") == nullptr &&
                state.contact("email") == nullptr) {
                deps_.contacts_missing(starting->context.user);
            }
            auto loaded = std::make_shared<const UserState>(std::move(state));
            if (starting->context.mode == bus::kModePrimary) {
                start_primary(starting, std::move(loaded), std::move(next_done));
            } else {
                start_second_factor(starting, std::move(loaded), std::move(next_done));
            }
        }));
    // Still held by a step that waits (for the store, say): the login is not registered
    // yet, and a client that leaves meanwhile must end it. Otherwise every step has run
    // already, and the login, if there is one, is in logins_.
    if (starting.use_count() > 1) {
        track_starting(starting);
    }
}

Done<Step> LoginEngine::awaiting_confirmation(const LoginContext& context, Done<Step> done) {
    if (context.mode != bus::kModeSecondFactor || context.unprivileged) {
        return done;
    }
    return [this, context, done = std::move(done)](Result<Step> result) {
        bool lets_in = result.ok() && (result->verdict == bus::kVerdictSuccess ||
                                       result->verdict == bus::kVerdictIgnore);
        if (lets_in) {
            // Not a full login yet: the rest of the stack may still refuse it (pam_deny
            // after an SSH key, a wrong password before a `required` lwauth).
            result->id = keep_unconfirmed(context);
        }
        done(std::move(result));
    };
}

std::string LoginEngine::keep_unconfirmed(const LoginContext& context) {
    int64_t now = deps_.clock.now();
    if (unconfirmed_.size() >= kMaxUnconfirmed) {
        std::erase_if(unconfirmed_,
                      [now](const auto& kept) { return now >= kept.second.expires_at; });
    }
    if (unconfirmed_.size() >= kMaxUnconfirmed) {
        log_event(LogLevel::Warning, "full-login-unrecorded",
                  "too many full logins wait for confirmation; quick login is not re-armed",
                  {{"USER", context.user}});
        return "";
    }
    std::string id = new_id();
    unconfirmed_.emplace(id, Unconfirmed{context.user, context.owner, now + kConfirmWithinSeconds});
    return id;
}

void LoginEngine::confirm(const std::string& id, const std::string& owner, Done<void> done) {
    auto it = unconfirmed_.find(id);
    if (it == unconfirmed_.end() || it->second.owner != owner) {
        throw Error(Errc::NoSuchLogin, "no such login waits for confirmation");
    }
    std::string user = std::move(it->second.user);
    bool expired = deps_.clock.now() >= it->second.expires_at;
    unconfirmed_.erase(it);
    if (expired) {
        throw Error(Errc::NoSuchLogin, "the login was not confirmed in time");
    }
    // Quick login's window and arming count from here, once the whole stack let the user
    // in. Failing to record it only withholds quick login.
    deps_.store.record_full_login(
        user, deps_.clock.now(), [user, done = std::move(done)](Result<void> saved) {
            if (!saved.ok()) {
                log_event(LogLevel::Warning, "full-login-unrecorded",
                          "the full login could not be recorded; quick login is not re-armed: " +
                              std::string(saved.error().what()),
                          {{"USER", user}});
            }
            done(std::move(saved));
        });
}

void LoginEngine::start_primary(const std::shared_ptr<Starting>& starting,
                                std::shared_ptr<const UserState> loaded, Done<Step> done) {
    const LoginContext& context = starting->context;
    // An unknown user, and a user without a passwordless method, get exactly what a
    // user with only a password gets: no prompt, the password decides.
    // Too many wrong codes before a password, for this user or from this remote host:
    // the passwordless methods are not offered for a while, and the password and 2-step
    // decide, with their own lockout and caps. Nothing is said: an unknown user gets the
    // same. Methods that count their own failures (the PIN, the fingerprint) are still
    // offered: what a remote stranger spends of the budget must not keep them from the
    // user at the console.
    passwordless::suspended(
        deps_.store, deps_.clock, starting->user_policy, context, loaded->passwordless_failures,
        then<std::string>(std::move(done), [this, starting, loaded](const std::string& why,
                                                                    Done<Step>& next_done) {
            if (!why.empty()) {
                const LoginContext& login = starting->context;
                log_event(
                    LogLevel::Notice, "passwordless-suspended",
                    "passwordless methods that share the budget not offered: " + why,
                    {{"USER", login.user}, {"SERVICE", login.service}, {"RHOST", login.rhost}});
            }
            offer_primary(starting, loaded, !why.empty(), std::move(next_done));
        }));
}

void LoginEngine::offer_primary(const std::shared_ptr<Starting>& starting,
                                std::shared_ptr<const UserState> loaded, bool suspended,
                                Done<Step> done) {
    const LoginContext& context = starting->context;
    const UserState& state = *loaded;
    std::vector<PrimaryMenu::Choice> offered;
    for (const auto& type : types_.primary) {
        if ((context.unprivileged && !type->serves_unprivileged()) ||
            (suspended && !type->counts_apart())) {
            continue;
        }
        if (type->offered(*starting->policy, starting->user_policy, state, context)) {
            offered.push_back({type, type->label(state, context.language)});
        }
    }
    if (offered.empty()) {
        done(Step::verdict_of(bus::kVerdictIgnore));
        return;
    }
    int64_t now = deps_.clock.now();
    if (state.locked_until > now) {
        done(locked_step(context, state.locked_until - now));
        return;
    }
    std::shared_ptr<LoginMethod> method = offered.size() == 1
                                              ? offered.front().type->create()
                                              : std::make_shared<PrimaryMenu>(offered);
    std::string ids;
    for (const auto& choice : offered) {
        ids += (ids.empty() ? "" : ",") + choice.type->id();
    }
    log_event(LogLevel::Info, "login-start", "passwordless login started",
              {{"USER", context.user},
               {"SERVICE", context.service},
               {"RHOST", context.rhost},
               {"METHOD", ids}});
    add_login(*starting, std::move(method), std::move(loaded), std::move(done));
}

Step LoginEngine::locked_step(const LoginContext& context, int64_t remaining) {
    log_event(LogLevel::Notice, "login-locked", "login refused: account locked",
              {{"USER", context.user}, {"SERVICE", context.service}, {"RHOST", context.rhost}});
    Step step = Step::verdict_of(bus::kVerdictMaxTries);
    step.error(locked_text(remaining >= kLockedUntilUnlocked / 2 ? kLockedUntilUnlocked : remaining,
                           0, context.language));
    return step;
}

void LoginEngine::add_login(const Starting& starting, std::shared_ptr<LoginMethod> method,
                            std::shared_ptr<const UserState> loaded, Done<Step> done) {
    if (starting.abandoned) {
        done(Error(Errc::NoSuchLogin, "the login's client left the bus"));
        return;
    }
    if (!have_room()) {
        done(Error(Errc::Unavailable, "too many logins are in progress"));
        return;
    }
    if (unprivileged_over(starting.context)) {
        done(Error(Errc::Unavailable, "too many logins of this user are in progress"));
        return;
    }
    auto login = std::make_shared<const LoginData>(
        LoginData{starting.policy, starting.user_policy, starting.context, new_id()});
    const std::string& id = login->login_id;
    Pending pending{login, std::move(method),
                    deps_.clock.now() + starting.policy->login_timeout.count()};
    auto [it, inserted] = logins_.emplace(id, std::move(pending));
    index_owner(it->second.login->context.owner, id);
    run(it->second, true, {}, std::move(done), std::move(loaded));
}

void LoginEngine::start_second_factor(const std::shared_ptr<Starting>& starting,
                                      std::shared_ptr<const UserState> loaded, Done<Step> done) {
    const LoginContext& context = starting->context;
    const UserState& state = *loaded;
    if (!two_step_applies(starting->user_policy, state)) {
        done(Step::verdict_of(bus::kVerdictIgnore));
        return;
    }
    int64_t now = deps_.clock.now();
    if (state.locked_until > now) {
        done(locked_step(context, state.locked_until - now));
        return;
    }
    if (!remembers_places(starting->user_policy, context)) {
        choose_second_factor(starting, std::move(loaded), std::move(done));
        return;
    }
    two_step::remembered_step(
        deps_.store, deps_.clock, starting->user_policy, context,
        then<std::optional<Step>>(
            std::move(done),
            [this, starting, loaded](std::optional<Step> remembered, Done<Step>& next_done) {
                if (remembered) {
                    next_done(std::move(*remembered));
                    return;
                }
                choose_second_factor(starting, loaded, std::move(next_done));
            }));
}

namespace {

// Where a type stands in [policy] second_factors: its index, the list's size for a type
// the list does not name (after those it names), or nullopt when the list leaves it out.
std::optional<size_t> factor_rank(const policy::UserPolicy& user_policy,
                                  const SecondFactorType& type) {
    std::optional<policy::SecondFactor> factor = type.factor();
    const auto& order = user_policy.second_factors;
    if (!factor) {
        return order.size();
    }
    auto it = std::find(order.begin(), order.end(), *factor);
    if (it == order.end()) {
        return std::nullopt;
    }
    return static_cast<size_t>(it - order.begin());
}

// [policy] require_unrestricted, and only restricted factors (codes by SMS or email) apply:
// refused, with how to add an authenticator app.
Step unrestricted_required(const LoginContext& context, bool totp_allowed) {
    log_event(LogLevel::Notice, "login-restricted",
              "login refused: only a restricted second factor is set up, and the policy "
              "requires an unrestricted one",
              {{"USER", context.user}, {"SERVICE", context.service}, {"RHOST", context.rhost}});
    Step step = Step::verdict_of(bus::kVerdictDenied);
    step.error(tr(context.language,
                  "A code by SMS or email is not enough for this account: 2-step verification "
                  "needs an authenticator app or a recovery code."));
    step.error(totp_allowed ? tr(context.language,
                                 "Add an authenticator app from a session you have: lwauthctl "
                                 "totp add. Or ask your administrator for recovery codes.")
                            : tr(context.language, "Ask your administrator for recovery codes."));
    return step;
}

}  // namespace

void LoginEngine::choose_second_factor(const std::shared_ptr<Starting>& starting,
                                       std::shared_ptr<const UserState> loaded, Done<Step> done) {
    const LoginContext& context = starting->context;
    const policy::Policy& policy = *starting->policy;
    const policy::UserPolicy& user_policy = starting->user_policy;
    const UserState& state = *loaded;
    // The types that apply, in the order of [policy] second_factors (stable).
    std::vector<std::pair<size_t, std::shared_ptr<const SecondFactorType>>> applying;
    const SecondFactorType* unavailable = nullptr;  // set up, but cannot run now
    bool restricted_only = false;  // a restricted type applied, left out by the policy
    for (const auto& type : types_.second_factor) {
        if (context.unprivileged && !type->serves_unprivileged()) {
            continue;
        }
        std::optional<size_t> rank = factor_rank(user_policy, *type);
        if (!rank) {
            continue;
        }
        SecondFactorType::Fit fit = type->fit(policy, user_policy, state, context);
        if (fit == SecondFactorType::Fit::Applies) {
            if (user_policy.require_unrestricted && type->restricted()) {
                restricted_only = true;
                continue;
            }
            applying.emplace_back(*rank, type);
        } else if (fit == SecondFactorType::Fit::Unavailable && unavailable == nullptr) {
            unavailable = type.get();
        }
    }
    std::stable_sort(applying.begin(), applying.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    if (applying.empty()) {
        if (restricted_only) {
            done(unrestricted_required(context, user_policy.totp));
            return;
        }
        if (unavailable != nullptr) {
            done(unavailable->unavailable(context));
            return;
        }
        two_step::unenrolled_step(deps_.store, deps_.clock, policy, user_policy, context, state,
                                  std::move(done));
        return;
    }
    if (!have_room()) {
        done(Error(Errc::Unavailable, "too many logins are in progress"));
        return;
    }
    std::vector<SecondFactorLogin::Choice> choices;
    std::string ids;
    for (const auto& [rank, type] : applying) {
        choices.push_back({type->label(policy, user_policy, state, context.language),
                           type->create(policy, user_policy, state, context), type->role()});
        ids += (ids.empty() ? "" : ",") + type->id();
    }
    log_event(LogLevel::Info, "login-start", "2-step verification started",
              {{"USER", context.user},
               {"SERVICE", context.service},
               {"RHOST", context.rhost},
               {"METHOD", ids}});
    add_login(*starting,
              std::make_shared<SecondFactorLogin>(deps_.store, deps_.clock, std::move(choices)),
              std::move(loaded), std::move(done));
}

void LoginEngine::run(Pending& pending, bool first, std::string_view answer, Done<Step> done,
                      std::shared_ptr<const UserState> loaded) {
    const MethodEnv env(pending.login, std::move(loaded), event_wait_usec(pending));
    const std::string& id = env.login_id;  // held by `env` when the login ends meanwhile
    std::shared_ptr<LoginMethod> method = pending.method;
    pending.busy = true;
    // The method may answer at once or later; either way `finish` looks the login up
    // again by id, since it may have been cancelled or expired meanwhile. The reply is
    // taken once: a wait that ended (its deadline, a Cancel) has answered it already.
    struct Holder {
        Done<Step> reply;
        std::string id;
    };
    auto holder = std::make_shared<Holder>(Holder{std::move(done), id});
    std::shared_ptr<Done<Step>> reply(holder, &holder->reply);
    auto on_step = [this, holder](Result<Step> result) {
        if (Done<Step> taken = std::exchange(holder->reply, nullptr)) {
            finish(holder->id, std::move(result), taken);
        }
    };
    try {
        if (first) {
            method->begin(env, std::move(on_step));
        } else {
            method->answer(env, answer, std::move(on_step));
        }
        watch_wait(id, *method, reply, env.event_wait_usec);
    } catch (const Error& error) {
        Done<Step> taken = std::exchange(*reply, nullptr);
        logins_.erase(id);
        if (!first || !taken) {
            throw;  // Answer's caller answers with the error
        }
        taken(error);  // Start's reply, which the engine holds from the store's answer on
    } catch (...) {
        *reply = nullptr;
        logins_.erase(id);
        throw;
    }
}

uint64_t LoginEngine::event_wait_usec(const Pending& pending) {
    auto bound = static_cast<uint64_t>(pending.login->policy->login_timeout.count()) * 1000 * 1000;
    uint64_t client = pending.login->context.reply_timeout_usec;
    if (client > 0) {
        bound = std::min(bound, client - 2 * reply_margin_usec(client));
    }
    return bound;
}

void LoginEngine::watch_wait(const std::string& id, const LoginMethod& method,
                             std::shared_ptr<Done<Step>> reply, uint64_t wait_usec) {
    if (!*reply || !method.awaits_event()) {
        return;  // answered already, or waiting for something else (a gateway)
    }
    auto it = logins_.find(id);
    if (it == logins_.end()) {
        return;
    }
    Pending& pending = it->second;
    // The wait is the client's turn: the sweep must not drop the login before its end.
    pending.expires_at = deps_.clock.now() + pending.login->policy->login_timeout.count();
    pending.wait = std::make_unique<Pending::EventWait>();
    pending.wait->reply = std::move(reply);
    try {
        if (deps_.timers == nullptr) {
            throw Error(Errc::Internal, "no timer can bound the wait of the login's method");
        }
        pending.wait->deadline = deps_.timers->after(wait_usec, [this, id] { wait_timed_out(id); });
    } catch (...) {
        logins_.erase(it);  // run() answers with the error
        throw;
    }
}

void LoginEngine::wait_timed_out(const std::string& id) {
    auto it = logins_.find(id);
    if (it == logins_.end()) {
        return;
    }
    Done<Step> reply = take_wait(it->second);
    if (!reply) {
        return;
    }
    const LoginContext& context = it->second.login->context;
    log_event(LogLevel::Notice, "login-wait-timeout",
              "login denied: nothing came from outside before the wait's deadline",
              {{"USER", context.user}, {"SERVICE", context.service}, {"RHOST", context.rhost}});
    // Denied, not unavailable: nothing failed, the confirmation did not come; the stack
    // must not take it for an outage that failmode= or an `ignore` rule would let pass.
    Step step = Step::verdict_of(bus::kVerdictDenied);
    step.error(tr(context.language, "The login was not confirmed in time. Please log in again."));
    finish(id, Result<Step>(std::move(step)), reply);
}

Done<Step> LoginEngine::take_wait(Pending& pending) {
    if (!pending.wait) {
        return nullptr;
    }
    auto wait = std::move(pending.wait);  // its timer goes with it
    return std::exchange(*wait->reply, nullptr);
}

void LoginEngine::end_waits(std::vector<Done<Step>> replies, const char* why) {
    for (auto& reply : replies) {
        if (reply) {
            reply(Result<Step>(Error(Errc::NoSuchLogin, why)));
        }
    }
}

Result<void> LoginEngine::notify(const std::string& id, const LoginEvent& event) {
    auto it = logins_.find(id);
    if (it == logins_.end()) {
        return Error(Errc::NoSuchLogin, "no such login: it has ended, or never was");
    }
    // A login at a prompt may take an event too (a LINE approval that came before the user
    // pressed Enter): its method keeps it for the next answer, or refuses it. One whose
    // method is still working on an answer takes none.
    if (!it->second.wait && it->second.busy) {
        return Error(Errc::InvalidArgument, "the login's method is busy with an answer");
    }
    log_event(
        LogLevel::Debug, "login-event", "outside event for a login: " + event.kind,
        {{"USER", it->second.login->context.user}, {"SERVICE", it->second.login->context.service}});
    // Held here: the method may end the login, and with it the engine's hold on it.
    std::shared_ptr<LoginMethod> method = it->second.method;
    return method->notify(event);
}

void LoginEngine::finish(const std::string& id, Result<Step> result, const Done<Step>& done) {
    auto it = logins_.find(id);
    if (it == logins_.end()) {
        done(Result<Step>(Error(Errc::NoSuchLogin, "the login ended while it was waiting")));
        return;
    }
    Pending& pending = it->second;
    pending.busy = false;
    pending.wait.reset();
    if (!result.ok()) {
        logins_.erase(it);
        done(std::move(result));
        return;
    }
    Step& step = *result;
    const LoginContext& context = pending.login->context;
    if (step.finished()) {
        log_event(step.verdict == bus::kVerdictSuccess ? LogLevel::Info : LogLevel::Notice,
                  "login-end", "login finished: " + step.verdict,
                  {{"USER", context.user},
                   {"SERVICE", context.service},
                   {"RHOST", context.rhost},
                   {"VERDICT", step.verdict}});
        logins_.erase(it);
        done(std::move(result));
        return;
    }
    pending.expires_at = deps_.clock.now() + pending.login->policy->login_timeout.count();
    step.id = id;
    log_event(LogLevel::Debug, "login-step", "login asks: " + step.prompt,
              {{"USER", context.user}, {"MESSAGES", std::to_string(step.messages.size())}});
    done(std::move(result));
}

void LoginEngine::answer(const std::string& id, const std::string& owner,
                         const SecretString& answer, Done<Step> done) {
    auto it = logins_.find(id);
    if (it == logins_.end() || it->second.login->context.owner != owner) {
        throw Error(Errc::NoSuchLogin, "no such login");
    }
    if (deps_.clock.now() >= it->second.expires_at) {
        logins_.erase(it);
        throw Error(Errc::NoSuchLogin, "the login has timed out");
    }
    if (it->second.busy) {
        throw Error(Errc::InvalidArgument,
                    "the previous answer of this login is still being handled");
    }
    done = awaiting_confirmation(it->second.login->context, std::move(done));
    run(it->second, false, answer.view(), std::move(done));
}

void LoginEngine::cancel(const std::string& id, const std::string& owner) {
    auto it = logins_.find(id);
    if (it != logins_.end() && it->second.login->context.owner == owner) {
        const LoginContext& context = it->second.login->context;
        log_event(LogLevel::Info, "login-cancel", "login cancelled by its client",
                  {{"USER", context.user}, {"SERVICE", context.service}});
        Done<Step> reply = take_wait(it->second);
        logins_.erase(it);
        end_waits({std::move(reply)}, "the login was cancelled");
    }
}

void LoginEngine::index_owner(const std::string& owner, const std::string& id) {
    if (by_owner_.size() < 2 * logins_.size() + 64) {
        by_owner_.emplace(owner, id);
        return;
    }
    by_owner_.clear();
    for (const auto& [login_id, pending] : logins_) {
        by_owner_.emplace(pending.login->context.owner, login_id);
    }
}

void LoginEngine::track_starting(const std::shared_ptr<Starting>& starting) {
    // Pruned when it has doubled since the last time, not on every Start: walking it
    // costs time in proportion to the logins starting.
    if (starting_.size() >= 2 * starting_pruned_ + 64) {
        for (auto it = starting_.begin(); it != starting_.end();) {
            it = it->second.expired() ? starting_.erase(it) : std::next(it);
        }
        starting_pruned_ = starting_.size();
    }
    starting_.emplace(starting->context.owner, starting);
}

void LoginEngine::cancel_owner(const std::string& owner) {
    auto [first, last] = starting_.equal_range(owner);
    for (auto it = first; it != last; ++it) {
        if (auto starting = it->second.lock()) {
            starting->abandoned = true;
        }
    }
    starting_.erase(first, last);
    std::erase_if(unconfirmed_, [&](const auto& kept) { return kept.second.owner == owner; });
    std::vector<Done<Step>> replies;
    auto [begin, end] = by_owner_.equal_range(owner);
    for (auto entry = begin; entry != end; ++entry) {
        auto it = logins_.find(entry->second);
        if (it == logins_.end() || it->second.login->context.owner != owner) {
            continue;  // ended already
        }
        const LoginContext& context = it->second.login->context;
        log_event(LogLevel::Notice, "login-abandoned", "login abandoned: its client left the bus",
                  {{"USER", context.user}, {"SERVICE", context.service}});
        replies.push_back(take_wait(it->second));
        logins_.erase(it);
    }
    by_owner_.erase(begin, end);
    end_waits(std::move(replies), "the login's client left the bus");
}

size_t LoginEngine::drop_logins(const std::function<bool(const Pending&)>& drop, const char* why) {
    std::vector<Done<Step>> replies;
    size_t dropped = 0;
    for (auto it = logins_.begin(); it != logins_.end();) {
        if (!drop(it->second)) {
            ++it;
            continue;
        }
        replies.push_back(take_wait(it->second));
        it = logins_.erase(it);
        ++dropped;
    }
    end_waits(std::move(replies), why);
    return dropped;
}

bool LoginEngine::have_room() {
    // The sweep timer drops expired logins every few seconds; walking all of them on
    // every Start would cost time in proportion to the logins waiting. Only when full.
    return logins_.size() < max_pending_ || (expire() > 0 && logins_.size() < max_pending_);
}

bool LoginEngine::unprivileged_over(const LoginContext& context) const {
    if (!context.unprivileged) {
        return false;
    }
    size_t held = 0;
    for (const auto& [id, pending] : logins_) {
        const LoginContext& other = pending.login->context;
        if (other.unprivileged && other.user == context.user &&
            ++held >= kMaxUnprivilegedLoginsPerUser) {
            return true;
        }
    }
    return false;
}

size_t LoginEngine::expire() {
    int64_t now = deps_.clock.now();
    std::erase_if(unconfirmed_, [now](const auto& kept) { return now >= kept.second.expires_at; });
    return drop_logins([&](const Pending& pending) { return now >= pending.expires_at; },
                       "the login has timed out");
}

}  // namespace lwauth
