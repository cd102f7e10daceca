// The Store on PostgreSQL ([store] backend = postgresql): one database that many lwauthd
// share, so that a contact set up on one host opens on every host, and a lockout or a send
// cap counts the fleet's codes exactly. Each operation is one statement or one transaction
// that locks what it reads (the user's row, or an advisory lock per send-cap key), so that
// counts stay exact across hosts. A PgStore answers at once and blocks on the network:
// lwauthd runs it on a connection thread of its own (threaded_store.hpp), never on the
// event loop.
//
// What is bound to one machine stays with it: the quick-login PIN, its failures, the last
// full login, fingerprint failures, remembered places and the host's send budgets are kept
// in the same database under this machine's identifier (machine_id.hpp), each machine
// seeing only its own. Not under its host name: clones of one image, `localhost` and a
// renamed host would share or lose them.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "contact_cipher.hpp"
#include "lwauth/sd_bus.hpp"
#include "lwauth/secret.hpp"
#include "store.hpp"

namespace lwauth {

using PgConnPtr = std::unique_ptr<PGconn, Deleter<PQfinish>>;

/// How to reach the database.
struct PgConnection {
    /// A libpq connection string or postgresql:// URL ([store] url). Its own settings win,
    /// but for the password.
    std::string url;
    /// [store] password_file's contents; empty: none (the URL's or ~/.pgpass).
    SecretString password;
    /// Seconds libpq waits for a connection, and the longest a statement may run: the
    /// module's deadline must leave room for both.
    int connect_timeout = 2;
    std::chrono::milliseconds statement_timeout{2000};
};

/// Which machine this lwauthd runs on.
struct ThisMachine {
    /// Its identifier (machine_key()): what is bound to it (see above) is kept under it.
    std::string id;
    /// Its host name, under which an older lwauthd kept those rows: at the first
    /// connection ever of this machine, they become its own (machine-rows-adopted).
    /// Empty: nothing is adopted.
    std::string host_name;
};

class PgStore final : public Store {
  public:
    /// Connects and migrates the database (see open()), unless `connect_now` is false: then
    /// the first call that needs the database connects.
    PgStore(PgConnection connection, ThisMachine machine, ContactCipher cipher,
            bool connect_now = true);
    /// Connects and migrates now. Throws Error(Unavailable) when the database cannot be
    /// reached (every call then answers Unavailable until a connection succeeds, tried at
    /// most once a second), Error(Internal) when its schema is newer than this lwauthd's.
    void open();
    ~PgStore() override;

    /// The schema version this build migrates to.
    static int latest_schema_version();
    [[nodiscard]] int schema_version();

    UserState load_user(const std::string& user) override;
    LockState lock_state(const std::string& user) override;
    std::vector<std::string> list_users() override;
    void save_contact(const std::string& user, const Contact& contact) override;
    void remove_contact(const std::string& user, const std::string& kind) override;
    bool remove_contact_and_two_step(const std::string& user, const std::string& kind,
                                     const OtherFactors& others) override;
    Removal remove_second_factor(const std::string& user, const std::string& factor,
                                 const RemovalRule& rule) override;
    void set_two_step(const std::string& user, bool enabled) override;
    void save_contact_and_two_step(const std::string& user, const Contact& contact,
                                   bool two_step) override;
    void set_profile_contact(const std::string& user, const Contact& contact) override;
    void save_profile_and_login_contact(const std::string& user, const Contact& contact) override;
    void remove_profile_contact(const std::string& user, const std::string& kind) override;
    bool remove_profile_and_login_contact(const std::string& user, const std::string& kind,
                                          const std::optional<OtherFactors>& others) override;
    void set_line_link(const std::string& user, const std::string& subject_hash) override;
    bool replace_line_link(const std::string& user, const std::string& old_hash,
                           const std::string& new_hash) override;
    void set_pin_hash(const std::string& user, const std::string& encoded_hash) override;
    bool replace_pin_hash(const std::string& user, const std::string& old_hash,
                          const std::string& new_hash) override;
    void set_pin(const std::string& user, const std::string& encoded_hash) override;
    void set_totp_pending(const std::string& user, std::string_view secret, int64_t until) override;
    void set_totp(const std::string& user, std::string_view secret, int64_t last_step) override;
    void set_totp_and_two_step(const std::string& user, std::string_view secret, int64_t last_step,
                               bool two_step) override;
    bool use_totp_step(const std::string& user, int64_t step) override;
    void set_recovery_codes(const std::string& user,
                            const std::vector<std::string>& hashes) override;
    int use_recovery_code(const std::string& user, const std::string& hash) override;
    int add_pin_failure(const std::string& user) override;
    void clear_pin_failures(const std::string& user) override;
    FingerprintFailures add_fingerprint_failure(const std::string& user, int64_t now) override;
    void clear_fingerprint_failures(const std::string& user) override;
    void record_full_login(const std::string& user, int64_t now) override;
    int64_t start_enroll_grace(const std::string& user, int64_t now) override;
    void clear_enroll_grace(const std::string& user) override;
    void remember_host(const std::string& user, const RememberedHost& host) override;
    std::optional<RememberedHost> remembered_host(const std::string& user,
                                                  const std::string& service,
                                                  const std::string& origin) override;
    void prune_hosts(int64_t now) override;
    std::vector<RememberedHost> remembered_hosts(const std::string& user) override;
    int forget_hosts(const std::string& user, int64_t before = 0) override;
    FailureCount add_failure(const std::string& user, const LockRule& rule = {}) override;
    int add_passwordless_failure(const std::string& user) override;
    void lock(const std::string& user, int64_t until) override;
    void clear_failures(const std::string& user) override;
    bool clear_failures_unless_locked(const std::string& user, int64_t now) override;
    void reset(const std::string& user, const ResetScope& scope) override;
    void put_confirmation(const std::string& user, const Confirmation& confirmation) override;
    std::vector<Confirmation> confirmations(const std::string& user) override;
    int drop_confirmations(const std::string& user, const std::string& kind,
                           const std::string& source = "") override;
    ConfirmationAnswer answer_confirmation(const std::string& user, const std::string& kind,
                                           const std::string& answer_hash, int64_t now) override;
    void prune_confirmations(int64_t now) override;
    RekeyCounts rekey_user(const std::string& user) override;
    SendReservation reserve_send(const std::vector<SendCap>& caps, int64_t since,
                                 int64_t at) override;
    void release_send(const SendReservation& reservation) override;
    SendReservation check_send(const std::vector<SendCap>& caps, int64_t since,
                               int64_t at) override;
    int sends_since(const std::string& key, int64_t since) override;
    void prune_sends(int64_t before) override;

    class Query;  // one statement's parameters and result (pg_store.cpp)

  private:
    /// The open connection, made again when it was lost (at most once a second): throws
    /// Error(Unavailable) when the database cannot be reached.
    PGconn* connection();
    void connect();
    void migrate();
    /// Takes over the rows kept under host_name_, the first time this machine connects.
    void adopt_host_rows();
    void ensure_user(const std::string& user);
    void ensure_local(const std::string& user);
    template <class F>
    auto in_transaction(F&& work) -> decltype(work());
    /// The user's confirmations of `kind` ("": every kind); `for_update` (one kind) holds
    /// the row until the transaction ends.
    std::vector<Confirmation> read_confirmations(const std::string& user, const std::string& kind,
                                                 bool for_update);
    /// The send caps' keys as this host counts them: its own "host" budgets, named by
    /// machine; the others (a user, a destination) shared by every host.
    [[nodiscard]] std::string host_key(const std::string& key) const;
    [[nodiscard]] std::vector<SendCap> on_this_host(std::vector<SendCap> caps) const;
    /// `caps` already on_this_host.
    SendReservation check_in_database(const std::vector<SendCap>& caps, int64_t since, int64_t at);

    PgConnection settings_;
    std::string machine_;
    std::string host_name_;
    ContactCipher cipher_;
    PgConnPtr conn_;
    std::chrono::steady_clock::time_point next_attempt_{};
    int transaction_depth_ = 0;
    bool adopted_ = false;  // adopt_host_rows() has run on some connection
};

}  // namespace lwauth
