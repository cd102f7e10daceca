#include "timers.hpp"

#include <utility>

#include "barrier.hpp"
#include "lwauth/error.hpp"
#include "lwauth/sd_bus.hpp"

namespace lwauth {
namespace {

// One sd-event time source and what it calls; the source goes with the handle.
class EventTimer final : public Timer {
  public:
    explicit EventTimer(std::function<void()> fire) : fire_(std::move(fire)) {}

    void arm(sd_event* event, uint64_t usec) {
        sd_event_source* source = nullptr;
        // 10 ms of slack lets sd-event wake once for timers that fall due together.
        int r = sd_event_add_time_relative(event, &source, CLOCK_MONOTONIC, usec, 10 * 1000,
                                           on_time, this);
        if (r < 0) {
            throw Error(Errc::Internal, "cannot add a timer to the loop: " + errno_string(r));
        }
        source_.reset(source);
    }

  private:
    static int on_time(sd_event_source*, uint64_t, void* userdata) {
        auto* self = static_cast<EventTimer*>(userdata);
        // The callback may drop this handle: it runs from a copy.
        std::function<void()> fire = self->fire_;
        return c_barrier("timer", 0, [&] {
            fire();
            return 0;
        });
    }

    std::function<void()> fire_;
    EventSourcePtr source_;
};

}  // namespace

std::unique_ptr<Timer> EventTimers::after(uint64_t usec, std::function<void()> fire) {
    auto timer = std::make_unique<EventTimer>(std::move(fire));
    timer->arm(event_, usec);
    return timer;
}

}  // namespace lwauth
