// What lwauthd remembers between logins, behind one interface. SQLite is the embedded
// default (sqlite_store); unit tests use MemoryStore.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lwauth {

/// A verified contact: kind is "phone" or "email"; value is E.164 or an address.
struct Contact {
    std::string kind;
    std::string value;
};

struct UserState {
    bool two_step = false;
    std::vector<Contact> contacts;  // verified only
    int failures = 0;               // consecutive failed codes
    int64_t locked_until = 0;       // epoch seconds; 0 when not locked

    [[nodiscard]] const Contact* contact(const std::string& kind) const {
        for (const auto& c : contacts) {
            if (c.kind == kind) {
                return &c;
            }
        }
        return nullptr;
    }
};

class Store {
  public:
    virtual ~Store() = default;

    /// The user's state; a user never seen has the default state.
    [[nodiscard]] virtual UserState load_user(const std::string& user) = 0;
    /// Users that have any state.
    [[nodiscard]] virtual std::vector<std::string> list_users() = 0;

    /// Saves a verified contact, replacing one of the same kind.
    virtual void save_contact(const std::string& user, const Contact& contact) = 0;
    virtual void remove_contact(const std::string& user, const std::string& kind) = 0;
    virtual void set_two_step(const std::string& user, bool enabled) = 0;

    /// Counts one more failed code and returns the new count (atomically).
    virtual int add_failure(const std::string& user) = 0;
    /// Locks the user until `until` and resets the failure count.
    virtual void lock(const std::string& user, int64_t until) = 0;
    /// Clears the failure count and any lockout.
    virtual void clear_failures(const std::string& user) = 0;

    /// Records one message sent to a destination (kept only as a keyed hash).
    virtual void record_send(const std::string& user, const std::string& destination_hash,
                             int64_t at) = 0;
    [[nodiscard]] virtual int sends_by_user_since(const std::string& user, int64_t since) = 0;
    [[nodiscard]] virtual int sends_to_destination_since(const std::string& destination_hash,
                                                         int64_t since) = 0;
    [[nodiscard]] virtual int sends_since(int64_t since) = 0;
    /// Forgets sends older than `before` (counters only look back one hour).
    virtual void prune_sends(int64_t before) = 0;
    /// Writes what a store keeps back to write in one go (the send log); a store that
    /// writes at once has nothing to do. Counting sends always flushes first.
    virtual void flush() {}
};

}  // namespace lwauth
