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

struct CodeSender::Attempt {
    std::string user;
    policy::CodePolicy code_policy;
    SecretString text;
    std::vector<Target> targets;
    size_t next = 0;
    std::string last_error;
    SendOutcomeDone done;
};

bool CodeSender::within_caps(const std::string& user, const std::string& destination_hash,
                             const policy::CodePolicy& code_policy) {
    int64_t since = clock_.now() - kHour;
    const char* which = nullptr;
    if (store_.sends_by_user_since(user, since) >= code_policy.max_sends_per_hour) {
        which = "per-user send cap reached";
    } else if (store_.sends_to_destination_since(destination_hash, since) >=
               code_policy.max_sends_per_destination_per_hour) {
        which = "per-destination send cap reached";
    } else if (store_.sends_since(since) >= code_policy.max_sends_per_host_per_hour) {
        which = "per-host send cap reached";
    }
    if (which != nullptr) {
        log_event(LogLevel::Warning, "send-capped", which, {{"USER", user}});
        return false;
    }
    return true;
}

void CodeSender::add_targets(Attempt& attempt, const policy::Policy& policy, policy::Kind kind,
                             const std::string& destination) const {
    for (const policy::ChannelConfig* config : policy.channels_for(kind)) {
        auto it = channels_.find(config->name);
        if (it != channels_.end()) {
            attempt.targets.push_back({kind, destination, config->name, it->second});
        }
    }
}

void CodeSender::advance(const std::shared_ptr<Attempt>& attempt) {
    if (attempt->next >= attempt->targets.size()) {
        SendOutcome outcome;
        outcome.error = Errc::DeliveryFailed;
        outcome.reason =
            attempt->last_error.empty() ? "no channel can reach this user" : attempt->last_error;
        attempt->done(std::move(outcome));
        return;
    }
    const Target& target = attempt->targets[attempt->next++];
    std::string destination_hash = hasher_.keyed_hex("destination", target.destination);
    if (!within_caps(attempt->user, destination_hash, attempt->code_policy)) {
        // A cap ends the send: falling back to another contact would defeat the cap.
        attempt->done(
            SendOutcome{std::nullopt, Errc::RateLimited, "too many codes were sent recently"});
        return;
    }
    OutgoingMessage message{target.kind, target.destination, attempt->user, attempt->text.clone()};
    // `target` stays valid: targets never change once the attempt has started.
    target.channel->send(message, [this, attempt, &target, destination_hash](SendResult result) {
        on_sent(attempt, target, destination_hash, result);
    });
}

void CodeSender::on_sent(const std::shared_ptr<Attempt>& attempt, const Target& target,
                         const std::string& destination_hash, const SendResult& result) {
    const char* kind = policy::to_string(target.kind);
    if (!result.delivered) {
        attempt->last_error = result.reason;
        log_event(LogLevel::Error, "delivery-failed", "channel could not deliver: " + result.reason,
                  {{"USER", attempt->user},
                   {"CHANNEL", target.channel_name},
                   {"KIND", kind},
                   {"RETRYABLE", result.retryable ? "yes" : "no"}});
        advance(attempt);
        return;
    }
    store_.record_send(attempt->user, destination_hash, clock_.now());
    log_event(LogLevel::Info, "code-sent", "code sent",
              {{"USER", attempt->user}, {"CHANNEL", target.channel_name}, {"KIND", kind}});
    std::string shown = target.kind == policy::Kind::Notification
                            ? std::string("your workplace account")
                            : mask_contact(contact_kind_for(target.kind), target.destination);
    std::optional<policy::Kind> instead_of;
    if (attempt->targets.front().kind != target.kind) {
        instead_of = attempt->targets.front().kind;
    }
    attempt->done(SendOutcome{
        Delivered{target.channel_name, target.kind, shown, instead_of}, Errc::Internal, {}});
}

void CodeSender::send_login_code(const std::string& user, const policy::Policy& policy,
                                 const policy::UserPolicy& user_policy, const UserState& state,
                                 const SecretString& code, SendOutcomeDone done) {
    auto attempt = std::make_shared<Attempt>();
    attempt->user = user;
    attempt->code_policy = user_policy.code;
    attempt->text = compose(CodePurpose::Login, code, user_policy.code);
    attempt->done = std::move(done);
    for (policy::Kind kind : user_policy.code.channels) {
        if (kind == policy::Kind::Notification) {
            add_targets(*attempt, policy, kind, user);
            continue;
        }
        const Contact* contact = state.contact(contact_kind_for(kind));
        if (contact == nullptr ||
            (kind == policy::Kind::Sms && !sms_prefix_allowed(user_policy.code, contact->value))) {
            continue;
        }
        add_targets(*attempt, policy, kind, contact->value);
    }
    advance(attempt);
}

void CodeSender::send_confirmation(const std::string& user, const policy::Policy& policy,
                                   const policy::UserPolicy& user_policy, const Contact& contact,
                                   const SecretString& code, SendOutcomeDone done) {
    auto attempt = std::make_shared<Attempt>();
    attempt->user = user;
    attempt->code_policy = user_policy.code;
    attempt->text = compose(CodePurpose::ConfirmContact, code, user_policy.code);
    attempt->done = std::move(done);
    add_targets(*attempt, policy, contact.kind == "phone" ? policy::Kind::Sms : policy::Kind::Email,
                contact.value);
    advance(attempt);
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
