// Notifications through the LINE Messaging API (push message):
//
//   POST {base_url}/v2/bot/message/push
//   Authorization: Bearer {channel access token}
//   Content-Type: application/json
//   X-Line-Retry-Key: {a random UUID per message}
//
//   {"to": "U0123...", "messages": [{"type": "text", "text": "..."}]}
//
// 200 carries {"sentMessages": [...]} (older versions of the API answered {}). 409 means
// the retry key was already accepted: the message went out before, so it counts as
// delivered. 429 and 5xx are worth another try, except 429 "monthly limit", which no retry
// within the month fixes; 400, 401 and 403 are permanent, each with its reason. LINE's own
// "message" is never logged.
//
// The "to" is the user's LINE user ID (U + 32 hex digits) for this channel's provider,
// from the channel's user_map_file (or a literal user_id; see messenger_ids.hpp). A user
// with no ID, or one that is not of that form, is not served; the next channel is tried.
// A well-formed ID LINE does not know (another provider's, or no such user) is answered
// 400 "Failed to send messages": permanent.
#pragma once

#include "channel.hpp"
#include "http/http_client.hpp"
#include "messenger_ids.hpp"

namespace lwauth {

class RandomSource;

class LinePushChannel final : public Channel {
  public:
    LinePushChannel(const policy::ChannelConfig& config, http::Client& client,
                    SecretString channel_access_token);
    [[nodiscard]] const std::string& name() const override { return name_; }
    void send(const OutgoingMessage& message, Done<void> done) override;

  private:
    std::string name_;
    std::string base_url_;
    std::string ca_file_;
    std::string proxy_;
    std::chrono::milliseconds timeout_;
    http::Client& client_;
    SecretString token_;
    MessengerIds ids_;
};

/// The JSON body of a push of one text message.
[[nodiscard]] std::string line_push_body(const std::string& to, std::string_view text);

/// A random (version 4) UUID for X-Line-Retry-Key, lower-case hex with dashes.
[[nodiscard]] std::string line_retry_key(RandomSource& random);

/// What a LINE answer means for the message. Never echoes LINE's "message".
[[nodiscard]] Result<void> classify_line(const std::string& channel,
                                         const http::Response& response);

}  // namespace lwauth
