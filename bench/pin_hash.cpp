// PIN hashing: how many quick-login PIN checks lwauthd's worker pool does per second at
// [quick_login]'s default Argon2id costs (m = 19 MiB, t = 2, p = 1), and whether the event
// loop stays responsive while a burst of them runs.
//
//   pin_hash [--burst 40] [--rounds 3] [--probe-ms 2]
//
// For 1 and 2 workers, and for the checks run on the loop itself (what the pool avoids):
// BURST verifications are submitted at once through quick::PinHasher and the loop is run
// until every result is back; meanwhile a timer on the same loop fires every PROBE-MS,
// and how late it runs (the latency of a trivial loop task) is recorded. The same probe
// on an idle loop gives the floor. Each configuration runs ROUNDS times; the table gives
// the rounds' median rate and the latencies over all rounds. Times are reported, never
// asserted.
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "clock.hpp"
#include "lwauth/sd_bus.hpp"
#include "quick/pin_hash.hpp"
#include "workers.hpp"

using namespace lwauth;
using Steady = std::chrono::steady_clock;

namespace {

struct Options {
    int burst = 40;
    int rounds = 3;
    int probe_ms = 2;
};

uint64_t now_usec() {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<uint64_t>(now.tv_sec) * 1000000 + static_cast<uint64_t>(now.tv_nsec) / 1000;
}

// A timer that re-arms itself every `period_usec` and records how late each firing was.
class Probe {
  public:
    Probe(sd_event* event, uint64_t period_usec) : period_(period_usec) {
        sd_event_source* source = nullptr;
        due_ = now_usec() + period_;
        if (sd_event_add_time(event, &source, CLOCK_MONOTONIC, due_, 1, on_time, this) < 0) {
            throw std::runtime_error("cannot add the probe timer");
        }
        source_.reset(source);
    }
    [[nodiscard]] const std::vector<double>& lateness_ms() const { return lateness_; }

  private:
    static int on_time(sd_event_source* source, uint64_t, void* userdata) {
        auto* self = static_cast<Probe*>(userdata);
        uint64_t now = now_usec();
        self->lateness_.push_back(static_cast<double>(now - self->due_) / 1000.0);
        self->due_ = now + self->period_;
        sd_event_source_set_time(source, self->due_);
        sd_event_source_set_enabled(source, SD_EVENT_ON);
        return 0;
    }

    uint64_t period_;
    uint64_t due_ = 0;
    EventSourcePtr source_;
    std::vector<double> lateness_;
};

struct Round {
    double seconds = 0;
    std::vector<double> lateness_ms;
};

EventPtr new_event() {
    sd_event* event = nullptr;
    if (sd_event_new(&event) < 0) {
        throw std::runtime_error("cannot create an event loop");
    }
    return EventPtr(event);
}

void run_until(sd_event* event, const int& remaining) {
    while (remaining > 0) {
        sd_event_run(event, UINT64_MAX);
    }
}

// BURST checks of the right PIN through a pool of `workers` threads.
Round pool_round(const Options& options, unsigned workers, const std::string& phc) {
    EventPtr event = new_event();
    WorkerPool pool(event.get(), workers);
    OpenSslRandom random;
    quick::PinHasher hasher(pool, random);
    Probe probe(event.get(), static_cast<uint64_t>(options.probe_ms) * 1000);
    int remaining = options.burst;
    std::vector<Job> jobs;
    auto start = Steady::now();
    for (int i = 0; i < options.burst; ++i) {
        jobs.push_back(hasher.verify_pin(SecretString("482915"), phc, policy::Argon2Params{},
                                         [&](Result<quick::PinCheck> result) {
                                             if (!result.ok() || !result->match) {
                                                 std::fprintf(stderr, "a check failed\n");
                                                 std::exit(1);
                                             }
                                             --remaining;
                                         }));
    }
    run_until(event.get(), remaining);
    return {std::chrono::duration<double>(Steady::now() - start).count(), probe.lateness_ms()};
}

// The same checks run on the loop itself, one per dispatch of a timer that is due at
// once: the probe's timer and this one take turns, as a login's callbacks would.
Round inline_round(const Options& options, const std::string& phc) {
    EventPtr event = new_event();
    Probe probe(event.get(), static_cast<uint64_t>(options.probe_ms) * 1000);
    struct State {
        int remaining;
        const std::string* phc;
    } state{options.burst, &phc};
    auto check = [](sd_event_source* source, uint64_t, void* userdata) -> int {
        auto* s = static_cast<State*>(userdata);
        if (!quick::verify_pin_blocking("482915", *s->phc).value()) {
            std::exit(1);
        }
        if (--s->remaining > 0) {
            sd_event_source_set_time(source, now_usec());
            sd_event_source_set_enabled(source, SD_EVENT_ONESHOT);
        }
        return 0;
    };
    sd_event_source* timer = nullptr;
    if (sd_event_add_time(event.get(), &timer, CLOCK_MONOTONIC, now_usec(), 1, check, &state) <
        0) {
        throw std::runtime_error("cannot add the check timer");
    }
    EventSourcePtr owned(timer);
    auto start = Steady::now();
    run_until(event.get(), state.remaining);
    return {std::chrono::duration<double>(Steady::now() - start).count(), probe.lateness_ms()};
}

// The probe on an idle loop for about as long as a round.
Round idle_round(double seconds, int probe_ms) {
    EventPtr event = new_event();
    Probe probe(event.get(), static_cast<uint64_t>(probe_ms) * 1000);
    auto end = Steady::now() + std::chrono::duration<double>(seconds);
    while (Steady::now() < end) {
        sd_event_run(event.get(), 10 * 1000);
    }
    return {seconds, probe.lateness_ms()};
}

double percentile(std::vector<double> values, double p) {
    if (values.empty()) {
        return 0;
    }
    std::sort(values.begin(), values.end());
    auto index = static_cast<size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
    return values[std::min(index, values.size() - 1)];
}

void print_row(const char* name, const Options& options, const std::vector<Round>& rounds,
               bool rate) {
    std::vector<double> rates;
    std::vector<double> lateness;
    for (const auto& round : rounds) {
        rates.push_back(options.burst / round.seconds);
        lateness.insert(lateness.end(), round.lateness_ms.begin(), round.lateness_ms.end());
    }
    std::string rate_text = rate ? std::to_string(static_cast<int>(percentile(rates, 0.5) + 0.5))
                                 : std::string("–");
    std::printf("| %s | %s | %zu | %.2f ms | %.2f ms | %.2f ms |\n", name, rate_text.c_str(),
                lateness.size(), percentile(lateness, 0.5), percentile(lateness, 0.99),
                lateness.empty() ? 0.0 : *std::max_element(lateness.begin(), lateness.end()));
}

Options parse(int argc, char** argv) {
    Options options;
    for (int i = 1; i + 1 < argc; i += 2) {
        // The whole argument must be a number: "12x" is a usage error, not 12.
        std::string_view text = argv[i + 1];
        int value = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec != std::errc() || end != text.data() + text.size()) {
            value = 0;
        }
        if (std::strcmp(argv[i], "--burst") == 0 && value > 0 && value <= 64) {
            options.burst = value;
        } else if (std::strcmp(argv[i], "--rounds") == 0 && value > 0) {
            options.rounds = value;
        } else if (std::strcmp(argv[i], "--probe-ms") == 0 && value > 0) {
            options.probe_ms = value;
        } else {
            std::fprintf(stderr, "usage: pin_hash [--burst 1-64] [--rounds N] [--probe-ms N]\n");
            std::exit(2);
        }
    }
    return options;
}

}  // namespace

int main(int argc, char** argv) {
    const Options options = parse(argc, argv);
    const policy::Argon2Params defaults;
    const std::string phc =
        quick::hash_pin_blocking("482915", defaults, std::string(quick::kPinSaltBytes, 's'));
    std::printf("Argon2id m=%d KiB, t=%d, p=%d; %d verifications per burst, %d rounds, "
                "a %d ms probe timer on the loop; %ld CPUs online\n\n",
                defaults.memory_kib, defaults.time, defaults.parallelism, options.burst,
                options.rounds, options.probe_ms, sysconf(_SC_NPROCESSORS_ONLN));
    std::printf("| where the checks run | verifications/s | probe firings | "
                "probe lateness p50 | p99 | max |\n| --- | --- | --- | --- | --- | --- |\n");
    std::vector<Round> one, two, on_loop, idle;
    for (int r = 0; r < options.rounds; ++r) {
        one.push_back(pool_round(options, 1, phc));
        two.push_back(pool_round(options, 2, phc));
        on_loop.push_back(inline_round(options, phc));
        idle.push_back(idle_round(two.back().seconds, options.probe_ms));
    }
    print_row("idle loop (no checks)", options, idle, false);
    print_row("pool, 1 worker", options, one, true);
    print_row("pool, 2 workers", options, two, true);
    print_row("on the loop itself", options, on_loop, true);
    return 0;
}
