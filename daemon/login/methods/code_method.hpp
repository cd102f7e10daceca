// 2-step verification: a one-time code sent to one of the user's verified contacts.
// Typing `r` asks for a new code (after the resend interval, within the send caps).
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "../../clock.hpp"
#include "../../codes.hpp"
#include "../../delivery.hpp"
#include "../method.hpp"
#include "../second_factor.hpp"
#include "../two_step.hpp"

namespace lwauth {

/// What a user is told when a send cap is reached: when the next code can be sent
/// (`retry_at`), or "later" when that is not known.
[[nodiscard]] std::string rate_limited_text(int64_t retry_at, int64_t now, Language language);

/// The user's state with the profile's phone and email standing in for login contacts
/// (source `profile`): where 2-step sends a user who has no login contact yet.
[[nodiscard]] std::shared_ptr<const UserState> with_profile_contacts(const UserState& state);

/// What the code methods use: the daemon's services (main.cpp), which outlive every login.
struct CodeDeps {
    const Clock& clock;
    RandomSource& random;
    AsyncStore& store;
    CodeSender& sender;
    const Hasher& hasher;
};

class CodeMethod final : public LoginMethod {
  public:
    struct Options {
        /// Only these kinds, in the policy's order of [code] channels (the ones missing
        /// there go last); empty: the policy's channels as they are.
        std::vector<policy::Kind> kinds;
        /// mode=primary: `p` chooses the password (PAM_IGNORE) until a code has been
        /// checked, and a first code that cannot be sent leaves the password to the user.
        bool password_instead = false;
        /// 2-step for a user with no login contact: codes go to the profile's phone and
        /// email, and a right code makes the one it reached the user's login contact
        /// (source `profile`), as a confirmation would.
        bool profile_contacts = false;
    };

    CodeMethod(CodeDeps deps, Options options) : deps_(deps), options_(std::move(options)) {}

    void begin(const MethodEnv& env, Done<Step> done) override;
    void answer(const MethodEnv& env, std::string_view answer, Done<Step> done) override;

  private:
    enum class SendState { Sent, RateLimited, Failed };
    /// How a send went, and the step with the line that tells the user.
    struct Sending {
        SendState state;
        Step step;
    };
    /// The error, when the store could not be read or count the send.
    using Sent = Done<Sending>;
    /// Draws and sends a new code, then calls `then` with the step plus the line that
    /// tells the user what happened. The previous code stays valid unless the new one
    /// was delivered.
    void send_new_code(const MethodEnv& env, Step step, Sent then);
    /// send_new_code once the user's state is known.
    void send_to(const MethodEnv& env, std::shared_ptr<const UserState> state, Step step,
                 Sent then);
    /// The outcome of a send: the code kept and the step told, or why not.
    void code_sent(const MethodEnv& env, const Digest& hash, const std::vector<Contact>& profile,
                   Result<Delivered> outcome, Step step, const Sent& then);
    [[nodiscard]] Step prompt(Step step) const;
    /// A wrong code counted (the account locked at the limit): the next step.
    void wrong_code(const MethodEnv& env, Done<Step> done);
    /// mode=primary, the password chosen instead of a code: `ignore` (with `instead`, when
    /// not empty, as a line), unless 2-step after the password would refuse anyway (its
    /// send cap is reached): then `denied`, saying so. `unscoped`: the login's
    /// environment with every kind of the policy.
    void password_instead(const MethodEnv& unscoped, Step step, const std::string& instead,
                          Done<Step> done);
    /// Whether 2-step after the password would refuse (its send cap is reached): the time
    /// the cap has room again, or 0.
    void capped_after_password(const MethodEnv& unscoped, const UserState& state,
                               Done<int64_t> done);
    /// Saves the profile contact the right code reached as the login contact.
    void adopt_profile_contact(const MethodEnv& env, Step step, Done<Step> done);
    /// `r` or `n` (`notify`): a new code, unless asked too soon.
    void new_code_asked(const MethodEnv& env, bool notify, Done<Step> done);
    /// The answer checked as a code (`right`: it is the code sent): `success`, a wrong
    /// code, or the code expired.
    void check_code(const MethodEnv& env, bool right, const LockState& state, Done<Step> done);
    /// After a right code: `success`, the contact it reached adopted if it came from the
    /// profile.
    void succeed(const MethodEnv& env, Done<Step> done);
    /// One try of the code used up: the prompt again, or `denied` with none left.
    Step another_try(Step step);
    /// The environment with the code channels this method may use.
    [[nodiscard]] MethodEnv scoped(const MethodEnv& env) const;
    [[nodiscard]] std::shared_ptr<CodeMethod> self() {
        return std::static_pointer_cast<CodeMethod>(shared_from_this());
    }

    CodeDeps deps_;
    Options options_;
    bool checked_ = false;  // an answer has been checked as a code

    Digest code_hash_{};
    bool has_code_ = false;
    int64_t code_expires_ = 0;
    int64_t last_sent_ = 0;
    int tries_left_ = 0;
    Language language_ = Language::En;  // the login's (begin, answer)
    // The profile contact the current code was sent to (Options::profile_contacts); made
    // the login contact by a right code.
    std::optional<Contact> adopt_;
};

/// 2-step verification by a code to the user's login contacts, or to the profile's when
/// the user has none yet (CodeMethod::Options::profile_contacts).
class CodeMethodType final : public SecondFactorType {
  public:
    explicit CodeMethodType(CodeDeps deps) : deps_(deps) {}

    [[nodiscard]] std::string id() const override { return "code"; }
    [[nodiscard]] std::string label(const policy::Policy& policy,
                                    const policy::UserPolicy& user_policy, const UserState& state,
                                    Language language) const override;
    /// Applies when a channel reaches the user (a login contact, a messenger by user
    /// name), or the profile's contacts while there is no login contact; Unavailable when
    /// there are login contacts and nothing reaches the user.
    [[nodiscard]] Fit fit(const policy::Policy& policy, const policy::UserPolicy& user_policy,
                          const UserState& state, const LoginContext& context) const override;
    [[nodiscard]] Step unavailable(const LoginContext& context) const override;
    [[nodiscard]] std::shared_ptr<LoginMethod> create(const policy::Policy& policy,
                                                      const policy::UserPolicy& user_policy,
                                                      const UserState& state,
                                                      const LoginContext& context) const override;
    [[nodiscard]] Role role() const override { return Role::Sends; }
    [[nodiscard]] std::optional<policy::SecondFactor> factor() const override {
        return policy::SecondFactor::Code;
    }
    [[nodiscard]] bool restricted() const override { return true; }

  private:
    /// Whether the codes go to the profile's contacts: none of the user's own, and a
    /// channel reaches one of the profile's.
    [[nodiscard]] bool to_profile(const policy::Policy& policy,
                                  const policy::UserPolicy& user_policy,
                                  const UserState& state) const;

    CodeDeps deps_;
};

}  // namespace lwauth
