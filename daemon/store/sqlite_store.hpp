// The embedded Store: one SQLite file, WAL, synchronous=FULL, numbered migrations,
// mode 0600. lwauthd is its writer; the send caps also see what another connection to the
// file (a second lwauthd) recorded.
#pragma once

#include <sqlite3.h>

#include <memory>
#include <string>
#include <vector>

#include "contact_cipher.hpp"
#include "lwauth/sd_bus.hpp"
#include "send_index.hpp"
#include "store.hpp"

namespace lwauth {

using SqlitePtr = std::unique_ptr<sqlite3, Deleter<sqlite3_close_v2>>;

class SqliteStore final : public Store {
  public:
    /// Opens (creating with mode 0600) and migrates the database at path.
    SqliteStore(const std::string& path, ContactCipher cipher);

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

    ~SqliteStore() override;

    class Statements;  // prepared statements kept for reuse (sqlite_store.cpp)

  private:
    void migrate();
    void ensure_user(const std::string& user);
    void load_sends();
    void refresh_sends();

    SqlitePtr db_;
    std::unique_ptr<Statements> statements_;  // after db_: finalized before it closes
    ContactCipher cipher_;
    std::string path_;
    SendIndex sends_;            // every send in the send log, for the caps
    int64_t sends_version_ = 0;  // PRAGMA data_version when sends_ was loaded
};

}  // namespace lwauth
