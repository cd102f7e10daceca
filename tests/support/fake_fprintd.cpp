#include "fake_fprintd.hpp"

#include <chrono>
#include <stdexcept>

namespace lwauth::test {

const char* const kFprintdBusPolicy = R"(
  <policy user="root"><allow own="net.reactivated.Fprint"/></policy>
  <policy context="default">
    <allow send_destination="net.reactivated.Fprint" send_interface="net.reactivated.Fprint.Manager"/>
    <allow send_destination="net.reactivated.Fprint" send_interface="net.reactivated.Fprint.Device"/>
    <allow send_destination="net.reactivated.Fprint" send_interface="org.freedesktop.DBus.Properties"/>
    <allow send_destination="net.reactivated.Fprint" send_interface="org.freedesktop.DBus.Mock"/>
  </policy>)";

namespace {
constexpr const char* kFprintd = "net.reactivated.Fprint";
}  // namespace

TestBusPtr connect_bus(const std::string& address) {
    sd_bus* bus = nullptr;
    if (sd_bus_new(&bus) < 0 || sd_bus_set_address(bus, address.c_str()) < 0 ||
        sd_bus_set_bus_client(bus, 1) < 0 || sd_bus_start(bus) < 0) {
        sd_bus_unref(bus);
        throw std::runtime_error("cannot connect to the private bus");
    }
    return TestBusPtr(bus);
}

TestBusPtr connect_as_lwauthd(const std::string& address, sd_event* event) {
    TestBusPtr bus = connect_bus(address);
    if (sd_bus_request_name(bus.get(), "org.lwauth.Auth1", 0) < 0 ||
        sd_bus_attach_event(bus.get(), event, 0) < 0) {
        throw std::runtime_error("cannot own org.lwauth.Auth1 on the private bus");
    }
    return bus;
}

FakeFprintd::FakeFprintd(const fs::path& dir, const std::string& address) {
    auto env = base_env();
    env["DBUS_SYSTEM_BUS_ADDRESS"] = address;
    process_ = Process(
        {"/usr/bin/python3", "-m", "dbusmock", "--system", "--template",
         (source_dir() / "tests/fakes/fprintd.py").string(), "-l", (dir / "fprintd.log").string()},
        env, dir / "fprintd.out");
    if (!wait_for_name(address, kFprintd, std::chrono::seconds(20))) {
        throw std::runtime_error("the fake fprintd did not start: " +
                                 read_file(dir / "fprintd.out"));
    }
    control_ = connect_bus(address);
}

void FakeFprintd::call(const std::string& path, const char* interface, const char* member,
                       const std::function<void(sd_bus_message*)>& append, sd_bus_message** reply) {
    sd_bus_message* m = nullptr;
    sd_bus_error error = SD_BUS_ERROR_NULL;
    int r = sd_bus_message_new_method_call(control_.get(), &m, kFprintd, path.c_str(), interface,
                                           member);
    if (r >= 0 && append) {
        append(m);
    }
    if (r >= 0) {
        r = sd_bus_call(control_.get(), m, 20 * 1000 * 1000, &error, reply);
    }
    sd_bus_message_unref(m);
    if (r < 0) {
        std::string why = std::string(member) +
                          " failed: " + (error.name != nullptr ? error.name : "") + " " +
                          (error.message != nullptr ? error.message : "");
        sd_bus_error_free(&error);
        throw std::runtime_error(why);
    }
}

std::string FakeFprintd::add_reader(const std::string& user,
                                    const std::vector<std::string>& fingers,
                                    const std::vector<FprintStatus>& statuses, bool vanish) {
    sd_bus_message* reply = nullptr;
    call(
        kManagerPath, kMockInterface, "AddDevice",
        [](sd_bus_message* m) { sd_bus_message_append(m, "s", "Fake reader"); }, &reply);
    const char* path = nullptr;
    sd_bus_message_read(reply, "o", &path);
    std::string reader = path != nullptr ? path : "";
    sd_bus_message_unref(reply);
    enroll(reader, user, fingers);
    script(reader, statuses, vanish);
    return reader;
}

void FakeFprintd::enroll(const std::string& reader, const std::string& user,
                         const std::vector<std::string>& fingers) {
    control("SetEnrolledFingers", [&](sd_bus_message* m) {
        sd_bus_message_append(m, "os", reader.c_str(), user.c_str());
        sd_bus_message_open_container(m, 'a', "s");
        for (const auto& f : fingers) {
            sd_bus_message_append(m, "s", f.c_str());
        }
        sd_bus_message_close_container(m);
    });
}

void FakeFprintd::script(const std::string& reader, const std::vector<FprintStatus>& statuses,
                         bool vanish) {
    control("SetVerifyScript", [&](sd_bus_message* m) {
        sd_bus_message_append(m, "o", reader.c_str());
        sd_bus_message_open_container(m, 'a', "(sb)");
        for (const auto& [result, done] : statuses) {
            sd_bus_message_append(m, "(sb)", result.c_str(), static_cast<int>(done));
        }
        sd_bus_message_close_container(m);
        sd_bus_message_append(m, "b", static_cast<int>(vanish));
    });
}

std::vector<std::string> FakeFprintd::calls(const std::string& reader) {
    sd_bus_message* reply = nullptr;
    call(reader, kMockInterface, "GetCalls", nullptr, &reply);
    std::vector<std::string> names;
    sd_bus_message_enter_container(reply, 'a', "(tsav)");
    while (sd_bus_message_enter_container(reply, 'r', "tsav") > 0) {
        uint64_t when = 0;
        const char* name = nullptr;
        sd_bus_message_read(reply, "ts", &when, &name);
        names.emplace_back(name);
        sd_bus_message_skip(reply, "av");
        sd_bus_message_exit_container(reply);
    }
    sd_bus_message_unref(reply);
    return names;
}

}  // namespace lwauth::test
