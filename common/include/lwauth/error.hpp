// One error type for all of lwauth, and the one table that maps it out of the program:
// to a PAM return code (pam_lwauth.so), a D-Bus error name (lwauthd, lwauthctl) and
// lwauthctl's exit status.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace lwauth {

enum class Errc {
    AccessDenied,     // caller may not do this
    InvalidArgument,  // malformed input from the caller
    NotFound,         // no such user, contact, login
    NotEnabled,       // the policy does not enable this feature here
    PolicyForbids,    // the policy forbids this change (e.g. 2-step is required)
    ManagedByAdmin,   // contacts are managed by the administrator
    ReauthRequired,   // the change needs proof that it is the user (Account.Reauth) first
    RateLimited,      // a send or resend cap was hit
    LockedOut,        // too many failures: locked for a while
    InvalidCode,      // wrong or unknown confirmation code
    Expired,          // code or login expired
    NoSuchLogin,      // unknown login id, or one that belongs to another caller
    DeliveryFailed,   // a channel could not deliver a code
    Unavailable,      // lwauthd is not reachable (client side) or a backend is down
    NotImplemented,   // a method of the contract that this build does not provide yet
    BadPolicy,        // policy files do not parse
    Internal,         // a bug or an unexpected system error
};

/// The single exception type thrown below lwauth's entry points, and the error of a
/// Result. The message is for the log and for root; what an unprivileged caller reads of
/// an Internal error is decided where it leaves lwauthd (bus_service.cpp).
class Error : public std::runtime_error {
  public:
    Error(Errc code, const std::string& message) : std::runtime_error(message), code_(code) {}
    /// An error that ends at a known time (seconds since the epoch): RateLimited when
    /// the cap that was reached has room again.
    Error(Errc code, const std::string& message, int64_t retry_at)
        : std::runtime_error(message), code_(code), retry_at_(retry_at) {}
    [[nodiscard]] Errc code() const noexcept { return code_; }
    /// When trying again may succeed; 0 when that is not known.
    [[nodiscard]] int64_t retry_at() const noexcept { return retry_at_; }

  private:
    Errc code_;
    int64_t retry_at_ = 0;
};

/// Maps an error to the PAM return code the module gives the stack. Never PAM_SUCCESS
/// or PAM_IGNORE: an error must not let a login through.
[[nodiscard]] int to_pam_code(Errc code) noexcept;

/// Maps an error to its org.lwauth.Auth1.Error.* name.
[[nodiscard]] const char* to_dbus_error(Errc code) noexcept;

/// Maps a D-Bus error name back to an error (unknown names and the bus's own
/// "no such service / no reply / disconnected" errors map to Unavailable or Internal).
[[nodiscard]] Errc from_dbus_error(const char* name) noexcept;

/// A short, stable, lower-case name of the error ("locked-out"), for logs and --json.
[[nodiscard]] const char* errc_name(Errc code) noexcept;

/// The exit status lwauthctl ends with for the error (1, 3, 4 or 5; lwauthctl.1).
[[nodiscard]] int ctl_exit_status(Errc code) noexcept;

}  // namespace lwauth
