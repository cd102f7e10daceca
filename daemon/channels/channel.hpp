// A delivery channel: something that can put a short text in front of a person.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "lwauth/error.hpp"
#include "lwauth/i18n.hpp"
#include "lwauth/policy.hpp"
#include "lwauth/result.hpp"
#include "lwauth/secret.hpp"

namespace lwauth {

struct OutgoingMessage {
    policy::Kind kind;        // what the destination is: a phone (sms), an email address...
    std::string destination;  // E.164 number or address, in full: only a channel sees it
    std::string user;         // the account it is for (a notification's addressee)
    SecretString text;        // holds the code
    // How long the code stays good; a gateway that queues may drop it after that. 0: not
    // said.
    std::chrono::seconds lifetime{0};
    // The language `text` is in, for what a channel adds of its own (an email's subject).
    Language language = Language::En;
};

/// A failed send: DeliveryFailed, or Unavailable when the gateway may take it later
/// (throttled, 5xx, timeout). `why` explains it for the log; it never holds the text.
[[nodiscard]] inline Error send_failure(const std::string& why, bool may_retry = false) {
    return Error(may_retry ? Errc::Unavailable : Errc::DeliveryFailed, why);
}

/// Whether a later try of a failed send may work (see send_failure).
[[nodiscard]] inline bool retryable(const Error& failure) noexcept {
    return failure.code() == Errc::Unavailable;
}

class Channel {
  public:
    virtual ~Channel() = default;
    /// The [channel.NAME] this came from.
    [[nodiscard]] virtual const std::string& name() const = 0;
    /// Starts delivering the message and calls `done` exactly once, from the event loop
    /// or before returning: success when the gateway took it, else a send_failure(). A
    /// channel copies what it needs of the message: the message may be gone when `done`
    /// runs. Never throws for a delivery failure.
    virtual void send(const OutgoingMessage& message, Done<void> done) = 0;
};

namespace http {
class Client;
}

/// Builds the channel for a [channel.NAME] section; HTTP gateways send through `client`.
/// A channel that cannot work (a type this build cannot deliver through yet, a secret file
/// that cannot be read) is still built, and fails every send with the reason, so policy
/// order and fallback stay as the administrator wrote them.
[[nodiscard]] std::shared_ptr<Channel> make_channel(const policy::ChannelConfig& config,
                                                    http::Client& client);

/// Whether this build can send through a channel type.
[[nodiscard]] bool channel_type_available(const std::string& type);

}  // namespace lwauth
