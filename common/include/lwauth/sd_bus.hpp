// RAII for sd-bus and sd-event handles, and a BusError that owns its sd_bus_error.
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include <memory>
#include <string>

namespace lwauth {

template <auto Fn>
struct Deleter {
    template <typename T>
    void operator()(T* p) const noexcept {
        Fn(p);
    }
};

using BusPtr = std::unique_ptr<sd_bus, Deleter<sd_bus_flush_close_unref>>;
using BusMessagePtr = std::unique_ptr<sd_bus_message, Deleter<sd_bus_message_unref>>;
using BusSlotPtr = std::unique_ptr<sd_bus_slot, Deleter<sd_bus_slot_unref>>;
using BusCredsPtr = std::unique_ptr<sd_bus_creds, Deleter<sd_bus_creds_unref>>;
using EventPtr = std::unique_ptr<sd_event, Deleter<sd_event_unref>>;
using EventSourcePtr = std::unique_ptr<sd_event_source, Deleter<sd_event_source_disable_unref>>;

/// Owns an sd_bus_error and frees it; pass get() to sd-bus calls.
class BusError {
  public:
    BusError() = default;
    ~BusError() { sd_bus_error_free(&error_); }
    BusError(const BusError&) = delete;
    BusError& operator=(const BusError&) = delete;

    sd_bus_error* get() noexcept { return &error_; }
    [[nodiscard]] bool is_set() const noexcept { return sd_bus_error_is_set(&error_) != 0; }
    [[nodiscard]] const char* name() const noexcept { return error_.name ? error_.name : ""; }
    [[nodiscard]] const char* message() const noexcept {
        return error_.message ? error_.message : "";
    }

  private:
    sd_bus_error error_ = SD_BUS_ERROR_NULL;
};

/// strerror for negative errno values returned by sd-* calls.
std::string errno_string(int negative_errno);

/// The bus driver's name: the sender of its signals, the destination of questions to it.
inline constexpr const char* kBusDriver = "org.freedesktop.DBus";

/// Whether `m` comes from the bus driver, whose name no connection can own. A match
/// naming it as sender is not enough: sd-bus compares a match's sender only when it is a
/// unique name, and a bus may let any peer send a signal of the driver's shape straight
/// to this connection.
bool sent_by_bus_driver(sd_bus_message* m);

}  // namespace lwauth
