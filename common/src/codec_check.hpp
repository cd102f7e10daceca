// What step_codec.cpp and status_codec.cpp share: turning a failed sd-bus call into the
// codec's one error.
#pragma once

#include <string>

#include "lwauth/error.hpp"
#include "lwauth/sd_bus.hpp"

namespace lwauth::bus::detail {

/// Throws Error(Internal) "`what`: reason" when the sd-bus call that returned `r` failed.
inline void check(int r, const std::string& what) {
    if (r < 0) {
        throw Error(Errc::Internal, what + ": " + errno_string(r));
    }
}

/// Enters a container of the message, or throws as check() does; a message that ends
/// before it is malformed too.
inline void enter(sd_bus_message* m, char type, const char* contents, const std::string& what) {
    int r = sd_bus_message_enter_container(m, type, contents);
    check(r, what);
    if (r == 0) {
        throw Error(Errc::Internal, what + ": the message ends early");
    }
}

}  // namespace lwauth::bus::detail
