// make_channel: one table from a [channel.NAME] type to the class that sends through it.
// The types and their keys are the policy's channel schemas (lwauth/policy.hpp,
// channel_type_names() and is_channel_secret_key()); this file only adds the classes.
#include <unistd.h>

#include <algorithm>
#include <functional>

#include "channel.hpp"
#include "line_push.hpp"
#include "lineworks.hpp"
#include "lwauth/error.hpp"
#include "outbox.hpp"
#include "smtp.hpp"
#include "twilio.hpp"
#include "vonage.hpp"
#include "webhook.hpp"

namespace lwauth {
namespace {

// A channel that cannot send, and says why each time, so that policy order and fallback
// stay as the administrator wrote them.
class BrokenChannel final : public Channel {
  public:
    BrokenChannel(std::string name, std::string why)
        : name_(std::move(name)), why_(std::move(why)) {}
    [[nodiscard]] const std::string& name() const override { return name_; }
    void send(const OutgoingMessage&, Done<void> done) override {
        done(send_failure(name_ + ": " + why_));
    }

  private:
    std::string name_;
    std::string why_;
};

using Builder =
    std::function<std::shared_ptr<Channel>(const policy::ChannelConfig&, http::Client&)>;

// The secret a gateway authenticates with, from the policy's *_file key: one the channel
// schema (policy_channels.cpp) declares a secret file of the type, and so checked at load.
SecretString secret_of(const policy::ChannelConfig& config, const char* key) {
    if (!policy::is_channel_secret_key(config.type, key)) {
        throw Error(Errc::Internal,
                    std::string(key) + " is not a secret file of channel type " + config.type);
    }
    std::string path = config.option(key);
    if (path.empty()) {
        throw Error(Errc::Internal, std::string(key) + " is not set");
    }
    return read_secret_file(path, this_process_reader());
}

const std::map<std::string, Builder>& builders() {
    static const std::map<std::string, Builder> table = {
        {"lineworks",
         [](const policy::ChannelConfig& c, http::Client& client) {
             return std::make_shared<LineWorksChannel>(
                 c, client, secret_of(c, "client_secret_file"), secret_of(c, "private_key_file"));
         }},
        {"outbox",
         [](const policy::ChannelConfig& c, http::Client&) {
             return std::make_shared<OutboxChannel>(c.name, c.option("path"));
         }},
        {"webhook",
         [](const policy::ChannelConfig& c, http::Client& client) {
             return std::make_shared<WebhookChannel>(c, client, secret_of(c, "hmac_secret_file"));
         }},
        {"smtp",
         [](const policy::ChannelConfig& c, http::Client& client) {
             // The policy requires username and password_file together.
             return std::make_shared<SmtpChannel>(
                 c, client,
                 c.option("username").empty() ? SecretString() : secret_of(c, "password_file"));
         }},
        {"twilio",
         [](const policy::ChannelConfig& c, http::Client& client) {
             return std::make_shared<TwilioChannel>(c, client, secret_of(c, "auth_token_file"));
         }},
        {"vonage",
         [](const policy::ChannelConfig& c, http::Client& client) {
             return std::make_shared<VonageChannel>(c, client, secret_of(c, "api_secret_file"));
         }},
        {"line",
         [](const policy::ChannelConfig& c, http::Client& client) {
             return std::make_shared<LinePushChannel>(c, client,
                                                      secret_of(c, "channel_access_token_file"));
         }},
    };
    return table;
}

}  // namespace

// The types come from the policy's channel schemas: a type is available when this build
// has a class for it (tests/unit/channel_factory_test.cpp: every one does).
bool channel_type_available(const std::string& type) {
    auto names = policy::channel_type_names();
    return builders().contains(type) && std::find(names.begin(), names.end(), type) != names.end();
}

std::shared_ptr<Channel> make_channel(const policy::ChannelConfig& config, http::Client& client) {
    auto it = builders().find(config.type);
    if (it == builders().end()) {
        return std::make_shared<BrokenChannel>(
            config.name, "channel type '" + config.type + "' is not available in this build");
    }
    try {
        return it->second(config, client);
    } catch (const Error& e) {
        return std::make_shared<BrokenChannel>(config.name, e.what());
    }
}

}  // namespace lwauth
