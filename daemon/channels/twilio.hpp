// SMS through Twilio Programmable Messaging:
//
//   POST {base_url}/2010-04-01/Accounts/{AccountSid}/Messages.json
//   Authorization: Basic base64(AccountSid:AuthToken)
//   Content-Type: application/x-www-form-urlencoded
//
//   To=%2B819012345678&From=%2B15005550006&Body=...      (or MessagingServiceSid=MG...)
//   &ValidityPeriod=300                    (the code's lifetime: Twilio drops the message
//                                           if it is still queued then)
//
// 201 carries the message resource ({"sid": "SM...", "status": "queued", ...}). Errors
// carry {"code", "message", "more_info", "status"}: 429 / 20429 and 5xx are worth another
// try; 21211, 21408, 21610, 21612 and 21614 are permanent, each with its reason.
#pragma once

#include "channel.hpp"
#include "http/http_client.hpp"

namespace lwauth {

class TwilioChannel final : public Channel {
  public:
    TwilioChannel(const policy::ChannelConfig& config, http::Client& client,
                  SecretString auth_token);
    [[nodiscard]] const std::string& name() const override { return name_; }
    void send(const OutgoingMessage& message, Done<void> done) override;

  private:
    std::string name_;
    std::string account_sid_;
    std::string from_;
    std::string messaging_service_sid_;
    std::string base_url_;
    std::string ca_file_;
    std::string proxy_;
    std::chrono::milliseconds timeout_;
    http::Client& client_;
    SecretString auth_token_;
};

/// What a Twilio answer means for the message. Never echoes Twilio's `message`, which
/// quotes the destination number.
[[nodiscard]] Result<void> classify_twilio(const std::string& channel,
                                           const http::Response& response);

/// Twilio's ValidityPeriod for a code that stays good for `lifetime`: whole seconds,
/// clamped to the 1-36000 Twilio accepts (error 21624 outside it).
[[nodiscard]] long twilio_validity_period(std::chrono::seconds lifetime);

}  // namespace lwauth
