// The fingerprint failure rule (NIST SP 800-63B biometric limits) under a fake clock.
#include "quick/fingerprint_limits.hpp"

#include <gtest/gtest.h>

#include "fakes.hpp"

namespace lwauth::test {
namespace {

// `n` failed matches, each one as soon as the gate allows it; the clock moves on.
FingerprintFailures fail_times(FingerprintFailures state, int n, FakeClock& clock) {
    for (int i = 0; i < n; ++i) {
        if (fingerprint_gate(state, clock.now()) == FingerprintGate::Paused) {
            clock.set(state.paused_until);
        }
        state = after_fingerprint_no_match(state, clock.now());
    }
    return state;
}

TEST(FingerprintLimits, AllowsFourFailuresInARowWithoutAPause) {
    FakeClock clock;
    FingerprintFailures state = fail_times({}, 4, clock);
    EXPECT_EQ(state.in_a_row, 4);
    EXPECT_EQ(fingerprint_gate(state, clock.now()), FingerprintGate::Allowed);
}

TEST(FingerprintLimits, PausesThirtySecondsAfterFiveFailuresInARow) {
    FakeClock clock;
    FingerprintFailures state = fail_times({}, 5, clock);
    EXPECT_EQ(fingerprint_gate(state, clock.now()), FingerprintGate::Paused);
    EXPECT_EQ(state.paused_until, clock.now() + 30);
    clock.advance(29);
    EXPECT_EQ(fingerprint_gate(state, clock.now()), FingerprintGate::Paused);
    clock.advance(1);
    EXPECT_EQ(fingerprint_gate(state, clock.now()), FingerprintGate::Allowed);
}

TEST(FingerprintLimits, PausesAgainAfterEachFurtherFiveFailures) {
    FakeClock clock;
    FingerprintFailures state = fail_times({}, 6, clock);
    EXPECT_EQ(fingerprint_gate(state, clock.now()), FingerprintGate::Allowed);
    state = fail_times(state, 4, clock);
    EXPECT_EQ(state.in_a_row, 10);
    EXPECT_EQ(fingerprint_gate(state, clock.now()), FingerprintGate::Paused);
    EXPECT_EQ(state.paused_until, clock.now() + 30);
}

TEST(FingerprintLimits, DisablesAtFiftyFailuresInARowUntilAFullLogin) {
    FakeClock clock;
    FingerprintFailures state = fail_times({}, 49, clock);
    clock.set(state.paused_until);
    EXPECT_FALSE(state.disabled);
    state = after_fingerprint_no_match(state, clock.now());
    EXPECT_TRUE(state.disabled);
    clock.advance(365 * 24 * 3600);
    EXPECT_EQ(fingerprint_gate(state, clock.now()), FingerprintGate::Disabled);
    // A match cannot happen while disabled, and a stray one re-arms nothing.
    EXPECT_EQ(fingerprint_gate(after_fingerprint_match(state), clock.now()),
              FingerprintGate::Disabled);
    EXPECT_EQ(fingerprint_gate(after_full_login(), clock.now()), FingerprintGate::Allowed);
    EXPECT_EQ(after_full_login().in_a_row, 0);
}

TEST(FingerprintLimits, AMatchStartsTheRunAgain) {
    FakeClock clock;
    FingerprintFailures state = fail_times({}, 4, clock);
    state = after_fingerprint_match(state);
    state = fail_times(state, 4, clock);
    EXPECT_EQ(state.in_a_row, 4);
    EXPECT_EQ(fingerprint_gate(state, clock.now()), FingerprintGate::Allowed);
    // 49 failures, a match, 49 more: never disabled.
    state = after_fingerprint_match(fail_times(state, 45, clock));
    state = fail_times(state, 49, clock);
    EXPECT_FALSE(state.disabled);
}

}  // namespace
}  // namespace lwauth::test
