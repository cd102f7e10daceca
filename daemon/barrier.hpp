// The exception barrier at every function lwauthd hands to a C library (sd-event, sd-bus,
// libcurl). C has no exceptions: one that unwound through sd_event_run would leave the
// loop marked as running for good (every later sd_event_run fails with EBUSY), and one
// that reached main() would stop lwauthd. So each callback catches everything, logs it as
// `internal-error` and answers the library with a value it accepts.
#pragma once

#include <exception>
#include <string>
#include <utility>

#include "log.hpp"

namespace lwauth {

/// Logs an exception that a C callback caught; never throws (a log that cannot be
/// written is dropped).
inline void log_callback_error(const char* callback, const char* what) noexcept {
    try {
        log_event(LogLevel::Error, "internal-error", std::string(callback) + " failed: " + what,
                  {{"METHOD", callback}});
    } catch (...) {  // NOLINT(bugprone-empty-catch): nothing more can be done from C
    }
}

/// Runs `fn` for a C library's callback named `callback` and returns its result; when it
/// throws, logs the exception and returns `on_error` instead.
template <typename Result, typename Fn>
Result c_barrier(const char* callback, Result on_error, Fn&& fn) noexcept {
    try {
        return std::forward<Fn>(fn)();
    } catch (const std::exception& e) {
        log_callback_error(callback, e.what());
    } catch (...) {
        log_callback_error(callback, "an exception that is not a std::exception");
    }
    return on_error;
}

}  // namespace lwauth
