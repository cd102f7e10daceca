#include "line_method.hpp"

#include <cctype>
#include <utility>
#include <vector>

#include "../../log.hpp"
#include "../passwordless.hpp"
#include "../two_step.hpp"
#include "lwauth/error.hpp"
#include "lwauth/qr.hpp"
#include "lwauth/secret.hpp"

namespace lwauth {
namespace {

using Kind = line::ApprovalOutcome::Kind;

constexpr std::pair<Kind, const char*> kKindNames[] = {
    {Kind::Approved, "approved"},
    {Kind::Refused, "refused"},
    {Kind::Expired, "expired"},
    {Kind::Failed, "failed"},
};

const char* kind_name(Kind kind) {
    for (const auto& [each, name] : kKindNames) {
        if (each == kind) {
            return name;
        }
    }
    return "failed";
}

std::string value_of(const LoginEvent& event, const char* key) {
    auto it = event.data.find(key);
    return it == event.data.end() ? std::string() : it->second;
}

// The hashes under earlier keys in one event value: lower-case hex, joined by ','.
std::string join_hashes(const std::vector<std::string>& hashes) {
    std::string joined;
    for (const std::string& hash : hashes) {
        if (!joined.empty()) {
            joined += ',';
        }
        joined += hash;
    }
    return joined;
}

std::vector<std::string> split_hashes(std::string_view joined) {
    std::vector<std::string> hashes;
    while (!joined.empty()) {
        size_t comma = joined.find(',');
        hashes.emplace_back(joined.substr(0, comma));
        joined = comma == std::string_view::npos ? std::string_view() : joined.substr(comma + 1);
    }
    return hashes;
}

// The hash under an earlier key that `link` is, or nullptr: each compared in constant time,
// and all of them, whichever matches.
const std::string* old_match(const std::string& link, const std::vector<std::string>& old) {
    const std::string* found = nullptr;
    for (const std::string& hash : old) {
        if (!hash.empty() && secret_equal(hash, link) && found == nullptr) {
            found = &hash;
        }
    }
    return found;
}

constexpr const char* kPrompt = N_("Approve in LINE, then press Enter (p for your password): ");
constexpr uint64_t kSecond = 1000 * 1000;

// The first step: the link, its QR code and the number to pick.
Step offer_step(const line::ApprovalOffer& offer, Language language) {
    Step step;
    step.info(tr(language, "Log in with LINE: open this link on your phone or scan the code"));
    step.info(offer.url);
    try {
        for (std::string& line : qr_lines(offer.url)) {
            step.info(std::move(line));
        }
    } catch (const Error&) {
        // A link too long for a code that fits the terminal: the link alone.
    }
    step.info(format_text(tr(language, "Then pick this number in LINE: %s"),
                          {std::to_string(offer.number)}));
    step.prompt = tr(language, kPrompt);
    step.echo = true;
    return step;
}

// Nothing was proven either way: the password (and 2-step after it) decides.
Step password_instead(const std::string& why, Language language) {
    Step step = Step::verdict_of(bus::kVerdictIgnore);
    step.error(why);
    step.info(tr(language, "Log in with your password instead."));
    return step;
}

// The outcome's reason as a sentence for the terminal (LineFlows gives "refused in LINE",
// as its log and lwauthctl use it), or `fallback` when it gives none.
// LineFlows' reason (an English msgid) in the login's language as a sentence, or
// `fallback` when it gave none.
std::string or_default(const std::string& why, const char* fallback, Language language) {
    if (why.empty()) {
        return fallback;
    }
    std::string text = tr(language, why.c_str());
    text[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
    // A Japanese sentence ends with its own full stop.
    if (text.back() != '.' && !text.ends_with("\u3002")) {
        text += '.';
    }
    return text;
}

}  // namespace

LoginEvent line_approval_event(const line::ApprovalOutcome& outcome) {
    LoginEvent event{kLineApprovalEvent,
                     {{"kind", kind_name(outcome.kind)},
                      {"why", outcome.why},
                      {"counts", outcome.counts_as_failure ? "yes" : "no"}}};
    if (outcome.kind == Kind::Approved) {
        event.data["subject_hash"] = outcome.subject_hash;
        event.data["old_subject_hashes"] = join_hashes(outcome.old_subject_hashes);
    }
    return event;
}

std::optional<line::ApprovalOutcome> line_approval_outcome(const LoginEvent& event) {
    if (event.kind != kLineApprovalEvent) {
        return std::nullopt;
    }
    std::string kind = value_of(event, "kind");
    for (const auto& [each, name] : kKindNames) {
        if (kind == name) {
            line::ApprovalOutcome outcome;
            outcome.kind = each;
            outcome.subject_hash = value_of(event, "subject_hash");
            outcome.old_subject_hashes = split_hashes(value_of(event, "old_subject_hashes"));
            outcome.why = value_of(event, "why");
            outcome.counts_as_failure = value_of(event, "counts") == "yes";
            return outcome;
        }
    }
    return std::nullopt;
}

LineMethod::~LineMethod() {
    if (offered_to_.empty()) {
        return;
    }
    try {
        deps_.approvals.withdraw(offered_to_);
    } catch (const std::exception& e) {
        log_event(LogLevel::Error, "line-withdraw-failed",
                  std::string("a LINE approval could not be withdrawn: ") + e.what());
    }
}

void LineMethod::begin(const MethodEnv& env, Done<Step> done) {
    env_.emplace(env.login, nullptr, env.event_wait_usec);
    const LoginContext& context = env.context;
    line::ApprovalRequest request{line::ApprovalRequest::Purpose::Login,
                                  context.user,
                                  context.service,
                                  context.rhost,
                                  env.login_id,
                                  context.language};
    // Through the engine, which drops an outcome for a login that has ended.
    auto sink = [notify = deps_.notify, id = env.login_id](const line::ApprovalOutcome& outcome) {
        Result<void> taken = notify(id, line_approval_event(outcome));
        if (!taken) {
            log_event(
                LogLevel::Debug, "line-outcome",
                std::string("a LINE approval's outcome was not taken: ") + taken.error().what());
        }
    };
    Result<line::ApprovalOffer> offer = deps_.approvals.offer(request, std::move(sink));
    if (!offer) {
        if (offer.error().code() != Errc::Unavailable) {
            done(offer.error());
            return;
        }
        log_event(LogLevel::Warning, "line-unavailable",
                  std::string("LINE login not started: ") + offer.error().what(),
                  {{"USER", context.user}, {"SERVICE", context.service}, {"RHOST", context.rhost}});
        done(password_instead(tr(context.language, "LINE cannot be used to log in now."),
                              context.language));
        return;
    }
    offered_to_ = env.login_id;
    done(offer_step(*offer, context.language));
}

void LineMethod::answer(const MethodEnv& env, std::string_view answer, Done<Step> done) {
    if (!arrived_ && chooses_password(answer)) {
        // Before LINE has answered: nothing was checked, and the link dies now.
        deps_.approvals.withdraw(std::exchange(offered_to_, std::string()));
        done(Step::verdict_of(bus::kVerdictIgnore));
        return;
    }
    if (verdict_) {
        Result<Step> verdict = std::move(*verdict_);
        verdict_.reset();
        done(std::move(verdict));
        return;
    }
    // Enter (or anything else) before the outcome, or while it is judged.
    hold(env, std::move(done));
}

void LineMethod::hold(const MethodEnv& env, Done<Step> done) {
    held_ = std::move(done);  // awaits_event() from now on
    // The engine denies the login when its wait for the event ends (the client's reply
    // timeout, less margins), while the link lives on for [line] link_lifetime: a user who
    // pressed Enter before approving is asked again a second before that, instead.
    uint64_t wait = env.event_wait_usec;
    uint64_t lead = wait > 2 * kSecond ? wait - kSecond : wait / 2;
    std::weak_ptr<LineMethod> weak = self();
    ask_again_ = deps_.timers.after(lead, [weak] {
        auto method = weak.lock();
        if (!method || !method->held_) {
            return;
        }
        Language language = method->env_->context.language;
        Step step;
        step.info(tr(language, "LINE has not answered yet."));
        step.prompt = tr(language, kPrompt);
        step.echo = true;
        Done<Step> held = std::exchange(method->held_, nullptr);
        method->ask_again_.reset();  // this timer: destroying it from its callback is allowed
        held(Result<Step>(std::move(step)));
    });
}

Result<void> LineMethod::notify(const LoginEvent& event) {
    std::optional<line::ApprovalOutcome> outcome = line_approval_outcome(event);
    if (!outcome || arrived_ || !env_) {
        return LoginMethod::notify(event);
    }
    arrived_ = true;
    offered_to_.clear();  // the approval is over: nothing left to withdraw
    const LoginContext& context = env_->context;
    log_event(LogLevel::Info, "line-outcome",
              std::string("LINE approval outcome: ") + kind_name(outcome->kind),
              {{"USER", context.user}, {"SERVICE", context.service}, {"RHOST", context.rhost}});
    judge(*outcome, [self = self()](Result<Step> verdict) { self->decided(std::move(verdict)); });
    return {};
}

void LineMethod::decided(Result<Step> verdict) {
    ask_again_.reset();
    if (held_) {
        std::exchange(held_, nullptr)(std::move(verdict));
        return;
    }
    verdict_ = std::move(verdict);
}

void LineMethod::judge(const line::ApprovalOutcome& outcome, Done<Step> done) {
    if (outcome.kind == Kind::Approved) {
        approved(outcome.subject_hash, outcome.old_subject_hashes, std::move(done));
        return;
    }
    // A link left to expire is a login started and not finished in LINE: denied as a
    // refusal is, and counted when the outcome counts (LineFlows counts every expiry).
    Language language = env_->context.language;
    if (outcome.kind == Kind::Expired) {
        refused(tr(language, "The LINE link expired before it was approved. Log in again."),
                outcome.counts_as_failure, std::move(done));
        return;
    }
    // A wrong number, a refusal or a token that did not verify: someone tried.
    if (outcome.counts_as_failure || outcome.kind == Kind::Refused) {
        refused(or_default(outcome.why, tr(language, "The login was refused in LINE."), language),
                outcome.counts_as_failure, std::move(done));
        return;
    }
    // LINE or the endpoint failed: nothing was checked either way.
    done(password_instead(
        or_default(outcome.why, tr(language, "LINE could not confirm the login."), language),
        language));
}

void LineMethod::approved(const std::string& subject_hash, const std::vector<std::string>& old,
                          Done<Step> done) {
    // Read now: the link may have changed since the login started.
    deps_.store.load_user(
        env_->context.user,
        then<UserState>(std::move(done), [self = self(), subject_hash, old](const UserState& state,
                                                                            Done<Step>& next_done) {
            const MethodEnv& env = *self->env_;
            if (auto locked = locked_refusal(state.locked_until, self->deps_.clock.now(),
                                             env.context.language)) {
                next_done(std::move(*locked));
                return;
            }
            if (subject_hash.empty() || state.line_link.empty()) {
                self->other_account(std::move(next_done));
                return;
            }
            if (secret_equal(subject_hash, state.line_link)) {
                self->linked(state, std::move(next_done));
                return;
            }
            const std::string* under_old = old_match(state.line_link, old);
            if (under_old == nullptr) {
                self->other_account(std::move(next_done));
                return;
            }
            self->relink(state, *under_old, subject_hash, std::move(next_done));
        }));
}

void LineMethod::relink(const UserState& state, const std::string& old_hash,
                        const std::string& subject_hash, Done<Step> done) {
    // The link was made under an earlier subject key: kept again under the current one
    // before the verdict, so that the next login matches without the old key.
    deps_.store.replace_line_link(
        env_->context.user, old_hash, subject_hash,
        then<bool>(std::move(done),
                   [self = self(), state, subject_hash](bool replaced, Done<Step>& next_done) {
                       const LoginContext& context = self->env_->context;
                       if (!replaced) {
                           // Unlinked or linked anew since it was read: that link decides, read
                           // again and matched under the current key alone (no second replace).
                           self->approved(subject_hash, {}, std::move(next_done));
                           return;
                       }
                       log_event(LogLevel::Notice, "line-relinked",
                                 "LINE link kept again under the current subject key",
                                 {{"USER", context.user}, {"SERVICE", context.service}});
                       self->linked(state, std::move(next_done));
                   }));
}

void LineMethod::linked(const UserState& state, Done<Step> done) {
    if (state.failures == 0 && state.locked_until == 0 && state.passwordless_failures == 0) {
        done(Step::verdict_of(bus::kVerdictSuccess));
        return;
    }
    // A write (and its fsync) only when there is something to clear.
    deps_.store.clear_failures(env_->context.user,
                               then<void>(std::move(done), [](Done<Step>& cleared) {
                                   cleared(Step::verdict_of(bus::kVerdictSuccess));
                               }));
}

void LineMethod::other_account(Done<Step> done) {
    const LoginContext& context = env_->context;
    log_event(LogLevel::Notice, "line-other-account",
              "LINE approval by an account that is not the user's link",
              {{"USER", context.user}, {"SERVICE", context.service}, {"RHOST", context.rhost}});
    refused(tr(context.language, "This LINE account is not the one linked to your login."), true,
            std::move(done));
}

void LineMethod::refused(const std::string& why, bool counts, Done<Step> done) {
    Step step = Step::verdict_of(bus::kVerdictDenied);
    step.error(why);
    if (!counts) {
        done(std::move(step));
        return;
    }
    // Before any password: counted apart, and never a lock of the account.
    const MethodEnv& env = *env_;
    passwordless::count_failure(
        deps_.store, deps_.clock, env.user_policy, env.context,
        then<bool>(std::move(done), [step](bool suspended, Done<Step>& next_done) mutable {
            if (suspended) {
                step.verdict = bus::kVerdictMaxTries;
            }
            next_done(std::move(step));
        }));
}

bool LineMethodType::offered(const policy::Policy&, const policy::UserPolicy& user_policy,
                             const UserState& state, const LoginContext&) const {
    return user_policy.login_with_line && state.line_linked && deps_.approvals.configured();
}

std::shared_ptr<LoginMethod> LineMethodType::create() const {
    return std::make_shared<LineMethod>(deps_);
}

}  // namespace lwauth
