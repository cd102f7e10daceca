#include "lwauth/console.hpp"

#include <systemd/sd-login.h>

#include <cstdlib>

namespace lwauth {

bool in_local_seat_session(pid_t pid) {
    char* session = nullptr;
    if (sd_pid_get_session(pid, &session) < 0 || session == nullptr) {
        return false;
    }
    char* seat = nullptr;
    bool local = sd_session_is_remote(session) == 0 &&
                 sd_session_get_seat(session, &seat) >= 0 && seat != nullptr;
    std::free(seat);
    std::free(session);
    return local;
}

}  // namespace lwauth
