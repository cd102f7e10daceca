// Timers on lwauthd's event loop, as an interface: the login engine bounds a method's
// wait for an outside event with one, and unit tests fire them by hand.
#pragma once

#include <systemd/sd-event.h>

#include <cstdint>
#include <functional>
#include <memory>

namespace lwauth {

/// An armed timer; destroying it disarms it (also from inside its own callback).
class Timer {
  public:
    virtual ~Timer() = default;
};

class Timers {
  public:
    virtual ~Timers() = default;
    /// Calls `fire` once, from the event loop, `usec` microseconds from now (monotonic),
    /// unless the handle has been dropped before. Throws Error(Internal) when the loop
    /// cannot take another timer.
    [[nodiscard]] virtual std::unique_ptr<Timer> after(uint64_t usec,
                                                       std::function<void()> fire) = 0;
};

/// Timers as sd-event time sources (CLOCK_MONOTONIC) on `event`.
class EventTimers final : public Timers {
  public:
    explicit EventTimers(sd_event* event) : event_(event) {}
    [[nodiscard]] std::unique_ptr<Timer> after(uint64_t usec, std::function<void()> fire) override;

  private:
    sd_event* event_;
};

}  // namespace lwauth
