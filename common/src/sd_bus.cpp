#include "lwauth/sd_bus.hpp"

#include <cstring>

namespace lwauth {

std::string errno_string(int negative_errno) {
    char buf[256];
    // GNU strerror_r returns a pointer that may or may not be buf.
    const char* text =
        strerror_r(negative_errno < 0 ? -negative_errno : negative_errno, buf, sizeof buf);
    return text;
}

}  // namespace lwauth
