#include "two_step.hpp"

#include <algorithm>
#include <ctime>

#include "../log.hpp"
#include "lwauth/bus_names.hpp"
#include "lwauth/text.hpp"
#include "remember.hpp"

namespace lwauth {
namespace {

// A moment for a user to read: local time of the host, with its zone.
std::string time_text(int64_t epoch) {
    time_t t = static_cast<time_t>(epoch);
    struct tm tm {};
    char text[64];
    if (localtime_r(&t, &tm) == nullptr ||
        strftime(text, sizeof text, "%Y-%m-%d %H:%M %Z", &tm) == 0) {
        return std::to_string(epoch);
    }
    return text;
}

// "Until 2026-12-17 09:00 UTC, ..." with how to enroll under the policy's contacts rule.
// Enrolling is saving a login contact: the only second factor lwauth has yet.
std::string enroll_grace_text(policy::Contacts contacts, int64_t until, Language language) {
    const char* how = contacts == policy::Contacts::Admin
                          ? tr(language,
                               "Ask your administrator to register your phone number or email "
                               "address.")
                          : tr(language,
                               "Set up your phone number or email address now: lwauthctl contact "
                               "add phone NUMBER (or email ADDRESS).");
    return format_text(tr(language,
                          "2-step verification is required for this account, which has no "
                          "phone number or email address for verification codes yet. You may "
                          "log in without a code until %1$s. %2$s"),
                       {time_text(until), how});
}

// The refusal of a user who has set up no second factor and may not log in without one.
Step refused_step(Language language) {
    Step step = Step::verdict_of(bus::kVerdictDenied);
    step.error(tr(language,
                  "2-step verification is required for this account, but it has no verified phone "
                  "number or email address. Ask your administrator to register one for you."));
    return step;
}

}  // namespace

std::string locked_text(int64_t locked_until, int64_t now, Language language) {
    if (locked_until >= kLockedUntilUnlocked) {
        return tr(language,
                  "Too many failed verification attempts. This account is locked until an "
                  "administrator unlocks it.");
    }
    return format_text(tr(language, "Too many failed verification attempts. Try again in %s."),
                       {duration_text(locked_until - now, language)});
}

std::optional<Step> locked_refusal(int64_t locked_until, int64_t now, Language language) {
    if (locked_until <= now) {
        return std::nullopt;
    }
    Step step = Step::verdict_of(bus::kVerdictMaxTries);
    step.error(locked_text(locked_until, now, language));
    return step;
}

namespace two_step {

bool enrolled_here(const policy::UserPolicy& user_policy, const UserState& state) {
    auto counts = [&](policy::SecondFactor factor) {
        return std::find(user_policy.second_factors.begin(), user_policy.second_factors.end(),
                         factor) != user_policy.second_factors.end();
    };
    bool uncounted_app =
        state.totp_set() && !(user_policy.totp && counts(policy::SecondFactor::Totp));
    bool uncounted_codes = state.recovery_codes > 0 && !counts(policy::SecondFactor::Recovery);
    return state.enrolled && !uncounted_app && !uncounted_codes;
}

void remembered_step(AsyncStore& store, const Clock& clock, const policy::UserPolicy& user_policy,
                     const LoginContext& context, Done<std::optional<Step>> done) {
    if (!remembers_places(user_policy, context)) {
        done(std::optional<Step>());
        return;
    }
    host_remembered(
        store, clock, user_policy, context,
        then<bool>(std::move(done), [user_policy, context](bool remembered,
                                                           Done<std::optional<Step>>& answer) {
            if (!remembered) {
                answer(std::optional<Step>());
                return;
            }
            log_event(LogLevel::Info, "login-remembered",
                      "login finished: success, 2-step verification remembered from this host",
                      {{"USER", context.user},
                       {"SERVICE", context.service},
                       {"RHOST", context.rhost},
                       {"VERDICT", bus::kVerdictSuccess}});
            Step step = Step::verdict_of(bus::kVerdictSuccess);
            step.info(format_text(
                tr(context.language,
                   "No verification code needed: you verified from this host within the last "
                   "%s (lwauthctl forget ends it)."),
                {policy::format_duration(user_policy.remember_host)}));
            answer(std::optional<Step>(std::move(step)));
        }));
}

void remember_place(AsyncStore& store, const Clock& clock, const policy::UserPolicy& user_policy,
                    const LoginContext& context, Done<void> done) {
    if (!remembers_places(user_policy, context)) {
        done(Result<void>());
        return;
    }
    int64_t now = clock.now();
    store.remember_host(
        context.user,
        {context.service, context.origin(), now, now + user_policy.remember_host.count()},
        then<void>(std::move(done), [user_policy, context](Done<void>& remembered) {
            log_event(
                LogLevel::Info, "host-remembered",
                "2-step verification will not be asked again from this host for " +
                    policy::format_duration(user_policy.remember_host),
                {{"USER", context.user}, {"SERVICE", context.service}, {"RHOST", context.rhost}});
            remembered(Result<void>());
        }));
}

namespace {

// The enrolment grace that started at `started`: `success` with how to enroll while it
// lasts, else `denied`.
Step grace_step(policy::Contacts contacts, const policy::UserPolicy& user_policy,
                const LoginContext& context, int64_t started, int64_t now) {
    const std::string& user = context.user;
    int64_t until = started + user_policy.enroll_grace.count();
    if (now < until) {
        log_event(LogLevel::Notice, "login-enroll-grace",
                  "login let in without a code: no contact yet, within enroll_grace",
                  {{"USER", user},
                   {"SERVICE", context.service},
                   {"RHOST", context.rhost},
                   {"VERDICT", bus::kVerdictSuccess},
                   {"DURATION_S", std::to_string(until - now)}});
        Step grace = Step::verdict_of(bus::kVerdictSuccess);
        grace.info(enroll_grace_text(contacts, until, context.language));
        return grace;
    }
    log_event(LogLevel::Notice, "login-enroll-grace-over",
              "login refused: no contact, and enroll_grace has ended",
              {{"USER", user}, {"SERVICE", context.service}, {"RHOST", context.rhost}});
    return refused_step(context.language);
}

}  // namespace

void unenrolled_step(AsyncStore& store, const Clock& clock, const policy::Policy& policy,
                     const policy::UserPolicy& user_policy, const LoginContext& context,
                     const UserState& state, Done<Step> done) {
    if (user_policy.enroll_grace.count() <= 0 || enrolled_here(user_policy, state)) {
        log_event(LogLevel::Notice, "login-no-contact",
                  "login refused: 2-step verification required but no verified contact",
                  {{"USER", context.user}, {"SERVICE", context.service}, {"RHOST", context.rhost}});
        done(refused_step(context.language));
        return;
    }
    // Rolling 2-step out: a user who has not enrolled yet is let in after the password
    // for a while, counted from their first such login, and told how to enroll.
    int64_t now = clock.now();
    if (state.enroll_grace_started != 0) {
        done(grace_step(policy.contacts, user_policy, context, state.enroll_grace_started, now));
        return;
    }
    store.start_enroll_grace(
        context.user, now,
        then<int64_t>(std::move(done), [contacts = policy.contacts, user_policy, context, now](
                                           int64_t started, Done<Step>& graced) {
            graced(grace_step(contacts, user_policy, context, started, now));
        }));
}

void count_wrong_answer(AsyncStore& store, const Clock& clock,
                        const policy::UserPolicy& user_policy, const LoginContext& context,
                        const char* what, const char* message, Done<std::optional<Step>> done) {
    int64_t duration = user_policy.lockout.duration.count();
    // Counted and, at a limit, locked in one step: another lwauthd on the same store
    // cannot slip a code in between.
    int64_t now = clock.now();
    store.add_failure(
        context.user,
        {.max_failures = user_policy.lockout.max_failures,
         .until = now + duration,
         .max_in_a_row = kMaxFailuresInARow,
         .now = now},
        then<FailureCount>(
            std::move(done), [context, duration, what, message, now](
                                 const FailureCount& count, Done<std::optional<Step>>& next) {
                const Language language = context.language;
                log_event(LogLevel::Notice, what, message,
                          {{"USER", context.user},
                           {"SERVICE", context.service},
                           {"RHOST", context.rhost},
                           {"FAILURES", std::to_string(count.failures)}});
                if (count.locked_before != 0) {
                    // Locked while the code was checked: not counted, and the lock stays.
                    next(locked_refusal(count.locked_before, now, language));
                    return;
                }
                Step step = Step::verdict_of(bus::kVerdictMaxTries);
                if (count.in_a_row >= kMaxFailuresInARow) {
                    // NIST SP 800-63B: no more than 100 in a row, however the lockouts are spaced.
                    log_event(LogLevel::Warning, "locked-out",
                              "account locked until an administrator unlocks it: " +
                                  std::to_string(kMaxFailuresInARow) + " wrong codes in a row",
                              {{"USER", context.user},
                               {"SERVICE", context.service},
                               {"RHOST", context.rhost}});
                    step.error(locked_text(kLockedUntilUnlocked, 0, language));
                    next(std::optional<Step>(std::move(step)));
                    return;
                }
                if (count.locked_until != 0) {
                    log_event(LogLevel::Warning, "locked-out",
                              "account locked after too many wrong codes",
                              {{"USER", context.user},
                               {"SERVICE", context.service},
                               {"RHOST", context.rhost},
                               {"DURATION_S", std::to_string(duration)}});
                    step.error(format_text(tr(language,
                                              "Too many failed verification attempts. Logins to "
                                              "this account are locked for %s."),
                                           {duration_text(duration, language)}));
                    next(std::optional<Step>(std::move(step)));
                    return;
                }
                next(std::optional<Step>());
            }));
}

}  // namespace two_step
}  // namespace lwauth
