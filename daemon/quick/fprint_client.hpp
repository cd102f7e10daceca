// A client of fprintd (net.reactivated.Fprint on the system bus) on lwauthd's event
// loop: one fingerprint verification at a time per FprintVerification, as pam_fprintd
// does one, but never blocking the loop (every call is sd_bus_call_async, every
// signal an asynchronous match).
//
// The steps: Manager.GetDevices; Device.ListEnrolledFingers(user) on each device, and the
// one with the most prints is used (none, or NoEnrolledPrints everywhere: NoPrints);
// Claim(user); VerifyStart("any"); then VerifyStatus(result, done) signals until a
// result ends it; then VerifyStop (when a verification was started) and Release (when
// claimed), always: on a result, the timeout, a cancel or an error. Every call after
// GetDevices goes to the unique name that answered it, and only signals from that name
// count: a signal from anyone else on the bus is ignored, and fprintd restarting under
// the same well-known name ends the verification (NameOwnerChanged) instead of talking to
// a new daemon that knows nothing of the claim.
#pragma once

#include <systemd/sd-bus.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "lwauth/result.hpp"
#include "timers.hpp"

namespace lwauth {

/// How a verification ended, when fprintd could be asked. fprintd unreachable, the
/// reader in use, disconnected or failing is the Done's Error: Errc::Unavailable, its
/// message a line fit to show the user ("The fingerprint reader was disconnected.").
enum class FprintOutcome {
    Match,     // verify-match
    NoMatch,   // verify-no-match: the one failure to count
    TimedOut,  // no result within the timeout
    NoPrints,  // no reader has a print of this user (or there is no reader)
};

/// A scan to repeat while the verification goes on (verify-retry-scan and the like).
struct FprintRetry {
    std::string result;   // fprintd's result string
    std::string message;  // what to tell the user
};

/// fprintd's names (src/manager.xml, src/device.xml) and the result strings of
/// VerifyStatus (device.xml, "Verify Statuses").
namespace fprint {
inline constexpr const char* kService = "net.reactivated.Fprint";
inline constexpr const char* kManagerPath = "/net/reactivated/Fprint/Manager";
inline constexpr const char* kManagerInterface = "net.reactivated.Fprint.Manager";
inline constexpr const char* kDeviceInterface = "net.reactivated.Fprint.Device";
inline constexpr const char* kErrorAlreadyInUse = "net.reactivated.Fprint.Error.AlreadyInUse";
inline constexpr const char* kErrorNoEnrolledPrints =
    "net.reactivated.Fprint.Error.NoEnrolledPrints";
inline constexpr const char* kMatch = "verify-match";
inline constexpr const char* kNoMatch = "verify-no-match";
inline constexpr const char* kRetryScan = "verify-retry-scan";
inline constexpr const char* kSwipeTooShort = "verify-swipe-too-short";
inline constexpr const char* kFingerNotCentered = "verify-finger-not-centered";
inline constexpr const char* kRemoveAndRetry = "verify-remove-and-retry";
inline constexpr const char* kDisconnected = "verify-disconnected";
inline constexpr const char* kUnknownError = "verify-unknown-error";
}  // namespace fprint

/// The line to show for a retry result, or "" when `result` is not one.
[[nodiscard]] std::string fprint_retry_message(const std::string& result);

/// A verification in progress. Cancelling it, or destroying it, releases the device
/// (after VerifyStop when a verification had started, and after Claim's answer when that
/// was still on its way), and neither callback is called again.
class FprintVerification {
  public:
    virtual ~FprintVerification() = default;
    /// Cancels (see above). Safe to call more than once, and after `done`.
    virtual void cancel() noexcept = 0;
};

struct FprintSessions;

class FprintClient {
  public:
    static constexpr uint64_t kDefaultTimeoutUsec = 30ULL * 1000 * 1000;

    /// `bus` is lwauthd's connection (the system bus), attached to the loop that runs
    /// `timers`; it must outlive the client and every verification.
    FprintClient(sd_bus* bus, Timers& timers, uint64_t timeout_usec = kDefaultTimeoutUsec);
    ~FprintClient();
    FprintClient(const FprintClient&) = delete;
    FprintClient& operator=(const FprintClient&) = delete;

    using Progress = std::function<void(const FprintRetry&)>;

    /// Starts verifying a finger of `user`. `progress` is called for each retry result;
    /// `done` once, with the outcome or Errc::Unavailable, after the device has been
    /// released (so another verification may claim it at once); before verify() returns
    /// only when not even GetDevices could be sent. The timeout runs from this call.
    /// Throws Error(Internal) when the loop cannot take the verification.
    [[nodiscard]] std::unique_ptr<FprintVerification> verify(const std::string& user,
                                                             Progress progress,
                                                             Done<FprintOutcome> done);

  private:
    sd_bus* bus_;
    Timers& timers_;
    uint64_t timeout_usec_;
    // The verifications not over yet, which end with the client at the latest.
    std::shared_ptr<FprintSessions> sessions_;
};

}  // namespace lwauth
