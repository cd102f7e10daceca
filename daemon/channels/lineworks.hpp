// Service notifications through a LINE WORKS bot (LINE WORKS API 2.0).
//
// The channel authenticates as a service account (JWT bearer grant, RFC 7523):
//
//   POST {auth_url} (https://auth.worksmobile.com/oauth2/v2.0/token) Content-Type:
//   application/x-www-form-urlencoded
//
//   assertion=<RS256 JWT: iss=client_id, sub=service_account, iat, exp=iat+3600>
//   &grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer
//   &client_id=...&client_secret=...&scope=bot.message
//
// The scope is the channel's `scope` key (default bot.message, all that sending a bot
// message needs; the policy loader requires bot.message or bot in it), so an app granted
// only bot.message is not refused. A scope the app is not granted is refused with
// invalid_scope (RFC 6749 §5.2): a permanent failure that names the scope.
//
// 200 carries {"access_token", "expires_in": "86400", ...} (expires_in is a string in
// LINE WORKS' answers; a number is accepted too); errors carry {"error",
// "error_description"}. The token is kept until 60 s before it expires, and only one token
// request runs at a time: sends that arrive meanwhile wait for its answer.
//
//   POST {base_url}/v1.0/bots/{bot_id}/users/{userId}/messages
//   Authorization: Bearer <access token>
//   Content-Type: application/json
//
//   {"content": {"type": "text", "text": "..."}}
//
// 201 means delivered. Errors carry {"code", "description"}. 401, and 403 with code
// UNAUTHORIZED, mean the token is no longer good: the channel drops it, gets a new one
// once and sends once more; a second refusal is final. Other 403s, 400 and 404 are
// permanent; 429 and 5xx are worth another try.
//
// The userId comes from the channel's user_id template or user_map_file (see
// messenger_ids.hpp): LINE WORKS takes its own user ID or the member's login ID
// ("user@domain") there. A user with no ID, or one of another form, is not served; the
// next channel is tried. An ID LINE WORKS does not know is answered 404: permanent.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <string>

#include "channel.hpp"
#include "http/http_client.hpp"
#include "jwt.hpp"
#include "messenger_ids.hpp"

namespace lwauth {

class LineWorksChannel final : public Channel,
                               public std::enable_shared_from_this<LineWorksChannel> {
  public:
    /// Throws Error(Internal) when the private key cannot be read. Must be owned by a
    /// std::shared_ptr: requests in flight keep the channel alive.
    LineWorksChannel(const policy::ChannelConfig& config, http::Client& client,
                     SecretString client_secret, const SecretString& private_key_pem);
    [[nodiscard]] const std::string& name() const override { return name_; }
    void send(const OutgoingMessage& message, Done<void> done) override;

  private:
    struct Job {
        std::string user_id;
        SecretString text;
        Done<void> done;
        bool refreshed = false;  // a token was refused once already
    };
    using Clock = std::chrono::steady_clock;

    [[nodiscard]] bool have_token() const;
    void request_token();
    void on_token(const http::Response& response);
    void post_message(const std::shared_ptr<Job>& job);
    void on_message(const std::shared_ptr<Job>& job, const std::string& token_used,
                    const http::Response& response);
    void wait_for_token(std::shared_ptr<Job> job);
    [[nodiscard]] std::string label() const { return "lineworks " + name_; }

    policy::ChannelConfig config_;  // what the token request is made of
    std::string name_;
    std::string bot_id_;
    std::string base_url_;
    std::string scope_;
    std::string ca_file_;
    std::string proxy_;
    std::chrono::milliseconds timeout_;
    http::Client& client_;
    SecretString client_secret_;
    EvpPkeyPtr private_key_;
    MessengerIds ids_;

    SecretString access_token_;
    Clock::time_point token_expires_{};
    bool token_in_flight_ = false;
    std::deque<std::shared_ptr<Job>> waiting_;  // for the token request in flight
};

/// An ID as a URL path segment (RFC 3986): unreserved characters and '@' stay, so that a
/// login ID such as user@example.com reaches the service as written; the rest is %-encoded.
[[nodiscard]] std::string lineworks_path_segment(std::string_view value);

/// The "code" of a LINE WORKS error body, fit for a log line (word characters only, 64 at
/// most), or "" when there is none.
[[nodiscard]] std::string lineworks_error_code(const nlohmann::json& body);

/// The token request of the service account of a lineworks channel (its client_id,
/// service_account, auth_url, ca_file, proxy and timeout), asking for `scope`: an RS256
/// JWT signed with `key`, good for an hour. Throws Error(Internal) when the key cannot
/// sign.
[[nodiscard]] http::Request lineworks_token_request(const policy::ChannelConfig& config,
                                                   const SecretString& client_secret,
                                                   EVP_PKEY* key, const std::string& scope);

/// A token the token endpoint gave.
struct LineWorksToken {
    SecretString access_token;
    std::chrono::seconds expires_in{0};
};
/// The token, or a send_failure() saying why there is none and whether a later try may
/// work. `scope` is the scope asked for, named when the service refuses it.
[[nodiscard]] Result<LineWorksToken> parse_lineworks_token(const std::string& channel,
                                                           const http::Response& response,
                                                           const std::string& scope = {});

/// What a bot message answer means. `token_refused` asks for a new token and one more try
/// (401, or 403 with code UNAUTHORIZED); `result` then holds the reason to give if that
/// try was already made. Never echoes the service's description.
struct LineWorksVerdict {
    Result<void> result;
    bool token_refused = false;
};
[[nodiscard]] LineWorksVerdict classify_lineworks(const std::string& channel,
                                                  const http::Response& response);

}  // namespace lwauth
