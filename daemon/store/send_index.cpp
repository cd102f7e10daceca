#include "send_index.hpp"

#include <algorithm>

namespace lwauth {

void SendIndex::insert(Times& times, int64_t at) {
    // Sends come in time order; a clock stepped back puts one before the newest.
    if (times.empty() || times.back() <= at) {
        times.push_back(at);
    } else {
        times.insert(std::upper_bound(times.begin(), times.end(), at), at);
    }
}

void SendIndex::drop_before(Times& times, int64_t before) {
    times.erase(times.begin(), std::lower_bound(times.begin(), times.end(), before));
}

int SendIndex::count_since(const Times& times, int64_t since) {
    return static_cast<int>(times.end() - std::lower_bound(times.begin(), times.end(), since));
}

void SendIndex::add(const std::string& user, const std::string& destination_hash, int64_t at) {
    insert(by_user_[user], at);
    insert(by_destination_[destination_hash], at);
    insert(all_, at);
}

int SendIndex::by_user_since(const std::string& user, int64_t since) const {
    auto it = by_user_.find(user);
    return it == by_user_.end() ? 0 : count_since(it->second, since);
}

int SendIndex::to_destination_since(const std::string& destination_hash, int64_t since) const {
    auto it = by_destination_.find(destination_hash);
    return it == by_destination_.end() ? 0 : count_since(it->second, since);
}

int SendIndex::since(int64_t since) const {
    return count_since(all_, since);
}

void SendIndex::prune(std::unordered_map<std::string, Times>& by_key, int64_t before) {
    for (auto it = by_key.begin(); it != by_key.end();) {
        drop_before(it->second, before);
        it = it->second.empty() ? by_key.erase(it) : std::next(it);
    }
}

void SendIndex::prune(int64_t before) {
    prune(by_user_, before);
    prune(by_destination_, before);
    drop_before(all_, before);
}

}  // namespace lwauth
