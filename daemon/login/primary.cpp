#include "primary.hpp"

#include "lwauth/text.hpp"
#include "menu.hpp"

namespace lwauth {

bool chooses_password(std::string_view answer) {
    answer = trim(answer);
    return answer == "p" || answer == "P";
}

Step PrimaryMenu::menu(Step step) const {
    step.info("How do you want to log in?");
    for (size_t i = 0; i < choices_.size(); ++i) {
        add_menu_line(step, i, choices_[i].label);
    }
    step.info("  p  your password");
    step.prompt = "Choice (1-" + std::to_string(choices_.size()) + " or p): ";
    step.echo = true;
    return step;
}

void PrimaryMenu::begin(const MethodEnv&, Done<Step> done) {
    done(Result<Step>(menu(Step{})));
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
        step.error("Type a number from the list, or p for your password.");
        done(Result<Step>(menu(std::move(step))));
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
