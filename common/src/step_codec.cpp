// The login step on the bus (kStepSignature), read: pam_lwauth.so. Writing it is in
// step_encode.cpp, so that the module does not link what only lwauthd calls.
#include <string_view>

#include "codec_check.hpp"
#include "lwauth/bus_codec.hpp"

namespace lwauth::bus {
namespace {

using detail::check;
using detail::contract_check;
using detail::enter;

}  // namespace

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
    if (auto kept = contract_check(step); !kept) {
        throw Error(Errc::Internal, what + ": " + kept.error().what());
    }
    return step;
}

}  // namespace lwauth::bus
