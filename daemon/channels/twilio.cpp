#include "twilio.hpp"

#include "gateway.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "../http/url.hpp"
#include "../log.hpp"

namespace lwauth {
namespace {

// Twilio error codes that no retry will fix, and what they mean for an administrator.
// https://www.twilio.com/docs/api/errors
struct PermanentError {
    int code;
    const char* reason;
};
constexpr PermanentError kPermanent[] = {
    {20003, "authentication failed: check account_sid and auth_token_file"},
    {21211, "the destination is not a valid phone number"},
    {21408, "sending to this region is not enabled on the Twilio account"},
    {21610, "the recipient has opted out of messages from this sender (STOP)"},
    {21612, "Twilio cannot route a message from this sender to this number"},
    {21614, "the destination is not a mobile number"},
};

}  // namespace

long twilio_validity_period(std::chrono::seconds lifetime) {
    return std::clamp<long>(static_cast<long>(lifetime.count()), 1, 36000);
}

TwilioChannel::TwilioChannel(const policy::ChannelConfig& config, http::Client& client,
                             SecretString auth_token)
    : name_(config.name),
      account_sid_(config.option("account_sid")),
      from_(config.option("from")),
      messaging_service_sid_(config.option("messaging_service_sid")),
      base_url_(config.option("base_url")),
      ca_file_(config.option("ca_file")),
      proxy_(config.option("proxy")),
      timeout_(std::chrono::duration_cast<std::chrono::milliseconds>(config.timeout)),
      client_(client),
      auth_token_(std::move(auth_token)) {
    while (!base_url_.empty() && base_url_.back() == '/') {
        base_url_.pop_back();
    }
}

void TwilioChannel::send(const OutgoingMessage& message, Done<void> done) {
    http::Request request;
    request.url =
        base_url_ + "/2010-04-01/Accounts/" + http::percent_encode(account_sid_) + "/Messages.json";
    request.headers = {"Content-Type: application/x-www-form-urlencoded",
                       "Accept: application/json"};
    request.body = "To=" + http::percent_encode(message.destination) +
                   (messaging_service_sid_.empty()
                        ? "&From=" + http::percent_encode(from_)
                        : "&MessagingServiceSid=" + http::percent_encode(messaging_service_sid_)) +
                   "&Body=" + http::percent_encode(message.text.view());
    if (message.lifetime.count() > 0) {
        // Twilio drops a message still queued after this, rather than send a dead code.
        request.body += "&ValidityPeriod=" + std::to_string(twilio_validity_period(message.lifetime));
    }
    request.username = account_sid_;
    request.password = auth_token_.clone();
    request.timeout = timeout_;
    request.ca_file = ca_file_;
    request.proxy = proxy_;
    send_classified(client_, std::move(request), "twilio " + name_, classify_twilio,
                    std::move(done));
}

Result<void> classify_twilio(const std::string& channel, const http::Response& response) {
    if (auto got = answered(channel, response); !got) {
        return got;
    }
    auto body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
    if (response.status >= 200 && response.status < 300) {
        if (!body.is_object() || !body.contains("sid")) {
            // Twilio said yes but the answer is unreadable. Sending again could deliver the
            // code twice, so this counts as delivered, and the oddity is logged.
            log_event(LogLevel::Warning, "gateway-odd-answer",
                      channel + ": HTTP " + std::to_string(response.status) +
                          " without a message resource; counting the message as accepted");
        }
        return {};
    }
    int code = body.is_object() && body.contains("code") && body["code"].is_number_integer()
                   ? body["code"].get<int>()
                   : 0;
    for (const auto& permanent : kPermanent) {
        if (permanent.code == code) {
            return send_failure(channel + ": " + permanent.reason + " (Twilio error " +
                                std::to_string(code) + ")");
        }
    }
    bool retryable = response.status == 429 || code == 20429 || response.status >= 500;
    std::string what = channel + ": answered HTTP " + std::to_string(response.status);
    if (code != 0) {
        what += " (Twilio error " + std::to_string(code) + ")";
    } else if (!body.is_object()) {
        what += " with a body that is not Twilio's JSON";
    }
    return send_failure(what, retryable);
}

}  // namespace lwauth
