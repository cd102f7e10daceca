// A store that answers later, as one on the network (PostgreSQL) does: each operation of
// the AsyncStore below it is queued, and runs (and answers) only when the test says, or
// fails with the error the test gives. What
// runs the engine or a service over it must not take an answer for granted before then.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/async_store.hpp"

namespace lwauth::test {

class DeferredStore final : public AsyncStore {
  public:
    /// Answers from `inner`, which must outlive this.
    explicit DeferredStore(AsyncStore& inner) : inner_(inner) {}
    /// Answers from `inner`, which this owns.
    explicit DeferredStore(std::unique_ptr<AsyncStore> inner)
        : owned_(std::move(inner)), inner_(*owned_) {}

    /// Operations started and not run yet.
    [[nodiscard]] size_t waiting() const { return queue_.size(); }
    /// Runs the oldest waiting operation (its callback with it); false when none waits.
    bool run_one() {
        if (queue_.empty()) {
            return false;
        }
        Waiting waiting = std::move(queue_.front());
        queue_.pop_front();
        waiting.run();
        return true;
    }
    /// Answers the oldest waiting operation with `error` instead of running it, as a
    /// store that has gone away does; false when none waits.
    bool fail_one(const Error& error) {
        if (queue_.empty()) {
            return false;
        }
        Waiting waiting = std::move(queue_.front());
        queue_.pop_front();
        waiting.fail(error);
        return true;
    }
    /// Runs operations until none waits, those their callbacks start included; returns
    /// how many ran.
    size_t run() {
        size_t ran = 0;
        while (run_one()) {
            ++ran;
        }
        return ran;
    }

    void load_user(const std::string& user, Done<UserState> done) override {
        later([=, this] { inner_.load_user(user, done); }, done);
    }
    void lock_state(const std::string& user, Done<LockState> done) override {
        later([=, this] { inner_.lock_state(user, done); }, done);
    }
    void list_users(Done<std::vector<std::string>> done) override {
        later([=, this] { inner_.list_users(done); }, done);
    }
    void save_contact(const std::string& user, const Contact& contact, Done<void> done) override {
        later([=, this] { inner_.save_contact(user, contact, done); }, done);
    }
    void remove_contact(const std::string& user, const std::string& kind,
                        Done<void> done) override {
        later([=, this] { inner_.remove_contact(user, kind, done); }, done);
    }
    void remove_contact_and_two_step(const std::string& user, const std::string& kind,
                                     const OtherFactors& others, Done<bool> done) override {
        later([=, this] { inner_.remove_contact_and_two_step(user, kind, others, done); }, done);
    }
    void remove_second_factor(const std::string& user, const std::string& factor,
                              const RemovalRule& rule, Done<Removal> done) override {
        later([=, this] { inner_.remove_second_factor(user, factor, rule, done); }, done);
    }
    void set_two_step(const std::string& user, bool enabled, Done<void> done) override {
        later([=, this] { inner_.set_two_step(user, enabled, done); }, done);
    }
    void save_contact_and_two_step(const std::string& user, const Contact& contact, bool two_step,
                                   Done<void> done) override {
        later([=, this] { inner_.save_contact_and_two_step(user, contact, two_step, done); }, done);
    }
    void set_profile_contact(const std::string& user, const Contact& contact,
                             Done<void> done) override {
        later([=, this] { inner_.set_profile_contact(user, contact, done); }, done);
    }
    void remove_profile_contact(const std::string& user, const std::string& kind,
                                Done<void> done) override {
        later([=, this] { inner_.remove_profile_contact(user, kind, done); }, done);
    }
    void save_profile_and_login_contact(const std::string& user, const Contact& contact,
                                        Done<void> done) override {
        later([=, this] { inner_.save_profile_and_login_contact(user, contact, done); }, done);
    }
    void remove_profile_and_login_contact(const std::string& user, const std::string& kind,
                                          const std::optional<OtherFactors>& others,
                                          Done<bool> done) override {
        later([=, this] { inner_.remove_profile_and_login_contact(user, kind, others, done); },
              done);
    }
    void set_line_link(const std::string& user, const std::string& subject_hash,
                       Done<void> done) override {
        later([=, this] { inner_.set_line_link(user, subject_hash, done); }, done);
    }
    void replace_line_link(const std::string& user, const std::string& old_hash,
                           const std::string& new_hash, Done<bool> done) override {
        later([=, this] { inner_.replace_line_link(user, old_hash, new_hash, done); }, done);
    }
    void set_pin_hash(const std::string& user, const std::string& encoded_hash,
                      Done<void> done) override {
        later([=, this] { inner_.set_pin_hash(user, encoded_hash, done); }, done);
    }
    void replace_pin_hash(const std::string& user, const std::string& old_hash,
                          const std::string& new_hash, Done<bool> done) override {
        later([=, this] { inner_.replace_pin_hash(user, old_hash, new_hash, done); }, done);
    }
    void set_pin(const std::string& user, const std::string& encoded_hash,
                 Done<void> done) override {
        later([=, this] { inner_.set_pin(user, encoded_hash, done); }, done);
    }
    void set_totp_pending(const std::string& user, std::string_view secret, int64_t until,
                          Done<void> done) override {
        later(
            [=, this, secret = std::string(secret)] {
                inner_.set_totp_pending(user, secret, until, done);
            },
            done);
    }
    void set_totp(const std::string& user, std::string_view secret, int64_t last_step,
                  Done<void> done) override {
        later([=, this,
               secret = std::string(secret)] { inner_.set_totp(user, secret, last_step, done); },
              done);
    }
    void set_totp_and_two_step(const std::string& user, std::string_view secret, int64_t last_step,
                               bool two_step, Done<void> done) override {
        later(
            [=, this, secret = std::string(secret)] {
                inner_.set_totp_and_two_step(user, secret, last_step, two_step, done);
            },
            done);
    }
    void use_totp_step(const std::string& user, int64_t step, Done<bool> done) override {
        later([=, this] { inner_.use_totp_step(user, step, done); }, done);
    }
    void set_recovery_codes(const std::string& user, const std::vector<std::string>& hashes,
                            Done<void> done) override {
        later([=, this] { inner_.set_recovery_codes(user, hashes, done); }, done);
    }
    void use_recovery_code(const std::string& user, const std::string& hash,
                           Done<int> done) override {
        later([=, this] { inner_.use_recovery_code(user, hash, done); }, done);
    }
    void add_pin_failure(const std::string& user, Done<int> done) override {
        later([=, this] { inner_.add_pin_failure(user, done); }, done);
    }
    void clear_pin_failures(const std::string& user, Done<void> done) override {
        later([=, this] { inner_.clear_pin_failures(user, done); }, done);
    }
    void add_fingerprint_failure(const std::string& user, int64_t now,
                                 Done<FingerprintFailures> done) override {
        later([=, this] { inner_.add_fingerprint_failure(user, now, done); }, done);
    }
    void clear_fingerprint_failures(const std::string& user, Done<void> done) override {
        later([=, this] { inner_.clear_fingerprint_failures(user, done); }, done);
    }
    void record_full_login(const std::string& user, int64_t now, Done<void> done) override {
        later([=, this] { inner_.record_full_login(user, now, done); }, done);
    }
    void start_enroll_grace(const std::string& user, int64_t now, Done<int64_t> done) override {
        later([=, this] { inner_.start_enroll_grace(user, now, done); }, done);
    }
    void clear_enroll_grace(const std::string& user, Done<void> done) override {
        later([=, this] { inner_.clear_enroll_grace(user, done); }, done);
    }
    void remember_host(const std::string& user, const RememberedHost& host,
                       Done<void> done) override {
        later([=, this] { inner_.remember_host(user, host, done); }, done);
    }
    void remembered_host(const std::string& user, const std::string& service,
                         const std::string& origin,
                         Done<std::optional<RememberedHost>> done) override {
        later([=, this] { inner_.remembered_host(user, service, origin, done); }, done);
    }
    void remembered_hosts(const std::string& user,
                          Done<std::vector<RememberedHost>> done) override {
        later([=, this] { inner_.remembered_hosts(user, done); }, done);
    }
    void forget_hosts(const std::string& user, int64_t before, Done<int> done) override {
        later([=, this] { inner_.forget_hosts(user, before, done); }, done);
    }
    void prune_hosts(int64_t now, Done<void> done) override {
        later([=, this] { inner_.prune_hosts(now, done); }, done);
    }
    void add_failure(const std::string& user, const LockRule& rule,
                     Done<FailureCount> done) override {
        later([=, this] { inner_.add_failure(user, rule, done); }, done);
    }
    void add_passwordless_failure(const std::string& user, Done<int> done) override {
        later([=, this] { inner_.add_passwordless_failure(user, done); }, done);
    }
    void lock(const std::string& user, int64_t until, Done<void> done) override {
        later([=, this] { inner_.lock(user, until, done); }, done);
    }
    void clear_failures(const std::string& user, Done<void> done) override {
        later([=, this] { inner_.clear_failures(user, done); }, done);
    }
    void clear_failures_unless_locked(const std::string& user, int64_t now,
                                      Done<bool> done) override {
        later([=, this] { inner_.clear_failures_unless_locked(user, now, done); }, done);
    }
    void reset(const std::string& user, const ResetScope& scope, Done<void> done) override {
        later([=, this] { inner_.reset(user, scope, done); }, done);
    }
    void put_confirmation(const std::string& user, const Confirmation& confirmation,
                          Done<void> done) override {
        later([=, this] { inner_.put_confirmation(user, confirmation, done); }, done);
    }
    void confirmations(const std::string& user, Done<std::vector<Confirmation>> done) override {
        later([=, this] { inner_.confirmations(user, done); }, done);
    }
    void drop_confirmations(const std::string& user, const std::string& kind,
                            const std::string& source, Done<int> done) override {
        later([=, this] { inner_.drop_confirmations(user, kind, source, done); }, done);
    }
    void answer_confirmation(const std::string& user, const std::string& kind,
                             const std::string& answer_hash, int64_t now,
                             Done<ConfirmationAnswer> done) override {
        later([=, this] { inner_.answer_confirmation(user, kind, answer_hash, now, done); }, done);
    }
    void prune_confirmations(int64_t now, Done<void> done) override {
        later([=, this] { inner_.prune_confirmations(now, done); }, done);
    }

    void rekey_user(const std::string& user, Done<RekeyCounts> done) override {
        later([=, this] { inner_.rekey_user(user, done); }, done);
    }
    void reserve_send(const std::vector<SendCap>& caps, int64_t since, int64_t at,
                      Done<SendReservation> done) override {
        later([=, this] { inner_.reserve_send(caps, since, at, done); }, done);
    }
    void check_send(const std::vector<SendCap>& caps, int64_t since, int64_t at,
                    Done<SendReservation> done) override {
        later([=, this] { inner_.check_send(caps, since, at, done); }, done);
    }
    void release_send(const SendReservation& reservation, Done<void> done) override {
        later([=, this] { inner_.release_send(reservation, done); }, done);
    }
    void sends_since(const std::string& key, int64_t since, Done<int> done) override {
        later([=, this] { inner_.sends_since(key, since, done); }, done);
    }
    void prune_sends(int64_t before, Done<void> done) override {
        later([=, this] { inner_.prune_sends(before, done); }, done);
    }

  private:
    struct Waiting {
        std::function<void()> run;
        std::function<void(const Error&)> fail;
    };

    template <class T>
    void later(std::function<void()> operation, const Done<T>& done) {
        queue_.push_back({std::move(operation), [done](const Error& error) { done(error); }});
    }

    std::unique_ptr<AsyncStore> owned_;
    AsyncStore& inner_;
    std::deque<Waiting> queue_;
};

}  // namespace lwauth::test
