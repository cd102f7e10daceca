// A delivery channel: something that can put a short text in front of a person.
#pragma once

#include <memory>
#include <string>

#include "lwauth/policy.hpp"
#include "lwauth/secret.hpp"

namespace lwauth {

struct OutgoingMessage {
    policy::Kind kind;        // what the destination is: a phone (sms), an email address...
    std::string destination;  // E.164 number or address, in full: only a channel sees it
    std::string user;         // the account it is for (a notification's addressee)
    SecretString text;        // holds the code
};

class Channel {
  public:
    virtual ~Channel() = default;
    /// The [channel.NAME] this came from.
    [[nodiscard]] virtual const std::string& name() const = 0;
    /// Delivers the message or throws Error(DeliveryFailed) saying why (without the text).
    virtual void send(const OutgoingMessage& message) = 0;
};

/// Builds the channel for a [channel.NAME] section. Types that this build cannot deliver
/// through yet give a channel whose every send fails with a clear reason, so policy order
/// and fallback stay as the administrator wrote them.
[[nodiscard]] std::unique_ptr<Channel> make_channel(const policy::ChannelConfig& config);

}  // namespace lwauth
