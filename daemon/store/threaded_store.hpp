// An AsyncStore over Stores that block (PgStore, on the network): each operation runs on a
// connection thread of its own, with a Store that thread alone uses, and its result comes
// back to the sd-event loop as a worker job's does (workers.hpp). A slow database holds up
// the operations waiting for it, never the loop: Status, the bus and logins that are not
// waiting on the store go on.
#pragma once

#include <systemd/sd-event.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "../log.hpp"
#include "../workers.hpp"
#include "async_store.hpp"
#include "lwauth/secret.hpp"

namespace lwauth {

class ThreadedStore final : public AsyncStore {
  public:
    /// One connection thread per Store in `stores` (at least one), posting to `event`,
    /// which must outlive this. At most `queue_limit` operations of each priority wait for
    /// a thread; one more answers Error(Unavailable) at once.
    ThreadedStore(sd_event* event, std::vector<std::unique_ptr<Store>> stores,
                  size_t queue_limit = WorkerPool::kDefaultQueueLimit)
        : shared_(std::make_shared<Connections>(event, std::move(stores), queue_limit)) {}
    /// Drops this face's operations not started; the running ones finish on their thread,
    /// and no `done` of this face is called from then on. The threads and connections go
    /// with the last face.
    ~ThreadedStore() override = default;
    ThreadedStore(const ThreadedStore&) = delete;
    ThreadedStore& operator=(const ThreadedStore&) = delete;

    /// Another face of the same connections and threads whose operations a free thread
    /// takes before this one's, with a queue of their own: lwauthd's logins use it, so
    /// that the account calls of the bus (which any local user can make, such as Status
    /// by the hundred) can neither fill the queue before a login nor make it wait behind
    /// them.
    [[nodiscard]] std::unique_ptr<ThreadedStore> urgent() const {
        return std::unique_ptr<ThreadedStore>(new ThreadedStore(shared_, Priority::High));
    }

    void load_user(const std::string& user, Done<UserState> done) override {
        run(std::move(done), [=](Store& s) { return s.load_user(user); });
    }
    void lock_state(const std::string& user, Done<LockState> done) override {
        run(std::move(done), [=](Store& s) { return s.lock_state(user); });
    }
    void list_users(Done<std::vector<std::string>> done) override {
        run(std::move(done), [](Store& s) { return s.list_users(); });
    }
    void save_contact(const std::string& user, const Contact& contact, Done<void> done) override {
        run(std::move(done), [=](Store& s) { s.save_contact(user, contact); });
    }
    void remove_contact(const std::string& user, const std::string& kind,
                        Done<void> done) override {
        run(std::move(done), [=](Store& s) { s.remove_contact(user, kind); });
    }
    void remove_contact_and_two_step(const std::string& user, const std::string& kind,
                                     const OtherFactors& others, Done<bool> done) override {
        run(std::move(done),
            [=](Store& s) { return s.remove_contact_and_two_step(user, kind, others); });
    }
    void remove_second_factor(const std::string& user, const std::string& factor,
                              const RemovalRule& rule, Done<Removal> done) override {
        run(std::move(done), [=](Store& s) { return s.remove_second_factor(user, factor, rule); });
    }
    void set_two_step(const std::string& user, bool enabled, Done<void> done) override {
        run(std::move(done), [=](Store& s) { s.set_two_step(user, enabled); });
    }
    void save_contact_and_two_step(const std::string& user, const Contact& contact, bool two_step,
                                   Done<void> done) override {
        run(std::move(done),
            [=](Store& s) { s.save_contact_and_two_step(user, contact, two_step); });
    }
    void set_profile_contact(const std::string& user, const Contact& contact,
                             Done<void> done) override {
        run(std::move(done), [=](Store& s) { s.set_profile_contact(user, contact); });
    }
    void remove_profile_contact(const std::string& user, const std::string& kind,
                                Done<void> done) override {
        run(std::move(done), [=](Store& s) { s.remove_profile_contact(user, kind); });
    }
    void save_profile_and_login_contact(const std::string& user, const Contact& contact,
                                        Done<void> done) override {
        run(std::move(done), [=](Store& s) { s.save_profile_and_login_contact(user, contact); });
    }
    void remove_profile_and_login_contact(const std::string& user, const std::string& kind,
                                          const std::optional<OtherFactors>& others,
                                          Done<bool> done) override {
        run(std::move(done),
            [=](Store& s) { return s.remove_profile_and_login_contact(user, kind, others); });
    }
    void set_line_link(const std::string& user, const std::string& subject_hash,
                       Done<void> done) override {
        run(std::move(done), [=](Store& s) { s.set_line_link(user, subject_hash); });
    }
    void replace_line_link(const std::string& user, const std::string& old_hash,
                           const std::string& new_hash, Done<bool> done) override {
        run(std::move(done),
            [=](Store& s) { return s.replace_line_link(user, old_hash, new_hash); });
    }
    void set_pin_hash(const std::string& user, const std::string& encoded_hash,
                      Done<void> done) override {
        run(std::move(done), [=](Store& s) { s.set_pin_hash(user, encoded_hash); });
    }
    void replace_pin_hash(const std::string& user, const std::string& old_hash,
                          const std::string& new_hash, Done<bool> done) override {
        run(std::move(done),
            [=](Store& s) { return s.replace_pin_hash(user, old_hash, new_hash); });
    }
    void set_pin(const std::string& user, const std::string& encoded_hash,
                 Done<void> done) override {
        run(std::move(done), [=](Store& s) { s.set_pin(user, encoded_hash); });
    }
    // The secret goes to the connection thread in a SecretString, wiped when the job ends.
    void set_totp_pending(const std::string& user, std::string_view secret, int64_t until,
                          Done<void> done) override {
        run(std::move(done), [user, until, secret = std::make_shared<SecretString>(secret)](
                                 Store& s) { s.set_totp_pending(user, secret->view(), until); });
    }
    void set_totp(const std::string& user, std::string_view secret, int64_t last_step,
                  Done<void> done) override {
        run(std::move(done), [user, last_step, secret = std::make_shared<SecretString>(secret)](
                                 Store& s) { s.set_totp(user, secret->view(), last_step); });
    }
    void set_totp_and_two_step(const std::string& user, std::string_view secret, int64_t last_step,
                               bool two_step, Done<void> done) override {
        run(std::move(done),
            [user, last_step, two_step, secret = std::make_shared<SecretString>(secret)](Store& s) {
                s.set_totp_and_two_step(user, secret->view(), last_step, two_step);
            });
    }
    void use_totp_step(const std::string& user, int64_t step, Done<bool> done) override {
        run(std::move(done), [=](Store& s) { return s.use_totp_step(user, step); });
    }
    void set_recovery_codes(const std::string& user, const std::vector<std::string>& hashes,
                            Done<void> done) override {
        run(std::move(done), [=](Store& s) { s.set_recovery_codes(user, hashes); });
    }
    void use_recovery_code(const std::string& user, const std::string& hash,
                           Done<int> done) override {
        run(std::move(done), [=](Store& s) { return s.use_recovery_code(user, hash); });
    }
    void add_pin_failure(const std::string& user, Done<int> done) override {
        run(std::move(done), [=](Store& s) { return s.add_pin_failure(user); });
    }
    void clear_pin_failures(const std::string& user, Done<void> done) override {
        run(std::move(done), [=](Store& s) { s.clear_pin_failures(user); });
    }
    void add_fingerprint_failure(const std::string& user, int64_t now,
                                 Done<FingerprintFailures> done) override {
        run(std::move(done), [=](Store& s) { return s.add_fingerprint_failure(user, now); });
    }
    void clear_fingerprint_failures(const std::string& user, Done<void> done) override {
        run(std::move(done), [=](Store& s) { s.clear_fingerprint_failures(user); });
    }
    void record_full_login(const std::string& user, int64_t now, Done<void> done) override {
        run(std::move(done), [=](Store& s) { s.record_full_login(user, now); });
    }
    void start_enroll_grace(const std::string& user, int64_t now, Done<int64_t> done) override {
        run(std::move(done), [=](Store& s) { return s.start_enroll_grace(user, now); });
    }
    void clear_enroll_grace(const std::string& user, Done<void> done) override {
        run(std::move(done), [=](Store& s) { s.clear_enroll_grace(user); });
    }
    void remember_host(const std::string& user, const RememberedHost& host,
                       Done<void> done) override {
        run(std::move(done), [=](Store& s) { s.remember_host(user, host); });
    }
    void remembered_host(const std::string& user, const std::string& service,
                         const std::string& origin,
                         Done<std::optional<RememberedHost>> done) override {
        run(std::move(done), [=](Store& s) { return s.remembered_host(user, service, origin); });
    }
    void remembered_hosts(const std::string& user,
                          Done<std::vector<RememberedHost>> done) override {
        run(std::move(done), [=](Store& s) { return s.remembered_hosts(user); });
    }
    void forget_hosts(const std::string& user, int64_t before, Done<int> done) override {
        run(std::move(done), [=](Store& s) { return s.forget_hosts(user, before); });
    }
    void prune_hosts(int64_t now, Done<void> done) override {
        run(std::move(done), [=](Store& s) { s.prune_hosts(now); });
    }
    void add_failure(const std::string& user, const LockRule& rule,
                     Done<FailureCount> done) override {
        run(std::move(done), [=](Store& s) { return s.add_failure(user, rule); });
    }
    void add_passwordless_failure(const std::string& user, Done<int> done) override {
        run(std::move(done), [=](Store& s) { return s.add_passwordless_failure(user); });
    }
    void lock(const std::string& user, int64_t until, Done<void> done) override {
        run(std::move(done), [=](Store& s) { s.lock(user, until); });
    }
    void clear_failures(const std::string& user, Done<void> done) override {
        run(std::move(done), [=](Store& s) { s.clear_failures(user); });
    }
    void clear_failures_unless_locked(const std::string& user, int64_t now,
                                      Done<bool> done) override {
        run(std::move(done),
            [=](Store& s) { return s.clear_failures_unless_locked(user, now); });
    }
    void reset(const std::string& user, const ResetScope& scope, Done<void> done) override {
        run(std::move(done), [=](Store& s) { s.reset(user, scope); });
    }
    void put_confirmation(const std::string& user, const Confirmation& confirmation,
                          Done<void> done) override {
        run(std::move(done), [=](Store& s) { s.put_confirmation(user, confirmation); });
    }
    void confirmations(const std::string& user, Done<std::vector<Confirmation>> done) override {
        run(std::move(done), [=](Store& s) { return s.confirmations(user); });
    }
    void drop_confirmations(const std::string& user, const std::string& kind,
                            const std::string& source, Done<int> done) override {
        run(std::move(done), [=](Store& s) { return s.drop_confirmations(user, kind, source); });
    }
    void answer_confirmation(const std::string& user, const std::string& kind,
                             const std::string& answer_hash, int64_t now,
                             Done<ConfirmationAnswer> done) override {
        run(std::move(done),
            [=](Store& s) { return s.answer_confirmation(user, kind, answer_hash, now); });
    }
    void prune_confirmations(int64_t now, Done<void> done) override {
        run(std::move(done), [=](Store& s) { s.prune_confirmations(now); });
    }

    void rekey_user(const std::string& user, Done<RekeyCounts> done) override {
        run(std::move(done), [=](Store& s) { return s.rekey_user(user); });
    }
    void reserve_send(const std::vector<SendCap>& caps, int64_t since, int64_t at,
                      Done<SendReservation> done) override {
        run(std::move(done), [=](Store& s) { return s.reserve_send(caps, since, at); });
    }
    void check_send(const std::vector<SendCap>& caps, int64_t since, int64_t at,
                    Done<SendReservation> done) override {
        run(std::move(done), [=](Store& s) { return s.check_send(caps, since, at); });
    }
    void release_send(const SendReservation& reservation, Done<void> done) override {
        run(std::move(done), [=](Store& s) { s.release_send(reservation); });
    }
    void sends_since(const std::string& key, int64_t since, Done<int> done) override {
        run(std::move(done), [=](Store& s) { return s.sends_since(key, since); });
    }
    void prune_sends(int64_t before, Done<void> done) override {
        run(std::move(done), [=](Store& s) { s.prune_sends(before); });
    }

  private:
    // The Stores and their threads, shared by the faces.
    struct Connections {
        Connections(sd_event* event, std::vector<std::unique_ptr<Store>> owned, size_t limit)
            : stores(std::move(owned)), pool(event, static_cast<unsigned>(stores.size()), limit) {
            for (auto& store : stores) {
                free.push_back(store.get());
            }
        }
        std::vector<std::unique_ptr<Store>> stores;
        std::mutex mutex;
        std::vector<Store*> free;  // guarded by mutex
        WorkerPool pool;           // after stores: its threads are joined before they go
    };

    ThreadedStore(std::shared_ptr<Connections> shared, Priority priority)
        : shared_(std::move(shared)), priority_(priority) {}

    // A Store no thread is using, given back when the operation ends.
    class Lease {
      public:
        explicit Lease(Connections& owner) : owner_(owner) {
            std::lock_guard lock(owner_.mutex);
            store_ = owner_.free.back();
            owner_.free.pop_back();
        }
        ~Lease() {
            std::lock_guard lock(owner_.mutex);
            owner_.free.push_back(store_);
        }
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        Store& operator*() const { return *store_; }

      private:
        Connections& owner_;
        Store* store_ = nullptr;
    };

    // A job's work returns a value: a void operation returns this instead.
    struct Nothing {};

    template <class T, class Op>
    void run(Done<T> done, Op operation) {
        // As many threads as Stores: a running job always finds one free. The work holds
        // the connections, not this face, which may go while the work runs.
        auto work = [shared = shared_, operation = std::move(operation)]() mutable {
            Lease store(*shared);
            if constexpr (std::is_void_v<T>) {
                operation(*store);
                return Nothing{};
            } else {
                return operation(*store);
            }
        };
        uint64_t id = ++next_id_;
        auto complete = [this, id, done](auto result) {
            jobs_.erase(id);
            if constexpr (std::is_void_v<T>) {
                done(result.ok() ? Result<void>() : Result<void>(result.error()));
            } else {
                done(std::move(result));
            }
        };
        Job job;
        try {
            job = shared_->pool.submit(std::move(work), complete, priority_);
        } catch (const Error& e) {
            busy();
            done(Result<T>(e));  // the queue is full
            return;
        }
        jobs_.emplace(id, std::move(job));
    }

    // Says that operations were refused, once a minute at most however many there are.
    void busy() {
        auto now = std::chrono::steady_clock::now();
        ++refused_;
        if (logged_busy_ && now - *logged_busy_ < std::chrono::minutes(1)) {
            return;
        }
        logged_busy_ = now;
        log_event(LogLevel::Warning, "store-busy",
                  "the store's queue is full: operations answer unavailable",
                  {{"QUEUE", priority_ == Priority::High ? "logins" : "others"},
                   {"COUNT", std::to_string(std::exchange(refused_, 0))}});
    }

    std::shared_ptr<Connections> shared_;
    Priority priority_ = Priority::Normal;
    std::optional<std::chrono::steady_clock::time_point> logged_busy_;
    uint64_t refused_ = 0;  // since the last store-busy was logged
    uint64_t next_id_ = 0;
    std::map<uint64_t, Job> jobs_;  // this face's operations waiting or running
};

}  // namespace lwauth
