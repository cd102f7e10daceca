// Channel isolation: N logins start at once while the SMS gateway (the Twilio fake) takes
// DELAY to answer each request. lwauthd must overlap the gateway calls (wall time close to
// one DELAY, not N of them) and keep answering other callers meanwhile (Status latency).
//
//   channel_isolation [LOGINS] [DELAY_MS]      (as root; defaults 200 and 2000)
//
// Prints a table; the figures of a run are kept in bench/README.md.
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "codes.hpp"
#include "harness.hpp"
#include "store/sqlite_store.hpp"

using namespace lwauth;
using namespace lwauth::test;
using Steady = std::chrono::steady_clock;

namespace {

double ms_since(Steady::time_point t) {
    return std::chrono::duration<double, std::milli>(Steady::now() - t).count();
}

struct Bench {
    int logins = 200;
    int delay_ms = 2000;
    int started = 0;
    int finished = 0;
    int prompted = 0;
    std::vector<double> status_ms;
    std::map<std::string, int> outcomes;  // how the logins that did not prompt ended
};

int on_start_reply(sd_bus_message* m, void* userdata, sd_bus_error*) {
    auto* b = static_cast<Bench*>(userdata);
    ++b->finished;
    if (sd_bus_message_is_method_error(m, nullptr)) {
        ++b->outcomes[sd_bus_message_get_error(m)->name];
        return 0;
    }
    const char* id = nullptr;
    sd_bus_message_read(m, "s", &id);
    if (id != nullptr && *id != '\0') {
        ++b->prompted;
    } else {
        ++b->outcomes["verdict without a prompt"];
    }
    return 0;
}

struct StatusProbe {
    Bench* bench;
    sd_bus* bus;
    Steady::time_point sent;
    bool waiting = false;  // one Status call at a time, so each latency is its own
    Daemon* daemon = nullptr;
    bool all_waiting = false;  // every login has reached the gateway
};

// How many logins lwauthd has started (and so handed to the gateway), from its log.
int logins_started(Daemon& daemon) {
    std::string log = daemon.log();
    int n = 0;
    for (size_t at = log.find("event=login-start"); at != std::string::npos;
         at = log.find("event=login-start", at + 1)) {
        ++n;
    }
    return n;
}

int on_status_reply(sd_bus_message* m, void* userdata, sd_bus_error*) {
    auto* probe = static_cast<StatusProbe*>(userdata);
    probe->waiting = false;
    if (!sd_bus_message_is_method_error(m, nullptr)) {
        probe->bench->status_ms.push_back(ms_since(probe->sent));
    }
    return 0;
}

int on_status_timer(sd_event_source* source, uint64_t, void* userdata) {
    auto* probe = static_cast<StatusProbe*>(userdata);
    // Probe only while every login is waiting on the gateway: that is when a daemon that
    // blocked on its gateway calls would keep other callers waiting. (Before that, Status
    // queues behind the burst of Start calls in the bus, whatever the daemon does.)
    if (!probe->all_waiting) {
        probe->all_waiting = logins_started(*probe->daemon) >= probe->bench->logins;
    }
    if (probe->all_waiting && !probe->waiting) {
        probe->waiting = true;
        probe->sent = Steady::now();
        sd_bus_call_method_async(probe->bus, nullptr, "org.lwauth.Auth1", "/org/lwauth/Auth1",
                                 "org.lwauth.Auth1.Account", "Status", on_status_reply, probe, "");
    }
    sd_event_source_set_time_relative(source, 20 * 1000);
    sd_event_source_set_enabled(source, SD_EVENT_ONESHOT);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Bench b;
    if (argc > 1) {
        b.logins = std::stoi(argv[1]);
    }
    if (argc > 2) {
        b.delay_ms = std::stoi(argv[2]);
    }
    TempDir dir("lwauth-bench");
    auto pki = run({"/bin/bash", (source_dir() / "tests/fakes/make_test_pki.sh").string(),
                    (dir / "pki").string()},
                   base_env());
    if (pki.exit_code != 0) {
        std::fprintf(stderr, "cannot make the test PKI: %s\n", pki.err.c_str());
        return 1;
    }
    fs::create_directories(dir / "gateway");
    Process gateway({"/usr/bin/python3", (source_dir() / "tests/fakes/gateways.py").string(),
                     "--cert", (dir / "pki/server.pem").string(), "--key",
                     (dir / "pki/server.key").string(), "--state-dir", (dir / "gateway").string()},
                    base_env(), dir / "gateway.log");
    int port = 0;
    port = wait_for_listening_port(dir / "gateway.log");
    if (port == 0) {
        std::fprintf(stderr, "the gateway fake did not start\n");
        return 1;
    }

    // Users with 2-step on and a verified phone, written through the real store.
    // lwauthd starts only on a state directory of its own with no group or other bits.
    fs::create_directories(dir / "state");
    fs::permissions(dir / "state", fs::perms::owner_all);
    {
        OpenSslRandom random;
        SqliteStore store(
            (dir / "state/lwauth.db").string(),
            ContactCipher(load_or_create_key((dir / "state/contacts.key").string(), random),
                          random));
        for (int i = 0; i < b.logins; ++i) {
            char user[32];
            char phone[32];
            std::snprintf(user, sizeof user, "bench%04d", i);
            std::snprintf(phone, sizeof phone, "+8190%08d", i);
            store.save_contact(user, {"phone", phone});
            store.set_two_step(user, true);
        }
    }
    write_file(dir / "twilio.token", "twilio-test-token\n", fs::perms(0600));
    std::string policy =
        "[code]\nchannels = sms\nmax_sends_per_hour = 1000\n"
        "max_sends_per_destination_per_hour = 1000\nmax_sends_per_host_per_hour = 100000\n"
        "\n[channel.sms]\ntype = twilio\naccount_sid = ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
        "auth_token_file = " +
        (dir / "twilio.token").string() +
        "\nfrom = +15005550006\nbase_url = https://127.0.0.1:" + std::to_string(port) +
        "\nca_file = " + (dir / "pki/ca.pem").string() + "\ntimeout = 60s\n";
    PrivateBus bus(dir.path());
    Daemon daemon(dir.path(), bus.address(), policy);
    if (!daemon.start()) {
        std::fprintf(stderr, "lwauthd did not start:\n%s\n", daemon.log().c_str());
        return 1;
    }
    auto control = run(
        {"/usr/bin/python3", "-c",
         "import ssl,sys,urllib.request as u\n"
         "c=ssl.create_default_context(cafile=sys.argv[2])\n"
         "r=u.Request(sys.argv[1],data=sys.argv[3].encode(),"
         "headers={'Content-Type':'application/json'})\n"
         "u.urlopen(r,context=c).read()\n",
         "https://127.0.0.1:" + std::to_string(port) + "/_control", (dir / "pki/ca.pem").string(),
         R"({"service": "twilio", "mode": "slow:)" + std::to_string(b.delay_ms) +
             R"(", "count": 0})"},
        base_env());
    if (control.exit_code != 0) {
        std::fprintf(stderr, "cannot slow the gateway down: %s\n", control.err.c_str());
        return 1;
    }

    // Each login on a connection of its own, as each sshd or login process has; all of them
    // and a Status caller share one event loop here.
    sd_event* event = nullptr;
    sd_event_new(&event);
    auto connect = [&]() {
        sd_bus* c = nullptr;
        sd_bus_new(&c);
        sd_bus_set_address(c, bus.address().c_str());
        sd_bus_set_bus_client(c, 1);
        sd_bus_start(c);
        sd_bus_attach_event(c, event, 0);
        return c;
    };
    std::vector<sd_bus*> connections;
    for (int i = 0; i < b.logins; ++i) {
        connections.push_back(connect());
    }
    sd_bus* status = connect();
    StatusProbe probe{&b, status, {}, false, &daemon, false};

    auto t0 = Steady::now();
    for (int i = 0; i < b.logins; ++i) {
        char user[32];
        std::snprintf(user, sizeof user, "bench%04d", i);
        sd_bus_message* m = nullptr;
        sd_bus_message_new_method_call(connections[static_cast<size_t>(i)], &m, "org.lwauth.Auth1",
                                       "/org/lwauth/Auth1", "org.lwauth.Auth1.Login", "Start");
        sd_bus_message_append(m, "a{sv}", 3, "user", "s", user, "service", "s", "bench", "mode",
                              "s", "second_factor");
        sd_bus_call_async(connections[static_cast<size_t>(i)], nullptr, m, on_start_reply, &b,
                          120ull * 1000 * 1000);
        sd_bus_message_unref(m);
        ++b.started;
    }
    // While the logins wait on the gateway, ask lwauthd for Status every 20 ms.
    sd_event_source* timer = nullptr;
    sd_event_add_time_relative(event, &timer, CLOCK_MONOTONIC, 0, 0, on_status_timer, &probe);
    while (b.finished < b.started && ms_since(t0) < 120000) {
        sd_event_run(event, 100 * 1000);
    }
    double wall_ms = ms_since(t0);
    std::sort(b.status_ms.begin(), b.status_ms.end());
    auto pct = [&](double p) {
        if (b.status_ms.empty()) {
            return 0.0;
        }
        size_t i =
            std::min(b.status_ms.size() - 1,
                     static_cast<size_t>(p * static_cast<double>(b.status_ms.size() - 1) + 0.5));
        return b.status_ms[i];
    };
    std::printf(
        "| logins | gateway delay | wall time | wall / delay (target <= 1.5) | Status calls while "
        "all wait | "
        "Status p50 | Status p99 (target <= 10 ms) | Status max |\n");
    std::printf("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    std::printf(
        "| %d (%d prompted) | %d ms | %.0f ms | %.2f | %zu | %.2f ms | %.2f ms | %.2f ms |\n",
        b.started, b.prompted, b.delay_ms, wall_ms, wall_ms / b.delay_ms, b.status_ms.size(),
        pct(0.5), pct(0.99), b.status_ms.empty() ? 0.0 : b.status_ms.back());
    for (const auto& [what, count] : b.outcomes) {
        std::printf("not prompted: %d x %s\n", count, what.c_str());
    }
    sd_event_source_disable_unref(timer);
    for (sd_bus* c : connections) {
        sd_bus_flush_close_unref(c);
    }
    sd_bus_flush_close_unref(status);
    sd_event_unref(event);
    return b.prompted == b.started ? 0 : 2;
}
