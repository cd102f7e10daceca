// The recent sends, counted in memory: by user, by destination and for the host. The
// send caps ask three counts before every code, and counting rows in SQLite costs a
// scan of the hour's sends (up to the host cap, 100,000) each time; here a count is a
// binary search. The database stays the durable record the index is loaded from.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace lwauth {

class SendIndex {
  public:
    void add(const std::string& user, const std::string& destination_hash, int64_t at);

    [[nodiscard]] int by_user_since(const std::string& user, int64_t since) const;
    [[nodiscard]] int to_destination_since(const std::string& destination_hash,
                                           int64_t since) const;
    [[nodiscard]] int since(int64_t since) const;

    /// Forgets the sends before `before`.
    void prune(int64_t before);

    [[nodiscard]] size_t size() const { return all_.size(); }

  private:
    // Ascending. A vector, not a deque: most users and destinations have a send or two,
    // and a deque allocates a 512-byte block for its first element.
    using Times = std::vector<int64_t>;

    static void insert(Times& times, int64_t at);
    static int count_since(const Times& times, int64_t since);
    static void drop_before(Times& times, int64_t before);
    static void prune(std::unordered_map<std::string, Times>& by_key, int64_t before);

    std::unordered_map<std::string, Times> by_user_;
    std::unordered_map<std::string, Times> by_destination_;
    Times all_;
};

}  // namespace lwauth
