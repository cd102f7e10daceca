#include "lwauth/error.hpp"

#include <gtest/gtest.h>
#include <security/pam_appl.h>
#include <systemd/sd-bus.h>

#include <set>
#include <string>

#include "lwauth/bus_names.hpp"

namespace lwauth {
namespace {

constexpr Errc kEveryErrc[] = {
    Errc::AccessDenied,  Errc::InvalidArgument, Errc::NotFound,    Errc::NotEnabled,
    Errc::PolicyForbids, Errc::ManagedByAdmin,  Errc::RateLimited, Errc::LockedOut,
    Errc::InvalidCode,   Errc::Expired,         Errc::NoSuchLogin, Errc::DeliveryFailed,
    Errc::Unavailable,   Errc::NotImplemented,  Errc::BadPolicy,   Errc::Internal,
};

TEST(ErrorToPam, NoErrorLetsALoginThrough) {
    for (Errc code : kEveryErrc) {
        int pam = to_pam_code(code);
        EXPECT_NE(pam, PAM_SUCCESS) << errc_name(code);
        EXPECT_NE(pam, PAM_IGNORE) << errc_name(code);
    }
}

TEST(ErrorToPam, LockoutIsMaxTriesAndUnreachableIsAuthInfoUnavailable) {
    EXPECT_EQ(to_pam_code(Errc::LockedOut), PAM_MAXTRIES);
    EXPECT_EQ(to_pam_code(Errc::Unavailable), PAM_AUTHINFO_UNAVAIL);
    EXPECT_EQ(to_pam_code(Errc::DeliveryFailed), PAM_AUTHINFO_UNAVAIL);
    EXPECT_EQ(to_pam_code(Errc::Internal), PAM_SERVICE_ERR);
    EXPECT_EQ(to_pam_code(Errc::AccessDenied), PAM_AUTH_ERR);
}

TEST(ErrorToDbus, EveryErrorHasItsOwnNameUnderTheLwauthErrorPrefix) {
    std::set<std::string> names;
    for (Errc code : kEveryErrc) {
        std::string name = to_dbus_error(code);
        EXPECT_EQ(name.rfind("org.lwauth.Auth1.Error.", 0), 0u) << name;
        EXPECT_TRUE(names.insert(name).second) << "duplicate D-Bus name " << name;
    }
}

TEST(ErrorToDbus, NamesRoundTripThroughFromDbusError) {
    for (Errc code : kEveryErrc) {
        EXPECT_EQ(from_dbus_error(to_dbus_error(code)), code) << to_dbus_error(code);
    }
}

TEST(ErrorToDbus, MatchesTheContractInBusNames) {
    EXPECT_STREQ(to_dbus_error(Errc::NoSuchLogin), bus::kErrorNoSuchLogin);
    EXPECT_STREQ(to_dbus_error(Errc::LockedOut), bus::kErrorLockedOut);
    EXPECT_STREQ(to_dbus_error(Errc::RateLimited), bus::kErrorRateLimited);
}

TEST(FromDbusError, DaemonGoneOrSilentMeansUnavailable) {
    for (const char* name :
         {"org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NoReply",
          "org.freedesktop.DBus.Error.Disconnected", "org.freedesktop.DBus.Error.NameHasNoOwner",
          "org.freedesktop.DBus.Error.Timeout"}) {
        EXPECT_EQ(from_dbus_error(name), Errc::Unavailable) << name;
    }
}

TEST(FromDbusError, AFailedBusActivationMeansUnavailable) {
    // What the bus answers when it cannot start lwauthd for a call: systemd's refusal
    // passed on (a masked or broken unit), a failed spawn, an activation timeout.
    for (const char* name :
         {"org.freedesktop.systemd1.UnitMasked", "org.freedesktop.systemd1.NoSuchUnit",
          "org.freedesktop.systemd1.LoadFailed", "org.freedesktop.DBus.Error.Spawn.ChildExited",
          "org.freedesktop.DBus.Error.Spawn.ExecFailed",
          "org.freedesktop.DBus.Error.Spawn.ServiceNotFound",
          "org.freedesktop.DBus.Error.TimedOut"}) {
        EXPECT_EQ(from_dbus_error(name), Errc::Unavailable) << name;
    }
}

TEST(FromDbusError, BusAccessDeniedAndInvalidArgsKeepTheirMeaning) {
    EXPECT_EQ(from_dbus_error(SD_BUS_ERROR_ACCESS_DENIED), Errc::AccessDenied);
    EXPECT_EQ(from_dbus_error(SD_BUS_ERROR_AUTH_FAILED), Errc::AccessDenied);
    EXPECT_EQ(from_dbus_error(SD_BUS_ERROR_INVALID_ARGS), Errc::InvalidArgument);
}

TEST(FromDbusError, UnknownOrMissingNamesAreInternal) {
    EXPECT_EQ(from_dbus_error(nullptr), Errc::Internal);
    EXPECT_EQ(from_dbus_error(""), Errc::Internal);
    EXPECT_EQ(from_dbus_error("org.lwauth.Auth1.Error.NoSuchThing"), Errc::Internal);
    EXPECT_EQ(from_dbus_error("org.freedesktop.DBus.Error.Failed"), Errc::Internal);
}

TEST(ErrcName, IsShortLowerCaseAndUnique) {
    std::set<std::string> names;
    for (Errc code : kEveryErrc) {
        std::string name = errc_name(code);
        EXPECT_FALSE(name.empty());
        EXPECT_EQ(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz-"), std::string::npos) << name;
        EXPECT_TRUE(names.insert(name).second) << "duplicate name " << name;
    }
    EXPECT_STREQ(errc_name(Errc::LockedOut), "locked-out");
}

TEST(Error, CarriesItsCodeAndMessage) {
    Error error(Errc::RateLimited, "too many codes were sent recently");
    EXPECT_EQ(error.code(), Errc::RateLimited);
    EXPECT_STREQ(error.what(), "too many codes were sent recently");
}

TEST(ErrorToExitStatus, LwauthctlsStatusesAreThoseOfItsManPage) {
    EXPECT_EQ(ctl_exit_status(Errc::AccessDenied), 3);
    EXPECT_EQ(ctl_exit_status(Errc::Unavailable), 4);
    EXPECT_EQ(ctl_exit_status(Errc::BadPolicy), 5);
    for (Errc code : kEveryErrc) {
        if (code != Errc::AccessDenied && code != Errc::Unavailable && code != Errc::BadPolicy) {
            EXPECT_EQ(ctl_exit_status(code), 1) << errc_name(code);
        }
    }
    EXPECT_EQ(ctl_exit_status(Errc::ReauthRequired), 1);
}

}  // namespace
}  // namespace lwauth
