// What the codec's files share: turning a failed sd-bus call into the
// codec's one error.
#pragma once

#include <string>

#include "lwauth/bus_codec.hpp"
#include "lwauth/error.hpp"
#include "lwauth/result.hpp"
#include "lwauth/sd_bus.hpp"

namespace lwauth::bus::detail {

/// Throws Error(Internal) "`what`: reason" when the sd-bus call that returned `r` failed.
inline void check(int r, const std::string& what) {
    if (r < 0) {
        throw Error(Errc::Internal, what + ": " + errno_string(r));
    }
}

/// Enters a container of the message, or throws as check() does; a message that ends
/// before it is malformed too.
inline void enter(sd_bus_message* m, char type, const char* contents, const std::string& what) {
    int r = sd_bus_message_enter_container(m, type, contents);
    check(r, what);
    if (r == 0) {
        throw Error(Errc::Internal, what + ": the message ends early");
    }
}

/// Success when `step` is a step of the contract, else Error(Internal) saying why not.
inline Result<void> contract_check(const Step& step) {
    auto breach = [](const std::string& why) { return Error(Errc::Internal, why); };
    for (const auto& message : step.messages) {
        if (message.first != kMessageInfo && message.first != kMessageError) {
            return breach("unknown message type '" + message.first + "'");
        }
    }
    if (step.verdict.empty()) {
        if (step.prompt.empty()) {
            return breach("it neither asks nor decides (no prompt, no verdict)");
        }
        if (step.id.empty()) {
            return breach("it asks without a login id");
        }
    } else {
        if (!step.prompt.empty()) {
            return breach("it both asks and decides (prompt and verdict '" + step.verdict + "')");
        }
        // A verdict that lets the user in may carry the handle of its full login, which
        // Confirm takes once the whole PAM stack has succeeded; no other keeps one.
        bool lets_in = step.verdict == kVerdictSuccess || step.verdict == kVerdictIgnore;
        if (!step.id.empty() && !lets_in) {
            return breach("it decides but keeps a login id");
        }
    }
    return {};
}

}  // namespace lwauth::bus::detail
