// Test doubles shared by the unit tests: a settable clock, random sources that replay a
// script or a fixed seed, a channel that records what it was asked to deliver, a user
// directory, a temporary directory and a policy loader that fails the test loudly.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "account.hpp"
#include "admin.hpp"
#include "channels/channel.hpp"
#include "clock.hpp"
#include "delivery.hpp"
#include "login/method.hpp"
#include "lwauth/error.hpp"
#include "lwauth/policy.hpp"
#include "lwauth/result.hpp"
#include "lwauth/users.hpp"
#include "store/async_store.hpp"
#include "store/memory_store.hpp"
#include "store/store.hpp"
#include "timers.hpp"

namespace lwauth::test {

/// A clock that only moves when the test says so.
class FakeClock final : public Clock {
  public:
    explicit FakeClock(int64_t start = 1'700'000'000) : now_(start) {}
    [[nodiscard]] int64_t now() const override { return now_; }
    void advance(int64_t seconds) { now_ += seconds; }
    void set(int64_t at) { now_ = at; }

  private:
    int64_t now_;
};

/// Hands out the scripted bytes first, then `filler` forever.
class ScriptedRandom final : public RandomSource {
  public:
    explicit ScriptedRandom(std::vector<uint8_t> script, uint8_t filler = 0)
        : script_(script.begin(), script.end()), filler_(filler) {}
    void fill(uint8_t* buf, size_t len) override {
        for (size_t i = 0; i < len; ++i) {
            if (script_.empty()) {
                buf[i] = filler_;
            } else {
                buf[i] = script_.front();
                script_.pop_front();
            }
        }
        ++calls_;
    }
    [[nodiscard]] size_t calls() const { return calls_; }
    [[nodiscard]] size_t unused() const { return script_.size(); }

  private:
    std::deque<uint8_t> script_;
    uint8_t filler_;
    size_t calls_ = 0;
};

/// Random-looking but reproducible bytes (splitmix64 from a fixed seed), so tests that
/// compare two codes or two login ids never depend on luck.
class SeededRandom final : public RandomSource {
  public:
    explicit SeededRandom(uint64_t seed = 0x6c7761757468ULL) : state_(seed) {}
    void fill(uint8_t* buf, size_t len) override {
        for (size_t i = 0; i < len; ++i) {
            if (left_ == 0) {
                state_ += 0x9e3779b97f4a7c15ULL;
                uint64_t z = state_;
                z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
                z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
                word_ = z ^ (z >> 31);
                left_ = 8;
            }
            buf[i] = static_cast<uint8_t>(word_ & 0xff);
            word_ >>= 8;
            --left_;
        }
    }

  private:
    uint64_t state_;
    uint64_t word_ = 0;
    int left_ = 0;
};

/// One message a FakeChannel was asked to deliver, with its text in the clear.
struct SentMessage {
    std::string channel;
    policy::Kind kind;
    std::string destination;
    std::string user;
    std::string text;
};

/// Records every message in a log shared with the test; can be told to fail.
class FakeChannel final : public Channel {
  public:
    FakeChannel(std::string name, std::vector<SentMessage>& log)
        : name_(std::move(name)), log_(log) {}
    [[nodiscard]] const std::string& name() const override { return name_; }
    void send(const OutgoingMessage& message, Done<void> done) override {
        ++attempts_;
        SentMessage sent{name_, message.kind, message.destination, message.user,
                         std::string(message.text.view())};
        if (deferred_) {
            // As a gateway that answers later: the send completes in complete_next().
            waiting_.emplace_back(std::move(sent), std::move(done));
            return;
        }
        finish(std::move(sent), done);
    }
    void set_failing(bool failing) { failing_ = failing; }
    /// Sends wait until complete_next() instead of completing at once.
    void set_deferred(bool deferred) { deferred_ = deferred; }
    [[nodiscard]] size_t waiting() const { return waiting_.size(); }
    /// Completes the oldest waiting send (delivered unless the channel is failing).
    void complete_next() {
        auto [sent, done] = std::move(waiting_.front());
        waiting_.erase(waiting_.begin());
        finish(std::move(sent), done);
    }
    [[nodiscard]] int attempts() const { return attempts_; }

  private:
    void finish(SentMessage sent, const Done<void>& done) {
        if (failing_) {
            done(send_failure(name_ + " is down", true));
            return;
        }
        log_.push_back(std::move(sent));
        done({});
    }

    std::string name_;
    std::vector<SentMessage>& log_;
    bool failing_ = false;
    bool deferred_ = false;
    int attempts_ = 0;
    std::vector<std::pair<SentMessage, Done<void>>> waiting_;
};

/// Group membership and user names' UIDs by table (a user not in `groups` is in a group
/// of their own name alone); no UID has a name.
class FakeUsers final : public UserDirectory {
  public:
    [[nodiscard]] std::optional<std::string> name_of(uid_t) const override { return std::nullopt; }
    [[nodiscard]] std::vector<std::string> groups_of(const std::string& user) const override {
        ++group_lookups;
        auto it = groups.find(user);
        return it == groups.end() ? std::vector<std::string>{user} : it->second;
    }
    /// Every user exists unless named in `missing`.
    [[nodiscard]] bool exists(const std::string& user) const override {
        return !missing.contains(user);
    }
    /// Users' UIDs: those in `uids`, 40000 for every other user that exists.
    [[nodiscard]] std::optional<uid_t> uid_of(const std::string& user) const override {
        if (!exists(user)) {
            return std::nullopt;
        }
        auto it = uids.find(user);
        return it == uids.end() ? uid_t{40000} : it->second;
    }
    std::map<std::string, std::vector<std::string>> groups;
    std::map<std::string, uid_t> uids;
    std::set<std::string> missing;
    mutable int group_lookups = 0;
};

/// What the engine and the services are built from in a unit test: a fake clock, a seeded
/// random source, an in-memory store, a hasher under a fixed key, a code sender with no
/// channel yet and a user directory.
struct Services {
    FakeClock clock;
    SeededRandom random;
    MemoryStore store;
    ImmediateStore async_store{store};
    Hasher hasher{SecretString(std::string(32, 'k'))};
    CodeSender sender{clock, async_store, hasher};
    FakeUsers users;
};

/// Timers on a clock of their own that moves only when the test says so.
class FakeTimers final : public Timers {
  public:
    std::unique_ptr<Timer> after(uint64_t usec, std::function<void()> fire) override {
        auto entry = std::make_shared<Entry>(Entry{now_ + usec, std::move(fire), true});
        entries_.push_back(entry);
        return std::make_unique<Handle>(entry);
    }

    /// Moves the timers' clock on by `usec`, firing each armed timer that falls due,
    /// earliest first (one may arm or drop others).
    void advance(uint64_t usec) {
        uint64_t until = now_ + usec;
        for (;;) {
            std::shared_ptr<Entry> next;
            for (const auto& entry : entries_) {
                if (entry->armed && entry->due <= until && (!next || entry->due < next->due)) {
                    next = entry;
                }
            }
            if (!next) {
                break;
            }
            now_ = next->due;
            next->armed = false;
            auto fire = next->fire;
            fire();
        }
        now_ = until;
        std::erase_if(entries_, [](const auto& entry) { return !entry->armed; });
    }

    /// Timers armed and neither fired nor dropped.
    [[nodiscard]] size_t armed() const {
        return static_cast<size_t>(std::count_if(entries_.begin(), entries_.end(),
                                                 [](const auto& entry) { return entry->armed; }));
    }

  private:
    struct Entry {
        uint64_t due;
        std::function<void()> fire;
        bool armed;
    };
    struct Handle final : Timer {
        explicit Handle(std::shared_ptr<Entry> e) : entry(std::move(e)) {}
        ~Handle() override { entry->armed = false; }
        std::shared_ptr<Entry> entry;
    };

    uint64_t now_ = 0;
    std::vector<std::shared_ptr<Entry>> entries_;
};

/// A fresh directory under $TMPDIR, removed with everything in it.
class TempDir {
  public:
    TempDir() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "lwauth-unit-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    [[nodiscard]] const std::filesystem::path& path() const { return path_; }
    [[nodiscard]] std::string file(const std::string& name) const {
        return (path_ / name).string();
    }

  private:
    std::filesystem::path path_;
};

/// The whole content of a file, as bytes.
inline std::string file_bytes(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// Parses lwauth.conf texts layered in order; any error fails the calling test.
inline std::shared_ptr<const policy::Policy> load_policy(
    const std::vector<std::pair<std::string, std::string>>& named_texts) {
    auto result = policy::load_texts(named_texts);
    std::string errors;
    for (const auto& diagnostic : result.errors) {
        errors += diagnostic.to_string() + "\n";
    }
    EXPECT_TRUE(result.errors.empty()) << errors;
    if (!result.policy) {
        throw std::runtime_error("test policy does not load:\n" + errors);
    }
    return std::make_shared<const policy::Policy>(std::move(*result.policy));
}

/// The same number of digits, every one different: never the right code.
inline std::string wrong_code_for(const std::string& code) {
    std::string wrong = code;
    for (char& c : wrong) {
        c = static_cast<char>('0' + (c - '0' + 1) % 10);
    }
    return wrong;
}

/// The texts of a step's messages of one type (bus::kMessageInfo or kMessageError), a
/// line each.
inline std::string texts_of(const Step& step, const char* type) {
    std::string out;
    for (const auto& [message_type, text] : step.messages) {
        if (message_type == type) {
            out += text + "\n";
        }
    }
    return out;
}

/// Runs an asynchronous call whose callback must have run by the time it returns (every
/// fake channel answers at once unless deferred) and gives back what the callback got;
/// an error is rethrown, as the synchronous API did.
inline Step step_now(const std::function<void(Done<Step>)>& call) {
    std::optional<Result<Step>> got;
    call([&](Result<Step> r) { got = std::move(r); });
    if (!got) {
        throw std::logic_error("the step did not complete at once");
    }
    return std::move(*got).value();
}

/// The value of an asynchronous operation that answers at once (the stores below it are
/// ImmediateStores, the channels record): `start(done)` starts it. Throws its error;
/// fails the test unless `done` was called exactly once.
template <class T, class Start>
T answer_now(Start&& start) {
    std::optional<Result<T>> got;
    int calls = 0;
    start([&](Result<T> result) {
        ++calls;
        got.emplace(std::move(result));
    });
    EXPECT_EQ(calls, 1) << "an operation's done is called exactly once";
    if (!got) {
        throw std::logic_error("the operation did not complete at once");
    }
    return std::move(*got).value();
}

/// AccountService with its operations waited for (answer_now), so that a test reads as
/// the calls it makes.
class AccountNow {
  public:
    explicit AccountNow(AccountService& service) : service_(service) {}

    AccountStatus status(const std::string& user) {
        return answer_now<AccountStatus>([&](auto done) { service_.status(user, done); });
    }
    void add_contact(const std::string& user, const std::string& owner, const std::string& kind,
                     const std::string& value) {
        answer_now<void>([&](auto done) { service_.add_contact(user, owner, kind, value, done); });
    }
    void use_profile_contact(const std::string& user, const std::string& owner,
                             const std::string& kind) {
        answer_now<void>([&](auto done) { service_.use_profile_contact(user, owner, kind, done); });
    }
    bool confirm_contact(const std::string& user, const std::string& owner, const std::string& kind,
                         const SecretString& code) {
        return answer_now<bool>(
            [&](auto done) { service_.confirm_contact(user, owner, kind, code, done); });
    }
    void remove_contact(const std::string& user, const std::string& owner,
                        const std::string& kind) {
        answer_now<void>([&](auto done) { service_.remove_contact(user, owner, kind, done); });
    }
    void set_two_step(const std::string& user, const std::string& owner, bool enabled) {
        answer_now<void>([&](auto done) { service_.set_two_step(user, owner, enabled, done); });
    }
    int forget_hosts(const std::string& user) {
        return answer_now<int>([&](auto done) { service_.forget_hosts(user, done); });
    }
    /// Where the step-up's code went (masked), "" when none was sent.
    std::string start_reauth(const std::string& user, const std::string& owner) {
        return start_reauth_offer(user, owner).shown;
    }
    ReauthOffer start_reauth_offer(const std::string& user, const std::string& owner) {
        return answer_now<ReauthOffer>(
            [&](auto done) { service_.start_reauth(user, owner, done); });
    }
    void reauth(const std::string& user, const std::string& owner, const SecretString& code) {
        answer_now<void>([&](auto done) { service_.reauth(user, owner, code, done); });
    }
    line::ApprovalOffer link_line(const std::string& user, const std::string& owner) {
        return answer_now<line::ApprovalOffer>(
            [&](auto done) { service_.link_line(user, owner, done); });
    }
    bool totp_remove(const std::string& user, const std::string& owner) {
        return answer_now<bool>([&](auto done) { service_.totp_remove(user, owner, done); });
    }
    bool unlink_line(const std::string& user, const std::string& owner) {
        return answer_now<bool>([&](auto done) { service_.unlink_line(user, owner, done); });
    }

    // What answers without the store, as it is.
    void set_policy(std::shared_ptr<const policy::Policy> policy) {
        service_.set_policy(std::move(policy));
    }
    void forget_owner(const std::string& owner) { service_.forget_owner(owner); }
    LineLinkStatus line_link_status(const std::string& user, const std::string& owner) {
        return service_.line_link_status(user, owner);
    }
    void expire() { service_.expire(); }
    void forget_pending(const std::string& user, const std::string& kind = "") {
        service_.forget_pending(user, kind);
    }
    [[nodiscard]] policy::UserPolicy user_policy(const std::string& user) const {
        return service_.user_policy(user);
    }
    [[nodiscard]] const policy::Policy& policy() const { return service_.policy(); }

  private:
    AccountService& service_;
};

/// AdminService with its operations waited for, as AccountNow.
class AdminNow {
  public:
    explicit AdminNow(AdminService& service) : service_(service) {}

    std::vector<AccountStatus> list_users() {
        return answer_now<std::vector<AccountStatus>>(
            [&](auto done) { service_.list_users(done); });
    }
    AccountStatus show_user(const std::string& user) {
        return answer_now<AccountStatus>([&](auto done) { service_.show_user(user, done); });
    }
    std::string show_policy(const std::string& user) { return service_.show_policy(user); }
    void set_contact(uid_t admin, const std::string& user, const std::string& kind,
                     const std::string& value) {
        answer_now<void>([&](auto done) { service_.set_contact(admin, user, kind, value, done); });
    }
    void remove_contact(uid_t admin, const std::string& user, const std::string& kind) {
        answer_now<void>([&](auto done) { service_.remove_contact(admin, user, kind, done); });
    }
    void unlock(uid_t admin, const std::string& user) {
        answer_now<void>([&](auto done) { service_.unlock(admin, user, done); });
    }
    void reset(uid_t admin, const std::string& user, const std::string& what) {
        answer_now<void>([&](auto done) { service_.reset(admin, user, what, done); });
    }

  private:
    AdminService& service_;
};

/// AccountService::add_contact, waiting for the (immediate) confirmation send. `owner` is
/// the caller's bus connection.
inline void add_contact_now(AccountNow& account, const std::string& user, const std::string& kind,
                            const std::string& value, const std::string& owner = ":1.1") {
    account.add_contact(user, owner, kind, value);
}

/// CodeSender::send_login_code, waiting for the (immediate) outcome; throws its error.
inline Delivered send_login_code_now(CodeSender& sender, const std::string& user,
                                     const policy::Policy& policy,
                                     const policy::UserPolicy& user_policy, const UserState& state,
                                     const SecretString& code) {
    std::optional<Result<Delivered>> got;
    sender.send_login_code(user, policy, user_policy, state, code,
                           [&](Result<Delivered> r) { got = std::move(r); });
    if (!got) {
        throw std::logic_error("the send did not complete at once");
    }
    return std::move(*got).value();
}

/// The Errc of the lwauth::Error that f throws (a test failure if it throws none).
template <class F>
Errc error_code_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.code();
    }
    ADD_FAILURE() << "no Error was thrown";
    return Errc::Internal;
}

/// The code inside a message composed by CodeSender ("...code is 123456. It expires...").
inline std::string code_in(const std::string& text) {
    static const std::regex kCode(" is ([0-9]{6,10})\\.");
    std::smatch match;
    if (!std::regex_search(text, match, kCode)) {
        ADD_FAILURE() << "no code in message: " << text;
        return {};
    }
    return match[1].str();
}

/// A send reserved under a user's, a destination's and the host's key, with room to spare.
inline SendReservation record_send(Store& store, const std::string& user,
                                   const std::string& destination, int64_t at) {
    SendReservation r = store.reserve_send(
        {{"user:" + user, 1000}, {"destination:" + destination, 1000}, {"host", 1000}}, 0, at);
    EXPECT_TRUE(r.reserved());
    return r;
}

}  // namespace lwauth::test
