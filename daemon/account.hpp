// Self-service on one's own account: contacts and 2-step verification. Pure logic like
// the login engine; the bus layer decides who the caller is. Every operation that reads or
// writes the store answers through its `done` (called exactly once, with the value or the
// error, bad input included), so that a store that answers later holds up nothing.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "clock.hpp"
#include "codes.hpp"
#include "delivery.hpp"
#include "line/approvals.hpp"
#include "lwauth/error.hpp"
#include "lwauth/policy.hpp"
#include "lwauth/result.hpp"
#include "lwauth/secret.hpp"
#include "lwauth/users.hpp"
#include "quick/pin_hash.hpp"
#include "quick/pin_rules.hpp"
#include "store/async_store.hpp"
#include "workers.hpp"

namespace lwauth {

/// Throws Error(InvalidArgument) unless kind is "phone" or "email".
void check_contact_kind(const std::string& kind);

/// A contact in canonical form (E.164; an address with a lower-case domain). Throws
/// Error(InvalidArgument) saying what is wrong with it.
[[nodiscard]] std::string normalized_contact(const std::string& kind, const std::string& value);

/// The second factors a user has set up that their policy counts ([policy] second_factors,
/// and totp for the app): what enrols them for 2-step, keeps it on, and proves them at a
/// step-up. A code counts with a login contact, whether or not a channel reaches it now.
struct UsableFactors {
    bool code = false;
    bool totp = false;
    bool recovery = false;
    [[nodiscard]] bool any() const { return code || totp || recovery; }
    /// Whether a factor other than login contacts remains.
    [[nodiscard]] bool unsent() const { return totp || recovery; }
    /// What the store counts when the last login contact goes.
    [[nodiscard]] OtherFactors others() const { return {totp, recovery}; }
};

[[nodiscard]] UsableFactors usable_factors(const policy::UserPolicy& up, const UserState& state);
/// What the store judges a user's own removal of a second factor by (Store::remove_second_factor).
[[nodiscard]] RemovalRule removal_rule(const policy::UserPolicy& up);
/// Whether the user's [policy] second_factors counts recovery codes.
[[nodiscard]] bool recovery_counted(const policy::UserPolicy& up);

/// What a step-up (StartReauth) may be answered with: kReauthAccepts* words in the order
/// of [policy] second_factors, and where its code went (masked; "" when none was sent).
struct ReauthOffer {
    std::string shown;
    std::vector<std::string> accepted;
};

/// A place where the user is not asked for a code ([policy] remember_host), as status
/// shows it: the PAM service, the remote host or "local:TTY", and until when.
struct RememberedPlace {
    std::string service;
    std::string origin;
    int64_t until = 0;  // epoch seconds: the login there + the user's remember_host
    friend bool operator==(const RememberedPlace&, const RememberedPlace&) = default;
};

/// A user's login settings as Account.Status and Admin.ShowUser give them. Contact
/// values are masked; nothing here is ever a full number or address.
struct AccountStatus {
    std::string user;
    policy::TwoStep two_step_policy = policy::TwoStep::Optional;
    policy::Contacts contacts_policy = policy::Contacts::Self;
    std::string admin_contact;                            // how to reach the administrator
    bool two_step_enabled = false;                        // in effect for this user's logins
    std::vector<std::string> methods;                     // what the policy offers this user
    std::map<std::string, std::string> contacts;          // kind -> masked value
    std::map<std::string, std::string> contact_sources;   // kind -> self | profile | admin
    std::map<std::string, std::string> pending_contacts;  // kind -> masked value awaiting a code
    std::map<std::string, std::string> profile;           // kind -> masked profile value
    bool line_linked = false;
    bool pin_set = false;
    // With a PIN: the end of quick login ([quick_login] lifetime after the last full login
    // or the setting of the PIN, also when past), and whether too many wrong PINs
    // disabled it until the next full login.
    int64_t pin_until = 0;
    bool pin_disabled = false;
    int64_t locked_until = 0;
    std::vector<RememberedPlace> remembered_hosts;  // only those still within remember_host
    // With no login contact, 2-step in effect and [policy] enroll_grace: the end of the
    // grace once it has started (also when past); 0 otherwise.
    int64_t enroll_grace_until = 0;
    bool totp_set = false;   // an authenticator app is set up
    int recovery_codes = 0;  // recovery codes left
};

/// An authenticator app waiting for its first code: the otpauth:// URI (with the secret)
/// to show once, and until when the first code may come.
struct TotpEnrolment {
    SecretString uri;
    int64_t expires_at = 0;
};

/// Where the caller's link of a LINE account stands (Account.LineLinkStatus).
enum class LineLinkState { None, Waiting, Linked, Refused, Expired, Failed };

struct LineLinkStatus {
    LineLinkState state = LineLinkState::None;
    std::string why;  // a line for the user when it did not link; "" otherwise
};

class AccountService {
  public:
    AccountService(const Clock& clock, RandomSource& random, AsyncStore& store, CodeSender& sender,
                   const Hasher& hasher, const UserDirectory& users)
        : clock_(clock),
          random_(random),
          store_(store),
          sender_(sender),
          hasher_(hasher),
          users_(users) {}

    void set_policy(std::shared_ptr<const policy::Policy> policy) { policy_ = std::move(policy); }
    /// LINE's approvals (the endpoint's flows); null, or not configured(): LINE Login is
    /// not set up in this lwauthd.
    void set_line(line::LineApprovals* line) { line_ = line; }
    /// What SetPin needs: the hasher on the worker pool, and the shipped list of common
    /// PINs (null when it could not be read: then no PIN can be set).
    void set_quick_login(quick::PinHasher* hasher,
                         std::shared_ptr<const quick::CommonPins> common) {
        pin_hasher_ = hasher;
        common_pins_ = std::move(common);
    }

    void status(const std::string& user, Done<AccountStatus> done);
    /// Sends a confirmation code to a new phone number or email address. `done` succeeds
    /// once the code is on its way, or gets the error that stopped it (bad input,
    /// RateLimited, DeliveryFailed...). `owner` is the caller's bus connection: with a
    /// verified contact saved, the change needs a reauthentication of that connection
    /// first (ReauthRequired).
    void add_contact(const std::string& user, const std::string& owner, const std::string& kind,
                     const std::string& value, Done<void> done);
    /// Sends a confirmation code to the phone number or address of the user's profile
    /// (set by the administrator), to use it for logging in. As add_contact otherwise.
    void use_profile_contact(const std::string& user, const std::string& owner,
                             const std::string& kind, Done<void> done);
    /// Verifies the code; saves the contact. `done` gets whether 2-step is now on. A
    /// confirmation sent while the user had no verified contact, who has one now, needs a
    /// reauthentication of `owner` too: it would add a contact without proof otherwise.
    /// The code is read before this returns.
    void confirm_contact(const std::string& user, const std::string& owner, const std::string& kind,
                         const SecretString& code, Done<bool> done);
    /// Removes a verified contact (and 2-step with the last, in one store operation);
    /// needs a reauthentication of `owner` (see add_contact).
    void remove_contact(const std::string& user, const std::string& owner, const std::string& kind,
                        Done<void> done);
    /// Turning 2-step off while it is on needs a reauthentication of `owner`.
    void set_two_step(const std::string& user, const std::string& owner, bool enabled,
                      Done<void> done);

    /// Forgets every place the user is remembered at ([policy] remember_host), so that
    /// the next login from each asks for a code; `done` gets how many. Needs no proof: it
    /// only makes the login stricter.
    void forget_hosts(const std::string& user, Done<int> done);

    /// Starts a step-up: the connection `owner` is to prove it is the user before a change
    /// that weakens the login, with any second factor the policy counts for the user. A
    /// code goes to the user's verified contacts (as a login code goes) when they have
    /// one; an authenticator app's code and a recovery code are accepted without a send.
    /// `done` gets what is accepted and where the code went, or the error that stopped it
    /// (no factor, the account locked, a send that failed with nothing else to answer).
    void start_reauth(const std::string& user, const std::string& owner, Done<ReauthOffer> done);
    /// Checks the answer to start_reauth: the code sent, the app's current code (its time
    /// step is then used, as at a login) or a recovery code (used up). On success `owner`
    /// may make such changes for kReauthGrantSeconds. A wrong answer counts toward the
    /// lockout as after the password, and takes one of the user's [code] tries, which every
    /// connection shares until they expire. NotFound, Expired, InvalidCode or LockedOut.
    void reauth(const std::string& user, const std::string& owner, const SecretString& code,
                Done<void> done);
    /// Drops what a bus connection that has left was granted or was waiting for, its link
    /// of LINE in progress included (withdrawn).
    void forget_owner(const std::string& owner);

    /// Starts linking a LINE account to `user` for the connection `owner`: `done` gets the
    /// link to open and the number to pick. The policy must allow login_with_line for the
    /// user and LINE must be set up (NotEnabled). It adds a way to log in without a code,
    /// so with a verified contact it needs a reauthentication of `owner` first
    /// (ReauthRequired). A link the connection started before is withdrawn. Once LINE
    /// approves, the keyed hash of the LINE account replaces any earlier link.
    void link_line(const std::string& user, const std::string& owner,
                   Done<line::ApprovalOffer> done);
    /// Where the link of `owner` stands; an outcome (linked, refused, expired, failed) is
    /// told once, then forgotten (None).
    LineLinkStatus line_link_status(const std::string& user, const std::string& owner);
    /// Removes the user's link, and withdraws the link `owner` has in progress; `done`
    /// gets whether one was linked. Needs no proof: it only makes the login stricter.
    void unlink_line(const std::string& user, const std::string& owner, Done<bool> done);
    /// Withdraws every link in progress of `user` (an administrator's reset of the link).
    void withdraw_line_links(const std::string& user);

    /// Sets the user's quick-login PIN. [quick_login] pin must be allowed for the user
    /// (NotEnabled), and the user must have logged in fully on this host within
    /// kPinWindowSeconds, or `owner` have done the step-up since (ReauthRequired when it
    /// can, PolicyForbids when no code can reach the user). A PIN that check_pin refuses
    /// is InvalidArgument with its sentence. The PIN is hashed on the worker pool with the
    /// policy's Argon2id costs and stored with set_pin (the count cleared); it is never
    /// logged or stored otherwise. Setting a PIN does not arm quick login: the PIN works
    /// while the last full login's [quick_login] lifetime lasts.
    void set_pin(const std::string& user, const std::string& owner, SecretString pin,
                 Done<void> done);
    /// Removes the user's PIN; `done` gets whether one was set. Needs no proof: it only
    /// makes the login stricter.
    void remove_pin(const std::string& user, Done<bool> done);

    /// Starts adding an authenticator app: a new secret waits (kTotpEnrolSeconds) for its
    /// first code; `done` gets the otpauth:// URI to show. [policy] totp must allow it
    /// (NotEnabled). It adds a way to pass 2-step, so with a verified contact it needs a
    /// reauthentication of `owner` first (ReauthRequired).
    void totp_add(const std::string& user, const std::string& owner, Done<TotpEnrolment> done);
    /// The first code of the app waiting: right, the app replaces any earlier one and
    /// 2-step turns on (unless the policy has it off); NotFound, Expired or InvalidCode.
    /// An enrolment this lwauthd did not see begun with proof (the user had no second
    /// factor then, or another lwauthd began it) needs a reauthentication of `owner` when
    /// the user has a factor now, as confirm_contact's does.
    void totp_confirm(const std::string& user, const std::string& owner, const SecretString& code,
                      Done<void> done);
    /// Removes the authenticator app; `done` gets whether one was set up (or waiting).
    /// Needs a reauthentication of `owner` as removing a contact does.
    void totp_remove(const std::string& user, const std::string& owner, Done<bool> done);
    /// A new set of recovery codes, shown once (the old set stops working); needs a
    /// reauthentication of `owner`.
    void generate_recovery(const std::string& user, const std::string& owner,
                           Done<std::vector<SecretString>> done);
    /// Draws a set of recovery codes, keeps their hashes for `user` (replacing the old
    /// set) and gives the codes to `done`: for generate_recovery and the administrator's
    /// Admin.RecoveryCodes.
    void store_recovery_codes(const std::string& user, Done<std::vector<SecretString>> done);
    /// The host's name, for the label of an authenticator app's entry (user@host).
    void set_host(std::string host) { host_ = std::move(host); }

    /// How long an authenticator app waits for its first code.
    static constexpr int64_t kTotpEnrolSeconds = 600;
    /// How long after a full login on this host (or a step-up) a PIN may be set.
    static constexpr int64_t kPinWindowSeconds = 600;
    static constexpr int64_t kReauthGrantSeconds = 300;
    /// Drops step-ups and grants that have expired (confirmations of contacts expire in
    /// the store: Store::prune_confirmations).
    void expire();
    /// Drops a user's confirmations in progress (of one kind, or all when kind is "").
    void forget_pending(const std::string& user, const std::string& kind = "");
    /// Drops a confirmation in progress of the profile's phone or email (`kind`), because
    /// the administrator changed or removed it; a number or address of the user's own that
    /// waits for its code stays.
    void forget_pending_profile(const std::string& user, const std::string& kind);
    /// The effective policy for a user.
    [[nodiscard]] policy::UserPolicy user_policy(const std::string& user) const;
    [[nodiscard]] const policy::Policy& policy() const { return *policy_; }

  private:
    struct PendingReauth {
        bool code_sent = false;  // code_hash is a sent code's
        bool code_on_request = false;  // a code is sent when the connection asks again
        Digest code_hash{};
        int64_t expires_at = 0;
        bool busy = false;   // an answer is being checked: a second one is refused meanwhile
        uint64_t serial = 0;  // which answer in flight clears `busy`
    };

    void require_self_service() const;
    /// Throws ReauthRequired unless `owner` has proved it is `user` within the grant's
    /// time, or the policy (self_service_reauth = none) or the lack of a verified contact
    /// leaves nothing to prove it with.
    void require_reauth(const std::string& user, const std::string& owner,
                        const policy::UserPolicy& up, const UserState& state,
                        const std::string& change) const;
    void send_confirmation(const std::string& user, const std::string& kind,
                           const std::string& value, const std::string& source, bool unproved,
                           Done<void> done);
    /// What status() says before the confirmations in progress and the remembered places
    /// are read.
    [[nodiscard]] AccountStatus status_of(const std::string& user, const policy::UserPolicy& up,
                                          const UserState& state) const;
    /// The end of status(): the places the user is remembered at, added to `s`.
    void remembered_status(const std::string& user, const policy::UserPolicy& up, AccountStatus s,
                           Done<AccountStatus> done);
    /// The end of confirm_contact, once the store has read the user and the confirmation
    /// `pending`: `answer_hash` is the keyed hash of the code given ("" when it cannot be
    /// a code), checked (a try taken) by the store in one step.
    void finish_confirmation(const std::string& user, const std::string& owner,
                             const policy::UserPolicy& up, const UserState& state,
                             const Confirmation& pending, const std::string& answer_hash,
                             Done<bool> done);
    /// Saves the contact a right code confirmed, and turns 2-step on with it.
    void save_confirmed(const std::string& user, const policy::UserPolicy& up,
                        const Confirmation& confirmed, Done<bool> done);
    /// Drops confirmations in the store without waiting for it (an error is logged).
    void drop_confirmations(const std::string& user, const std::string& kind,
                            const std::string& source);
    void send_reauth(const std::string& user, const std::string& owner,
                     const policy::UserPolicy& up, const UserState& state, Done<ReauthOffer> done);
    /// Records the step-up of `owner` as waiting for its answer, and what it accepts.
    ReauthOffer await_reauth(const std::string& user, const std::string& owner,
                             const policy::UserPolicy& up, const UsableFactors& factors,
                             PendingReauth pending, const std::string& shown);
    /// The answer of `owner`'s step-up, once the store has read the user; `tries_left`:
    /// the tries after this answer's (taken already).
    void check_reauth(const std::string& user, const std::string& owner,
                      const policy::UserPolicy& up, const UserState& state,
                      std::shared_ptr<SecretString> answer, int tries_left, Done<void> done);
    /// The step-up of `owner` passed with `method` ("code", "totp", "recovery"): granted
    /// when the store clears the user's failure counts, which it refuses while the account
    /// is locked (a lock set since the state was read included).
    void grant_reauth(const std::string& user, const std::string& owner, const char* method,
                      Done<void> done);
    /// A wrong answer to the step-up of `owner`, `tries_left` tries after it: counted
    /// toward the lockout (not the count in a row), then the error the caller gets.
    void wrong_reauth(const std::string& user, const std::string& owner,
                      const policy::UserPolicy& up, int tries_left, Done<void> done);
    /// Throws unless a PIN may be set now: a full login within kPinWindowSeconds, or a
    /// step-up of `owner` still in force.
    void require_pin_window(const std::string& user, const std::string& owner,
                            const policy::UserPolicy& up, const UserState& state) const;
    /// Hashes the PIN that passed the rules and stores it.
    void store_pin(const std::string& user, std::shared_ptr<SecretString> pin, Done<void> done);

    struct LineLink {
        std::string user;
        LineLinkStatus status;
        uint64_t serial = 0;  // which link of the connection this is
    };

    /// Offers the link (replacing the connection's link in progress) and records it.
    Result<line::ApprovalOffer> offer_line_link(const std::string& user, const std::string& owner);
    /// Withdraws and forgets the link of a connection that has left.
    void forget_line_link(const std::string& owner);
    /// The outcome of LINE's approval of the link `serial` of `owner`.
    void line_link_outcome(const std::string& owner, uint64_t serial,
                           const line::ApprovalOutcome& outcome);
    /// The link of `owner` ends, if it is still `serial`.
    void end_line_link(const std::string& owner, uint64_t serial, LineLinkState state,
                       const std::string& why);

    const Clock& clock_;
    RandomSource& random_;
    AsyncStore& store_;
    CodeSender& sender_;
    const Hasher& hasher_;
    const UserDirectory& users_;
    std::shared_ptr<const policy::Policy> policy_;
    // Contacts waiting for their confirmation code are in the store (Store::put_confirmation):
    // any lwauthd sharing it finishes them. A step-up belongs to one bus connection, so to
    // this lwauthd: it stays here.
    // Keyed by (user, bus connection): a proof is good for that connection alone.
    std::map<std::pair<std::string, std::string>, PendingReauth> pending_reauth_;
    std::map<std::pair<std::string, std::string>, int64_t> reauth_until_;
    // The tries at the user's step-ups, by user: shared by every connection, so that a new
    // one brings no tries of its own, nor does a new code. Taken as an answer arrives,
    // before the store is read; given again after a right answer, or once they expire (a
    // code's lifetime after they were given).
    struct ReauthTries {
        int left = 0;
        int64_t expires_at = 0;
    };
    std::map<std::string, ReauthTries> reauth_tries_;
    // Enrolments of an app begun by a user who had a second factor (and proved it), by
    // user: the end of that enrolment (UserState::totp_pending_until), which names it.
    std::map<std::string, int64_t> totp_proved_;
    line::LineApprovals* line_ = nullptr;
    // Keyed by bus connection: its link of LINE in progress, or its outcome until read.
    std::map<std::string, LineLink> line_links_;
    uint64_t line_serial_ = 0;
    uint64_t reauth_serial_ = 0;
    quick::PinHasher* pin_hasher_ = nullptr;
    std::shared_ptr<const quick::CommonPins> common_pins_;
    // The PIN hashes under way, each until its result is stored (a dropped Job never
    // answers its caller).
    std::map<uint64_t, Job> pin_jobs_;
    uint64_t pin_job_serial_ = 0;
    std::string host_ = "localhost";
};

}  // namespace lwauth
