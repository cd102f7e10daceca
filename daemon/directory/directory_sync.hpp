// The background synchronization of [directory] backend = ldap or lineworks into the store's profile
// contacts, as sssd keeps a cache: at start and every sync_interval, one thread of its own
// looks every user up (the host's users, as NSS enumerates them, and those the store
// knows), and the event loop writes what changed. A login reads the store only, so it
// never waits on the directory. A pass that fails changes nothing (the cache serves, with
// a warning) until the last good pass is older than max_age: then the directory's contacts
// are removed, so that a number the directory may have taken away stops receiving codes.
// The last good pass's time is kept in the state directory (directory.synced) so that a
// restart does not make old contacts young again. A user no pass lists (NSS does not
// enumerate them and the store does not know them yet) is looked up alone, on the same
// thread, when a login of theirs finds no contact (look_up).
#pragma once

#include <systemd/sd-event.h>

#include <functional>
#include <memory>
#include <set>
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

    /// Looks `user` up soon, on the directory's thread, and writes what the directory
    /// holds: for a user the pass does not know (NSS does not enumerate them, as sssd with
    /// enumerate = false, and they have not logged in yet), whose login found no contact.
    /// Returns at once; each user is looked up at most once between two passes, and at
    /// most kMaxLookups wait. Nothing under another backend or contacts = self.
    void look_up(const std::string& user);

    static constexpr size_t kMaxLookups = 256;

  private:
    static int on_timer(sd_event_source* s, uint64_t, void* userdata);
    void pass();
    void looked_up(const std::vector<DirectoryEntry>& entries);
    void apply(std::shared_ptr<const std::vector<DirectoryEntry>> entries, Done<int> done);
    void failed(const std::string& reason);
    void expire();
    void rearm();
    void write_stamp(int64_t at) const;
    // What one job of lookups found: the directory's entries of the users NSS knows, and
    // the names NSS does not know.
    struct Lookups {
        std::vector<DirectoryEntry> entries;
        std::vector<std::string> unknown;
    };
    [[nodiscard]] bool synchronized() const;
    WorkerPool& directory_thread();
    void start_lookups();
    void looked_up_alone(Result<Lookups> found);
    void lookups_over(const std::string& failure);
    // The directory the policy names, its bind password read now (a file that fails the
    // checks fails the pass or the lookup).
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
    // Users to look up alone, those looked up alone since the last pass, and the job
    // looking some up (at most one at a time, beside a pass).
    std::set<std::string> wanted_;
    std::set<std::string> looked_up_;
    Job lookup_job_;
    bool looking_up_ = false;
    sd_event_source* timer_ = nullptr;
    sd_event_source* lookup_soon_ = nullptr;  // starts start_lookups() from the loop
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace lwauth
