// SMS through the Vonage (formerly Nexmo) SMS API:
//
//   POST {base_url}/sms/json
//   Content-Type: application/x-www-form-urlencoded
//
//   api_key=abcd1234&api_secret=...&from=lwauth&to=819012345678&text=...&type=unicode
//
// `type` is "text" (GSM 7-bit, 160 characters a part) when every character of the text is
// in the GSM 03.38 alphabet or its extension table, else "unicode" (UCS-2, 70 a part):
// Japanese sent as "text" would reach the phone as question marks.
//
// `to` is the E.164 number without its '+'. Vonage answers HTTP 200 whatever happened;
// the outcome is the per-part "status" in {"message-count": "1", "messages": [{"status":
// "0", ...}]}: "0" is accepted, "1" (Throttled) and "5" (Internal Error) are worth another
// try, every other status is permanent, each with its reason. HTTP 429 and 5xx are worth
// another try too. Vonage's "error-text" is never logged: it may quote the number.
#pragma once

#include <string_view>

#include "channel.hpp"
#include "http/http_client.hpp"

namespace lwauth {

class VonageChannel final : public Channel {
  public:
    VonageChannel(const policy::ChannelConfig& config, http::Client& client,
                  SecretString api_secret);
    [[nodiscard]] const std::string& name() const override { return name_; }
    void send(const OutgoingMessage& message, Done<void> done) override;

  private:
    std::string name_;
    std::string api_key_;
    std::string from_;
    std::string base_url_;
    std::string ca_file_;
    std::string proxy_;
    std::chrono::milliseconds timeout_;
    http::Client& client_;
    SecretString api_secret_;
};

/// The `from` Vonage wants: a number in E.164 without its leading "+" (or "00"), an
/// alphanumeric sender ID as it is.
[[nodiscard]] std::string vonage_sender(std::string_view from);

/// Vonage's `type` for a UTF-8 text: "text" when every character is in the GSM 03.38
/// default alphabet or its extension table, else "unicode" (malformed UTF-8 included).
[[nodiscard]] std::string_view vonage_type(std::string_view text);

/// The form body of one SMS: `destination` is E.164 (its '+' is dropped), `from` as
/// vonage_sender gives it, `type` as vonage_type gives it.
[[nodiscard]] std::string vonage_form(const std::string& api_key, std::string_view api_secret,
                                      const std::string& from, const std::string& destination,
                                      std::string_view text);

/// What a Vonage answer means for the message. Never echoes Vonage's "error-text".
[[nodiscard]] Result<void> classify_vonage(const std::string& channel,
                                           const http::Response& response);

}  // namespace lwauth
