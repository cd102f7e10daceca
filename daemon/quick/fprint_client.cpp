#include "quick/fprint_client.hpp"

#include <algorithm>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "barrier.hpp"
#include "log.hpp"
#include "lwauth/error.hpp"
#include "lwauth/i18n.hpp"
#include "lwauth/sd_bus.hpp"

namespace lwauth {
namespace {

using fprint::kDeviceInterface;
using fprint::kErrorAlreadyInUse;
using fprint::kErrorNoEnrolledPrints;
using fprint::kManagerInterface;
using fprint::kManagerPath;
using fprint::kService;

// Only changes of net.reactivated.Fprint's owner, from the bus driver.
constexpr const char* kOwnerChangedRule =
    "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
    "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='net.reactivated.Fprint'";

// What the user reads when fingerprint login cannot go on: English msgids, which the
// login translates (FingerprintMethod) into its own language.
constexpr const char* kNoService = N_("The fingerprint service is not available.");
constexpr const char* kStopped = N_("The fingerprint service stopped.");
constexpr const char* kInUse = N_("The fingerprint reader is in use.");
constexpr const char* kDisconnected = N_("The fingerprint reader was disconnected.");
constexpr const char* kFailed = N_("The fingerprint reader failed.");

// VerifyStop and Release must not hold the verdict back for sd-bus's default 25 s.
constexpr uint64_t kTeardownCallUsec = 5ULL * 1000 * 1000;

// The answer of one method call, or nullptr when it could not be sent.
using ReplyHandler = std::function<void(sd_bus_message*)>;
using Append = std::function<int(sd_bus_message*)>;

std::string error_name(sd_bus_message* reply) {
    if (reply == nullptr) {
        return "not sent";
    }
    const sd_bus_error* e = sd_bus_message_get_error(reply);
    return e != nullptr && e->name != nullptr ? e->name : "";
}

bool is_error(sd_bus_message* reply) {
    return reply == nullptr || sd_bus_message_is_method_error(reply, nullptr) > 0;
}

class Session;

// Weak: a session lives in FprintSessions until it is over (a cancelled one until the
// device is released). A strong reference here made a cycle, the bus owning its pending
// calls and the session's matches holding the bus, that nothing freed at lwauthd's exit.
struct PendingCall {
    std::weak_ptr<Session> session;
    ReplyHandler on_reply;
};

int on_call_reply(sd_bus_message* m, void* userdata, sd_bus_error*) {
    auto* call = static_cast<PendingCall*>(userdata);
    return c_barrier("fprintd-reply", 0, [&] {
        if (auto keep = call->session.lock()) {
            call->on_reply(m);
        }
        return 0;
    });
}

void free_call(void* userdata) {
    delete static_cast<PendingCall*>(userdata);
}

// One verification, shared by its handle and its calls in flight: a cancelled session
// lives on until the device is released.
class Session : public std::enable_shared_from_this<Session> {
  public:
    Session(sd_bus* bus, std::weak_ptr<FprintSessions> sessions, std::string user,
            FprintClient::Progress progress, Done<FprintOutcome> done)
        : bus_(bus),
          sessions_(std::move(sessions)),
          user_(std::move(user)),
          progress_(std::move(progress)),
          done_(std::move(done)) {}

    void start(Timers& timers, uint64_t timeout_usec);
    /// Ends the session without calling back; the device is still released.
    void cancel() {
        progress_ = nullptr;
        done_ = nullptr;
        finish(Error(Errc::Unavailable, "cancelled"));
    }

    static int on_owner_changed(sd_bus_message* m, void* userdata, sd_bus_error*);
    static int on_status(sd_bus_message* m, void* userdata, sd_bus_error*);
    static int on_match_installed(sd_bus_message* m, void* userdata, sd_bus_error*);

  private:
    enum class Stage { Working, Teardown, Over };

    bool call(const std::string& path, const char* interface, const char* member,
              const Append& append, uint64_t timeout_usec, ReplyHandler handler);
    void on_devices(sd_bus_message* reply);
    void on_fingers(size_t index, sd_bus_message* reply);
    void claim();
    void on_claim(sd_bus_message* reply);
    void on_verify_start(sd_bus_message* reply);
    void status(const std::string& result);
    void finish(Result<FprintOutcome> verdict);
    void teardown();
    void unavailable(const std::string& line, const std::string& why);

    sd_bus* bus_;
    std::weak_ptr<FprintSessions> sessions_;
    std::string user_;
    FprintClient::Progress progress_;
    Done<FprintOutcome> done_;

    Stage stage_ = Stage::Working;
    std::optional<Result<FprintOutcome>> verdict_;
    std::string owner_;  // the unique name that answered GetDevices
    bool owner_gone_ = false;
    std::vector<std::string> devices_;
    std::vector<size_t> prints_;  // per device, once ListEnrolledFingers answered
    size_t lists_pending_ = 0;
    std::string device_;
    bool in_flight_ = false;  // Claim or VerifyStart sent, not answered yet
    bool claimed_ = false;
    bool verifying_ = false;
    BusSlotPtr owner_match_;
    BusSlotPtr status_match_;
    std::unique_ptr<Timer> deadline_;
};

}  // namespace

struct FprintSessions {
    std::set<std::shared_ptr<Session>> live;
};

namespace {

bool Session::call(const std::string& path, const char* interface, const char* member,
                   const Append& append, uint64_t timeout_usec, ReplyHandler handler) {
    // Before GetDevices answered, the well-known name (which may activate fprintd); after,
    // the daemon that answered and no other.
    const std::string& destination = owner_.empty() ? std::string(kService) : owner_;
    sd_bus_message* raw = nullptr;
    int r = sd_bus_message_new_method_call(bus_, &raw, destination.c_str(), path.c_str(), interface,
                                           member);
    BusMessagePtr message(raw);
    if (r >= 0 && append) {
        r = append(raw);
    }
    auto pending = std::make_unique<PendingCall>(PendingCall{weak_from_this(), std::move(handler)});
    sd_bus_slot* slot = nullptr;
    if (r >= 0) {
        r = sd_bus_call_async(bus_, &slot, raw, on_call_reply, pending.get(), timeout_usec);
    }
    if (r < 0) {
        log_event(LogLevel::Warning, "fprint-call-failed",
                  std::string("cannot call fprintd's ") + member + ": " + errno_string(r),
                  {{"USER", user_}});
        return false;
    }
    // The bus owns the call from here on, and frees `pending` with it.
    sd_bus_slot_set_destroy_callback(slot, free_call);
    pending.release();
    sd_bus_slot_set_floating(slot, 1);
    sd_bus_slot_unref(slot);
    return true;
}

void Session::start(Timers& timers, uint64_t timeout_usec) {
    sd_bus_slot* slot = nullptr;
    int r = sd_bus_add_match_async(bus_, &slot, kOwnerChangedRule, on_owner_changed,
                                   on_match_installed, this);
    if (r < 0) {
        throw Error(Errc::Internal, "cannot watch fprintd's bus name: " + errno_string(r));
    }
    owner_match_.reset(slot);
    deadline_ = timers.after(timeout_usec, [this] { finish(FprintOutcome::TimedOut); });
    if (!call(kManagerPath, kManagerInterface, "GetDevices", nullptr, 0,
              [this](sd_bus_message* reply) { on_devices(reply); })) {
        unavailable(kNoService, "GetDevices not sent");
    }
}

void Session::on_devices(sd_bus_message* reply) {
    if (stage_ != Stage::Working) {
        return;
    }
    if (is_error(reply)) {
        unavailable(kNoService, "GetDevices: " + error_name(reply));
        return;
    }
    const char* sender = sd_bus_message_get_sender(reply);
    if (sender == nullptr || sender[0] != ':') {
        unavailable(kNoService, "GetDevices answered without a sender");
        return;
    }
    owner_ = sender;
    int r = sd_bus_message_enter_container(reply, 'a', "o");
    const char* path = nullptr;
    while (r > 0 && (r = sd_bus_message_read_basic(reply, 'o', &path)) > 0) {
        devices_.emplace_back(path);
    }
    if (r < 0) {
        unavailable(kNoService, "GetDevices: a malformed answer");
        return;
    }
    if (devices_.empty()) {
        finish(FprintOutcome::NoPrints);
        return;
    }
    prints_.assign(devices_.size(), 0);
    lists_pending_ = devices_.size();
    for (size_t i = 0; i < devices_.size(); ++i) {
        auto append = [this](sd_bus_message* m) {
            return sd_bus_message_append(m, "s", user_.c_str());
        };
        if (!call(devices_[i], kDeviceInterface, "ListEnrolledFingers", append, 0,
                  [this, i](sd_bus_message* fingers) { on_fingers(i, fingers); })) {
            on_fingers(i, nullptr);
        }
    }
}

void Session::on_fingers(size_t index, sd_bus_message* reply) {
    if (stage_ != Stage::Working) {
        return;
    }
    // An error (NoEnrolledPrints above all) counts as no prints on that device, as
    // pam_fprintd counts it.
    if (!is_error(reply) && sd_bus_message_enter_container(reply, 'a', "s") > 0) {
        const char* finger = nullptr;
        while (sd_bus_message_read_basic(reply, 's', &finger) > 0) {
            ++prints_[index];
        }
    }
    if (--lists_pending_ > 0) {
        return;
    }
    // The first device with the most prints, in GetDevices' order.
    auto best = std::max_element(prints_.begin(), prints_.end());
    if (*best == 0) {
        finish(FprintOutcome::NoPrints);
        return;
    }
    device_ = devices_[static_cast<size_t>(best - prints_.begin())];
    claim();
}

void Session::claim() {
    // Watch before VerifyStart is sent: the bus applies the match before it passes the
    // call on, so no status can slip past. The sender is the unique name: sd-bus compares
    // a unique sender itself, not a well-known one, so a signal sent straight to lwauthd
    // by another client never reaches on_status.
    sd_bus_slot* slot = nullptr;
    int r =
        sd_bus_match_signal_async(bus_, &slot, owner_.c_str(), device_.c_str(), kDeviceInterface,
                                  "VerifyStatus", on_status, on_match_installed, this);
    if (r < 0) {
        unavailable(kNoService, "cannot watch VerifyStatus: " + errno_string(r));
        return;
    }
    status_match_.reset(slot);
    auto append = [this](sd_bus_message* m) {
        return sd_bus_message_append(m, "s", user_.c_str());
    };
    in_flight_ = call(device_, kDeviceInterface, "Claim", append, 0,
                      [this](sd_bus_message* reply) { on_claim(reply); });
    if (!in_flight_) {
        unavailable(kNoService, "Claim not sent");
    }
}

void Session::on_claim(sd_bus_message* reply) {
    in_flight_ = false;
    if (is_error(reply)) {
        std::string name = error_name(reply);
        unavailable(name == kErrorAlreadyInUse ? kInUse : kFailed, "Claim: " + name);
        teardown();
        return;
    }
    claimed_ = true;
    if (stage_ != Stage::Working) {
        teardown();
        return;
    }
    in_flight_ = call(
        device_, kDeviceInterface, "VerifyStart",
        [](sd_bus_message* m) { return sd_bus_message_append(m, "s", "any"); }, 0,
        [this](sd_bus_message* started) { on_verify_start(started); });
    if (!in_flight_) {
        unavailable(kFailed, "VerifyStart not sent");
    }
}

void Session::on_verify_start(sd_bus_message* reply) {
    in_flight_ = false;
    if (is_error(reply)) {
        std::string name = error_name(reply);
        if (name == kErrorNoEnrolledPrints) {
            finish(FprintOutcome::NoPrints);
        } else {
            unavailable(kFailed, "VerifyStart: " + name);
        }
        teardown();
        return;
    }
    verifying_ = true;
    if (stage_ != Stage::Working) {
        teardown();
    }
}

int Session::on_status(sd_bus_message* m, void* userdata, sd_bus_error*) {
    auto* self = static_cast<Session*>(userdata);
    return c_barrier("fprintd-status", 0, [&] {
        auto keep = self->shared_from_this();  // the callbacks may drop the handle
        const char* sender = sd_bus_message_get_sender(m);
        const char* result = nullptr;
        int done = 0;
        if (sender == nullptr || self->owner_ != sender || !self->verifying_ ||
            sd_bus_message_read(m, "sb", &result, &done) < 0) {
            return 0;
        }
        self->status(result);
        return 0;
    });
}

void Session::status(const std::string& result) {
    if (stage_ != Stage::Working) {
        return;
    }
    if (result == fprint::kMatch) {
        finish(FprintOutcome::Match);
    } else if (result == fprint::kNoMatch) {
        finish(FprintOutcome::NoMatch);
    } else if (std::string line = fprint_retry_message(result); !line.empty()) {
        if (progress_) {
            progress_(FprintRetry{result, line});
        }
    } else if (result == fprint::kDisconnected) {
        unavailable(kDisconnected, result);
    } else {
        unavailable(kFailed, result);  // verify-unknown-error, or a result fprintd never sent
    }
}

// Without this callback sd-bus would close the whole connection when the bus refuses a
// match (over its limit of matches, say); it ends this verification instead.
int Session::on_match_installed(sd_bus_message* m, void* userdata, sd_bus_error*) {
    auto* self = static_cast<Session*>(userdata);
    return c_barrier("fprintd-match", 0, [&] {
        if (is_error(m)) {
            auto keep = self->shared_from_this();
            self->unavailable(kNoService, "AddMatch: " + error_name(m));
            self->teardown();
        }
        return 0;
    });
}

int Session::on_owner_changed(sd_bus_message* m, void* userdata, sd_bus_error*) {
    auto* self = static_cast<Session*>(userdata);
    return c_barrier("fprintd-owner", 0, [&] {
        auto keep = self->shared_from_this();
        const char* name = nullptr;
        const char* old_owner = nullptr;
        const char* new_owner = nullptr;
        if (!sent_by_bus_driver(m)) {
            const char* sender = sd_bus_message_get_sender(m);
            // A forged signal: believed, VerifyStop and Release would be skipped.
            log_event(LogLevel::Warning, "access-denied",
                      "NameOwnerChanged not sent by the bus driver ignored",
                      {{"SENDER", sender == nullptr ? "" : sender}});
            return 0;
        }
        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0 ||
            self->owner_.empty() || self->owner_ != old_owner) {
            return 0;  // fprintd starting for our GetDevices, or another daemon's change
        }
        self->owner_gone_ = true;
        self->unavailable(kStopped, "net.reactivated.Fprint lost its owner");
        self->teardown();
        return 0;
    });
}

void Session::unavailable(const std::string& line, const std::string& why) {
    if (stage_ == Stage::Working) {
        log_event(LogLevel::Notice, "fprint-unavailable", line + " (" + why + ")",
                  {{"USER", user_}});
    }
    finish(Error(Errc::Unavailable, line));
}

void Session::finish(Result<FprintOutcome> verdict) {
    if (stage_ != Stage::Working) {
        return;
    }
    stage_ = Stage::Teardown;
    verdict_.emplace(std::move(verdict));
    deadline_.reset();
    status_match_.reset();
    teardown();
}

// VerifyStop after a started verification, then Release after a claim, one after the
// other as pam_fprintd does; each waits for Claim or VerifyStart in flight to answer.
void Session::teardown() {
    if (stage_ != Stage::Teardown || in_flight_) {
        return;
    }
    if (owner_gone_) {
        // The daemon that knew of the claim is gone: nothing is left to stop or release.
        verifying_ = false;
        claimed_ = false;
    }
    auto next = [this](sd_bus_message*) { teardown(); };
    if (verifying_) {
        verifying_ = false;
        if (call(device_, kDeviceInterface, "VerifyStop", nullptr, kTeardownCallUsec, next)) {
            return;
        }
    }
    if (claimed_) {
        claimed_ = false;
        if (call(device_, kDeviceInterface, "Release", nullptr, kTeardownCallUsec, next)) {
            return;
        }
    }
    stage_ = Stage::Over;
    owner_match_.reset();
    progress_ = nullptr;
    auto keep = shared_from_this();
    if (auto sessions = sessions_.lock()) {
        sessions->live.erase(keep);
    }
    if (auto done = std::exchange(done_, nullptr)) {
        done(std::move(*verdict_));
    }
}

class Handle final : public FprintVerification {
  public:
    explicit Handle(std::shared_ptr<Session> session) : session_(std::move(session)) {}
    ~Handle() override { cancel(); }
    void cancel() noexcept override {
        c_barrier("fprintd-cancel", 0, [&] {
            session_->cancel();
            return 0;
        });
    }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;

  private:
    std::shared_ptr<Session> session_;
};

}  // namespace

std::string fprint_retry_message(const std::string& result) {
    if (result == fprint::kRetryScan) {
        return N_("Place your finger on the reader again.");
    }
    if (result == fprint::kSwipeTooShort) {
        return N_("The swipe was too short; try again.");
    }
    if (result == fprint::kFingerNotCentered) {
        return N_("Your finger was not centered on the reader; try again.");
    }
    if (result == fprint::kRemoveAndRetry) {
        return N_("Lift your finger from the reader and try again.");
    }
    return "";
}

FprintClient::FprintClient(sd_bus* bus, Timers& timers, uint64_t timeout_usec)
    : bus_(bus),
      timers_(timers),
      timeout_usec_(timeout_usec),
      sessions_(std::make_shared<FprintSessions>()) {}

FprintClient::~FprintClient() = default;

std::unique_ptr<FprintVerification> FprintClient::verify(const std::string& user, Progress progress,
                                                         Done<FprintOutcome> done) {
    auto session =
        std::make_shared<Session>(bus_, sessions_, user, std::move(progress), std::move(done));
    sessions_->live.insert(session);
    auto handle = std::make_unique<Handle>(session);
    session->start(timers_, timeout_usec_);
    return handle;
}

}  // namespace lwauth
