// A Store in memory: for unit tests of the login logic, and nothing else.
#pragma once

#include <algorithm>
#include <map>
#include <tuple>

#include "send_index.hpp"
#include "store.hpp"

namespace lwauth {

class MemoryStore final : public Store {
  public:
    UserState load_user(const std::string& user) override {
        auto it = users_.find(user);
        if (it == users_.end()) {
            return {};
        }
        UserState state = it->second;
        // In kind order, as SqliteStore reads them.
        auto by_kind = [](const Contact& a, const Contact& b) { return a.kind < b.kind; };
        std::sort(state.contacts.begin(), state.contacts.end(), by_kind);
        std::sort(state.profile.begin(), state.profile.end(), by_kind);
        return state;
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
        if (UserState* state = existing(user)) {
            std::erase_if(state->contacts, [&](const Contact& c) { return c.kind == kind; });
        }
    }
    bool remove_contact_and_two_step(const std::string& user, const std::string& kind,
                                     const OtherFactors& others) override {
        return remove_contact_and_two_step_steps(user, kind, others);
    }
    Removal remove_second_factor(const std::string& user, const std::string& factor,
                                 const RemovalRule& rule) override {
        return remove_second_factor_steps(user, factor, rule);
    }
    // Nothing is sealed in memory: every value is under the current key.
    RekeyCounts rekey_user(const std::string& user) override {
        RekeyCounts counts;
        if (const UserState* state = existing(user)) {
            counts.current = static_cast<int>(state->contacts.size() + state->profile.size()) +
                             (state->totp_secret.empty() ? 0 : 1) +
                             (state->totp_pending.empty() ? 0 : 1);
        }
        return counts;
    }
    void set_two_step(const std::string& user, bool enabled) override {
        users_[user].two_step = enabled;
    }
    void save_contact_and_two_step(const std::string& user, const Contact& contact,
                                   bool two_step) override {
        save_contact_and_two_step_steps(user, contact, two_step);
    }
    void set_totp_and_two_step(const std::string& user, std::string_view secret, int64_t last_step,
                               bool two_step) override {
        set_totp_and_two_step_steps(user, secret, last_step, two_step);
    }
    void set_profile_contact(const std::string& user, const Contact& contact) override {
        remove_profile_contact(user, contact.kind);
        users_[user].profile.push_back({contact.kind, contact.value, "admin"});
    }
    void save_profile_and_login_contact(const std::string& user, const Contact& contact) override {
        save_profile_and_login_contact_steps(user, contact);
    }
    bool remove_profile_and_login_contact(const std::string& user, const std::string& kind,
                                          const std::optional<OtherFactors>& others) override {
        return remove_profile_and_login_contact_steps(user, kind, others);
    }
    void remove_profile_contact(const std::string& user, const std::string& kind) override {
        if (UserState* state = existing(user)) {
            std::erase_if(state->profile, [&](const Contact& c) { return c.kind == kind; });
        }
    }
    void set_line_link(const std::string& user, const std::string& subject_hash) override {
        users_[user].line_linked = !subject_hash.empty();
        users_[user].line_link = subject_hash;
    }
    bool replace_line_link(const std::string& user, const std::string& old_hash,
                           const std::string& new_hash) override {
        UserState* state = existing(user);
        if (state == nullptr || old_hash.empty() || new_hash.empty() ||
            state->line_link != old_hash) {
            return false;
        }
        state->line_link = new_hash;
        return true;
    }
    void set_pin_hash(const std::string& user, const std::string& encoded_hash) override {
        UserState& state = users_[user];
        state.pin_set = !encoded_hash.empty();
        state.pin_hash = encoded_hash;
        if (encoded_hash.empty()) {
            state.pin_failures = 0;
        }
    }
    bool replace_pin_hash(const std::string& user, const std::string& old_hash,
                          const std::string& new_hash) override {
        UserState* state = existing(user);
        if (state == nullptr || old_hash.empty() || state->pin_hash != old_hash) {
            return false;
        }
        state->pin_hash = new_hash;
        return true;
    }
    void set_pin(const std::string& user, const std::string& encoded_hash) override {
        set_pin_hash(user, encoded_hash);
        users_[user].pin_failures = 0;
    }
    void set_totp_pending(const std::string& user, std::string_view secret,
                          int64_t until) override {
        UserState& state = users_[user];
        state.totp_pending = CopyableSecret(secret);
        state.totp_pending_until = secret.empty() ? 0 : until;
    }
    void set_totp(const std::string& user, std::string_view secret, int64_t last_step) override {
        UserState& state = users_[user];
        state.totp_secret = CopyableSecret(secret);
        state.totp_last_step = secret.empty() ? -1 : last_step;
        state.totp_pending = CopyableSecret();
        state.totp_pending_until = 0;
        state.enrolled = state.enrolled || !secret.empty();
    }
    bool use_totp_step(const std::string& user, int64_t step) override {
        UserState* state = existing(user);
        if (state == nullptr || !state->totp_set() || step <= state->totp_last_step) {
            return false;
        }
        state->totp_last_step = step;
        return true;
    }
    void set_recovery_codes(const std::string& user,
                            const std::vector<std::string>& hashes) override {
        recovery_[user] = hashes;
        users_[user].recovery_codes = static_cast<int>(hashes.size());
        users_[user].enrolled = users_[user].enrolled || !hashes.empty();
    }
    int use_recovery_code(const std::string& user, const std::string& hash) override {
        auto& hashes = recovery_[user];
        if (std::erase(hashes, hash) == 0) {
            return -1;
        }
        users_[user].recovery_codes = static_cast<int>(hashes.size());
        return users_[user].recovery_codes;
    }
    int add_pin_failure(const std::string& user) override { return ++users_[user].pin_failures; }
    void clear_pin_failures(const std::string& user) override {
        if (UserState* state = existing(user)) {
            state->pin_failures = 0;
        }
    }
    FingerprintFailures add_fingerprint_failure(const std::string& user, int64_t now) override {
        FingerprintFailures& state = users_[user].fingerprint;
        state = after_fingerprint_no_match(state, now);
        return state;
    }
    void clear_fingerprint_failures(const std::string& user) override {
        if (UserState* state = existing(user)) {
            state->fingerprint = {};
        }
    }
    void record_full_login(const std::string& user, int64_t now) override {
        UserState& state = users_[user];
        state.full_login_at = now;
        state.quick_armed_at = now;
        state.pin_failures = 0;
        state.fingerprint = {};
    }
    int64_t start_enroll_grace(const std::string& user, int64_t now) override {
        int64_t& started = users_[user].enroll_grace_started;
        if (started == 0) {
            started = now;
        }
        return started;
    }
    void clear_enroll_grace(const std::string& user) override {
        if (UserState* state = existing(user)) {
            state->enroll_grace_started = 0;
            state->enrolled = false;
        }
    }
    void remember_host(const std::string& user, const RememberedHost& host) override {
        auto& hosts = hosts_[user];
        std::erase_if(hosts, [&](const RememberedHost& h) {
            return h.service == host.service && h.origin == host.origin;
        });
        hosts.push_back(host);
        // Oldest first, as SqliteStore lists them.
        std::sort(hosts.begin(), hosts.end(), [](const RememberedHost& a, const RememberedHost& b) {
            return std::tie(a.verified_at, a.service, a.origin) <
                   std::tie(b.verified_at, b.service, b.origin);
        });
        users_[user];  // a remembered place makes a user, as in SqliteStore
    }
    std::optional<RememberedHost> remembered_host(const std::string& user,
                                                  const std::string& service,
                                                  const std::string& origin) override {
        auto it = hosts_.find(user);
        if (it == hosts_.end()) {
            return std::nullopt;
        }
        for (const auto& h : it->second) {
            if (h.service == service && h.origin == origin) {
                return h;
            }
        }
        return std::nullopt;
    }
    std::vector<RememberedHost> remembered_hosts(const std::string& user) override {
        auto it = hosts_.find(user);
        return it == hosts_.end() ? std::vector<RememberedHost>{} : it->second;
    }
    int forget_hosts(const std::string& user, int64_t before = 0) override {
        auto it = hosts_.find(user);
        if (it == hosts_.end()) {
            return 0;
        }
        return static_cast<int>(std::erase_if(it->second, [&](const RememberedHost& h) {
            return before <= 0 || h.verified_at < before;
        }));
    }
    void prune_hosts(int64_t now) override {
        for (auto& [user, hosts] : hosts_) {
            std::erase_if(hosts, [&](const RememberedHost& h) { return h.until <= now; });
        }
    }
    FailureCount add_failure(const std::string& user, const LockRule& rule = {}) override {
        if (rule.now != 0 && users_[user].locked_until > rule.now) {
            return {users_[user].failures, in_a_row_[user], 0, users_[user].locked_until};
        }
        FailureCount count{++users_[user].failures, in_a_row_[user] += rule.in_a_row ? 1 : 0};
        count.locked_until = lock_for(count, rule);
        if (count.locked_until != 0) {
            lock(user, count.locked_until);
        }
        return count;
    }
    int add_passwordless_failure(const std::string& user) override {
        return ++users_[user].passwordless_failures;
    }
    void lock(const std::string& user, int64_t until) override {
        users_[user].locked_until = until;
        users_[user].failures = 0;
    }
    void clear_failures(const std::string& user) override {
        if (UserState* state = existing(user)) {
            state->failures = 0;
            state->passwordless_failures = 0;
            state->locked_until = 0;
            in_a_row_[user] = 0;
        }
    }
    bool clear_failures_unless_locked(const std::string& user, int64_t now) override {
        const UserState* state = existing(user);
        if (state != nullptr && state->locked_until > now) {
            return false;
        }
        clear_failures(user);
        return true;
    }
    void reset(const std::string& user, const ResetScope& scope) override {
        reset_steps(user, scope);
    }
    void put_confirmation(const std::string& user, const Confirmation& confirmation) override {
        confirmations_[{user, confirmation.kind}] = confirmation;
    }
    std::vector<Confirmation> confirmations(const std::string& user) override {
        std::vector<Confirmation> out;
        for (const auto& [key, confirmation] : confirmations_) {
            if (key.first == user) {
                out.push_back(confirmation);
            }
        }
        return out;
    }
    int drop_confirmations(const std::string& user, const std::string& kind,
                           const std::string& source = "") override {
        return static_cast<int>(std::erase_if(confirmations_, [&](const auto& entry) {
            return entry.first.first == user && (kind.empty() || entry.first.second == kind) &&
                   (source.empty() || entry.second.source == source);
        }));
    }
    ConfirmationAnswer answer_confirmation(const std::string& user, const std::string& kind,
                                           const std::string& answer_hash, int64_t now) override {
        auto it = confirmations_.find({user, kind});
        std::optional<Confirmation> found;
        if (it != confirmations_.end()) {
            found = it->second;
        }
        return answer_confirmation_steps(user, kind, std::move(found), answer_hash, now);
    }
    void prune_confirmations(int64_t now) override {
        std::erase_if(confirmations_,
                      [&](const auto& entry) { return entry.second.expires_at <= now; });
    }
    SendReservation reserve_send(const std::vector<SendCap>& caps, int64_t since,
                                 int64_t at) override {
        SendReservation r = sends_.check(caps, since, at);
        if (r.capped < 0) {
            r.id = ++last_send_id_;
            r.at = at;
            r.keys = counted_keys(caps);
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
    // The user's state when the user has any, without making one.
    UserState* existing(const std::string& user) {
        auto it = users_.find(user);
        return it == users_.end() ? nullptr : &it->second;
    }

    std::map<std::string, UserState> users_;
    std::map<std::string, int> in_a_row_;
    std::map<std::string, std::vector<std::string>> recovery_;
    std::map<std::string, std::vector<RememberedHost>> hosts_;
    std::map<std::pair<std::string, std::string>, Confirmation> confirmations_;  // (user, kind)
    SendIndex sends_;
    int64_t last_send_id_ = 0;
};

}  // namespace lwauth
