// The exception barrier of lwauthd's C callbacks, on a real sd-event loop: an exception
// is logged as internal-error and the loop goes on.
#include "barrier.hpp"

#include <gtest/gtest.h>
#include <systemd/sd-event.h>

#include <stdexcept>
#include <string>

#include "log.hpp"
#include "lwauth/sd_bus.hpp"

namespace lwauth {
namespace {

class BarrierTest : public ::testing::Test {
  protected:
    void SetUp() override { log_setup(LogTarget::Stderr, false); }
};

TEST_F(BarrierTest, PassesTheResultThrough) {
    EXPECT_EQ(c_barrier("test-callback", -1, [] { return 7; }), 7);
    static_assert(noexcept(c_barrier("test-callback", 0, [] { return 0; })));
}

TEST_F(BarrierTest, AnExceptionIsLoggedAndAnsweredWithTheFallback) {
    testing::internal::CaptureStderr();
    int r = c_barrier("test-callback", -1, []() -> int { throw std::runtime_error("it broke"); });
    std::string log = testing::internal::GetCapturedStderr();
    EXPECT_EQ(r, -1);
    EXPECT_NE(log.find("test-callback failed: it broke"), std::string::npos) << log;
    EXPECT_NE(log.find("event=internal-error method=test-callback"), std::string::npos) << log;
}

TEST_F(BarrierTest, CatchesWhatIsNotAStdException) {
    testing::internal::CaptureStderr();
    size_t r = c_barrier("test-callback", size_t{0}, []() -> size_t { throw 42; });
    std::string log = testing::internal::GetCapturedStderr();
    EXPECT_EQ(r, 0U);
    EXPECT_NE(log.find("event=internal-error"), std::string::npos) << log;
}

// Without the barrier the exception unwinds out of sd_event_run, which leaves the loop
// marked as running: every later sd_event_run fails with EBUSY.
int throwing_timer(sd_event_source*, uint64_t, void* userdata) {
    return c_barrier("test-timer", 0, [&]() -> int {
        ++*static_cast<int*>(userdata);
        throw std::runtime_error("a handler failed");
    });
}

int counting_timer(sd_event_source*, uint64_t, void* userdata) {
    ++*static_cast<int*>(userdata);
    return 0;
}

TEST_F(BarrierTest, TheLoopRunsOnAfterAHandlerThrew) {
    sd_event* raw = nullptr;
    ASSERT_GE(sd_event_new(&raw), 0);
    EventPtr event(raw);
    int thrown = 0;
    int later = 0;
    ASSERT_GE(
        sd_event_add_time_relative(raw, nullptr, CLOCK_MONOTONIC, 0, 0, throwing_timer, &thrown),
        0);
    testing::internal::CaptureStderr();
    EXPECT_GE(sd_event_run(raw, 1000 * 1000), 0);
    testing::internal::GetCapturedStderr();
    EXPECT_EQ(thrown, 1);
    ASSERT_GE(
        sd_event_add_time_relative(raw, nullptr, CLOCK_MONOTONIC, 0, 0, counting_timer, &later), 0);
    EXPECT_GE(sd_event_run(raw, 1000 * 1000), 0);
    EXPECT_EQ(later, 1);
}

}  // namespace
}  // namespace lwauth
