// Quick login with a PIN (mode=primary): on this machine, after a full login, the user's
// PIN instead of the password. The PIN is checked against its Argon2id hash on the worker
// pool (quick/pin_hash.hpp) while the loop goes on; wrong PINs have a count of their own
// ([quick_login] max_failures), which disables the PIN until the next full login.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "../../clock.hpp"
#include "../../quick/pin_hash.hpp"
#include "../../workers.hpp"
#include "../method.hpp"
#include "../primary.hpp"

namespace lwauth {

/// What the PIN login uses: the daemon's services (main.cpp), which outlive every login.
struct PinDeps {
    const Clock& clock;
    AsyncStore& store;
    quick::PinHasher& hasher;
};

/// Whether the user's PIN may be used at `now`: the policy allows it, a PIN is set, it is
/// armed (`now` before quick_armed_at + lifetime) and not disabled by wrong PINs. Whether
/// the session may use it (local or remote) is not judged here.
[[nodiscard]] bool pin_usable(const policy::QuickLoginPolicy& quick_login, const UserState& state,
                              int64_t now);

class PinMethod final : public LoginMethod {
  public:
    explicit PinMethod(PinDeps deps) : deps_(deps) {}

    void begin(const MethodEnv& env, Done<Step> done) override;
    void answer(const MethodEnv& env, std::string_view answer, Done<Step> done) override;

  private:
    /// The PIN checked against the user's state as read now.
    void check(const MethodEnv& env, SecretString pin, const UserState& state, Done<Step> done);
    /// The check's outcome, once the PIN has been counted (`failures`: the count with it).
    void judge(const MethodEnv& env, const quick::PinCheck& check, int failures, Done<Step> done);
    /// A right PIN: the count cleared, the hash made again under the policy's costs if
    /// they changed, then `success`.
    void succeed(const MethodEnv& env, bool rehash, Done<Step> done);
    /// Stores a new hash of the right PIN (kept in rehash_pin_), then `success`; a failure
    /// is logged, never the login's.
    void rehash(const MethodEnv& env, Done<Step> done);
    /// The password instead, with `why`, while nothing has been checked; after a check,
    /// the prompt again with it (only this method decides from then on).
    [[nodiscard]] Step give_way(std::string why) const;
    [[nodiscard]] Step prompt(Step step) const;
    [[nodiscard]] std::shared_ptr<PinMethod> self() {
        return std::static_pointer_cast<PinMethod>(shared_from_this());
    }

    PinDeps deps_;
    bool checked_ = false;     // a PIN has been checked: no `p`, no `ignore` any more
    Language language_ = Language::En;  // the login's (begin, answer)
    Job job_;                  // the check or rehash on the workers; dropped with the login
    SecretString rehash_pin_;  // kept only while a right PIN may have to be hashed again
    std::string rehash_of_;    // the stored hash that rehash_pin_ was checked against
};

/// Offered when the user's policy allows the PIN, the user has one that may be used now
/// (pin_usable) and the session is local, or [quick_login] remote = yes. A login started
/// for a screen locker running as the user (LoginContext::unprivileged) is offered it too.
class PinMethodType final : public PrimaryMethodType {
  public:
    explicit PinMethodType(PinDeps deps) : deps_(deps) {}

    [[nodiscard]] std::string id() const override { return "pin"; }
    [[nodiscard]] std::string label(const UserState&, Language language) const override {
        return tr(language, "your PIN");
    }
    [[nodiscard]] bool offered(const policy::Policy& policy, const policy::UserPolicy& user_policy,
                               const UserState& state, const LoginContext& context) const override;
    [[nodiscard]] std::shared_ptr<LoginMethod> create() const override;
    /// Wrong PINs count against [quick_login] max_failures.
    [[nodiscard]] bool counts_apart() const override { return true; }

  private:
    PinDeps deps_;
};

}  // namespace lwauth
