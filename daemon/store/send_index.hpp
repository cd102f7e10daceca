// The recent sends, counted in memory under the keys they were reserved against (a
// user, a destination hash, the host, a remote host...). The send caps ask a count per
// key before every code, and counting rows in SQLite costs a scan of the hour's sends
// (up to the host cap) each time; here a count is a binary search. The database stays
// the durable record the index is loaded from.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "store.hpp"

namespace lwauth {

class SendIndex {
  public:
    /// Counts one send at `at` under each key.
    void add(const std::vector<std::string>& keys, int64_t at);
    /// Takes back one send at `at` under each key (a reservation given back).
    void remove(const std::vector<std::string>& keys, int64_t at);

    /// The sends counted under `key` at or after `since`.
    [[nodiscard]] int count_since(const std::string& key, int64_t since) const;

    /// The index of the first cap whose key already has `limit` sends at or after
    /// `since`, or -1 when every cap has room.
    [[nodiscard]] int first_reached(const std::vector<SendCap>& caps, int64_t since) const;

    /// When a cap that is reached has room again: the time of the send whose leaving the
    /// window (that starts at `since`) brings `key` below `limit`. 0 when it has room.
    [[nodiscard]] int64_t blocking_send_at(const std::string& key, int limit, int64_t since) const;

    /// Whether a send at `at` fits every cap counted from `since`: a reservation that is
    /// not reserved, with `capped` (-1: it fits) and, when capped, `room_at`. Records
    /// nothing.
    [[nodiscard]] SendReservation check(const std::vector<SendCap>& caps, int64_t since,
                                        int64_t at) const;

    /// Forgets the sends before `before`.
    void prune(int64_t before);

    /// How many keys have sends (for tests and benchmarks).
    [[nodiscard]] size_t keys() const { return by_key_.size(); }

  private:
    // Ascending. A vector, not a deque: most users and destinations have a send or two,
    // and a deque allocates a 512-byte block for its first element.
    using Times = std::vector<int64_t>;

    std::unordered_map<std::string, Times> by_key_;
};

}  // namespace lwauth
