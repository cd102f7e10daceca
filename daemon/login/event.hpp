// An event from outside a login's conversation, for the method that waits for it: an
// HTTPS callback (LINE login), a D-Bus signal of another service (fprintd), a worker's
// result. LoginEngine::notify routes it by login id; the method answers the step it holds.
#pragma once

#include <map>
#include <string>

namespace lwauth {

struct LoginEvent {
    /// What happened, as "<source>.<what>" ("line.callback", "fprintd.verify-status",
    /// "pin.verified"): a method acts only on the kinds it waits for.
    std::string kind;
    /// A few named values of the event ({"result": "verify-match"}). Whoever builds the
    /// event has checked where it came from (the signal's sender, the callback's state);
    /// the engine never logs them, so a value may be a one-time secret.
    std::map<std::string, std::string> data;
};

}  // namespace lwauth
