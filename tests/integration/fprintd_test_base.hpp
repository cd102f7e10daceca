// What the tests of lwauthd's side of fprintd share: a private system bus with the
// shipped lwauth policy and fprintd's own, the fake fprintd on it (tests/fakes/fprintd.py),
// and lwauthd's connection (it owns lwauthd's name) on a real sd-event loop with timers.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>

#include "fake_fprintd.hpp"
#include "harness.hpp"
#include "lwauth/sd_bus.hpp"
#include "timers.hpp"

namespace lwauth::test {

class FprintdTest : public ::testing::Test {
  protected:
    void SetUp() override {
        bus_ = std::make_unique<PrivateBus>(dir_.path(), false, kFprintdBusPolicy);
        fake_ = std::make_unique<FakeFprintd>(dir_.path(), bus_->address());
        sd_event* e = nullptr;
        ASSERT_GE(sd_event_new(&e), 0);
        event_.reset(e);
        client_bus_ = connect_as_lwauthd(bus_->address(), event_.get());
        timers_ = std::make_unique<EventTimers>(event_.get());
    }
    void TearDown() override {
        if (client_bus_) {
            sd_bus_detach_event(client_bus_.get());
        }
    }

    // Runs the loop until `until` holds, or 60 s pass.
    bool run_until(const std::function<bool()>& until) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (!until() && std::chrono::steady_clock::now() < deadline) {
            sd_event_run(event_.get(), 20 * 1000);
        }
        return until();
    }

    TempDir dir_{"lwauth-fprint"};
    std::unique_ptr<PrivateBus> bus_;
    std::unique_ptr<FakeFprintd> fake_;
    TestBusPtr client_bus_;  // lwauthd's
    EventPtr event_;
    std::unique_ptr<EventTimers> timers_;
};

}  // namespace lwauth::test
