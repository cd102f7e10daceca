#include "send_index.hpp"

#include <algorithm>

namespace lwauth {

void SendIndex::add(const std::vector<std::string>& keys, int64_t at) {
    for (const auto& key : keys) {
        Times& times = by_key_[key];
        // Sends come in time order; a clock stepped back puts one before the newest.
        if (times.empty() || times.back() <= at) {
            times.push_back(at);
        } else {
            times.insert(std::upper_bound(times.begin(), times.end(), at), at);
        }
    }
}

void SendIndex::remove(const std::vector<std::string>& keys, int64_t at) {
    for (const auto& key : keys) {
        auto it = by_key_.find(key);
        if (it == by_key_.end()) {
            continue;
        }
        Times& times = it->second;
        auto pos = std::lower_bound(times.begin(), times.end(), at);
        if (pos != times.end() && *pos == at) {
            times.erase(pos);
        }
        if (times.empty()) {
            by_key_.erase(it);
        }
    }
}

int SendIndex::count_since(const std::string& key, int64_t since) const {
    auto it = by_key_.find(key);
    if (it == by_key_.end()) {
        return 0;
    }
    const Times& times = it->second;
    return static_cast<int>(times.end() - std::lower_bound(times.begin(), times.end(), since));
}

int SendIndex::first_reached(const std::vector<SendCap>& caps, int64_t since) const {
    for (size_t i = 0; i < caps.size(); ++i) {
        if (count_since(caps[i].key, since) >= caps[i].limit) {
            return static_cast<int>(i);
        }
    }
    return -1;
}

int64_t SendIndex::blocking_send_at(const std::string& key, int limit, int64_t since) const {
    auto it = by_key_.find(key);
    if (it == by_key_.end() || limit <= 0) {
        return 0;
    }
    const Times& times = it->second;
    auto first = std::lower_bound(times.begin(), times.end(), since);
    auto in_window = times.end() - first;
    if (in_window < limit) {
        return 0;
    }
    // Ascending: once the oldest (in_window - limit + 1) have left, there is room.
    return *(first + (in_window - limit));
}

void SendIndex::prune(int64_t before) {
    for (auto it = by_key_.begin(); it != by_key_.end();) {
        Times& times = it->second;
        times.erase(times.begin(), std::lower_bound(times.begin(), times.end(), before));
        it = times.empty() ? by_key_.erase(it) : std::next(it);
    }
}

SendReservation SendIndex::check(const std::vector<SendCap>& caps, int64_t since,
                                 int64_t at) const {
    SendReservation r;
    r.capped = first_reached(caps, since);
    if (r.capped >= 0) {
        const SendCap& cap = caps[static_cast<size_t>(r.capped)];
        r.room_at = blocking_send_at(cap.key, cap.limit, since) + (at - since);
    }
    return r;
}

}  // namespace lwauth
