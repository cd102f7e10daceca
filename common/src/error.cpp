#include "lwauth/error.hpp"

#include <security/_pam_types.h>
#include <systemd/sd-bus.h>

#include <cstring>
#include <string_view>
#include <iterator>

#include "lwauth/bus_names.hpp"

namespace lwauth {
namespace {

struct ErrorRow {
    Errc code;
    int pam;
    const char* dbus;
    const char* name;
};

// The one table: each error, the PAM code the module returns for it, its D-Bus name.
// No row maps to PAM_SUCCESS or PAM_IGNORE.
constexpr ErrorRow kErrorTable[] = {
    {Errc::AccessDenied, PAM_AUTH_ERR, bus::kErrorAccessDenied, "access-denied"},
    {Errc::InvalidArgument, PAM_SERVICE_ERR, bus::kErrorInvalidArgument, "invalid-argument"},
    {Errc::NotFound, PAM_AUTH_ERR, bus::kErrorNotFound, "not-found"},
    {Errc::NotEnabled, PAM_AUTH_ERR, bus::kErrorNotEnabled, "not-enabled"},
    {Errc::PolicyForbids, PAM_AUTH_ERR, bus::kErrorPolicyForbids, "policy-forbids"},
    {Errc::ManagedByAdmin, PAM_AUTH_ERR, bus::kErrorManagedByAdmin, "managed-by-admin"},
    {Errc::ReauthRequired, PAM_AUTH_ERR, bus::kErrorReauthRequired, "reauth-required"},
    {Errc::RateLimited, PAM_AUTH_ERR, bus::kErrorRateLimited, "rate-limited"},
    {Errc::LockedOut, PAM_MAXTRIES, bus::kErrorLockedOut, "locked-out"},
    {Errc::InvalidCode, PAM_AUTH_ERR, bus::kErrorInvalidCode, "invalid-code"},
    {Errc::Expired, PAM_AUTH_ERR, bus::kErrorExpired, "expired"},
    {Errc::NoSuchLogin, PAM_AUTH_ERR, bus::kErrorNoSuchLogin, "no-such-login"},
    {Errc::DeliveryFailed, PAM_AUTHINFO_UNAVAIL, bus::kErrorDeliveryFailed, "delivery-failed"},
    {Errc::Unavailable, PAM_AUTHINFO_UNAVAIL, bus::kErrorUnavailable, "unavailable"},
    {Errc::NotImplemented, PAM_SERVICE_ERR, bus::kErrorNotImplemented, "not-implemented"},
    {Errc::BadPolicy, PAM_SERVICE_ERR, bus::kErrorBadPolicy, "bad-policy"},
    {Errc::Internal, PAM_SERVICE_ERR, bus::kErrorInternal, "internal"},
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
