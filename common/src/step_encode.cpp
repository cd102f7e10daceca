// The login step on the bus (kStepSignature), written: lwauthd. Apart from step_codec.cpp,
// which pam_lwauth.so links, so that the module does not carry it.
#include "codec_check.hpp"
#include "lwauth/bus_codec.hpp"

namespace lwauth::bus {

using detail::check;
using detail::contract_check;

void append_step(sd_bus_message* m, const Step& step) {
    if (auto kept = contract_check(step); !kept) {
        throw Error(Errc::Internal, std::string("cannot send a step: ") + kept.error().what());
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

}  // namespace lwauth::bus
