#include "options.hpp"

#include <security/pam_ext.h>
#include <sys/un.h>
#include <syslog.h>

#include <charconv>
#include <cstring>
#include <string_view>

namespace lwauth {

bool socket_path_ok(std::string_view path) {
    return path.starts_with('/') && path.size() < sizeof(sockaddr_un::sun_path);
}

int parse_options(pam_handle_t* pamh, int argc, const char** argv, Options& options) {
    for (int i = 0; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "debug") {
            options.debug = true;
        } else if (arg == "mode=primary") {
            options.mode = bus::kModePrimary;
        } else if (arg == "mode=second_factor") {
            options.mode = bus::kModeSecondFactor;
        } else if (arg == "failmode=secure") {
            options.failmode_safe = false;
        } else if (arg == "failmode=safe") {
            options.failmode_safe = true;
        } else if (arg.starts_with("timeout=")) {
            std::string_view value = arg.substr(std::strlen("timeout="));
            unsigned seconds = 0;
            auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
            if (ec != std::errc() || end != value.data() + value.size() || seconds < 1 ||
                seconds > 3600) {
                pam_syslog(pamh, LOG_ERR, "bad option '%s': timeout must be 1 to 3600 seconds",
                           argv[i]);
                return PAM_SERVICE_ERR;
            }
            options.timeout_usec = seconds * kUsecPerSec;
        } else if (arg.starts_with("socket=")) {
            std::string_view value = arg.substr(std::strlen("socket="));
            if (!socket_path_ok(value)) {
                pam_syslog(pamh, LOG_ERR,
                           "bad option '%s': socket must be an absolute path of at most %zu bytes",
                           argv[i], sizeof(sockaddr_un::sun_path) - 1);
                return PAM_SERVICE_ERR;
            }
            options.socket = value;
        } else if (arg.starts_with("mode=") || arg.starts_with("failmode=")) {
            pam_syslog(pamh, LOG_ERR, "bad option '%s'", argv[i]);
            return PAM_SERVICE_ERR;
        } else {
            pam_syslog(pamh, LOG_WARNING, "unknown option '%s' ignored", argv[i]);
        }
    }
    return PAM_SUCCESS;
}

}  // namespace lwauth
