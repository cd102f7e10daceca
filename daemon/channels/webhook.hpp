// The webhook channel: the site's own HTTPS gateway. Each message is a JSON document
// POSTed to the configured URL and signed with HMAC-SHA256 over the exact body, so the
// receiver can tell it came from lwauthd:
//
//   POST <url>
//   Content-Type: application/json
//   X-Lwauth-Signature: sha256=<hex of HMAC-SHA256(secret, body)>
//
//   {"kind":"sms","to":"+819012345678","user":"taro","text":"lwauth: your ..."}
//
// 2xx is delivered; 408, 429 and 5xx, a timeout or a broken connection are worth another
// try (the next channel is tried); any other answer is a permanent refusal.
#pragma once

#include "channel.hpp"
#include "http/http_client.hpp"

namespace lwauth {

class WebhookChannel final : public Channel {
  public:
    /// `secret` signs every body; an empty secret makes every send fail (fail closed).
    WebhookChannel(const policy::ChannelConfig& config, http::Client& client, SecretString secret);
    [[nodiscard]] const std::string& name() const override { return name_; }
    void send(const OutgoingMessage& message, Done<void> done) override;

    /// The body and its signature header, as sent (for tests and receivers).
    [[nodiscard]] static std::string signature_header(std::string_view secret,
                                                      std::string_view body);

  private:
    std::string name_;
    std::string url_;
    std::string ca_file_;
    std::string proxy_;
    std::chrono::milliseconds timeout_;
    http::Client& client_;
    SecretString secret_;
};

/// Classifies an HTTP answer of a gateway: delivered, retryable or permanent, with a
/// reason that names the status but never echoes the gateway's body (it may quote the
/// destination).
[[nodiscard]] Result<void> classify_http(const std::string& channel,
                                         const http::Response& response);

}  // namespace lwauth
