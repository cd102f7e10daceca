// The background synchronization of [directory] backend = ldap or lineworks into the store's profile
// contacts, as sssd keeps a cache: at start and every sync_interval, one thread of its own
// looks every user up (the host's users, as NSS enumerates them, and those the store
// knows), and the event loop writes what changed. A login reads the store only, so it
// never waits on the directory. A pass that fails changes nothing (the cache serves, with
// a warning) until the last good pass is older than max_age: then the directory's contacts
// are removed, so that a number the directory may have taken away stops receiving codes.
// The last good pass's time is kept in the state directory (directory.synced) so that a
// restart does not make old contacts young again.
#pragma once

#include <systemd/sd-event.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "clock.hpp"
#include "directory/directory.hpp"
#include "directory/lineworks_directory.hpp"
#include "lwauth/policy.hpp"
#include "store/async_store.hpp"
#include "workers.hpp"

namespace lwauth {

class DirectorySync {
  public:
    using PolicyOf = std::function<std::shared_ptr<const policy::Policy>()>;

    /// `stamp` is the file that keeps the last good pass's time. Starts the first pass on
    /// the loop at once when the policy names a directory; throws Error(Internal)
    /// when the timer or the thread cannot be made.
    DirectorySync(sd_event* event, AsyncStore& store, const Clock& clock, PolicyOf policy,
                  std::string stamp);
    ~DirectorySync();
    DirectorySync(const DirectorySync&) = delete;
    DirectorySync& operator=(const DirectorySync&) = delete;

    /// A pass now (after a reload: the directory's settings may have changed), unless one
    /// is under way.
    void sync_now();

  private:
    static int on_timer(sd_event_source* s, uint64_t, void* userdata);
    void pass();
    void looked_up(const std::vector<DirectoryEntry>& entries);
    void apply(std::shared_ptr<const std::vector<DirectoryEntry>> entries, Done<int> done);
    void failed(const std::string& reason);
    void expire();
    void rearm();
    void write_stamp(int64_t at) const;
    [[nodiscard]] std::shared_ptr<Directory> make_directory(const policy::Policy& policy);

    sd_event* event_;
    AsyncStore& store_;
    const Clock& clock_;
    PolicyOf policy_;
    std::string stamp_;
    int64_t last_good_ = 0;
    bool stamp_missing_ = false;  // last_good_ is this start's time, not yet in stamp_
    bool expired_ = false;  // the directory's contacts were removed after the last good pass
    std::shared_ptr<RequestPacer> pacer_;  // LINE WORKS' rate, kept across passes
    std::unique_ptr<WorkerPool> thread_;
    Job job_;
    sd_event_source* timer_ = nullptr;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace lwauth
