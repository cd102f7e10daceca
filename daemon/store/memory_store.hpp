// A Store in memory: for unit tests of the login logic, and nothing else.
#pragma once

#include <map>

#include "send_index.hpp"
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
        return {state.failures, state.locked_until, state.passwordless_failures};
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
        users_[user].enrolled = true;
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
    int64_t start_enroll_grace(const std::string& user, int64_t now) override {
        int64_t& started = users_[user].enroll_grace_started;
        if (started == 0) {
            started = now;
        }
        return started;
    }
    void clear_enroll_grace(const std::string& user) override {
        users_[user].enroll_grace_started = 0;
        users_[user].enrolled = false;
    }
    void remember_host(const std::string& user, const RememberedHost& host) override {
        auto& hosts = hosts_[user];
        std::erase_if(hosts, [&](const RememberedHost& h) {
            return h.service == host.service && h.origin == host.origin;
        });
        hosts.push_back(host);
    }
    std::optional<RememberedHost> remembered_host(const std::string& user,
                                                  const std::string& service,
                                                  const std::string& origin) override {
        for (const auto& h : hosts_[user]) {
            if (h.service == service && h.origin == origin) {
                return h;
            }
        }
        return std::nullopt;
    }
    std::vector<RememberedHost> remembered_hosts(const std::string& user) override {
        return hosts_[user];
    }
    int forget_hosts(const std::string& user, int64_t before = 0) override {
        return static_cast<int>(std::erase_if(hosts_[user], [&](const RememberedHost& h) {
            return before <= 0 || h.verified_at < before;
        }));
    }
    void prune_hosts(int64_t now) override {
        for (auto& [user, hosts] : hosts_) {
            std::erase_if(hosts, [&](const RememberedHost& h) { return h.until <= now; });
        }
    }
    FailureCount add_failure(const std::string& user) override {
        return {++users_[user].failures, ++in_a_row_[user]};
    }
    int add_passwordless_failure(const std::string& user) override {
        return ++users_[user].passwordless_failures;
    }
    void lock(const std::string& user, int64_t until) override {
        users_[user].locked_until = until;
        users_[user].failures = 0;
    }
    void clear_failures(const std::string& user) override {
        users_[user].failures = 0;
        users_[user].passwordless_failures = 0;
        in_a_row_[user] = 0;
        users_[user].locked_until = 0;
    }
    SendReservation reserve_send(const std::vector<SendCap>& caps, int64_t since,
                                 int64_t at) override {
        SendReservation r = sends_.check(caps, since, at);
        if (r.capped < 0) {
            r.id = ++last_send_id_;
            r.at = at;
            for (const auto& cap : caps) {
                r.keys.push_back(cap.key);
            }
            sends_.add(r.keys, at);
        }
        return r;
    }
    SendReservation check_send(const std::vector<SendCap>& caps, int64_t since,
                               int64_t at) override {
        return sends_.check(caps, since, at);
    }
    void release_send(const SendReservation& reservation) override {
        sends_.remove(reservation.keys, reservation.at);
    }
    int sends_since(const std::string& key, int64_t since) override {
        return sends_.count_since(key, since);
    }
    void prune_sends(int64_t before) override { sends_.prune(before); }

  private:
    std::map<std::string, UserState> users_;
    std::map<std::string, int> in_a_row_;
    std::map<std::string, std::vector<RememberedHost>> hosts_;
    SendIndex sends_;
    int64_t last_send_id_ = 0;
};

}  // namespace lwauth
