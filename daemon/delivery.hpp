// Sends codes: picks the channel by policy order, and counts each send against the caps
// before it leaves (a failed one is given back).
// Shared by logins (2-step) and contact confirmation.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "channels/channel.hpp"
#include "clock.hpp"
#include "codes.hpp"
#include "lwauth/error.hpp"
#include "lwauth/policy.hpp"
#include "lwauth/result.hpp"
#include "store/async_store.hpp"

namespace lwauth {

/// Administrators' test messages an hour, to one user and from one administrator (UID):
/// enough to check a channel, too few to run up an SMS bill. They do not count against
/// [code] max_sends_per_host_per_hour, which every user's login codes share.
inline constexpr int kTestSendsPerUserPerHour = 3;
inline constexpr int kTestSendsPerAdminPerHour = 10;
/// The reason of the RateLimited error when the test message budget, not a cap of the
/// user's login codes, refused a test message.
inline constexpr const char* kTestBudgetReached = "test message budget reached";

struct Delivered {
    std::string channel;  // [channel.NAME] that took it
    policy::Kind kind;
    std::string shown_destination;  // masked, for the user's eyes
    // The kind tried first when it could not deliver and another kind did (fallback).
    std::optional<policy::Kind> instead_of;
};

/// What a code is for, and so which budget its send counts against: a login after the
/// password (2-step), a login before any password (mode=primary: anyone who knows the
/// user name can ask), a contact confirmation, or a user's proof before a change to their
/// own login settings (self_service_reauth; a budget of its own, so that it cannot use up
/// the user's login codes, nor be used up by confirmations aimed at the same number), or
/// an administrator's test message (no code; counted as a login code is against the
/// user's and the destination's caps, so that it cannot send more than a login could, and
/// against a small budget of its own instead of the host's cap, which it only checks).
enum class CodePurpose { Login, PasswordlessLogin, ConfirmContact, Reauth, Test };

class CodeSender {
  public:
    CodeSender(const Clock& clock, AsyncStore& store, const Hasher& hasher)
        : clock_(clock), store_(store), hasher_(hasher) {}

    /// Replaces the channels (on start and on policy reload). Sends in flight keep the
    /// channel they are using.
    void set_channels(std::map<std::string, std::shared_ptr<Channel>> channels) {
        channels_ = std::move(channels);
    }

    /// Sends a login code to the first of the user's verified contacts that the policy's
    /// kind order and channels can reach, falling back to the next channel and kind when
    /// one fails. `done` runs exactly once: before returning when every channel answers
    /// at once, else later from the event loop, with where the code went or the error. A
    /// cap that is reached stops the send: Error(RateLimited) whose retry_at() is when the
    /// cap has room again. Nothing delivered ends in Error(DeliveryFailed) with the last
    /// channel's reason (for the log, not for the user).
    /// `purpose` is Login or PasswordlessLogin; `rhost` is the login's remote host ("" for
    /// a local session), which the passwordless budget counts per. The message is in
    /// `language` (the login's), else in the user's [policy] language.
    void send_login_code(const std::string& user, const policy::Policy& policy,
                         const policy::UserPolicy& user_policy, const UserState& state,
                         const SecretString& code, Done<Delivered> done,
                         CodePurpose purpose = CodePurpose::Login, const std::string& rhost = "",
                         std::optional<Language> language = std::nullopt);

    /// Sends `text` (no code) to the user as send_login_code would send a login code: the
    /// same channel choice and fallback, counted against the user's and destination's caps
    /// and the test budget of the user and of `admin` before it leaves; the host cap is
    /// checked, not counted. `done` as for send_login_code; no contact a channel reaches is
    /// Error(DeliveryFailed); the test budget reached is Error(RateLimited) whose what() is
    /// kTestBudgetReached.
    void send_test_message(uid_t admin, const std::string& user, const policy::Policy& policy,
                           const policy::UserPolicy& user_policy, const UserState& state,
                           const std::string& text, Done<Delivered> done);

    /// Sends a confirmation code to a contact being added (not yet verified).
    void send_confirmation(const std::string& user, const policy::Policy& policy,
                           const policy::UserPolicy& user_policy, const Contact& contact,
                           const SecretString& code, Done<Delivered> done);

    /// Whether the contact kind can be reached at all under this policy.
    [[nodiscard]] bool reachable(const policy::Policy& policy,
                                 const policy::UserPolicy& user_policy,
                                 const UserState& state) const;

    /// When a login code after the password (CodePurpose::Login) could be sent to the
    /// user: 0 when it could be now (or no channel reaches the user), else the time the
    /// cap it would meet has room again. Counts nothing.
    void login_capped_until(const std::string& user, const policy::Policy& policy,
                            const policy::UserPolicy& user_policy, const UserState& state,
                            const std::string& rhost, Done<int64_t> done) const;

  private:
    struct Target {
        policy::Kind kind;
        std::string destination;
        std::string channel_name;
        std::shared_ptr<Channel> channel;
    };
    struct Attempt;

    void add_targets(std::vector<Target>& targets, const policy::Policy& policy, policy::Kind kind,
                     const std::string& destination) const;
    /// Where a login code for the user goes, in the order it is tried.
    [[nodiscard]] std::vector<Target> login_targets(const std::string& user,
                                                    const policy::Policy& policy,
                                                    const policy::UserPolicy& user_policy,
                                                    const UserState& state) const;
    /// A message's text and the language it is in.
    struct Words {
        SecretString text;
        Language language;
    };
    /// Sends `words` to the login targets (send_login_code, send_test_message).
    void send_to_login_targets(const std::string& user, const policy::Policy& policy,
                               const policy::UserPolicy& user_policy, const UserState& state,
                               Words words, Done<Delivered> done, CodePurpose purpose,
                               const std::string& rhost, const std::string& admin = "");
    void advance(const std::shared_ptr<Attempt>& attempt);
    /// Sends to `target` what `reservation` (reserve_send's answer) has counted.
    void send_reserved(const std::shared_ptr<Attempt>& attempt, const Target& target,
                       Result<SendReservation> reservation);
    void on_sent(const std::shared_ptr<Attempt>& attempt, const Target& target,
                 const SendReservation& reservation, const Result<void>& sent);
    /// Gives a send that failed back to the caps, then runs `next`.
    void release(const SendReservation& reservation, const std::function<void()>& next);

    const Clock& clock_;
    AsyncStore& store_;
    const Hasher& hasher_;
    std::map<std::string, std::shared_ptr<Channel>> channels_;
};

/// The text of an administrator's test message from `host` in `language` (the user's
/// [policy] language): short enough for one SMS, and no code.
[[nodiscard]] std::string test_message_text(const std::string& host, Language language);

/// The contact kind ("phone", "email") a delivery kind sends to; "" for notifications,
/// which go to the user's workplace account.
[[nodiscard]] const char* contact_kind_for(policy::Kind kind);

/// Whether an E.164 number is allowed by the policy's SMS country-prefix allow-list.
[[nodiscard]] bool sms_prefix_allowed(const policy::CodePolicy& code_policy,
                                      const std::string& e164);

}  // namespace lwauth
