// The login step on the bus (kStepSignature): lwauthd writes it, pam_lwauth.so reads it.
#include <string_view>

#include "codec_check.hpp"
#include "lwauth/bus_codec.hpp"

namespace lwauth::bus {
namespace {

using detail::check;
using detail::enter;

// Why `step` is not a step of the contract, or "" when it is one.
std::string contract_breach(const Step& step) {
    for (const auto& message : step.messages) {
        if (message.first != kMessageInfo && message.first != kMessageError) {
            return "unknown message type '" + message.first + "'";
        }
    }
    if (step.verdict.empty()) {
        if (step.prompt.empty()) {
            return "it neither asks nor decides (no prompt, no verdict)";
        }
        if (step.id.empty()) {
            return "it asks without a login id";
        }
    } else {
        if (!step.prompt.empty()) {
            return "it both asks and decides (prompt and verdict '" + step.verdict + "')";
        }
        if (!step.id.empty()) {
            return "it decides but keeps a login id";
        }
    }
    return "";
}

}  // namespace

void append_step(sd_bus_message* m, const Step& step) {
    if (std::string why = contract_breach(step); !why.empty()) {
        throw Error(Errc::Internal, "cannot send a step: " + why);
    }
    const std::string what = "cannot write the step";
    check(sd_bus_message_append(m, "s", step.id.c_str()), what);
    check(sd_bus_message_open_container(m, 'a', "(ss)"), what);
    for (const auto& [type, text] : step.messages) {
        check(sd_bus_message_append(m, "(ss)", type.c_str(), text.c_str()), what);
    }
    check(sd_bus_message_close_container(m), what);
    check(sd_bus_message_append(m, "sbs", step.prompt.c_str(), static_cast<int>(step.echo),
                                step.verdict.c_str()),
          what);
}

Step read_step(sd_bus_message* m) {
    if (sd_bus_message_has_signature(m, kStepSignature) <= 0) {
        const char* signature = sd_bus_message_get_signature(m, 1);
        throw Error(Errc::Internal, std::string("malformed step: signature '") +
                                        (signature ? signature : "") + "', expected '" +
                                        kStepSignature + "'");
    }
    const std::string what = "malformed step";
    Step step;
    const char* id = nullptr;
    check(sd_bus_message_read(m, "s", &id), what);
    step.id = id;
    enter(m, 'a', "(ss)", what);
    const char* type = nullptr;
    const char* text = nullptr;
    int r;
    while ((r = sd_bus_message_read(m, "(ss)", &type, &text)) > 0) {
        step.messages.emplace_back(type, text);
    }
    check(r, what);
    check(sd_bus_message_exit_container(m), what);
    const char* prompt = nullptr;
    int echo = 0;
    const char* verdict = nullptr;
    check(sd_bus_message_read(m, "sbs", &prompt, &echo, &verdict), what);
    step.prompt = prompt;
    step.echo = echo != 0;
    step.verdict = verdict;
    if (std::string why = contract_breach(step); !why.empty()) {
        throw Error(Errc::Internal, what + ": " + why);
    }
    return step;
}

}  // namespace lwauth::bus
