#include "quick/fingerprint_limits.hpp"

namespace lwauth {

FingerprintGate fingerprint_gate(const FingerprintFailures& state, int64_t now) {
    if (state.disabled) {
        return FingerprintGate::Disabled;
    }
    return now < state.paused_until ? FingerprintGate::Paused : FingerprintGate::Allowed;
}

FingerprintFailures after_fingerprint_no_match(FingerprintFailures state, int64_t now) {
    if (state.disabled) {
        return state;
    }
    ++state.in_a_row;
    if (state.in_a_row >= kFingerprintDisableAt) {
        state.disabled = true;
        state.paused_until = 0;
    } else if (state.in_a_row % kFingerprintPauseEvery == 0) {
        state.paused_until = now + kFingerprintPauseSeconds;
    }
    return state;
}

}  // namespace lwauth
