// The bus codec's readers (common/src/*_codec.cpp) over messages built from the fuzzer's
// bytes: a real sd_bus_message, written by a small program of appends and containers
// (any signature sd-bus accepts, so also the wrong ones), sealed and rewound, then read
// by read_step (the module's side), read_start_context (lwauthd's side), read_status or
// read_status_list (lwauthctl's side) as a reply is. A step or context written by the
// codec's own append_* alone must read back equal.
#include <fuzzer/FuzzedDataProvider.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "lwauth/bus_codec.hpp"
#include "lwauth/error.hpp"
#include "lwauth/sd_bus.hpp"

namespace {

// A bus over a socket pair nobody reads: sd_bus_message_new needs one, and no message
// is ever sent on it.
sd_bus* message_bus() {
    static sd_bus* bus = [] {
        int fds[2];
        sd_bus* b = nullptr;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0 || sd_bus_new(&b) < 0 ||
            sd_bus_set_fd(b, fds[0], fds[0]) < 0 || sd_bus_start(b) < 0) {
            abort();
        }
        return b;
    }();
    return bus;
}

// Writes one value or container operation; false once sd-bus refused one (the message is
// then unusable).
bool write_one(sd_bus_message* m, FuzzedDataProvider& in) {
    static constexpr char kContainers[] = {'a', 'r', 'e', 'v'};
    switch (in.ConsumeIntegralInRange<int>(0, 9)) {
        case 0:
        case 1: {
            std::string s = in.ConsumeRandomLengthString(40);
            return sd_bus_message_append_basic(m, 's', s.c_str()) >= 0;
        }
        case 2: {
            int b = in.ConsumeBool() ? 1 : 0;
            return sd_bus_message_append_basic(m, 'b', &b) >= 0;
        }
        case 3: {
            uint64_t t = in.ConsumeIntegral<uint64_t>();
            return sd_bus_message_append_basic(m, 't', &t) >= 0;
        }
        case 4: {
            int32_t i = in.ConsumeIntegral<int32_t>();
            return sd_bus_message_append_basic(m, 'i', &i) >= 0;
        }
        case 5: {
            uint8_t y = in.ConsumeIntegral<uint8_t>();
            return sd_bus_message_append_basic(m, 'y', &y) >= 0;
        }
        case 6:
        case 7: {
            char type = kContainers[in.ConsumeIntegralInRange<size_t>(0, sizeof kContainers - 1)];
            std::string contents = in.ConsumeRandomLengthString(8);
            return sd_bus_message_open_container(m, type, contents.c_str()) >= 0;
        }
        default:
            return sd_bus_message_close_container(m) >= 0;
    }
}

// A string as D-Bus carries it: up to its first NUL, which no D-Bus string holds.
std::string bus_string(FuzzedDataProvider& in, size_t max) {
    return in.ConsumeRandomLengthString(max).c_str();
}

// What write_valid wrote, to compare with what is read back.
struct Written {
    std::optional<lwauth::Step> step;
    std::optional<lwauth::StartContext> context;
};

// A valid value of what `reader` reads, its strings from the fuzzer.
Written write_valid(sd_bus_message* m, int reader, FuzzedDataProvider& in) {
    using namespace lwauth;
    if (reader == 0) {
        Step step;
        step.verdict = bus_string(in, 16);
        step.id = step.verdict.empty() ? bus_string(in, 16) : "";
        step.prompt = step.verdict.empty() ? bus_string(in, 32) : "";
        step.info(bus_string(in, 32));
        bus::append_step(m, step);
        return {step, std::nullopt};
    }
    if (reader == 1) {
        StartContext context{bus_string(in, 16), bus_string(in, 16), bus_string(in, 16),
                             bus_string(in, 16), bus_string(in, 16), in.ConsumeIntegral<uint64_t>(),
                             in.ConsumeBool(),   bus_string(in, 16)};
        bus::append_start_context(m, context);
        return {std::nullopt, context};
    }
    bus::Status status;
    status.user = bus_string(in, 16);
    status.two_step = in.ConsumeBool();
    if (reader == 2) {
        bus::append_status(m, status);
    } else {
        bus::append_status_list(m, {status, status});
    }
    return {};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace lwauth;
    FuzzedDataProvider in(data, size);
    const int reader = in.ConsumeIntegralInRange<int>(0, 3);
    sd_bus_message* raw = nullptr;
    if (sd_bus_message_new(message_bus(), &raw, SD_BUS_MESSAGE_METHOD_RETURN) < 0) {
        abort();
    }
    BusMessagePtr m(raw);
    bool written = true;
    Written valid;
    try {
        if (in.ConsumeBool()) {
            valid = write_valid(raw, reader, in);
        }
    } catch (const Error&) {
        written = false;  // append_step refuses a step that breaks the contract
    }
    if (in.remaining_bytes() > 0) {
        valid = {};  // more arguments follow: no longer what was written alone
    }
    while (written && in.remaining_bytes() > 0) {
        written = write_one(raw, in);
    }
    if (!written || sd_bus_message_seal(raw, 1, 0) < 0 || sd_bus_message_rewind(raw, 1) < 0) {
        return 0;
    }
    try {
        switch (reader) {
            case 0:
                if (Step step = bus::read_step(raw); valid.step && step != *valid.step) {
                    abort();  // a step does not read back as it was written
                }
                break;
            case 1:
                if (StartContext context = bus::read_start_context(raw);
                    valid.context && context != *valid.context) {
                    abort();  // a context does not read back as it was written
                }
                break;
            case 2:
                (void)bus::read_status(raw);
                break;
            default:
                (void)bus::read_status_list(raw);
                break;
        }
    } catch (const Error&) {
        // Refused with a reason: what the readers promise for a message of another shape.
    }
    return 0;
}
