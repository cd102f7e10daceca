#include "second_factor.hpp"

#include <algorithm>

#include "lwauth/bus_names.hpp"
#include "lwauth/text.hpp"
#include "menu.hpp"
#include "remember.hpp"
#include "two_step.hpp"

namespace lwauth {

Step SecondFactorLogin::menu(Step step, Language language) const {
    step.info(tr(language, "How do you want to verify your login?"));
    for (size_t i = 0; i < choices_.size(); ++i) {
        add_menu_line(step, i, choices_[i].label);
    }
    step.prompt = format_text(tr(language, "Choice (1-%s): "), {std::to_string(choices_.size())});
    step.echo = true;
    return step;
}

Done<Step> SecondFactorLogin::remembering(const MethodEnv& env, Done<Step> done) const {
    if (!remembers_places(env.user_policy, env.context)) {
        return done;  // nothing to record: two_step::remember_place would do nothing
    }
    // The store and the clock are the daemon's and outlive every login; `env` holds the
    // login's data.
    return [&store = store_, &clock = clock_, env,
            done = std::move(done)](Result<Step> result) mutable {
        if (result.ok() && result->verdict == bus::kVerdictSuccess) {
            two_step::remember_place(
                store, clock, env.user_policy, env.context,
                then<void>(std::move(done), [step = std::move(*result)](Done<Step>& told) mutable {
                    told(std::move(step));
                }));
            return;
        }
        done(std::move(result));
    };
}

void SecondFactorLogin::begin(const MethodEnv& env, Done<Step> done) {
    using Role = SecondFactorType::Role;
    std::vector<Choice> rest;
    for (Choice& choice : choices_) {
        if (choice.role == Role::AnyPrompt && !any_prompt_) {
            any_prompt_ = std::move(choice);
        } else {
            rest.push_back(std::move(choice));
        }
    }
    choices_.clear();
    if (rest.empty()) {
        // Only recovery codes: asked for as the one method.
        std::shared_ptr<LoginMethod> method = any_prompt_->method;
        any_prompt_.reset();
        begin_chosen(env, std::move(method), std::move(done));
        return;
    }
    auto role_is = [&](Role role) {
        return std::find_if(rest.begin(), rest.end(),
                            [role](const Choice& choice) { return choice.role == role; });
    };
    if (auto asks = role_is(Role::Asks); asks != rest.end()) {
        // Nothing is sent unless the user asks for it (`s`).
        if (auto sends = role_is(Role::Sends); sends != rest.end()) {
            sends_ = *sends;
        }
        begin_chosen(env, asks->method, std::move(done));
        return;
    }
    if (rest.size() == 1) {
        begin_chosen(env, rest.front().method, std::move(done));
        return;
    }
    choices_ = std::move(rest);
    done(Result<Step>(menu(Step{}, env.context.language)));
}

void SecondFactorLogin::begin_chosen(const MethodEnv& env, std::shared_ptr<LoginMethod> method,
                                     Done<Step> done) {
    chosen_ = std::move(method);
    chosen_->begin(env, prompting(env, true, remembering(env, std::move(done))));
}

Done<Step> SecondFactorLogin::prompting(const MethodEnv& env, bool first, Done<Step> done) {
    auto self = std::static_pointer_cast<SecondFactorLogin>(shared_from_this());
    Language language = env.context.language;
    return [self, first, language, done = std::move(done)](Result<Step> result) mutable {
        if (result.ok() && !result->finished() && !result->prompt.empty()) {
            self->prompt_ = result->prompt;
            self->echo_ = result->echo;
            if (first && self->sends_) {
                result->info(
                    format_text(tr(language, "Or type s for %s instead."), {self->sends_->label}));
            }
            if (first && self->any_prompt_) {
                result->info(tr(language, "A recovery code is accepted here too."));
            }
        }
        done(std::move(result));
    };
}

void SecondFactorLogin::answer(const MethodEnv& env, std::string_view answer, Done<Step> done) {
    if (any_prompt_ && any_prompt_->method->recognises(answer)) {
        // A recovery code where another method asks: a wrong one is told, and the same
        // prompt (or the choice) is asked again.
        auto self = std::static_pointer_cast<SecondFactorLogin>(shared_from_this());
        Language language = env.context.language;
        any_prompt_->method->answer(
            env, answer,
            remembering(env, [self, language, done = std::move(done)](Result<Step> result) {
                if (result.ok() && !result->finished()) {
                    if (self->chosen_) {
                        result->prompt = self->prompt_;
                        result->echo = self->echo_;
                    } else {
                        Step step = std::move(*result);
                        step.prompt.clear();
                        result = Result<Step>(self->menu(std::move(step), language));
                    }
                }
                done(std::move(result));
            }));
        return;
    }
    if (chosen_ && sends_ && (trim(answer) == "s" || trim(answer) == "S")) {
        std::shared_ptr<LoginMethod> method = sends_->method;
        sends_.reset();
        begin_chosen(env, std::move(method), std::move(done));
        return;
    }
    if (chosen_) {
        chosen_->answer(env, answer, prompting(env, false, remembering(env, std::move(done))));
        return;
    }
    std::optional<size_t> index = menu_choice(answer, choices_.size());
    if (!index) {
        // Nothing secret was asked: a slip of the finger gets one more chance, but the
        // prompt does not turn into a loop for whoever holds the password.
        Step step;
        if (retries_left_-- > 0) {
            step.error(tr(env.context.language, "Type a number from the list."));
            done(Result<Step>(menu(std::move(step), env.context.language)));
            return;
        }
        step.error(
            tr(env.context.language, "That is not one of the choices. Log in again to choose."));
        step.verdict = bus::kVerdictDenied;
        done(Result<Step>(std::move(step)));
        return;
    }
    std::shared_ptr<LoginMethod> method = choices_[*index].method;
    choices_.clear();  // the methods not chosen never begin
    begin_chosen(env, std::move(method), std::move(done));
}

}  // namespace lwauth
