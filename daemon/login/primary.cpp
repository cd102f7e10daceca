#include "primary.hpp"

#include "lwauth/text.hpp"
#include "menu.hpp"

namespace lwauth {

bool chooses_password(std::string_view answer) {
    answer = trim(answer);
    return answer == "p" || answer == "P";
}

Step PrimaryMenu::menu(Step step, Language language) const {
    step.info(tr(language, "How do you want to log in?"));
    for (size_t i = 0; i < choices_.size(); ++i) {
        add_menu_line(step, i, choices_[i].label);
    }
    step.info(std::string("  p  ") + tr(language, "your password"));
    step.prompt =
        format_text(tr(language, "Choice (1-%s or p): "), {std::to_string(choices_.size())});
    step.echo = true;
    return step;
}

void PrimaryMenu::begin(const MethodEnv& env, Done<Step> done) {
    done(Result<Step>(menu(Step{}, env.context.language)));
}

void PrimaryMenu::answer(const MethodEnv& env, std::string_view answer, Done<Step> done) {
    if (chosen_) {
        chosen_->answer(env, answer, std::move(done));
        return;
    }
    if (chooses_password(answer)) {
        done(Result<Step>(Step::verdict_of(bus::kVerdictIgnore)));
        return;
    }
    std::optional<size_t> index = menu_choice(answer, choices_.size());
    if (!index) {
        Step step;
        step.error(
            tr(env.context.language, "Type a number from the list, or p for your password."));
        done(Result<Step>(menu(std::move(step), env.context.language)));
        return;
    }
    chosen_ = choices_[*index].type->create();
    chosen_->begin(env, std::move(done));
}

bool PrimaryMenu::awaits_event() const {
    return chosen_ && chosen_->awaits_event();
}

Result<void> PrimaryMenu::notify(const LoginEvent& event) {
    return chosen_ ? chosen_->notify(event) : LoginMethod::notify(event);
}

}  // namespace lwauth
