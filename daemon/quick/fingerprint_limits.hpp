// How many failed fingerprint matches a user may have, as NIST SP 800-63B (5.2.3) limits
// biometrics: after 5 failed matches in a row a pause of 30 s before the next attempt,
// after each further 5 another; at 50 in a row fingerprint login is disabled until a
// full login (password and, where it applies, 2-step). A match clears the run. Pure
// logic on a state the store keeps per user, under the daemon's Clock.
#pragma once

#include <cstdint>

namespace lwauth {

struct FingerprintFailures {
    int in_a_row = 0;          // failed matches since the last match or full login
    int64_t paused_until = 0;  // seconds since the epoch; 0: no pause
    bool disabled = false;     // until the next full login
};

inline constexpr int kFingerprintPauseEvery = 5;
inline constexpr int64_t kFingerprintPauseSeconds = 30;
inline constexpr int kFingerprintDisableAt = 50;

enum class FingerprintGate { Allowed, Paused, Disabled };

/// Whether a fingerprint attempt may start at `now` (Paused: not before paused_until).
[[nodiscard]] FingerprintGate fingerprint_gate(const FingerprintFailures& state, int64_t now);

/// The state after a failed match (verify-no-match) at `now`.
[[nodiscard]] FingerprintFailures after_fingerprint_no_match(FingerprintFailures state,
                                                             int64_t now);

/// The state after a match: the run of failures starts again (a pause already earned
/// has passed, or there would have been no attempt).
[[nodiscard]] inline FingerprintFailures after_fingerprint_match(FingerprintFailures state) {
    state.in_a_row = 0;
    state.paused_until = 0;
    return state;
}

/// The state after a full login: everything cleared, a disabled fingerprint re-armed.
[[nodiscard]] inline FingerprintFailures after_full_login() {
    return {};
}

}  // namespace lwauth
