// The fake fprintd (tests/fakes/fprintd.py, a python-dbusmock template) on a private bus,
// and the calls a test drives it with: readers, enrolled prints, what VerifyStart sends,
// and the calls it recorded.
#pragma once

#include <systemd/sd-bus.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "harness.hpp"

namespace lwauth::test {

/// fprintd's bus policy (data/net.reactivated.Fprint.conf): root owns the name, anyone may
/// call it; the tests may also drive the fake. For PrivateBus's extra_config.
extern const char* const kFprintdBusPolicy;

inline constexpr const char* kFakeReader0 = "/net/reactivated/Fprint/Device/0";
inline constexpr const char* kFakeReader1 = "/net/reactivated/Fprint/Device/1";

struct TestBusCloser {
    void operator()(sd_bus* bus) const { sd_bus_flush_close_unref(bus); }
};
using TestBusPtr = std::unique_ptr<sd_bus, TestBusCloser>;

/// A connection to the bus at `address` as a bus client; throws if there is none.
[[nodiscard]] TestBusPtr connect_bus(const std::string& address);

/// A connection to the bus at `address` that owns lwauthd's name (so the shipped bus
/// policy applies to what reaches it, as it does to lwauthd), attached to `event`.
[[nodiscard]] TestBusPtr connect_as_lwauthd(const std::string& address, sd_event* event);

using FprintStatus = std::pair<std::string, bool>;  // VerifyStatus's (result, done)

class FakeFprintd {
  public:
    /// Starts the fake on the bus at `address` (its log and output in `dir`) and waits
    /// until it owns net.reactivated.Fprint; throws if it does not.
    FakeFprintd(const fs::path& dir, const std::string& address);

    /// A reader with `fingers` of `user` enrolled, and what VerifyStart will send on it
    /// (then, with `vanish`, the fake exits); its path.
    std::string add_reader(const std::string& user, const std::vector<std::string>& fingers,
                           const std::vector<FprintStatus>& script, bool vanish = false);
    void enroll(const std::string& reader, const std::string& user,
                const std::vector<std::string>& fingers);
    /// What the next VerifyStart on `reader` sends.
    void script(const std::string& reader, const std::vector<FprintStatus>& statuses,
                bool vanish = false);
    /// The methods the fake recorded on `reader`, oldest first (dbusmock's GetCalls).
    [[nodiscard]] std::vector<std::string> calls(const std::string& reader);
    /// Calls the fake (or its org.freedesktop.DBus.Mock) and throws its error, if any.
    void call(const std::string& path, const char* interface, const char* member,
              const std::function<void(sd_bus_message*)>& append, sd_bus_message** reply = nullptr);
    /// Calls org.freedesktop.DBus.Mock on the manager object.
    void control(const char* member, const std::function<void(sd_bus_message*)>& append) {
        call(kManagerPath, kMockInterface, member, append);
    }

    Process& process() { return process_; }

    static constexpr const char* kManagerPath = "/net/reactivated/Fprint/Manager";
    static constexpr const char* kMockInterface = "org.freedesktop.DBus.Mock";

  private:
    Process process_;
    TestBusPtr control_;
};

}  // namespace lwauth::test
