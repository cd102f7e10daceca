// What lwauthd remembers between logins, behind one interface that answers at once. SQLite
// is the embedded default (sqlite_store); unit tests use MemoryStore. async_store.hpp puts
// the same operations behind callbacks, for a backend that answers later.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../quick/fingerprint_limits.hpp"
#include "contact_cipher.hpp"
#include "lwauth/secret.hpp"

namespace lwauth {

/// A contact: kind is "phone" or "email"; value is E.164 or an address.
///
/// Where a login contact came from (`source`):
///   self     the user added and confirmed it; a phone of this kind is the "login-only
///            number", used for nothing but login codes
///   profile  the user confirmed the number or address of their profile (set by the
///            administrator) for logging in
///   admin    set by the administrator under `contacts = admin`, without confirmation
struct Contact {
    std::string kind;
    std::string value;
    std::string source = "self";
};

struct UserState {
    bool two_step = false;
    std::vector<Contact> contacts;     // for login codes: verified, or set by the administrator
    std::vector<Contact> profile;      // the profile's phone / email, set by the administrator
    int failures = 0;                  // wrong codes since the last lock, right code or unlock
    int64_t locked_until = 0;          // epoch seconds; 0 when not locked
    int passwordless_failures = 0;     // wrong codes in a row before any password
    bool line_linked = false;          // a LINE account is linked (kept as a keyed hash only)
    // The link's keyed hash of the LINE subject (line/subject.hpp), "" when none: what the
    // LINE login compares an approval with. Never shown, never logged.
    std::string line_link;
    bool pin_set = false;              // a quick-login PIN is set (kept as an Argon2id hash)
    // The PIN's Argon2id hash (a PHC string, quick/pin_hash.hpp), "" when none: what a PIN
    // login checks. Never shown, never logged.
    std::string pin_hash;
    int pin_failures = 0;       // wrong PINs since the PIN was set, the last right PIN or full login
    int64_t full_login_at = 0;  // the user's last full login on this host (epoch s); 0: none
    // Since when quick login may be used: the last full login (setting a PIN does not
    // move it); [quick_login] lifetime counts from it. 0: never.
    int64_t quick_armed_at = 0;
    FingerprintFailures fingerprint;  // failed fingerprint matches (quick/fingerprint_limits.hpp)
    int64_t enroll_grace_started = 0;  // first login let in under [policy] enroll_grace; 0: none
    // Has ever had a second factor saved (a login contact, an authenticator app confirmed,
    // recovery codes): no enroll_grace any more.
    bool enrolled = false;
    // The authenticator app's record, unsealed (second/totp.hpp: its secret and the
    // parameters it was set up with), "" when none. Never shown, never logged.
    CopyableSecret totp_secret;
    int64_t totp_last_step = -1;  // the time step of the last code accepted; -1: none
    // An enrolment waiting for its first code (lwauthctl totp add): its record, until
    // when; "" none.
    CopyableSecret totp_pending;
    int64_t totp_pending_until = 0;
    int recovery_codes = 0;  // recovery codes left (kept as keyed hashes only)

    [[nodiscard]] bool totp_set() const { return !totp_secret.empty(); }

    [[nodiscard]] const Contact* contact(const std::string& kind) const {
        return find(contacts, kind);
    }
    [[nodiscard]] const Contact* profile_contact(const std::string& kind) const {
        return find(profile, kind);
    }

    /// Whether the store holds anything about the user.
    [[nodiscard]] bool empty() const {
        return !two_step && contacts.empty() && profile.empty() && failures == 0 &&
               locked_until == 0 && passwordless_failures == 0 && !line_linked && !pin_set &&
               enroll_grace_started == 0 && pin_failures == 0 && full_login_at == 0 &&
               quick_armed_at == 0 && fingerprint.in_a_row == 0 && !fingerprint.disabled &&
               totp_secret.empty() && totp_pending.empty() && recovery_codes == 0;
    }

  private:
    static const Contact* find(const std::vector<Contact>& list, const std::string& kind) {
        for (const auto& c : list) {
            if (c.kind == kind) {
                return &c;
            }
        }
        return nullptr;
    }
};

/// A phone number or address waiting for its confirmation code (lwauthctl contact add):
/// kept in the store so that lwauthd on any host sharing it (and after a restart) can
/// finish it. The value is sealed at rest as contacts are; the code only as its keyed
/// hash.
struct Confirmation {
    std::string kind;             // "phone" or "email": one confirmation of each per user
    std::string value;            // what is saved once confirmed
    std::string source = "self";  // what it is saved as: self or profile
    std::string code_hash;        // the code's keyed hash (Hasher::keyed_hex)
    int64_t expires_at = 0;       // epoch seconds
    int tries_left = 0;
    bool unproved = false;  // sent while the user had no second factor to prove with
    friend bool operator==(const Confirmation&, const Confirmation&) = default;
};

/// What one answer to a confirmation did (Store::answer_confirmation).
enum class ConfirmationOutcome {
    Absent,   // no confirmation of that kind is waiting
    Expired,  // it had expired: removed
    Wrong,    // a try taken; removed with the last
    Right,    // the code matched: removed, and given back to be saved
};

struct ConfirmationAnswer {
    ConfirmationOutcome outcome = ConfirmationOutcome::Absent;
    int tries_left = 0;         // Wrong: the tries after this answer
    Confirmation confirmation;  // Right: what was confirmed
};

/// Whether two keyed hashes are the same, compared in constant time.
[[nodiscard]] bool hashes_equal(std::string_view a, std::string_view b) noexcept;

/// A place a user finished a full 2-step login from ([policy] remember_host): the PAM
/// service and the remote host, or "local:TTY" for a session without one.
struct RememberedHost {
    std::string service;
    std::string origin;
    int64_t verified_at = 0;  // epoch seconds of that login
    int64_t until = 0;        // verified_at + the remember_host in force then: never later
    friend bool operator==(const RememberedHost&, const RememberedHost&) = default;
};

/// The second factors other than login contacts that keep 2-step verification on when a
/// user's last login contact goes: those the user's policy counts ([policy] totp,
/// second_factors), and only while the user has them.
struct OtherFactors {
    bool totp = false;      // an authenticator app counts
    bool recovery = false;  // recovery codes count
};

/// What a user's own removal of a second factor is checked against, inside the store's
/// step on fresh state: the factors their policy counts, and whether 2-step is required.
struct RemovalRule {
    bool code = true;       // a login contact counts ([policy] second_factors has code)
    OtherFactors others;    // the app and recovery codes, as the policy counts them
    bool required = false;  // [policy] two_step = required: the last factor counted stays
};

/// What remove_second_factor() did.
enum class Removal {
    Absent,      // the user has nothing of that kind
    Removed,     // removed; 2-step stays as it was
    TwoStepOff,  // removed, and 2-step turned off with it: no factor counted is left
    Refused,     // not removed: 2-step is required and it is the last factor counted
};

struct LockState {
    int failures = 0;               // wrong codes since the last lock, right code or unlock
    int64_t locked_until = 0;       // epoch seconds; 0 when not locked
    int passwordless_failures = 0;  // wrong codes in a row before any password
};

/// The failure counts after one more wrong code after the password.
struct FailureCount {
    int failures = 0;  // since the last lock: what [lockout] max_failures counts
    int in_a_row = 0;  // since the last right code or unlock: locks count too (the 100 limit)
    int64_t locked_until = 0;  // when this wrong code locked the account: until when; else 0
    // A lock in force at LockRule::now: this code was not counted and the lock stays as it
    // was (until when); else 0.
    int64_t locked_before = 0;
};

/// When one more wrong code after the password locks the account. A limit of 0 never locks.
struct LockRule {
    int max_failures = 0;  // failures since the last lock that lock until `until`
    int64_t until = 0;
    int max_in_a_row = 0;  // failures in a row that lock until kLockedUntilUnlocked
    // Whether the code counts in the count in a row: a wrong step-up answer does not (it
    // needs no password, and must not lead to the lock only an administrator lifts).
    bool in_a_row = true;
    // When the code was judged: a lock in force then (one set while the code was checked,
    // by another answer, host or an administrator) is neither undone, shortened nor
    // extended by it, and the code counts nothing. 0: no lock is looked at.
    int64_t now = 0;
};

/// What an administrator's reset clears (the profile always stays).
struct ResetScope {
    bool pin = false;           // the quick-login PIN
    bool line = false;          // the LINE link
    bool contacts = false;      // every login contact, and 2-step with them
    bool hosts = false;         // the places remember_host skips the code at
    bool failures = false;      // every failure count (PIN and fingerprint too) and the lockout
    bool enroll_grace = false;  // the grace's start and the mark that the user enrolled
    bool totp = false;          // the authenticator app (and an enrolment in progress)
    bool recovery = false;      // the recovery codes
    // With totp or recovery: 2-step turns off when no factor this rule counts is left,
    // unless it says 2-step is required (as the user's own removal does).
    RemovalRule counted;
};

/// NIST SP 800-63B: no account takes more than this many wrong codes in a row, on either
/// path, before a right code or an administrator's unlock.
inline constexpr int kMaxFailuresInARow = 100;
/// `locked_until` of an account locked until an administrator unlocks it (9999-12-31).
inline constexpr int64_t kLockedUntilUnlocked = 253402300799;

/// One limit a send is counted against: at most `limit` sends under `key` (a user, a
/// destination hash, the host...; CodeSender names them) in the window. A cap that is
/// not `counted` is checked alone: a send may not pass it, but is not written under its key.
struct SendCap {
    std::string key;
    int limit = 0;
    bool counted = true;
};

/// The keys a send reserved against `caps` is written under: those of its counted caps.
[[nodiscard]] inline std::vector<std::string> counted_keys(const std::vector<SendCap>& caps) {
    std::vector<std::string> keys;
    for (const auto& cap : caps) {
        if (cap.counted) {
            keys.push_back(cap.key);
        }
    }
    return keys;
}

/// A send counted before it left. `id` names it in the send log, so that a delivery that
/// failed can give it back.
struct SendReservation {
    int64_t id = 0;  // 0 when not reserved
    int64_t at = 0;
    std::vector<std::string> keys;
    int capped = -1;      // when not reserved: the index of the cap that was reached
    int64_t room_at = 0;  // when not reserved: when that cap has room again

    [[nodiscard]] bool reserved() const { return id != 0; }
};

/// What a rekey found among the sealed values (login contacts, profile contacts, the
/// authenticator app and an enrolment waiting): sealed again under the current key, already
/// under it, or opened by no key the store has (left as it is, never deleted).
struct RekeyCounts {
    int resealed = 0;
    int current = 0;
    int unopenable = 0;

    void count(ContactCipher::Reseal outcome) {
        switch (outcome) {
            case ContactCipher::Reseal::Current:
                ++current;
                break;
            case ContactCipher::Reseal::Resealed:
                ++resealed;
                break;
            case ContactCipher::Reseal::Unopenable:
                ++unopenable;
                break;
        }
    }
    RekeyCounts& operator+=(const RekeyCounts& other) {
        resealed += other.resealed;
        current += other.current;
        unopenable += other.unopenable;
        return *this;
    }
};

/// A sealed value of a user, where rekey finds it: `place` says which table and column,
/// `kind` the contact's kind (empty for the app's).
struct SealedValue {
    enum class Place { Contact, Profile, Totp, TotpPending };
    Place place = Place::Contact;
    std::string kind;
    std::string sealed;
};

/// The associated data a value at that place of that user is sealed with: a value moved to
/// another user, kind, table or column no longer opens.
[[nodiscard]] std::string sealed_binding(const std::string& user, SealedValue::Place place,
                                         const std::string& kind);

class Store {
  public:
    virtual ~Store() = default;

    /// The user's state; a user never seen has the default state.
    [[nodiscard]] virtual UserState load_user(const std::string& user) = 0;
    /// The failure count and lockout alone, without reading (and unsealing) the rest of
    /// the state: what every code answer checks.
    [[nodiscard]] virtual LockState lock_state(const std::string& user) = 0;
    /// Users the store has a record of, in name order: an operation that sets or counts
    /// something makes one, one that only takes away does not.
    [[nodiscard]] virtual std::vector<std::string> list_users() = 0;

    /// Saves a login contact, replacing one of the same kind, and marks the user enrolled.
    virtual void save_contact(const std::string& user, const Contact& contact) = 0;
    virtual void remove_contact(const std::string& user, const std::string& kind) = 0;
    /// Removes the login contact of a kind and, when it was the user's last and none of
    /// `others` is set up, turns 2-step off with it, in one step (no other handle sees one
    /// without the other); returns whether 2-step went off.
    virtual bool remove_contact_and_two_step(const std::string& user, const std::string& kind,
                                             const OtherFactors& others) = 0;
    /// Removes a login contact ("phone", "email") or the authenticator app ("totp", with
    /// an enrolment waiting) of the user, judged by `rule` on the state read in the same
    /// step (no other handle changes it in between): refused when 2-step is required and
    /// no factor counted would be left; 2-step turned off with it when none is left.
    virtual Removal remove_second_factor(const std::string& user, const std::string& factor,
                                         const RemovalRule& rule) = 0;
    virtual void set_two_step(const std::string& user, bool enabled) = 0;
    /// Saves a verified login contact as save_contact() does and, with `two_step`, turns
    /// 2-step on, in one step: a crash or an error between them cannot leave the contact
    /// saved without the 2-step its confirmation turns on.
    virtual void save_contact_and_two_step(const std::string& user, const Contact& contact,
                                           bool two_step) = 0;

    /// The profile's contact of a kind (the administrator's directory data).
    virtual void set_profile_contact(const std::string& user, const Contact& contact) = 0;
    /// Sets the profile's contact of a kind and saves the same value as the login contact
    /// of that kind (as save_contact() does, with the contact's source), in one step: under
    /// `contacts = admin` the administrator's value is both, and a crash or an error
    /// between them cannot leave the profile showing a new number while codes still go to
    /// the old one (a lost or stolen phone's).
    virtual void save_profile_and_login_contact(const std::string& user,
                                                const Contact& contact) = 0;
    virtual void remove_profile_contact(const std::string& user, const std::string& kind) = 0;
    /// Removes the profile's contact of a kind and, unless the user saved it themselves
    /// (source "self"), the login contact of that kind, in one step: a crash or an error
    /// between them cannot leave the profile without the number while codes still go to it
    /// (a lost or stolen phone's). With `others`, 2-step goes off with the last login
    /// contact as remove_contact_and_two_step() judges it (an administrator's removal);
    /// without, 2-step stays as it is (the directory's, which fails closed). Returns whether
    /// 2-step went off.
    virtual bool remove_profile_and_login_contact(const std::string& user, const std::string& kind,
                                                  const std::optional<OtherFactors>& others) = 0;

    /// The LINE link: a keyed hash of the LINE subject, never the subject; "" unlinks.
    virtual void set_line_link(const std::string& user, const std::string& subject_hash) = 0;
    /// Replaces the LINE link `old_hash` (a hash under an earlier subject key) with
    /// `new_hash` (the same LINE account under the current key) only while it is still
    /// `old_hash`, in one step: a link removed or made anew meanwhile stays. Returns
    /// whether it was replaced.
    virtual bool replace_line_link(const std::string& user, const std::string& old_hash,
                                   const std::string& new_hash) = 0;
    /// Replaces the quick-login PIN's hash; "" removes the PIN and its failure count.
    virtual void set_pin_hash(const std::string& user, const std::string& encoded_hash) = 0;
    /// Replaces the PIN's hash with `new_hash` (a rehash with the policy's costs after a
    /// right PIN) only while it is still `old_hash`, in one step: a PIN removed or set
    /// meanwhile stays. Returns whether it was replaced.
    virtual bool replace_pin_hash(const std::string& user, const std::string& old_hash,
                                  const std::string& new_hash) = 0;
    /// A new PIN (its hash): its failure count starts again, in one step. It does not arm
    /// quick login (quick_armed_at stays): only a full login does.
    virtual void set_pin(const std::string& user, const std::string& encoded_hash) = 0;
    /// An authenticator app's secret waiting for its first code (lwauthctl totp add)
    /// until `until`; "" drops it.
    virtual void set_totp_pending(const std::string& user, std::string_view secret,
                                  int64_t until) = 0;
    /// The user's authenticator app: its secret, with `last_step` the time step of the
    /// code that proved it (no code of that step or before is accepted again); "" removes
    /// it. Either way an enrolment waiting is dropped; an app marks the user enrolled.
    virtual void set_totp(const std::string& user, std::string_view secret, int64_t last_step) = 0;
    /// set_totp() with a secret and, with `two_step`, 2-step turned on, in one step.
    virtual void set_totp_and_two_step(const std::string& user, std::string_view secret,
                                       int64_t last_step, bool two_step) = 0;
    /// Records `step` as the last time step a code was accepted for, only when it is later
    /// than the one recorded and an app is set up, in one step: of two logins with codes of
    /// the same step, one gets true. False: that code (or a later one) was used already.
    virtual bool use_totp_step(const std::string& user, int64_t step) = 0;
    /// Replaces the user's recovery codes with these keyed hashes (none: removed); codes
    /// mark the user enrolled.
    virtual void set_recovery_codes(const std::string& user,
                                    const std::vector<std::string>& hashes) = 0;
    /// Uses up the recovery code with this keyed hash, in one step: how many are left
    /// after it, or -1 when the user has no such code (never, or used already).
    virtual int use_recovery_code(const std::string& user, const std::string& hash) = 0;
    /// Counts one more wrong PIN and returns how many there have been since the PIN was
    /// set, the last right PIN or full login (atomically).
    virtual int add_pin_failure(const std::string& user) = 0;
    /// A right PIN: its failure count starts again.
    virtual void clear_pin_failures(const std::string& user) = 0;
    /// Counts one failed fingerprint match at `now` (after_fingerprint_no_match) and
    /// returns the counts with it (atomically).
    virtual FingerprintFailures add_fingerprint_failure(const std::string& user, int64_t now) = 0;
    /// A matching fingerprint, or an administrator's reset: the failures, any pause and a
    /// disabled fingerprint end.
    virtual void clear_fingerprint_failures(const std::string& user) = 0;
    /// Records a full login of the user on this host at `now` (password and, where it
    /// applies, 2-step: a mode=second_factor login let in): full_login_at and
    /// quick_armed_at become `now`, and the PIN's and the fingerprint's failures are
    /// cleared, a disabled fingerprint re-armed, in one step.
    virtual void record_full_login(const std::string& user, int64_t now) = 0;

    /// The start of the user's enrolment grace ([policy] enroll_grace): the time of the
    /// first login it let in, recorded as `now` by the first call (atomically).
    virtual int64_t start_enroll_grace(const std::string& user, int64_t now) = 0;
    /// Clears the enrolment grace's start and the mark that the user enrolled (an
    /// administrator's reset of everything): the next login without a contact starts a
    /// grace afresh. Saving a login contact sets the mark.
    virtual void clear_enroll_grace(const std::string& user) = 0;

    /// Records a full 2-step login of `user` (the place and time in `host`), replacing an
    /// earlier one from the same service and origin.
    virtual void remember_host(const std::string& user, const RememberedHost& host) = 0;
    /// The user's last full 2-step login from that service and origin; nullopt when
    /// never (or forgotten).
    [[nodiscard]] virtual std::optional<RememberedHost> remembered_host(
        const std::string& user, const std::string& service, const std::string& origin) = 0;
    /// The places the user is remembered at, oldest first.
    [[nodiscard]] virtual std::vector<RememberedHost> remembered_hosts(const std::string& user) = 0;
    /// Forgets every place of the user, or only those verified before `before` (> 0);
    /// returns how many were forgotten.
    virtual int forget_hosts(const std::string& user, int64_t before = 0) = 0;
    /// Forgets every user's places whose `until` is at or before `now` (the sweep).
    virtual void prune_hosts(int64_t now) = 0;

    /// Counts one more wrong code after the password and, in the same step, locks the
    /// account when the count reaches a limit of `rule`: until kLockedUntilUnlocked at
    /// `max_in_a_row` (first), else until `until` at `max_failures`, which starts that count
    /// again. On an account locked at `rule.now` it counts nothing and returns the counts
    /// and that lock (locked_before). Returns the counts including this code, and the lock
    /// it set. Atomic also
    /// against other handles on the same data: each code is counted once, and the code that
    /// reaches a limit is the one that locks.
    virtual FailureCount add_failure(const std::string& user, const LockRule& rule = {}) = 0;
    /// Counts one more wrong code typed before any password (mode=primary) and returns
    /// how many there have been in a row (atomically). Apart from add_failure's counts:
    /// these never lock the account.
    virtual int add_passwordless_failure(const std::string& user) = 0;
    /// Locks the user until `until` and resets the failure count (not the count in a row).
    virtual void lock(const std::string& user, int64_t until) = 0;
    /// Clears every failure count and any lockout (a right code, an unlock).
    virtual void clear_failures(const std::string& user) = 0;
    /// clear_failures() only while the account is not locked at `now`, in one step: a
    /// lock set since the caller read the state stays. Returns false (nothing cleared)
    /// when the account is locked.
    virtual bool clear_failures_unless_locked(const std::string& user, int64_t now) = 0;
    /// An administrator's reset: clears what `scope` names of the user's state, in one
    /// transaction.
    virtual void reset(const std::string& user, const ResetScope& scope) = 0;

    /// Records a confirmation in progress, replacing the user's earlier one of its kind.
    virtual void put_confirmation(const std::string& user, const Confirmation& confirmation) = 0;
    /// The user's confirmations in progress, in kind order, expired ones included (the
    /// caller judges them by its clock).
    [[nodiscard]] virtual std::vector<Confirmation> confirmations(const std::string& user) = 0;
    /// Removes the user's confirmations in progress of `kind` ("": every kind) and, when
    /// `source` is not "", only those of that source; returns how many.
    virtual int drop_confirmations(const std::string& user, const std::string& kind,
                                   const std::string& source = "") = 0;
    /// One answer to the user's confirmation of `kind`, in one step also against other
    /// handles on the same data (another lwauthd): an expired one is removed; else
    /// `answer_hash` is compared with the code's hash in constant time, a right answer
    /// removes it (of two right answers at once, one gets Right) and a wrong one takes a
    /// try (each counted once), removing it with the last.
    virtual ConfirmationAnswer answer_confirmation(const std::string& user, const std::string& kind,
                                                   const std::string& answer_hash, int64_t now) = 0;
    /// Removes every user's confirmations that expired at or before `now` (the sweep).
    virtual void prune_confirmations(int64_t now) = 0;

    /// Counts one send against every cap at once, or against none: when each cap's key
    /// has fewer than its limit of sends at or after `since`, the send is recorded at `at`
    /// under every key, durably (lwauthd killed the moment after still counts it), and
    /// returned reserved; otherwise nothing is recorded and `capped` names the first cap
    /// reached. Reserving before the message leaves is what keeps sends in flight inside
    /// the caps. Atomic also against other handles on the same data (another lwauthd).
    [[nodiscard]] virtual SendReservation reserve_send(const std::vector<SendCap>& caps,
                                                       int64_t since, int64_t at) = 0;
    /// What reserve_send would answer, without recording anything: `capped` (-1 when
    /// the send fits) and `room_at`.
    [[nodiscard]] virtual SendReservation check_send(const std::vector<SendCap>& caps,
                                                     int64_t since, int64_t at) = 0;
    /// Gives back a reservation whose message did not go out.
    virtual void release_send(const SendReservation& reservation) = 0;
    /// Counts an event other than a send (a wrong code before any password, say) under
    /// the keys, in the same log and window as the sends: a reservation against no limit.
    void count_event(const std::vector<std::string>& keys, int64_t at) {
        (void)reserve_send(uncapped(keys), at, at);
    }
    /// Caps that no count reaches, one per key: what count_event reserves against.
    static std::vector<SendCap> uncapped(const std::vector<std::string>& keys) {
        std::vector<SendCap> caps;
        for (const auto& key : keys) {
            caps.push_back({key, std::numeric_limits<int>::max()});
        }
        return caps;
    }
    /// The sends counted under a key at or after `since`.
    [[nodiscard]] virtual int sends_since(const std::string& key, int64_t since) = 0;
    /// Forgets sends older than `before` (the sweep keeps two hours; the caps look back
    /// one).
    virtual void prune_sends(int64_t before) = 0;

    /// Seals every value of the user that an earlier key ([store] contacts_old_key_files)
    /// sealed under the current key, in one short transaction (a rekey goes user by user,
    /// so that logins wait for one user at most and a stop midway leaves each value under
    /// one key or the other, both open). A value sealed meanwhile by another handle is left
    /// to it. Run again, it finds them current.
    virtual RekeyCounts rekey_user(const std::string& user) = 0;

  protected:
    /// rekey_user() over `values` read in the backend's transaction: each opened, and
    /// those under an earlier key given to `write` sealed again (with the value they were
    /// read as, for the backend to replace only that one).
    static RekeyCounts reseal_values(
        const ContactCipher& cipher, const std::string& user,
        const std::vector<SealedValue>& values,
        const std::function<void(const SealedValue& old, const std::string& resealed)>& write);

    /// The steps of reset() and of the *_and_two_step() operations through the operations
    /// above, for a backend that runs them inside a transaction of its own.
    void reset_steps(const std::string& user, const ResetScope& scope);
    bool remove_contact_and_two_step_steps(const std::string& user, const std::string& kind,
                                           const OtherFactors& others);
    Removal remove_second_factor_steps(const std::string& user, const std::string& factor,
                                       const RemovalRule& rule);
    void save_contact_and_two_step_steps(const std::string& user, const Contact& contact,
                                         bool two_step);
    void set_totp_and_two_step_steps(const std::string& user, std::string_view secret,
                                     int64_t last_step, bool two_step);
    void save_profile_and_login_contact_steps(const std::string& user, const Contact& contact);
    bool remove_profile_and_login_contact_steps(const std::string& user, const std::string& kind,
                                                const std::optional<OtherFactors>& others);
    /// The steps of answer_confirmation() on `found`, the user's confirmation of `kind`
    /// (nullopt: none) as the backend read it inside its transaction: what the answer does,
    /// written back through drop_confirmations() and put_confirmation().
    ConfirmationAnswer answer_confirmation_steps(const std::string& user, const std::string& kind,
                                                 std::optional<Confirmation> found,
                                                 std::string_view answer_hash, int64_t now);
    /// The lock that one more wrong code sets under `rule`, given the counts with it; 0
    /// when none.
    static int64_t lock_for(const FailureCount& count, const LockRule& rule);
};

}  // namespace lwauth
