// make_channel: one table from a [channel.NAME] type to the class that sends through it.
#include <functional>

#include "channel.hpp"
#include "lwauth/error.hpp"
#include "outbox.hpp"
#include "twilio.hpp"
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
    void send(const OutgoingMessage&, SendDone done) override {
        done(SendResult::failed(name_ + ": " + why_));
    }

  private:
    std::string name_;
    std::string why_;
};

using Builder =
    std::function<std::shared_ptr<Channel>(const policy::ChannelConfig&, http::Client&)>;

// The secret a gateway authenticates with, from the policy's *_file key.
SecretString secret_of(const policy::ChannelConfig& config, const char* key) {
    std::string path = config.option(key);
    if (path.empty()) {
        throw Error(Errc::Internal, std::string(key) + " is not set");
    }
    return read_secret_file(path);
}

const std::map<std::string, Builder>& builders() {
    static const std::map<std::string, Builder> table = {
        {"outbox",
         [](const policy::ChannelConfig& c, http::Client&) {
             return std::make_shared<OutboxChannel>(c.name, c.option("path"));
         }},
        {"webhook",
         [](const policy::ChannelConfig& c, http::Client& client) {
             return std::make_shared<WebhookChannel>(c, client, secret_of(c, "hmac_secret_file"));
         }},
        {"twilio",
         [](const policy::ChannelConfig& c, http::Client& client) {
             return std::make_shared<TwilioChannel>(c, client, secret_of(c, "auth_token_file"));
         }},
    };
    return table;
}

}  // namespace

bool channel_type_available(const std::string& type) {
    return builders().contains(type);
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
