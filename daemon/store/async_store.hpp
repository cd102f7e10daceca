// The store's operations behind callbacks, as channel sends are: each operation calls its
// `done` exactly once, with the value or the Error that took its place, at once or later
// from the event loop. A backend on the network (PostgreSQL) answers later without
// holding up the loop; the embedded backends answer at once through ImmediateStore.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lwauth/result.hpp"
#include "store.hpp"

namespace lwauth {

/// Each operation is the Store operation of the same name (store.hpp says what it does),
/// its result passed to `done`.
class AsyncStore {
  public:
    virtual ~AsyncStore() = default;

    virtual void load_user(const std::string& user, Done<UserState> done) = 0;
    virtual void lock_state(const std::string& user, Done<LockState> done) = 0;
    virtual void list_users(Done<std::vector<std::string>> done) = 0;

    virtual void save_contact(const std::string& user, const Contact& contact, Done<void> done) = 0;
    virtual void remove_contact(const std::string& user, const std::string& kind,
                                Done<void> done) = 0;
    virtual void remove_contact_and_two_step(const std::string& user, const std::string& kind,
                                             const OtherFactors& others, Done<bool> done) = 0;
    virtual void remove_second_factor(const std::string& user, const std::string& factor,
                                      const RemovalRule& rule, Done<Removal> done) = 0;
    virtual void set_two_step(const std::string& user, bool enabled, Done<void> done) = 0;
    virtual void save_contact_and_two_step(const std::string& user, const Contact& contact,
                                           bool two_step, Done<void> done) = 0;
    virtual void set_profile_contact(const std::string& user, const Contact& contact,
                                     Done<void> done) = 0;
    virtual void remove_profile_contact(const std::string& user, const std::string& kind,
                                        Done<void> done) = 0;
    virtual void save_profile_and_login_contact(const std::string& user, const Contact& contact,
                                                Done<void> done) = 0;
    virtual void remove_profile_and_login_contact(const std::string& user, const std::string& kind,
                                                  const std::optional<OtherFactors>& others,
                                                  Done<bool> done) = 0;
    virtual void set_line_link(const std::string& user, const std::string& subject_hash,
                               Done<void> done) = 0;
    virtual void replace_line_link(const std::string& user, const std::string& old_hash,
                                   const std::string& new_hash, Done<bool> done) = 0;
    virtual void set_pin_hash(const std::string& user, const std::string& encoded_hash,
                              Done<void> done) = 0;
    virtual void replace_pin_hash(const std::string& user, const std::string& old_hash,
                                  const std::string& new_hash, Done<bool> done) = 0;
    virtual void set_pin(const std::string& user, const std::string& encoded_hash,
                         Done<void> done) = 0;
    virtual void set_totp_pending(const std::string& user, std::string_view secret, int64_t until,
                                  Done<void> done) = 0;
    virtual void set_totp(const std::string& user, std::string_view secret, int64_t last_step,
                          Done<void> done) = 0;
    virtual void set_totp_and_two_step(const std::string& user, std::string_view secret,
                                       int64_t last_step, bool two_step, Done<void> done) = 0;
    virtual void use_totp_step(const std::string& user, int64_t step, Done<bool> done) = 0;
    virtual void set_recovery_codes(const std::string& user, const std::vector<std::string>& hashes,
                                    Done<void> done) = 0;
    virtual void use_recovery_code(const std::string& user, const std::string& hash,
                                   Done<int> done) = 0;
    virtual void add_pin_failure(const std::string& user, Done<int> done) = 0;
    virtual void clear_pin_failures(const std::string& user, Done<void> done) = 0;
    virtual void add_fingerprint_failure(const std::string& user, int64_t now,
                                         Done<FingerprintFailures> done) = 0;
    virtual void clear_fingerprint_failures(const std::string& user, Done<void> done) = 0;
    virtual void record_full_login(const std::string& user, int64_t now, Done<void> done) = 0;

    virtual void start_enroll_grace(const std::string& user, int64_t now, Done<int64_t> done) = 0;
    virtual void clear_enroll_grace(const std::string& user, Done<void> done) = 0;

    virtual void remember_host(const std::string& user, const RememberedHost& host,
                               Done<void> done) = 0;
    virtual void remembered_host(const std::string& user, const std::string& service,
                                 const std::string& origin,
                                 Done<std::optional<RememberedHost>> done) = 0;
    virtual void remembered_hosts(const std::string& user,
                                  Done<std::vector<RememberedHost>> done) = 0;
    virtual void forget_hosts(const std::string& user, int64_t before, Done<int> done) = 0;
    virtual void prune_hosts(int64_t now, Done<void> done) = 0;

    virtual void add_failure(const std::string& user, const LockRule& rule,
                             Done<FailureCount> done) = 0;
    virtual void add_passwordless_failure(const std::string& user, Done<int> done) = 0;
    virtual void lock(const std::string& user, int64_t until, Done<void> done) = 0;
    virtual void clear_failures(const std::string& user, Done<void> done) = 0;
    virtual void clear_failures_unless_locked(const std::string& user, int64_t now,
                                              Done<bool> done) = 0;
    virtual void reset(const std::string& user, const ResetScope& scope, Done<void> done) = 0;
    virtual void rekey_user(const std::string& user, Done<RekeyCounts> done) = 0;

    virtual void put_confirmation(const std::string& user, const Confirmation& confirmation,
                                  Done<void> done) = 0;
    virtual void confirmations(const std::string& user, Done<std::vector<Confirmation>> done) = 0;
    virtual void drop_confirmations(const std::string& user, const std::string& kind,
                                    const std::string& source, Done<int> done) = 0;
    virtual void answer_confirmation(const std::string& user, const std::string& kind,
                                     const std::string& answer_hash, int64_t now,
                                     Done<ConfirmationAnswer> done) = 0;
    virtual void prune_confirmations(int64_t now, Done<void> done) = 0;

    virtual void reserve_send(const std::vector<SendCap>& caps, int64_t since, int64_t at,
                              Done<SendReservation> done) = 0;
    virtual void check_send(const std::vector<SendCap>& caps, int64_t since, int64_t at,
                            Done<SendReservation> done) = 0;
    virtual void release_send(const SendReservation& reservation, Done<void> done) = 0;
    virtual void sends_since(const std::string& key, int64_t since, Done<int> done) = 0;
    virtual void prune_sends(int64_t before, Done<void> done) = 0;

    /// Store::count_event: a reservation against no limit.
    void count_event(const std::vector<std::string>& keys, int64_t at, Done<void> done) {
        reserve_send(Store::uncapped(keys), at, at,
                     [done = std::move(done)](Result<SendReservation> r) {
                         done(r.ok() ? Result<void>() : Result<void>(r.error()));
                     });
    }
};

/// An AsyncStore over a Store that answers at once (SqliteStore, MemoryStore): each
/// operation runs there and then, and `done` is called before it returns. An Error the
/// backend throws (SQLITE_FULL as Unavailable, others as Internal) becomes the result's
/// error; `done` itself runs outside that, so what it throws is not taken for the store's.
class ImmediateStore final : public AsyncStore {
  public:
    /// Answers from `store`, which must outlive this.
    explicit ImmediateStore(Store& store) : store_(store) {}
    /// Answers from `store`, which this owns.
    explicit ImmediateStore(std::unique_ptr<Store> store)
        : owned_(std::move(store)), store_(*owned_) {}

    void load_user(const std::string& user, Done<UserState> done) override {
        answer(done, [&] { return store_.load_user(user); });
    }
    void lock_state(const std::string& user, Done<LockState> done) override {
        answer(done, [&] { return store_.lock_state(user); });
    }
    void list_users(Done<std::vector<std::string>> done) override {
        answer(done, [&] { return store_.list_users(); });
    }
    void save_contact(const std::string& user, const Contact& contact, Done<void> done) override {
        answer(done, [&] { store_.save_contact(user, contact); });
    }
    void remove_contact(const std::string& user, const std::string& kind,
                        Done<void> done) override {
        answer(done, [&] { store_.remove_contact(user, kind); });
    }
    void remove_contact_and_two_step(const std::string& user, const std::string& kind,
                                     const OtherFactors& others, Done<bool> done) override {
        answer(done, [&] { return store_.remove_contact_and_two_step(user, kind, others); });
    }
    void remove_second_factor(const std::string& user, const std::string& factor,
                              const RemovalRule& rule, Done<Removal> done) override {
        answer(done, [&] { return store_.remove_second_factor(user, factor, rule); });
    }
    void set_two_step(const std::string& user, bool enabled, Done<void> done) override {
        answer(done, [&] { store_.set_two_step(user, enabled); });
    }
    void save_contact_and_two_step(const std::string& user, const Contact& contact, bool two_step,
                                   Done<void> done) override {
        answer(done, [&] { store_.save_contact_and_two_step(user, contact, two_step); });
    }
    void set_profile_contact(const std::string& user, const Contact& contact,
                             Done<void> done) override {
        answer(done, [&] { store_.set_profile_contact(user, contact); });
    }
    void remove_profile_contact(const std::string& user, const std::string& kind,
                                Done<void> done) override {
        answer(done, [&] { store_.remove_profile_contact(user, kind); });
    }
    void save_profile_and_login_contact(const std::string& user, const Contact& contact,
                                        Done<void> done) override {
        answer(done, [&] { store_.save_profile_and_login_contact(user, contact); });
    }
    void remove_profile_and_login_contact(const std::string& user, const std::string& kind,
                                          const std::optional<OtherFactors>& others,
                                          Done<bool> done) override {
        answer(done, [&] { return store_.remove_profile_and_login_contact(user, kind, others); });
    }
    void set_line_link(const std::string& user, const std::string& subject_hash,
                       Done<void> done) override {
        answer(done, [&] { store_.set_line_link(user, subject_hash); });
    }
    void replace_line_link(const std::string& user, const std::string& old_hash,
                           const std::string& new_hash, Done<bool> done) override {
        answer(done, [&] { return store_.replace_line_link(user, old_hash, new_hash); });
    }
    void set_pin_hash(const std::string& user, const std::string& encoded_hash,
                      Done<void> done) override {
        answer(done, [&] { store_.set_pin_hash(user, encoded_hash); });
    }
    void replace_pin_hash(const std::string& user, const std::string& old_hash,
                          const std::string& new_hash, Done<bool> done) override {
        answer(done, [&] { return store_.replace_pin_hash(user, old_hash, new_hash); });
    }
    void set_pin(const std::string& user, const std::string& encoded_hash,
                 Done<void> done) override {
        answer(done, [&] { store_.set_pin(user, encoded_hash); });
    }
    void set_totp_pending(const std::string& user, std::string_view secret, int64_t until,
                          Done<void> done) override {
        answer(done, [&] { store_.set_totp_pending(user, secret, until); });
    }
    void set_totp(const std::string& user, std::string_view secret, int64_t last_step,
                  Done<void> done) override {
        answer(done, [&] { store_.set_totp(user, secret, last_step); });
    }
    void set_totp_and_two_step(const std::string& user, std::string_view secret, int64_t last_step,
                               bool two_step, Done<void> done) override {
        answer(done, [&] { store_.set_totp_and_two_step(user, secret, last_step, two_step); });
    }
    void use_totp_step(const std::string& user, int64_t step, Done<bool> done) override {
        answer(done, [&] { return store_.use_totp_step(user, step); });
    }
    void set_recovery_codes(const std::string& user, const std::vector<std::string>& hashes,
                            Done<void> done) override {
        answer(done, [&] { store_.set_recovery_codes(user, hashes); });
    }
    void use_recovery_code(const std::string& user, const std::string& hash,
                           Done<int> done) override {
        answer(done, [&] { return store_.use_recovery_code(user, hash); });
    }
    void add_pin_failure(const std::string& user, Done<int> done) override {
        answer(done, [&] { return store_.add_pin_failure(user); });
    }
    void clear_pin_failures(const std::string& user, Done<void> done) override {
        answer(done, [&] { store_.clear_pin_failures(user); });
    }
    void add_fingerprint_failure(const std::string& user, int64_t now,
                                 Done<FingerprintFailures> done) override {
        answer(done, [&] { return store_.add_fingerprint_failure(user, now); });
    }
    void clear_fingerprint_failures(const std::string& user, Done<void> done) override {
        answer(done, [&] { store_.clear_fingerprint_failures(user); });
    }
    void record_full_login(const std::string& user, int64_t now, Done<void> done) override {
        answer(done, [&] { store_.record_full_login(user, now); });
    }
    void start_enroll_grace(const std::string& user, int64_t now, Done<int64_t> done) override {
        answer(done, [&] { return store_.start_enroll_grace(user, now); });
    }
    void clear_enroll_grace(const std::string& user, Done<void> done) override {
        answer(done, [&] { store_.clear_enroll_grace(user); });
    }
    void remember_host(const std::string& user, const RememberedHost& host,
                       Done<void> done) override {
        answer(done, [&] { store_.remember_host(user, host); });
    }
    void remembered_host(const std::string& user, const std::string& service,
                         const std::string& origin,
                         Done<std::optional<RememberedHost>> done) override {
        answer(done, [&] { return store_.remembered_host(user, service, origin); });
    }
    void remembered_hosts(const std::string& user,
                          Done<std::vector<RememberedHost>> done) override {
        answer(done, [&] { return store_.remembered_hosts(user); });
    }
    void forget_hosts(const std::string& user, int64_t before, Done<int> done) override {
        answer(done, [&] { return store_.forget_hosts(user, before); });
    }
    void prune_hosts(int64_t now, Done<void> done) override {
        answer(done, [&] { store_.prune_hosts(now); });
    }
    void add_failure(const std::string& user, const LockRule& rule,
                     Done<FailureCount> done) override {
        answer(done, [&] { return store_.add_failure(user, rule); });
    }
    void add_passwordless_failure(const std::string& user, Done<int> done) override {
        answer(done, [&] { return store_.add_passwordless_failure(user); });
    }
    void lock(const std::string& user, int64_t until, Done<void> done) override {
        answer(done, [&] { store_.lock(user, until); });
    }
    void clear_failures(const std::string& user, Done<void> done) override {
        answer(done, [&] { store_.clear_failures(user); });
    }
    void clear_failures_unless_locked(const std::string& user, int64_t now,
                                      Done<bool> done) override {
        answer(done, [&] { return store_.clear_failures_unless_locked(user, now); });
    }
    void reset(const std::string& user, const ResetScope& scope, Done<void> done) override {
        answer(done, [&] { store_.reset(user, scope); });
    }
    void put_confirmation(const std::string& user, const Confirmation& confirmation,
                          Done<void> done) override {
        answer(done, [&] { store_.put_confirmation(user, confirmation); });
    }
    void confirmations(const std::string& user, Done<std::vector<Confirmation>> done) override {
        answer(done, [&] { return store_.confirmations(user); });
    }
    void drop_confirmations(const std::string& user, const std::string& kind,
                            const std::string& source, Done<int> done) override {
        answer(done, [&] { return store_.drop_confirmations(user, kind, source); });
    }
    void answer_confirmation(const std::string& user, const std::string& kind,
                             const std::string& answer_hash, int64_t now,
                             Done<ConfirmationAnswer> done) override {
        answer(done, [&] { return store_.answer_confirmation(user, kind, answer_hash, now); });
    }
    void prune_confirmations(int64_t now, Done<void> done) override {
        answer(done, [&] { store_.prune_confirmations(now); });
    }

    void rekey_user(const std::string& user, Done<RekeyCounts> done) override {
        answer(done, [&] { return store_.rekey_user(user); });
    }
    void reserve_send(const std::vector<SendCap>& caps, int64_t since, int64_t at,
                      Done<SendReservation> done) override {
        answer(done, [&] { return store_.reserve_send(caps, since, at); });
    }
    void check_send(const std::vector<SendCap>& caps, int64_t since, int64_t at,
                    Done<SendReservation> done) override {
        answer(done, [&] { return store_.check_send(caps, since, at); });
    }
    void release_send(const SendReservation& reservation, Done<void> done) override {
        answer(done, [&] { store_.release_send(reservation); });
    }
    void sends_since(const std::string& key, int64_t since, Done<int> done) override {
        answer(done, [&] { return store_.sends_since(key, since); });
    }
    void prune_sends(int64_t before, Done<void> done) override {
        answer(done, [&] { store_.prune_sends(before); });
    }

  private:
    template <class T, class F>
    static void answer(const Done<T>& done, F&& operation) {
        Result<T> result = capture(std::forward<F>(operation));
        done(std::move(result));
    }

    std::unique_ptr<Store> owned_;
    Store& store_;
};

}  // namespace lwauth
