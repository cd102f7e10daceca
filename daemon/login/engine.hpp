// The login conversation state machine: pure logic, no I/O of its own. It takes a clock,
// a random source, a store and a user directory as interfaces, and the login methods as
// plug-ins (LoginMethodTypes), so unit tests drive every branch under a fake clock.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../clock.hpp"
#include "../store/async_store.hpp"
#include "../timers.hpp"
#include "event.hpp"
#include "lwauth/policy.hpp"
#include "lwauth/result.hpp"
#include "lwauth/secret.hpp"
#include "lwauth/users.hpp"
#include "method.hpp"
#include "primary.hpp"
#include "second_factor.hpp"
#include "step.hpp"

namespace lwauth {

struct EngineDeps {
    const Clock& clock;
    RandomSource& random;  // login ids
    AsyncStore& store;
    const UserDirectory& users;
    // The loop's timers, which bound a method's wait for an outside event. Null where no
    // method waits (unit tests without one): a method that would is ended as Internal.
    Timers* timers = nullptr;
    // Told the user of a login that found no contact in the store, without waiting: with
    // [directory] backend = ldap, a user the background synchronization does not list
    // (directory_sync.hpp). Empty: nobody is told.
    std::function<void(const std::string& user)> contacts_missing = nullptr;
};

/// The methods a login may run, built by main.cpp with the services each uses; the
/// engine knows none of them by name.
struct LoginMethodTypes {
    PrimaryMethodTypes primary;       // mode=primary, the passwordless methods
    SecondFactorTypes second_factor;  // mode=second_factor, 2-step verification
};

class LoginEngine {
  public:
    /// Logins waiting at once (about 1.2 KiB each): a bound against a flood, well above
    /// what a host's PAM stacks start.
    static constexpr size_t kMaxPendingLogins = 16384;
    /// Logins in progress that callers other than root may hold for one user: a screen
    /// locker needs one or two, and any local user must not fill the engine's room, which
    /// every login on the host shares.
    static constexpr size_t kMaxUnprivilegedLoginsPerUser = 8;
    /// How long a full login waits for Confirm: pam_setcred follows pam_authenticate.
    static constexpr int64_t kConfirmWithinSeconds = 60;
    /// Full logins waiting for Confirm at once (a stack that never calls pam_setcred
    /// leaves its own): past it, a new one is not kept, and is never recorded.
    static constexpr size_t kMaxUnconfirmed = 4096;

    LoginEngine(EngineDeps deps, std::shared_ptr<const policy::Policy> policy,
                LoginMethodTypes types)
        : deps_(deps), policy_(std::move(policy)), types_(std::move(types)) {}

    /// Replaces the policy for logins started from now on; running logins keep theirs.
    void set_policy(std::shared_ptr<const policy::Policy> policy) { policy_ = std::move(policy); }
    [[nodiscard]] const std::shared_ptr<const policy::Policy>& policy() const { return policy_; }
    /// Another bound than kMaxPendingLogins (tests).
    void set_max_pending(size_t max) { max_pending_ = max; }
    /// Adds method types after those the engine was built with (a build's extensions,
    /// extensions.hpp, which need the engine to notify their logins). For logins started
    /// from now on.
    void add_method_types(const LoginMethodTypes& more) {
        types_.primary.insert(types_.primary.end(), more.primary.begin(), more.primary.end());
        types_.second_factor.insert(types_.second_factor.end(), more.second_factor.begin(),
                                    more.second_factor.end());
    }

    /// Starts a login; `done` gets the first step (one without a verdict carries the
    /// login's id), before returning or later from the event loop (when the store
    /// answers, say). Throws, without calling `done`, for a bad context; too many logins
    /// pending is Error(Unavailable) through `done`.
    void start(const LoginContext& context, Done<Step> done);
    /// Answers the current prompt of login `id` started by `owner`; `done` gets the next
    /// step. Throws Error(NoSuchLogin), without calling `done`, for an unknown, finished
    /// or expired id, or another owner's.
    void answer(const std::string& id, const std::string& owner, const SecretString& answer,
                Done<Step> done);
    /// The whole PAM stack let the user in after login `id` (the handle of a
    /// mode=second_factor success or ignore to root, kConfirmWithinSeconds at most ago,
    /// started by `owner`): records the full login (the store's record_full_login), then
    /// answers `done` with the store's result. Throws Error(NoSuchLogin), without calling
    /// `done`, for an unknown, expired or confirmed handle, or another owner's.
    void confirm(const std::string& id, const std::string& owner, Done<void> done);
    /// Ends a login without a verdict. Unknown ids are ignored.
    void cancel(const std::string& id, const std::string& owner);
    /// Ends every login of a bus client that has gone away.
    void cancel_owner(const std::string& owner);
    /// Ends logins idle for longer than the policy's login timeout. Returns how many.
    size_t expire();
    /// Hands an event from outside (event.hpp) to the method of login `id`: one that holds
    /// a step until it comes (LoginMethod::awaits_event) answers that step; one at a prompt
    /// may keep it for the next answer. Errors: NoSuchLogin for an unknown or ended login
    /// (a late event is dropped so), InvalidArgument when the method takes no such event
    /// now, or is still working on an answer (a gateway, the store).
    Result<void> notify(const std::string& id, const LoginEvent& event);

    [[nodiscard]] size_t pending() const { return logins_.size(); }
    /// How long the client of login `id` waits for each reply (Start's context); 0 when
    /// it did not say or the login is unknown.
    [[nodiscard]] uint64_t reply_timeout_usec(const std::string& id) const {
        auto it = logins_.find(id);
        return it == logins_.end() ? 0 : it->second.login->context.reply_timeout_usec;
    }
    /// The language of login `id`'s lines; English when the login is unknown.
    [[nodiscard]] Language language(const std::string& id) const {
        auto it = logins_.find(id);
        return it == logins_.end() ? Language::En : it->second.login->context.language;
    }

  private:
    struct Pending {
        std::shared_ptr<const LoginData> login;  // shared with every MethodEnv of the login
        std::shared_ptr<LoginMethod> method;
        int64_t expires_at = 0;
        bool busy = false;  // waiting for the method (a gateway, say) to answer
        // While the method holds its step for an outside event: the reply it holds, and
        // the timer that ends the login at the wait's deadline.
        struct EventWait {
            std::shared_ptr<Done<Step>> reply;
            std::unique_ptr<Timer> deadline;
        };
        std::unique_ptr<EventWait> wait{};
    };

    /// What starting a login has settled before the store answers: the policy of the
    /// login (set_policy may change the engine's meanwhile) and the user's.
    struct Starting {
        LoginContext context;
        std::shared_ptr<const policy::Policy> policy;
        policy::UserPolicy user_policy;
        // Set when the client left the bus before the login was registered (the store
        // had not answered yet): it is then never registered.
        bool abandoned = false;
    };

    /// mode=primary, once the user's state is read: the passwordless methods offered.
    void start_primary(const std::shared_ptr<Starting>& starting,
                       std::shared_ptr<const UserState> loaded, Done<Step> done);
    /// start_primary's offer: when the passwordless budget is `suspended`, only the types
    /// that count their own failures (counts_apart).
    void offer_primary(const std::shared_ptr<Starting>& starting,
                       std::shared_ptr<const UserState> loaded, bool suspended, Done<Step> done);
    /// mode=second_factor, once the user's state is read: the verdict before any method
    /// runs (2-step not applying, a lock, a remembered place), or choose_second_factor.
    void start_second_factor(const std::shared_ptr<Starting>& starting,
                             std::shared_ptr<const UserState> loaded, Done<Step> done);
    /// The second factors that apply, or the verdict when none does.
    void choose_second_factor(const std::shared_ptr<Starting>& starting,
                              std::shared_ptr<const UserState> loaded, Done<Step> done);
    /// A full login of the user on this host that waits for its owner's Confirm.
    struct Unconfirmed {
        std::string user;
        std::string owner;
        int64_t expires_at = 0;
    };
    /// `done` for a login of `context`, wrapped so that a mode=second_factor verdict that
    /// lets the user in (success, or ignore: 2-step does not apply and the password was
    /// enough) carries the handle of a full login kept in unconfirmed_, which confirm()
    /// records once the whole stack has let the user in. Never for a primary or
    /// unprivileged login.
    Done<Step> awaiting_confirmation(const LoginContext& context, Done<Step> done);
    /// Keeps a full login of `context` for Confirm; its handle, or "" when there is no room.
    std::string keep_unconfirmed(const LoginContext& context);
    /// Remembers a login that waits for the store before it is registered.
    void track_starting(const std::shared_ptr<Starting>& starting);
    /// Registers a login running `method` and asks it for the first step.
    void add_login(const Starting& starting, std::shared_ptr<LoginMethod> method,
                   std::shared_ptr<const UserState> loaded, Done<Step> done);
    static Step locked_step(const LoginContext& context, int64_t remaining);
    /// Whether another login fits, after dropping expired ones if it is full.
    bool have_room();
    /// Whether a login of `context` would pass kMaxUnprivilegedLoginsPerUser (never for
    /// a login root started).
    [[nodiscard]] bool unprivileged_over(const LoginContext& context) const;
    /// Asks the method of `pending` for its first step (`first`) or the step after
    /// `answer`. An Error thrown on the way ends the login: the first step's goes to
    /// `done`, an answer's is thrown on to the caller.
    void run(Pending& pending, bool first, std::string_view answer, Done<Step> done,
             std::shared_ptr<const UserState> loaded = nullptr);
    void finish(const std::string& id, Result<Step> result, const Done<Step>& done);
    /// How long a step of this login may be held for an outside event.
    [[nodiscard]] static uint64_t event_wait_usec(const Pending& pending);
    /// After the method was called: if it holds its step for an outside event, bounds
    /// the wait with a timer.
    void watch_wait(const std::string& id, const LoginMethod& method,
                    std::shared_ptr<Done<Step>> reply, uint64_t wait_usec);
    void wait_timed_out(const std::string& id);
    /// The reply a waiting login holds, taken from it (empty when it is not waiting).
    static Done<Step> take_wait(Pending& pending);
    /// Drops the logins `drop` picks, answering their waits' replies with `why`.
    size_t drop_logins(const std::function<bool(const Pending&)>& drop, const char* why);
    /// Answers the replies of waits that ended with their login (Cancel, a client gone).
    static void end_waits(std::vector<Done<Step>> replies, const char* why);
    std::string new_id();
    /// Indexes a login just added to logins_ by its owner.
    void index_owner(const std::string& owner, const std::string& id);

    EngineDeps deps_;
    std::shared_ptr<const policy::Policy> policy_;
    std::map<std::string, Pending> logins_;
    // The logins' IDs by owner, so that a client that leaves (a login socket's connection
    // closes after each login) costs the logins it owns, not all of them. Entries of
    // logins that ended otherwise are left behind and skipped; the index is built again
    // from logins_ when those outnumber the logins.
    std::multimap<std::string, std::string> by_owner_;
    std::map<std::string, Unconfirmed> unconfirmed_;  // by handle
    // Logins started but not registered yet (waiting for the store), by owner, so that a
    // client that leaves meanwhile ends them too. Expired entries are pruned as it goes.
    std::multimap<std::string, std::weak_ptr<Starting>> starting_;
    size_t starting_pruned_ = 0;  // its size after the last pruning
    LoginMethodTypes types_;
    size_t max_pending_ = kMaxPendingLogins;
};

}  // namespace lwauth
