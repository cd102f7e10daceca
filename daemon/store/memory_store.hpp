// A Store in memory: for unit tests of the login logic, and nothing else.
#pragma once

#include <map>
#include <tuple>

#include "store.hpp"

namespace lwauth {

class MemoryStore final : public Store {
  public:
    UserState load_user(const std::string& user) override {
        auto it = users_.find(user);
        return it == users_.end() ? UserState{} : it->second;
    }
    LockState lock_state(const std::string& user) override {
        UserState state = load_user(user);
        return {state.failures, state.locked_until};
    }
    std::vector<std::string> list_users() override {
        std::vector<std::string> out;
        for (const auto& [name, state] : users_) {
            out.push_back(name);
        }
        return out;
    }
    void save_contact(const std::string& user, const Contact& contact) override {
        remove_contact(user, contact.kind);
        users_[user].contacts.push_back(contact);
    }
    void remove_contact(const std::string& user, const std::string& kind) override {
        auto& contacts = users_[user].contacts;
        std::erase_if(contacts, [&](const Contact& c) { return c.kind == kind; });
    }
    void set_two_step(const std::string& user, bool enabled) override {
        users_[user].two_step = enabled;
    }
    void set_profile_contact(const std::string& user, const Contact& contact) override {
        remove_profile_contact(user, contact.kind);
        users_[user].profile.push_back({contact.kind, contact.value, "admin"});
    }
    void remove_profile_contact(const std::string& user, const std::string& kind) override {
        std::erase_if(users_[user].profile, [&](const Contact& c) { return c.kind == kind; });
    }
    void set_line_link(const std::string& user, const std::string& subject_hash) override {
        users_[user].line_linked = !subject_hash.empty();
    }
    void set_pin_hash(const std::string& user, const std::string& encoded_hash) override {
        users_[user].pin_set = !encoded_hash.empty();
    }
    int add_failure(const std::string& user) override { return ++users_[user].failures; }
    void lock(const std::string& user, int64_t until) override {
        users_[user].locked_until = until;
        users_[user].failures = 0;
    }
    void clear_failures(const std::string& user) override {
        users_[user].failures = 0;
        users_[user].locked_until = 0;
    }
    void record_send(const std::string& user, const std::string& destination_hash,
                     int64_t at) override {
        sends_.emplace_back(user, destination_hash, at);
    }
    int sends_by_user_since(const std::string& user, int64_t since) override {
        int n = 0;
        for (const auto& [u, d, at] : sends_) {
            n += (u == user && at >= since) ? 1 : 0;
        }
        return n;
    }
    int sends_to_destination_since(const std::string& destination_hash, int64_t since) override {
        int n = 0;
        for (const auto& [u, d, at] : sends_) {
            n += (d == destination_hash && at >= since) ? 1 : 0;
        }
        return n;
    }
    int sends_since(int64_t since) override {
        int n = 0;
        for (const auto& [u, d, at] : sends_) {
            n += at >= since ? 1 : 0;
        }
        return n;
    }
    void prune_sends(int64_t before) override {
        std::erase_if(sends_, [&](const auto& s) { return std::get<2>(s) < before; });
    }

  private:
    std::map<std::string, UserState> users_;
    std::vector<std::tuple<std::string, std::string, int64_t>> sends_;
};

}  // namespace lwauth
