// Time and randomness as interfaces, so the login logic can run under a fake clock and a
// scripted random source in unit tests.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lwauth {

class Clock {
  public:
    virtual ~Clock() = default;
    /// Seconds since the epoch (CLOCK_REALTIME): lockouts and send counters outlive the
    /// process, so they are kept in wall-clock time.
    [[nodiscard]] virtual int64_t now() const = 0;
};

class SystemClock final : public Clock {
  public:
    [[nodiscard]] int64_t now() const override;
};

class RandomSource {
  public:
    virtual ~RandomSource() = default;
    /// Fills buf with cryptographically strong random bytes; throws Error on failure.
    virtual void fill(uint8_t* buf, size_t len) = 0;
};

/// RAND_bytes from OpenSSL 3 (seeded from getrandom()).
class OpenSslRandom final : public RandomSource {
  public:
    void fill(uint8_t* buf, size_t len) override;
};

}  // namespace lwauth
