// lwauthd-wait-test: lwauthd with one more passwordless method, "test-wait", which holds
// its step until an outside event arrives through LoginEngine::notify: its own timer
// (standing in for a worker's result) or a D-Bus signal on the bus (standing in for
// fprintd). It is this program's add_extensions() (daemon/extensions.hpp); the shipped
// lwauthd links no_extensions.cpp instead, so the method cannot be turned on there.
//
// The conversation: "Test wait code (timer MS or signal): ", then
//   timer MS   the method waits MS milliseconds for its timer, then succeeds;
//   signal     the method waits for org.lwauth.Test1.Decided(s user, s verdict) from the
//              owner of org.lwauth.Test1 at /org/lwauth/Test1: "success" succeeds, any
//              other verdict is denied.
// The wait is bounded by the engine (MethodEnv::event_wait_usec), never by the method.
// Logged here: test-wait (the method waits), test-event-delivered and test-event-refused
// (what LoginEngine::notify answered a signal; a signal for a login that has ended is
// refused with NoSuchLogin).
//
// It also stands in for LINE's approvals (line/approvals.hpp), so that linking LINE runs
// through the real bus and lwauthctl: every offer is https://line.test/l/N with the number
// 42, for 120 s (test-line-offered); org.lwauth.Test1.LineDecided(s user, s outcome,
// s detail) from the owner of org.lwauth.Test1 ends the user's last approval: outcome
// approved (detail: the subject hash), refused, expired or failed (detail: why);
// test-line-withdrawn says an approval was withdrawn.
#include <charconv>
#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "barrier.hpp"
#include "extensions.hpp"
#include "line/approvals.hpp"
#include "log.hpp"
#include "login/primary.hpp"
#include "lwauth/error.hpp"
#include "lwauth/sd_bus.hpp"

namespace lwauth {
namespace {

constexpr const char* kTestName = "org.lwauth.Test1";
constexpr const char* kTestPath = "/org/lwauth/Test1";
constexpr const char* kDecided = "Decided";
constexpr const char* kPrompt = "Test wait code (timer MS or signal): ";

class WaitMethodType;

class WaitMethod final : public LoginMethod {
  public:
    explicit WaitMethod(std::shared_ptr<WaitMethodType> type) : type_(std::move(type)) {}

    void begin(const MethodEnv&, Done<Step> done) override {
        done(Result<Step>(Step::ask(kPrompt, true)));
    }
    void answer(const MethodEnv& env, std::string_view answer, Done<Step> done) override;
    [[nodiscard]] bool awaits_event() const override { return static_cast<bool>(held_); }
    Result<void> notify(const LoginEvent& event) override;

  private:
    std::shared_ptr<WaitMethodType> type_;
    Done<Step> held_;
    std::unique_ptr<Timer> timer_;
};

class WaitMethodType final : public PrimaryMethodType,
                             public std::enable_shared_from_this<WaitMethodType> {
  public:
    WaitMethodType(LoginEngine& the_engine, Timers& the_timers)
        : engine(the_engine), timers(the_timers) {}

    [[nodiscard]] std::string id() const override { return "test-wait"; }
    [[nodiscard]] std::string label(const UserState&, Language) const override {
        return "a test of waiting";
    }
    [[nodiscard]] bool offered(const policy::Policy&, const policy::UserPolicy&, const UserState&,
                               const LoginContext&) const override {
        return true;
    }
    [[nodiscard]] std::shared_ptr<LoginMethod> create() const override {
        return std::make_shared<WaitMethod>(
            std::const_pointer_cast<WaitMethodType>(shared_from_this()));
    }

    /// Hands an event to login `id` and logs what the engine answered.
    void deliver(const std::string& id, const std::string& user, const LoginEvent& event) {
        Result<void> r = engine.notify(id, event);
        log_event(
            LogLevel::Notice, r.ok() ? "test-event-delivered" : "test-event-refused",
            event.kind + (r.ok() ? " delivered" : " refused: " + std::string(r.error().what())),
            {{"USER", user}});
    }

    /// A Decided signal: to the login the user waited in last, even one that has ended
    /// (the engine must refuse that one).
    void decided(const std::string& user, const std::string& verdict) {
        auto it = last_wait.find(user);
        if (it == last_wait.end()) {
            log_event(LogLevel::Notice, "test-event-refused", "no login of this user waited",
                      {{"USER", user}});
            return;
        }
        deliver(it->second, user, LoginEvent{"test.signal", {{"verdict", verdict}}});
    }

    LoginEngine& engine;
    Timers& timers;
    std::map<std::string, std::string> last_wait;  // user -> id of the login that waited
};

void WaitMethod::answer(const MethodEnv& env, std::string_view answer, Done<Step> done) {
    std::string_view rest = answer;
    uint64_t ms = 0;
    bool timer = rest.starts_with("timer ");
    if (timer) {
        rest.remove_prefix(6);
        auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), ms);
        timer = ec == std::errc() && end == rest.data() + rest.size();
    }
    if (!timer && answer != "signal") {
        Step again = Step::ask(kPrompt, true);
        again.error("Type timer MS or signal.");
        done(Result<Step>(std::move(again)));
        return;
    }
    held_ = std::move(done);
    type_->last_wait[env.context.user] = env.login_id;
    if (timer) {
        timer_ = type_->timers.after(ms * 1000,
                                     [type = type_, id = env.login_id, user = env.context.user] {
                                         type->deliver(id, user, LoginEvent{"test.timer", {}});
                                     });
    }
    log_event(LogLevel::Notice, "test-wait",
              std::string("waiting for ") + (timer ? "a timer" : "a signal") + ", at most " +
                  std::to_string(env.event_wait_usec / 1000) + " ms",
              {{"USER", env.context.user}});
}

Result<void> WaitMethod::notify(const LoginEvent& event) {
    if (!held_ || (event.kind != "test.timer" && event.kind != "test.signal")) {
        return LoginMethod::notify(event);
    }
    auto it = event.data.find("verdict");
    bool success =
        event.kind == "test.timer" || (it != event.data.end() && it->second == "success");
    timer_.reset();
    std::exchange(held_, nullptr)(
        Result<Step>(Step::verdict_of(success ? bus::kVerdictSuccess : bus::kVerdictDenied)));
    return {};
}

int on_decided(sd_bus_message* m, void* userdata, sd_bus_error*) {
    return c_barrier("test-signal", 0, [&] {
        const char* user = nullptr;
        const char* verdict = nullptr;
        if (sd_bus_message_read(m, "ss", &user, &verdict) >= 0) {
            static_cast<WaitMethodType*>(userdata)->decided(user, verdict);
        }
        return 0;
    });
}

constexpr const char* kLineDecided = "LineDecided";

class TestLineApprovals final : public line::LineApprovals {
  public:
    [[nodiscard]] bool configured() const override { return true; }

    Result<line::ApprovalOffer> offer(const line::ApprovalRequest& request,
                                      line::OutcomeSink sink) override {
        sinks_[request.owner] = std::move(sink);
        last_owner_[request.user] = request.owner;
        log_event(LogLevel::Notice, "test-line-offered",
                  std::string(request.purpose == line::ApprovalRequest::Purpose::Link ? "link"
                                                                                       : "login") +
                      " for " + request.service,
                  {{"USER", request.user}});
        return line::ApprovalOffer{"https://line.test/l/" + std::to_string(++offers_), 42,
                                   static_cast<int64_t>(std::time(nullptr)) + 120};
    }

    void withdraw(const std::string& owner) override {
        if (sinks_.erase(owner) > 0) {
            log_event(LogLevel::Notice, "test-line-withdrawn", "an approval was withdrawn");
        }
    }

    /// A LineDecided signal: ends the user's last approval, if it still waits.
    void decided(const std::string& user, const std::string& kind, const std::string& detail) {
        auto owner = last_owner_.find(user);
        auto it = owner == last_owner_.end() ? sinks_.end() : sinks_.find(owner->second);
        if (it == sinks_.end()) {
            log_event(LogLevel::Notice, "test-event-refused", "no approval of this user waits",
                      {{"USER", user}});
            return;
        }
        using Kind = line::ApprovalOutcome::Kind;
        line::ApprovalOutcome outcome;
        outcome.kind = kind == "approved"  ? Kind::Approved
                       : kind == "refused" ? Kind::Refused
                       : kind == "expired" ? Kind::Expired
                                           : Kind::Failed;
        (outcome.kind == Kind::Approved ? outcome.subject_hash : outcome.why) = detail;
        line::OutcomeSink sink = std::move(it->second);
        sinks_.erase(it);
        sink(outcome);
    }

  private:
    std::map<std::string, line::OutcomeSink> sinks_;   // owner -> its approval's sink
    std::map<std::string, std::string> last_owner_;  // user -> owner of their last offer
    int offers_ = 0;
};

int on_line_decided(sd_bus_message* m, void* userdata, sd_bus_error*) {
    return c_barrier("test-line-signal", 0, [&] {
        const char* user = nullptr;
        const char* kind = nullptr;
        const char* detail = nullptr;
        if (sd_bus_message_read(m, "sss", &user, &kind, &detail) >= 0) {
            static_cast<TestLineApprovals*>(userdata)->decided(user, kind, detail);
        }
        return 0;
    });
}

struct Extension {
    std::shared_ptr<WaitMethodType> type;
    BusSlotPtr match;
    std::unique_ptr<TestLineApprovals> line;
    BusSlotPtr line_match;
};

}  // namespace

std::shared_ptr<void> add_extensions(const DaemonParts& parts) {
    auto extension = std::make_shared<Extension>();
    extension->type = std::make_shared<WaitMethodType>(parts.engine, parts.timers);
    parts.engine.add_method_types({{extension->type}, {}});
    // The bus routes to this match only the signals its sender rule allows: those of the
    // name's owner (sd-bus does not compare a well-known sender again itself).
    sd_bus_slot* slot = nullptr;
    int r = sd_bus_match_signal(parts.bus, &slot, kTestName, kTestPath, kTestName, kDecided,
                                on_decided, extension->type.get());
    if (r < 0) {
        throw Error(Errc::Internal, "cannot watch for the test signal: " + errno_string(r));
    }
    extension->match.reset(slot);
    extension->line = std::make_unique<TestLineApprovals>();
    slot = nullptr;
    r = sd_bus_match_signal(parts.bus, &slot, kTestName, kTestPath, kTestName, kLineDecided,
                            on_line_decided, extension->line.get());
    if (r < 0) {
        throw Error(Errc::Internal, "cannot watch for the test LINE signal: " + errno_string(r));
    }
    extension->line_match.reset(slot);
    parts.account.set_line(extension->line.get());
    return extension;
}

}  // namespace lwauth
