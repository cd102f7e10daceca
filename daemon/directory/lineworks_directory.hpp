// [directory] backend = lineworks: members' cell phone numbers and email addresses from
// the LINE WORKS Directory API (API 2.0), read with the service account of the lineworks
// channel that [directory] lineworks_channel names:
//
//   GET {base_url}/v1.0/users/{userId}
//   Authorization: Bearer <access token of scope user.read>
//
// The token is asked for as the channel asks for its own (lineworks_token_request(), a
// service-account JWT), with scope user.read, the scope that reads members; userId is the
// member's ID as the channel's user_id template or user_map_file gives it (MessengerIds).
//
// 200 carries the member, {"userId", "email", "cellPhone", ...} (cellPhone may be null
// or absent): found. 404 (code NOT_FOUND): LINE WORKS has no such member, so the user has
// no directory contacts. 401, or 403 with code UNAUTHORIZED: the token is refused; a new
// one is asked for once and the user asked again; a second refusal fails the pass. Any
// other 403: the app lacks the scope; the pass fails. 429 (code TOO_MANY_REQUESTS): the
// rate limit; the request waits what Retry-After or rateLimit-reset says (60 s at most)
// and goes again, kMaxRateLimited times at most in a row. 5xx, any other answer, a body
// that is not the member's JSON, or no answer: the pass fails and changes nothing.
//
// Pacing (https://developers.worksmobile.com/jp/docs/rate-limits): the service allows 240
// requests a minute for each API (60 on the free plan): [directory] lineworks_rate. A
// RequestPacer keeps the times of the last `rate` requests and holds a request until the
// oldest is a minute (and a second, for the network) old, so that no 60 s hold more
// than `rate`, while a directory smaller than that is read at once. Blocking: lwauthd calls it on the directory's own
// thread (directory_sync.hpp), so a login never waits on the pacing.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "channels/jwt.hpp"
#include "channels/messenger_ids.hpp"
#include "directory/directory.hpp"
#include "http/http_client.hpp"
#include "lwauth/policy.hpp"
#include "lwauth/secret.hpp"

namespace lwauth {

/// At most `per_minute` requests in any 60 s. The directory's thread alone uses it, but
/// stop() may come from the loop. Clock and sleep are injectable for tests; the default
/// sleep wakes every 100 ms to see whether stop() was called.
class RequestPacer {
  public:
    using Clock = std::chrono::steady_clock;
    using Now = std::function<Clock::time_point()>;
    using Sleep = std::function<void(Clock::duration)>;
    // The service's minute, and a second more: it counts requests as they arrive, and one
    // sent a minute after another may arrive a little less than a minute after it.
    static constexpr auto kWindow = std::chrono::seconds(61);

    explicit RequestPacer(int per_minute, Now now = Clock::now, Sleep sleep = {});

    /// Waits until a request may go, then counts it as gone. Throws Error(Unavailable)
    /// once stop() was called.
    void before_request();
    /// Any wait ends now, and every later one at once (lwauthd is stopping): the
    /// directory's thread must not hold up the daemon's exit for a minute.
    void stop() { stopping_ = true; }
    /// Nothing goes before `until` (a 429 said so).
    void hold_until(Clock::time_point until) { hold_until_ = std::max(hold_until_, until); }
    /// A new policy's rate; the requests already counted still count.
    void set_rate(int per_minute) { per_minute_ = per_minute; }
    [[nodiscard]] Clock::time_point now() const { return now_(); }
    /// Sleeps (a 429's wait), throwing as before_request() does once stop() was called.
    void sleep_for(Clock::duration d);

  private:
    int per_minute_;
    Now now_;
    Sleep sleep_;
    std::deque<Clock::time_point> sent_;  // the last per_minute_ requests, oldest first
    Clock::time_point hold_until_{};
    std::atomic<bool> stopping_ = false;
};

class LineWorksDirectory final : public Directory {
  public:
    /// 429s in a row for one user after which the pass fails (the limit is not ours alone:
    /// another app of the domain may be using it up).
    static constexpr int kMaxRateLimited = 5;
    static constexpr auto kMaxRateLimitWait = std::chrono::seconds(60);
    static constexpr const char* kScope = "user.read";

    /// `channel` is the lineworks channel's section; throws Error(Internal) when the
    /// private key or the user map cannot be read. `pacer` outlives passes, so that a
    /// pass right after another still keeps to the rate.
    LineWorksDirectory(const policy::ChannelConfig& channel, SecretString client_secret,
                       const SecretString& private_key_pem, std::shared_ptr<RequestPacer> pacer);

    [[nodiscard]] std::vector<DirectoryEntry> lookup(const std::vector<std::string>& users) override;

  private:
    [[nodiscard]] DirectoryEntry lookup_one(const std::string& user);
    void get_token();
    [[nodiscard]] http::Response get_member(const std::string& user_id);

    policy::ChannelConfig channel_;
    std::string base_url_;
    SecretString client_secret_;
    EvpPkeyPtr private_key_;
    MessengerIds ids_;
    std::shared_ptr<RequestPacer> pacer_;
    SecretString access_token_;
};

/// What a member's 200 answer says: found, with cellPhone and email when they are
/// non-empty strings. Throws Error(Unavailable) when the body is not a JSON object.
[[nodiscard]] DirectoryEntry parse_lineworks_member(const std::string& user,
                                                    const std::string& body);

/// How long a 429 answer asks to wait: Retry-After (seconds), else rateLimit-reset
/// (seconds until the limit resets), else the whole window; within 1 s and `most`.
[[nodiscard]] std::chrono::seconds lineworks_retry_after(const http::Response& response,
                                                         std::chrono::seconds most);

}  // namespace lwauth
