#include "lwauth/error.hpp"

#include <security/_pam_types.h>
#include <systemd/sd-bus.h>

#include <cstring>
#include <iterator>
#include <string_view>

#include "lwauth/bus_names.hpp"

namespace lwauth {
namespace {

struct ErrorRow {
    Errc code;
    int pam;
    const char* dbus;
    const char* name;
    int exit;  // lwauthctl's exit status (lwauthctl.1, EXIT STATUS)
};

// The one table: each error, the PAM code the module returns for it, its D-Bus name, its
// short name and the exit status of lwauthctl. No row maps to PAM_SUCCESS or PAM_IGNORE,
// nor to exit status 0 (success) or 2 (a usage error, found before any call).
constexpr ErrorRow kErrorTable[] = {
    {Errc::AccessDenied, PAM_AUTH_ERR, bus::kErrorAccessDenied, "access-denied", 3},
    {Errc::InvalidArgument, PAM_SERVICE_ERR, bus::kErrorInvalidArgument, "invalid-argument", 1},
    {Errc::NotFound, PAM_AUTH_ERR, bus::kErrorNotFound, "not-found", 1},
    {Errc::NotEnabled, PAM_AUTH_ERR, bus::kErrorNotEnabled, "not-enabled", 1},
    {Errc::PolicyForbids, PAM_AUTH_ERR, bus::kErrorPolicyForbids, "policy-forbids", 1},
    {Errc::ManagedByAdmin, PAM_AUTH_ERR, bus::kErrorManagedByAdmin, "managed-by-admin", 1},
    {Errc::ReauthRequired, PAM_AUTH_ERR, bus::kErrorReauthRequired, "reauth-required", 1},
    {Errc::RateLimited, PAM_AUTH_ERR, bus::kErrorRateLimited, "rate-limited", 1},
    {Errc::LockedOut, PAM_MAXTRIES, bus::kErrorLockedOut, "locked-out", 1},
    {Errc::InvalidCode, PAM_AUTH_ERR, bus::kErrorInvalidCode, "invalid-code", 1},
    {Errc::Expired, PAM_AUTH_ERR, bus::kErrorExpired, "expired", 1},
    {Errc::NoSuchLogin, PAM_AUTH_ERR, bus::kErrorNoSuchLogin, "no-such-login", 1},
    {Errc::DeliveryFailed, PAM_AUTHINFO_UNAVAIL, bus::kErrorDeliveryFailed, "delivery-failed", 1},
    {Errc::Unavailable, PAM_AUTHINFO_UNAVAIL, bus::kErrorUnavailable, "unavailable", 4},
    {Errc::NotImplemented, PAM_SERVICE_ERR, bus::kErrorNotImplemented, "not-implemented", 1},
    {Errc::BadPolicy, PAM_SERVICE_ERR, bus::kErrorBadPolicy, "bad-policy", 5},
    {Errc::Internal, PAM_SERVICE_ERR, bus::kErrorInternal, "internal", 1},
};

const ErrorRow& row_for(Errc code) noexcept {
    for (const auto& row : kErrorTable) {
        if (row.code == code) {
            return row;
        }
    }
    return kErrorTable[std::size(kErrorTable) - 1];
}

}  // namespace

int to_pam_code(Errc code) noexcept {
    return row_for(code).pam;
}

const char* to_dbus_error(Errc code) noexcept {
    return row_for(code).dbus;
}

const char* errc_name(Errc code) noexcept {
    return row_for(code).name;
}

int ctl_exit_status(Errc code) noexcept {
    return row_for(code).exit;
}

Errc from_dbus_error(const char* name) noexcept {
    if (name == nullptr) {
        return Errc::Internal;
    }
    for (const auto& row : kErrorTable) {
        if (std::strcmp(row.dbus, name) == 0) {
            return row.code;
        }
    }
    // The bus's own answers when the daemon is gone or does not answer.
    static constexpr const char* kUnavailableNames[] = {
        SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER, SD_BUS_ERROR_NO_REPLY,
        SD_BUS_ERROR_TIMEOUT,         SD_BUS_ERROR_DISCONNECTED,      SD_BUS_ERROR_NO_SERVER,
    };
    for (const char* unavailable : kUnavailableNames) {
        if (std::strcmp(unavailable, name) == 0) {
            return Errc::Unavailable;
        }
    }
    // The bus could not start lwauthd for the call (bus activation): the unit is masked
    // or failed (systemd's errors, passed on by the bus), the spawn failed, or the
    // activation timed out. lwauthd cannot be reached, the same as when it is not there.
    std::string_view n = name;
    if (n.starts_with("org.freedesktop.systemd1.") ||
        n.starts_with("org.freedesktop.DBus.Error.Spawn.") ||
        n == "org.freedesktop.DBus.Error.TimedOut") {  // dbus-daemon's activation timeout
        return Errc::Unavailable;
    }
    if (std::strcmp(name, SD_BUS_ERROR_ACCESS_DENIED) == 0 ||
        std::strcmp(name, SD_BUS_ERROR_AUTH_FAILED) == 0) {
        return Errc::AccessDenied;
    }
    if (std::strcmp(name, SD_BUS_ERROR_INVALID_ARGS) == 0) {
        return Errc::InvalidArgument;
    }
    return Errc::Internal;
}

}  // namespace lwauth
