// The one place where a build of lwauthd may add to what it serves. lwauthd itself adds
// nothing (no_extensions.cpp); the test daemon of tests/support/ links a definition that
// registers a login method which waits for outside events, and LINE approvals that a test
// decides, so that neither is ever in the shipped program, whatever its policy or
// environment.
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include <memory>

#include "account.hpp"
#include "login/engine.hpp"
#include "timers.hpp"

namespace lwauth {

/// What an extension may use: the loop, the bus (attached to the loop, lwauthd's name
/// owned), the engine, the loop's timers and the account service.
struct DaemonParts {
    sd_event* event;
    sd_bus* bus;
    LoginEngine& engine;
    Timers& timers;
    AccountService& account;
};

/// Called once at start, before the loop runs; what it returns is kept until the loop
/// has ended. Throws Error to refuse the start.
std::shared_ptr<void> add_extensions(const DaemonParts& parts);

}  // namespace lwauth
