#include "line_push.hpp"

#include "gateway.hpp"
#include "json_text.hpp"

#include <nlohmann/json.hpp>

#include "../clock.hpp"
#include "../log.hpp"
#include "lwauth/text.hpp"

namespace lwauth {

std::string line_push_body(const std::string& to, std::string_view text) {
    nlohmann::json body = {
        {"to", to},
        {"messages", nlohmann::json::array({{{"type", "text"}, {"text", std::string(text)}}})}};
    std::string out = json_text(body);
    // The copy of the text inside the JSON value goes with it; wipe it first.
    wipe_string(body["messages"][0]["text"].get_ref<std::string&>());
    return out;
}

std::string line_retry_key(RandomSource& random) {
    uint8_t bytes[16];
    random.fill(bytes, sizeof bytes);
    bytes[6] = static_cast<uint8_t>((bytes[6] & 0x0f) | 0x40);  // version 4
    bytes[8] = static_cast<uint8_t>((bytes[8] & 0x3f) | 0x80);  // RFC 4122 variant
    std::string hex = hex_encode(bytes, sizeof bytes);
    // 8-4-4-4-12 hex digits (RFC 4122 section 3).
    return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
           hex.substr(16, 4) + "-" + hex.substr(20);
}

LinePushChannel::LinePushChannel(const policy::ChannelConfig& config, http::Client& client,
                                 SecretString channel_access_token)
    : name_(config.name),
      base_url_(config.option("base_url")),
      ca_file_(config.option("ca_file")),
      proxy_(config.option("proxy")),
      timeout_(std::chrono::duration_cast<std::chrono::milliseconds>(config.timeout)),
      client_(client),
      token_(std::move(channel_access_token)),
      ids_(config, kLineIdForm) {
    if (base_url_.empty()) {
        base_url_ = "https://api.line.me";
    }
    while (!base_url_.empty() && base_url_.back() == '/') {
        base_url_.pop_back();
    }
}

void LinePushChannel::send(const OutgoingMessage& message, Done<void> done) {
    std::string channel = "line " + name_;
    Result<std::string> to = ids_.lookup(message.user);
    if (!to) {
        done(send_failure(channel + ": " + to.error().what()));
        return;
    }
    http::Request request;
    try {
        OpenSslRandom random;
        request.url = base_url_ + "/v2/bot/message/push";
        // One retry key per message: a repeat after a timeout or a 5xx carries the same,
        // and LINE answers it 409 if it took the first.
        request.headers = {"Content-Type: application/json", "Accept: application/json",
                           "Authorization: Bearer " + std::string(token_.view()),
                           "X-Line-Retry-Key: " + line_retry_key(random)};
        request.body = line_push_body(*to, message.text.view());
        request.ca_file = ca_file_;
        request.proxy = proxy_;
    } catch (const std::exception& e) {
        done(send_failure(channel + ": " + e.what()));
        return;
    }
    auto make = [request = std::make_shared<const http::Request>(std::move(request))](
                    std::chrono::milliseconds timeout) {
        http::Request copy;
        copy.url = request->url;
        copy.headers = request->headers;
        copy.body = request->body;
        copy.ca_file = request->ca_file;
        copy.proxy = request->proxy;
        copy.timeout = timeout;
        return copy;
    };
    send_idempotent(client_, make, timeout_, channel, classify_line, std::move(done));
}

namespace {

// LINE's "message" in an error answer, or "".
std::string message_of(const nlohmann::json& body) {
    return body.is_object() && body.contains("message") && body["message"].is_string()
               ? body["message"].get<std::string>()
               : std::string();
}

}  // namespace

Result<void> classify_line(const std::string& channel, const http::Response& response) {
    if (auto got = answered(channel, response); !got) {
        return got;
    }
    auto body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
    std::string http = " (HTTP " + std::to_string(response.status) + ")";
    if (response.status >= 200 && response.status < 300) {
        if (!body.is_object()) {
            // LINE said yes but the answer is unreadable. Sending again could deliver the
            // code twice, so this counts as delivered, and the oddity is logged.
            log_event(LogLevel::Warning, "gateway-odd-answer",
                      channel + ": HTTP " + std::to_string(response.status) +
                          " with a body that is not JSON; counting the message as accepted");
        }
        return {};
    }
    switch (response.status) {
        case 409:
            // The same X-Line-Retry-Key was accepted before: the message is out.
            log_event(LogLevel::Warning, "gateway-odd-answer",
                      channel +
                          ": the retry key was already accepted; counting the message "
                          "as accepted");
            return {};
        case 400:
            // LINE's "message" tells the cases apart; it is read, never logged.
            if (message_of(body) == "Failed to send messages") {
                return send_failure(channel +
                                    ": LINE has no such user for this channel's provider: "
                                    "check the user's LINE user ID in user_map_file" +
                                    http);
            }
            return send_failure(channel +
                                ": LINE refused the message: the destination is not a "
                                "LINE user ID this channel can reach, or the request is "
                                "invalid" +
                                http);
        case 401:
            return send_failure(
                channel + ": invalid channel access token: check channel_access_token_file" + http);
        case 403:
            return send_failure(channel +
                                ": the LINE channel is not allowed to use the push API (plan or "
                                "permissions)" +
                                http);
        case 429: {
            if (message_of(body).find("monthly limit") != std::string::npos) {
                return send_failure(
                    channel + ": the LINE channel has reached its monthly message limit" + http);
            }
            return send_failure(channel + ": rate limited by LINE" + http, true);
        }
        default:
            break;
    }
    bool retryable = response.status == 408 || response.status >= 500;
    std::string what = channel + ": answered HTTP " + std::to_string(response.status);
    if (!body.is_object()) {
        what += " with a body that is not LINE's JSON";
    }
    return send_failure(what, retryable);
}

}  // namespace lwauth
