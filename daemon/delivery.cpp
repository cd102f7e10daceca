#include "delivery.hpp"

#include "log.hpp"
#include "lwauth/error.hpp"
#include "lwauth/mask.hpp"

namespace lwauth {
namespace {

constexpr int64_t kHour = 3600;

std::string minutes_text(std::chrono::seconds lifetime) {
    auto minutes = lifetime.count() / 60;
    if (minutes >= 1 && lifetime.count() % 60 == 0) {
        return std::to_string(minutes) + (minutes == 1 ? " minute" : " minutes");
    }
    return std::to_string(lifetime.count()) + " seconds";
}

SecretString compose(CodePurpose purpose, const SecretString& code,
                     const policy::CodePolicy& code_policy) {
    std::string text = purpose == CodePurpose::Login ? "lwauth: your verification code is "
                                                     : "lwauth: your confirmation code is ";
    text.append(code.view());
    text +=
        ". It expires in " + minutes_text(code_policy.lifetime) + ". Never share it with anyone.";
    SecretString secret(text);
    wipe_string(text);
    return secret;
}

}  // namespace

const char* contact_kind_for(policy::Kind kind) {
    switch (kind) {
        case policy::Kind::Sms:
            return "phone";
        case policy::Kind::Email:
            return "email";
        case policy::Kind::Notification:
            return "";
    }
    return "";
}

bool sms_prefix_allowed(const policy::CodePolicy& code_policy, const std::string& e164) {
    if (code_policy.sms_country_prefixes.empty()) {
        return true;
    }
    for (const auto& prefix : code_policy.sms_country_prefixes) {
        if (e164.rfind(prefix, 0) == 0) {
            return true;
        }
    }
    return false;
}

void CodeSender::check_caps(const std::string& user, const std::string& destination_hash,
                            const policy::CodePolicy& code_policy) {
    int64_t since = clock_.now() - kHour;
    if (store_.sends_by_user_since(user, since) >= code_policy.max_sends_per_hour) {
        log_event(LogLevel::Warning, "send-capped", "per-user send cap reached", {{"USER", user}});
        throw Error(Errc::RateLimited, "too many codes were sent recently");
    }
    if (store_.sends_to_destination_since(destination_hash, since) >=
        code_policy.max_sends_per_destination_per_hour) {
        log_event(LogLevel::Warning, "send-capped", "per-destination send cap reached",
                  {{"USER", user}});
        throw Error(Errc::RateLimited, "too many codes were sent recently");
    }
    if (store_.sends_since(since) >= code_policy.max_sends_per_host_per_hour) {
        log_event(LogLevel::Warning, "send-capped", "per-host send cap reached", {{"USER", user}});
        throw Error(Errc::RateLimited, "too many codes were sent recently");
    }
}

Delivered CodeSender::send_via_kind(const std::string& user, const policy::Policy& policy,
                                    const policy::UserPolicy& user_policy, policy::Kind kind,
                                    const std::string& destination, const SecretString& text,
                                    std::string* last_error) {
    std::string destination_hash = hasher_.keyed_hex("destination", destination);
    check_caps(user, destination_hash, user_policy.code);
    for (const policy::ChannelConfig* config : policy.channels_for(kind)) {
        auto it = channels_.find(config->name);
        if (it == channels_.end()) {
            continue;
        }
        OutgoingMessage message{kind, destination, user, text.clone()};
        try {
            it->second->send(message);
        } catch (const Error& e) {
            *last_error = e.what();
            log_event(
                LogLevel::Error, "delivery-failed", "channel could not deliver: " + *last_error,
                {{"USER", user}, {"CHANNEL", config->name}, {"KIND", policy::to_string(kind)}});
            continue;
        }
        store_.record_send(user, destination_hash, clock_.now());
        std::string shown = kind == policy::Kind::Notification
                                ? std::string("your workplace account")
                                : mask_contact(contact_kind_for(kind), destination);
        log_event(LogLevel::Info, "code-sent", "code sent",
                  {{"USER", user}, {"CHANNEL", config->name}, {"KIND", policy::to_string(kind)}});
        return {config->name, kind, shown};
    }
    throw Error(Errc::DeliveryFailed, "no channel could deliver");
}

Delivered CodeSender::send_login_code(const std::string& user, const policy::Policy& policy,
                                      const policy::UserPolicy& user_policy, const UserState& state,
                                      const SecretString& code) {
    SecretString text = compose(CodePurpose::Login, code, user_policy.code);
    std::string last_error;
    bool rate_limited = false;
    for (policy::Kind kind : user_policy.code.channels) {
        std::string destination;
        if (kind == policy::Kind::Notification) {
            destination = user;
        } else {
            const Contact* contact = state.contact(contact_kind_for(kind));
            if (contact == nullptr) {
                continue;
            }
            if (kind == policy::Kind::Sms &&
                !sms_prefix_allowed(user_policy.code, contact->value)) {
                continue;
            }
            destination = contact->value;
        }
        try {
            return send_via_kind(user, policy, user_policy, kind, destination, text, &last_error);
        } catch (const Error& e) {
            if (e.code() == Errc::RateLimited) {
                rate_limited = true;
                break;
            }
            if (e.code() != Errc::DeliveryFailed) {
                throw;
            }
        }
    }
    if (rate_limited) {
        throw Error(Errc::RateLimited, "too many codes were sent recently");
    }
    throw Error(Errc::DeliveryFailed,
                last_error.empty() ? "no channel can reach this user" : last_error);
}

Delivered CodeSender::send_confirmation(const std::string& user, const policy::Policy& policy,
                                        const policy::UserPolicy& user_policy,
                                        const Contact& contact, const SecretString& code) {
    SecretString text = compose(CodePurpose::ConfirmContact, code, user_policy.code);
    policy::Kind kind = contact.kind == "phone" ? policy::Kind::Sms : policy::Kind::Email;
    std::string last_error;
    return send_via_kind(user, policy, user_policy, kind, contact.value, text, &last_error);
}

bool CodeSender::reachable(const policy::Policy& policy, const policy::UserPolicy& user_policy,
                           const UserState& state) const {
    for (policy::Kind kind : user_policy.code.channels) {
        if (policy.channels_for(kind).empty()) {
            continue;
        }
        if (kind == policy::Kind::Notification) {
            return true;
        }
        const Contact* contact = state.contact(contact_kind_for(kind));
        if (contact != nullptr &&
            (kind != policy::Kind::Sms || sms_prefix_allowed(user_policy.code, contact->value))) {
            return true;
        }
    }
    return false;
}

}  // namespace lwauth
