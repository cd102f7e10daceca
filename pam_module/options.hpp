// pam_lwauth's module arguments (pam_lwauth(8)): apart from the module so that the
// argument fuzzer (tests/fuzz/pam_args_fuzz.cpp) runs the very parser the module does.
#pragma once

#include <security/pam_modules.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "lwauth/bus_names.hpp"

namespace lwauth {

inline constexpr uint64_t kUsecPerSec = 1000 * 1000;

struct Options {
    const char* mode = bus::kModeSecondFactor;
    bool failmode_safe = false;
    uint64_t timeout_usec = bus::kModuleDefaultTimeoutSeconds * kUsecPerSec;
    // lwauthd's login socket, tried before the bus; "" when socket= does not say.
    std::string socket;
    bool debug = false;
};

/// Whether `path` can be a Unix socket's address: absolute, and short enough.
bool socket_path_ok(std::string_view path);

/// Parses module arguments into `options`: PAM_SUCCESS, or PAM_SERVICE_ERR for a known
/// option with a bad value (fail closed). Unknown options are reported to syslog and
/// ignored so that a typo does not lock everyone out.
int parse_options(pam_handle_t* pamh, int argc, const char** argv, Options& options);

}  // namespace lwauth
