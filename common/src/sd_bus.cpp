#include "lwauth/sd_bus.hpp"

#include <cstring>
#include <string_view>

namespace lwauth {

bool sent_by_bus_driver(sd_bus_message* m) {
    const char* sender = sd_bus_message_get_sender(m);
    return sender != nullptr && std::string_view(sender) == kBusDriver;
}

std::string errno_string(int negative_errno) {
    char buf[256];
    // GNU strerror_r returns a pointer that may or may not be buf.
    const char* text =
        strerror_r(negative_errno < 0 ? -negative_errno : negative_errno, buf, sizeof buf);
    return text;
}

}  // namespace lwauth
