#include "second_factor.hpp"

#include "lwauth/bus_names.hpp"
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
    if (choices_.size() == 1) {
        chosen_ = choices_.front().method;
        chosen_->begin(env, remembering(env, std::move(done)));
        return;
    }
    done(Result<Step>(menu(Step{}, env.context.language)));
}

void SecondFactorLogin::answer(const MethodEnv& env, std::string_view answer, Done<Step> done) {
    if (chosen_) {
        chosen_->answer(env, answer, remembering(env, std::move(done)));
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
    chosen_ = choices_[*index].method;
    choices_.clear();  // the methods not chosen never begin
    chosen_->begin(env, remembering(env, std::move(done)));
}

}  // namespace lwauth
