// The embedded Store: one SQLite file, WAL, synchronous=FULL, numbered migrations,
// mode 0600. lwauthd is its only writer.
#pragma once

#include <sqlite3.h>

#include <functional>
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
    void set_two_step(const std::string& user, bool enabled) override;
    void set_profile_contact(const std::string& user, const Contact& contact) override;
    void remove_profile_contact(const std::string& user, const std::string& kind) override;
    void set_line_link(const std::string& user, const std::string& subject_hash) override;
    void set_pin_hash(const std::string& user, const std::string& encoded_hash) override;
    int add_failure(const std::string& user) override;
    void lock(const std::string& user, int64_t until) override;
    void clear_failures(const std::string& user) override;
    void record_send(const std::string& user, const std::string& destination_hash,
                     int64_t at) override;
    int sends_by_user_since(const std::string& user, int64_t since) override;
    int sends_to_destination_since(const std::string& destination_hash, int64_t since) override;
    int sends_since(int64_t since) override;
    void prune_sends(int64_t before) override;
    void flush() override;

    /// Keeps sends back and writes them in one transaction (one fsync) when flush() runs;
    /// `schedule` is called when the first send is kept back, for the daemon to arrange a
    /// flush shortly after. A burst of deliveries then costs one fsync, not one each,
    /// while counting (from the index in memory, which has every send) stays exact.
    /// Without it, each send is written at once.
    void set_write_behind(std::function<void()> schedule) { schedule_flush_ = std::move(schedule); }

    ~SqliteStore() override;

    class Statements;  // prepared statements kept for reuse (sqlite_store.cpp)

  private:
    void migrate();
    void ensure_user(const std::string& user);
    void load_sends();

    SqlitePtr db_;
    std::unique_ptr<Statements> statements_;  // after db_: finalized before it closes
    ContactCipher cipher_;
    std::string path_;
    struct Send {
        std::string user;
        std::string destination_hash;
        int64_t at;
    };
    std::vector<Send> pending_sends_;  // recorded, not yet written
    SendIndex sends_;                  // every send in the database or pending, for the caps
    std::function<void()> schedule_flush_;
};

}  // namespace lwauth
