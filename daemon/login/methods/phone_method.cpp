#include "phone_method.hpp"

#include "lwauth/mask.hpp"

namespace lwauth {

std::string PhoneMethodType::label(const UserState& state, Language language) const {
    const Contact* phone = state.contact("phone");
    if (phone == nullptr) {
        return tr(language, "a code sent to your phone");
    }
    return format_text(tr(language, "a code sent to your phone (%s)"),
                       {mask_contact("phone", phone->value)});
}

bool PhoneMethodType::offered(const policy::Policy& policy, const policy::UserPolicy& user_policy,
                              const UserState& state, const LoginContext& context) const {
    return user_policy.login_with_phone && state.contact("phone") != nullptr &&
           !policy.channels_for(policy::Kind::Sms).empty() &&
           policy.phone_login.allow(context.service, context.rhost);
}

std::shared_ptr<LoginMethod> PhoneMethodType::create() const {
    CodeMethod::Options options;
    // The phone, by SMS; a service notification when SMS cannot arrive (or on `n`).
    options.kinds = {policy::Kind::Sms, policy::Kind::Notification};
    options.password_instead = true;
    return std::make_shared<CodeMethod>(deps_, std::move(options));
}

}  // namespace lwauth
