// Quick login with a fingerprint (mode=primary): fprintd reads a finger of the user
// (quick/fprint_client.hpp) while the terminal shows "Touch the fingerprint reader, or
// press Enter for other choices". Offered after a full login armed quick login (for
// [quick_login] lifetime), to local sessions only unless [quick_login] remote, and not
// while failed matches have disabled it (quick/fingerprint_limits.hpp).
//
// PAM's conversation is one turn at a time: while the terminal waits for the user's line,
// nothing can reach it. So the reader is live from the first prompt on, and fprintd's
// answer is kept for the user's next line: a finger read (a match, a failed match, a
// scan to repeat, the reader gone) is what that line gets; a line while fprintd has said
// nothing yet (Enter, `p`), and `p` after a failed match, choose the password instead.
// A line that arrives while an answer is being judged (the store counting a failure)
// holds its step until the judgement (awaits_event). FprintClient calls back on the loop, so the
// method answers that held step itself, as LineMethod does from notify(): no LoginEvent is needed.
//
// Unlike the code methods, a failed match ends, once the failures pause or disable the
// fingerprint, with the password (`ignore`) rather than a denial: the failures are
// counted in the fingerprint's own persistent counter, and the password is the stronger
// proof the stack asks next: for quick login the password is always the alternative.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../../clock.hpp"
#include "../../log.hpp"
#include "../../quick/fprint_client.hpp"
#include "../method.hpp"
#include "../primary.hpp"

namespace lwauth {

/// What the fingerprint login uses: lwauthd's services (main.cpp), which outlive every
/// login.
struct FingerprintDeps {
    const Clock& clock;
    AsyncStore& store;
    FprintClient& fprint;
};

class FingerprintMethod final : public LoginMethod {
  public:
    explicit FingerprintMethod(FingerprintDeps deps) : deps_(deps) {}

    void begin(const MethodEnv& env, Done<Step> done) override;
    void answer(const MethodEnv& env, std::string_view answer, Done<Step> done) override;
    /// While an answer of fprintd is judged after the user's line came.
    [[nodiscard]] bool awaits_event() const override { return static_cast<bool>(held_); }

  private:
    /// The first step for the user's state as read at the start.
    void open(const UserState& state, Done<Step> done);
    /// Asks fprintd for a finger; its answer goes to judge().
    void scan();
    void judge(Result<FprintOutcome> outcome);
    /// A match: the state read again (`state`) must still let the fingerprint in.
    void matched(const UserState& state);
    /// A failed match counted; `failures` is the count after it.
    void after_no_match(const FingerprintFailures& failures);
    /// The password instead, after `lines`, with why failures stop the fingerprint now.
    [[nodiscard]] Step stopped(const FingerprintFailures& failures, int64_t now,
                               std::vector<std::string> lines) const;
    /// The step for the user's next line, or for the line already waiting.
    void decided(Result<Step> step);
    /// Answers the user's line with `step`, the reader reading again if it is to.
    void show(const Done<Step>& done, Result<Step> step);
    [[nodiscard]] std::shared_ptr<FingerprintMethod> self() {
        return std::static_pointer_cast<FingerprintMethod>(shared_from_this());
    }

    FingerprintDeps deps_;
    std::optional<MethodEnv> env_;  // the login, from begin on (without the loaded state)
    std::unique_ptr<FprintVerification> verification_;  // dropped: cancelled and released
    std::vector<std::string> progress_;                 // scans to repeat, told at the next line
    bool judging_ = false;              // fprintd has answered; the verdict is on its way
    bool scan_when_shown_ = false;      // a failed match: read again once it is shown
    std::optional<Result<Step>> kept_;  // decided before the user's next line
    Done<Step> held_;                   // the user's line, while judging
};

/// Offered when [quick_login] fingerprint is allowed for the user, a full login armed
/// quick login less than [quick_login] lifetime ago, the fingerprint is not disabled by
/// failures, and the session is local (or [quick_login] remote is yes). Whether the user
/// has prints in fprintd is found out when the method begins.
class FingerprintMethodType final : public PrimaryMethodType {
  public:
    explicit FingerprintMethodType(FingerprintDeps deps) : deps_(deps) {}

    [[nodiscard]] std::string id() const override { return "fingerprint"; }
    [[nodiscard]] std::string label(const UserState&, Language language) const override {
        return tr(language, "your fingerprint");
    }
    [[nodiscard]] bool offered(const policy::Policy& policy, const policy::UserPolicy& user_policy,
                               const UserState& state, const LoginContext& context) const override;
    [[nodiscard]] std::shared_ptr<LoginMethod> create() const override;
    /// Failed matches count apart (quick/fingerprint_limits.hpp): pauses, then disabled.
    [[nodiscard]] bool counts_apart() const override { return true; }

  private:
    FingerprintDeps deps_;
};

}  // namespace lwauth
