#include "webhook.hpp"

#include "gateway.hpp"
#include "json_text.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <nlohmann/json.hpp>

#include "lwauth/text.hpp"

namespace lwauth {

WebhookChannel::WebhookChannel(const policy::ChannelConfig& config, http::Client& client,
                               SecretString secret)
    : name_(config.name),
      url_(config.option("url")),
      ca_file_(config.option("ca_file")),
      proxy_(config.option("proxy")),
      timeout_(std::chrono::duration_cast<std::chrono::milliseconds>(config.timeout)),
      client_(client),
      secret_(std::move(secret)) {}

std::string WebhookChannel::signature_header(std::string_view secret, std::string_view body) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
    return "X-Lwauth-Signature: sha256=" + hex_encode(mac, len);
}

void WebhookChannel::send(const OutgoingMessage& message, Done<void> done) {
    if (secret_.empty()) {
        done(send_failure("webhook " + name_ + ": no signing secret (hmac_secret_file)"));
        return;
    }
    nlohmann::json document = {
        {"kind", policy::to_string(message.kind)},
        {"to", message.destination},
        {"user", message.user},
        {"text", std::string(message.text.view())},
    };
    http::Request request;
    request.url = url_;
    request.body = json_text(document);
    request.headers = {"Content-Type: application/json",
                       signature_header(secret_.view(), request.body)};
    request.timeout = timeout_;
    request.ca_file = ca_file_;
    request.proxy = proxy_;
    send_classified(client_, std::move(request), "webhook " + name_, classify_http,
                    std::move(done));
}

Result<void> classify_http(const std::string& channel, const http::Response& response) {
    if (auto got = answered(channel, response); !got) {
        return got;
    }
    if (response.status >= 200 && response.status < 300) {
        return {};
    }
    bool retryable = response.status == 408 || response.status == 429 || response.status >= 500;
    return send_failure(channel + ": answered HTTP " + std::to_string(response.status), retryable);
}

}  // namespace lwauth
