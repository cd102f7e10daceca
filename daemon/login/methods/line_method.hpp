// Log in with LINE: the terminal shows a short link (and its QR code) and a number; the
// user opens the link on their phone, logs in to LINE and picks that number, then presses
// Enter. The approval's outcome (line/approvals.hpp) reaches the login through
// LoginEngine::notify; an approval by the LINE account linked to the user logs in without
// the password.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "../../clock.hpp"
#include "../../line/approvals.hpp"
#include "../../timers.hpp"
#include "../event.hpp"
#include "../method.hpp"
#include "../primary.hpp"

namespace lwauth {

/// The kind of the LoginEvent an approval's outcome arrives as. Its data: "kind"
/// (approved, refused, expired, failed), "why", "counts" (yes, no), "subject_hash" and
/// "old_subject_hashes" (the hashes under earlier keys, joined by ',').
inline constexpr const char* kLineApprovalEvent = "line.approval";

/// An outcome as the event that carries it to the login, and back; nullopt for an event
/// that is not a well-formed outcome.
[[nodiscard]] LoginEvent line_approval_event(const line::ApprovalOutcome& outcome);
[[nodiscard]] std::optional<line::ApprovalOutcome> line_approval_outcome(const LoginEvent& event);

/// What the LINE login uses: the daemon's services (main.cpp), which outlive every login.
struct LineDeps {
    const Clock& clock;
    AsyncStore& store;
    line::LineApprovals& approvals;
    /// The loop's timers: a step held after Enter asks again before the engine's deadline.
    Timers& timers;
    /// LoginEngine::notify: how an approval's outcome reaches its login's method.
    std::function<Result<void>(const std::string& login_id, const LoginEvent& event)> notify;
};

class LineMethod final : public LoginMethod {
  public:
    explicit LineMethod(LineDeps deps) : deps_(std::move(deps)) {}
    /// Withdraws the approval if it is still waiting: whatever ended the login (a Cancel,
    /// the client gone, a deadline, `p`), the link dies with it.
    ~LineMethod() override;
    LineMethod(const LineMethod&) = delete;
    LineMethod& operator=(const LineMethod&) = delete;

    void begin(const MethodEnv& env, Done<Step> done) override;
    void answer(const MethodEnv& env, std::string_view answer, Done<Step> done) override;
    /// After Enter, until the outcome has come and been judged.
    [[nodiscard]] bool awaits_event() const override { return static_cast<bool>(held_); }
    /// Takes the approval's outcome (kLineApprovalEvent) once, whether the user has
    /// pressed Enter yet or not, and judges it at once.
    Result<void> notify(const LoginEvent& event) override;

  private:
    /// The verdict for an outcome.
    void judge(const line::ApprovalOutcome& outcome, Done<Step> done);
    /// Approved by the LINE account whose hash is `subject_hash` (`old`: under the earlier
    /// subject keys): the one linked to the user, under the current key or an earlier
    /// one, or another.
    void approved(const std::string& subject_hash, const std::vector<std::string>& old,
                  Done<Step> done);
    /// The link in `state` is `old_hash`, this account's under an earlier key: replaced
    /// by `subject_hash`, then linked(); when the link changed meanwhile, judged again
    /// as it is now, under the current key alone.
    void relink(const UserState& state, const std::string& old_hash,
                const std::string& subject_hash, Done<Step> done);
    /// The user's own LINE account: success, after clearing the failures `state` has.
    void linked(const UserState& state, Done<Step> done);
    /// Another LINE account than the user's link: denied, and counted.
    void other_account(Done<Step> done);
    /// `denied` with `why`, counted against the passwordless budget when `counts`.
    void refused(const std::string& why, bool counts, Done<Step> done);
    /// The verdict judged: to the held step, or kept for the next answer.
    void decided(Result<Step> verdict);
    /// Holds the step after Enter, until the verdict or, just before the engine's wait
    /// ends, the prompt again.
    void hold(const MethodEnv& env, Done<Step> done);
    [[nodiscard]] std::shared_ptr<LineMethod> self() {
        return std::static_pointer_cast<LineMethod>(shared_from_this());
    }

    LineDeps deps_;
    std::optional<MethodEnv> env_;         // the login, from begin on (without the loaded state)
    std::string offered_to_;               // the owner of an approval still waiting; "" when none
    bool arrived_ = false;                 // the outcome has come: from now on it alone decides
    std::optional<Result<Step>> verdict_;  // judged before the user pressed Enter
    Done<Step> held_;                      // the step held after Enter, until the verdict
    std::unique_ptr<Timer> ask_again_;     // while held_: the prompt again, before the deadline
};

/// Offered when the user's policy allows login_with_line, [line] is set up and the user
/// has linked a LINE account; to every PAM service, local and remote alike: the phone's
/// page names the service and remote host of the login it approves.
class LineMethodType final : public PrimaryMethodType {
  public:
    explicit LineMethodType(LineDeps deps) : deps_(std::move(deps)) {}

    [[nodiscard]] std::string id() const override { return "line"; }
    [[nodiscard]] std::string label(const UserState&, Language language) const override {
        return tr(language, "an approval in LINE on your phone");
    }
    [[nodiscard]] bool offered(const policy::Policy& policy, const policy::UserPolicy& user_policy,
                               const UserState& state, const LoginContext& context) const override;
    [[nodiscard]] std::shared_ptr<LoginMethod> create() const override;
    /// Not to a caller other than root: the phone's page would show the service and
    /// remote host that caller chose as the login's, and each login takes one of the
    /// endpoint's short links and approvals, which every user's logins share.
    [[nodiscard]] bool serves_unprivileged() const override { return false; }

  private:
    LineDeps deps_;
};

}  // namespace lwauth
