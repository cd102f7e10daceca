// Quick-login PIN logins through the bus: while a burst of PIN logins runs through
// pam_lwauth.so (each one an Argon2id check on lwauthd's workers), does lwauthd still
// answer its other bus callers in time?
//
//   pin_logins [--burst 24] [--rounds 3] [--threads 8]  (as root)
//
// lwauthd runs with `[quick_login] pin = allowed` at the default Argon2id costs
// (m = 19 MiB, t = 2, p = 1); --burst users each have a PIN, set through the real store
// before lwauthd starts. For each of `[daemon] workers` = 1 and 2 (a fresh lwauthd each,
// on a fresh copy of the same state), and once without logins:
//   - logins: each round, --burst local PIN logins (mode=primary, on tty1, no remote host) through
//     the real libpam and pam_lwauth.so under pam_wrapper, from --threads threads at once,
//     each answering the right PIN; the round's time gives the rate;
//   - Status: Account.Status from a bus connection of its own every 10 ms, one call at a
//     time, its latency measured, from the first round's start to the last one's end.
//
// Prints a Markdown table; every figure in it is measured in the run. Nothing asserts a
// time. Exits 2 when a login failed.

#include <atomic>
#include <map>
#include <thread>

#include "bench_support.hpp"
#include "quick/pin_hash.hpp"

using namespace lwauth;
using namespace lwauth::test;
using namespace lwauth::bench;
using Steady = std::chrono::steady_clock;

namespace {

constexpr auto kStatusEvery = std::chrono::milliseconds(10);
constexpr const char* kPin = "284715";

struct Args {
    int burst = 24;
    int rounds = 3;
    int threads = 8;
};

Args parse_args(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        int* target = arg == "--burst"    ? &a.burst
                      : arg == "--rounds" ? &a.rounds
                      : arg == "--threads" ? &a.threads
                                           : nullptr;
        int value = 0;
        const char* text = i + 1 < argc ? argv[i + 1] : "";
        auto [end, ec] = std::from_chars(text, text + std::strlen(text), value);
        if (target == nullptr || ec != std::errc() || *end != '\0' || value < 1) {
            std::fprintf(stderr, "usage: pin_logins [--burst N] [--rounds N] [--threads N]\n");
            std::exit(64);
        }
        *target = value;
        ++i;
    }
    return a;
}

std::string pin_policy(int workers) {
    return "[daemon]\nworkers = " + std::to_string(workers) +
           "\n\n[quick_login]\npin = allowed\n";
}

// A state directory holding `names`, each with a full login now (which arms quick login)
// and the PIN kPin set, hashed at the policy's default costs.
void fill_pins(const fs::path& state, const std::vector<std::string>& names) {
    fs::create_directories(state);
    fs::permissions(state, fs::perms::owner_all);
    OpenSslRandom random;
    SqliteStore store(
        (state / "lwauth.db").string(),
        ContactCipher(load_or_create_key((state / "contacts.key").string(), random), random));
    std::string salt(quick::kPinSaltBytes, '\0');
    random.fill(reinterpret_cast<uint8_t*>(salt.data()), salt.size());
    // One hash for every user: the check costs the same, and filling stays quick.
    std::string phc = quick::hash_pin_blocking(kPin, policy::Argon2Params{}, salt);
    auto now = static_cast<int64_t>(std::time(nullptr));
    for (const auto& name : names) {
        store.record_full_login(name, now);
        store.set_pin(name, phc);
    }
}

struct Tally {
    long ok = 0;
    std::map<int, long> failed;  // by PAM result
    std::vector<double> login_us;
    std::vector<double> round_s;
    StatusTally status;
};

// One round: every user logs in once, --threads at a time.
void run_round(const Args& args, const std::vector<std::string>& users, Tally& tally,
               std::mutex& mutex) {
    std::atomic<size_t> next{0};
    std::vector<std::thread> threads;
    auto begin = Steady::now();
    for (int t = 0; t < args.threads; ++t) {
        threads.emplace_back([&] {
            Person person;
            person.answer = [] { return std::string(kPin); };
            for (size_t i; (i = next++) < users.size();) {
                auto a = Steady::now();
                int rc = one_login("lwauth", users[i].c_str(), person);
                std::lock_guard lock(mutex);
                if (rc == PAM_SUCCESS) {
                    ++tally.ok;
                    tally.login_us.push_back(us_between(a, Steady::now()));
                } else {
                    ++tally.failed[rc];
                }
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    tally.round_s.push_back(us_between(begin, Steady::now()) / 1e6);
}

struct Setup {
    const Args& args;
    Daemon& daemon;
    const fs::path& filled;
    const std::vector<std::string>& users;
};

// A fresh lwauthd with `workers`; `logins`: run the rounds, else probe as long as they
// would take (the floor).
std::optional<Tally> run_phase(const Setup& s, int workers, bool logins, double idle_s) {
    s.daemon.write_policy(pin_policy(workers));
    if (start_fresh(s.daemon, s.filled) < 0) {
        return std::nullopt;
    }
    Tally tally;
    std::mutex mutex;
    std::atomic<bool> stop{false};
    std::thread prober([&] {
        tally.status = probe_status(s.daemon.bus_address(), kStatusEvery, Steady::now(),
                                    [&](Steady::time_point) { return !stop; });
    });
    if (logins) {
        for (int r = 0; r < s.args.rounds; ++r) {
            run_round(s.args, s.users, tally, mutex);
        }
    } else {
        std::this_thread::sleep_for(std::chrono::duration<double>(idle_s));
    }
    stop = true;
    prober.join();
    return tally;
}

std::string num(double value, int decimals) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
    return buf;
}

void print_row(const char* what, const Args& args, Tally& t) {
    std::vector<double> rates;
    for (double s : t.round_s) {
        rates.push_back(static_cast<double>(args.burst) / s);
    }
    long failed = 0;
    for (auto [rc, count] : t.failed) {
        failed += count;
    }
    std::printf("| %s | %s | %ld / %ld | %s / %s | %zu | %s / %s / %s |\n", what,
                rates.empty() ? "–" : num(pct(rates, 0.5), 1).c_str(), t.ok, failed,
                t.login_us.empty() ? "–" : fmt_us(pct(t.login_us, 0.5)).c_str(),
                t.login_us.empty() ? "–" : fmt_us(pct(t.login_us, 0.99)).c_str(),
                t.status.us.size(), fmt_us(pct(t.status.us, 0.5)).c_str(),
                fmt_us(pct(t.status.us, 0.99)).c_str(), fmt_us(pct(t.status.us, 1.0)).c_str());
}

}  // namespace

int main(int argc, char** argv) {
    if (int rc = under_pam_wrapper(argv); rc != 0) {
        return rc;
    }
    Args args = parse_args(argc, argv);
    if (geteuid() != 0) {
        std::fprintf(stderr, "pin_logins: run as root\n");
        return 1;
    }
    std::vector<std::string> users;
    for (int i = 0; i < args.burst; ++i) {
        users.push_back("user" + std::to_string(i));
    }
    TempDir dir("lwauth-pin-logins");
    PrivateBus bus(dir.path());
    Daemon daemon(dir.path(), bus.address(), pin_policy(1));
    add_users(daemon, users);
    const fs::path filled = dir / "state-filled";
    fill_pins(filled, users);
    setenv("DBUS_SYSTEM_BUS_ADDRESS", bus.address().c_str(), 1);

    TempDir services("lwauth-pin-logins-pam");
    setenv("PAM_WRAPPER_SERVICE_DIR", (services / "pam.d").c_str(), 1);
    // A login on the first virtual console (PAM_TTY from the environment): with no logind
    // session, what makes it local.
    setenv("PAM_TTY", "tty1", 1);
    write_file(services / "pam.d/lwauth",
               "auth optional /usr/lib/x86_64-linux-gnu/pam_wrapper/pam_set_items.so\n"
               "auth sufficient " +
                   std::string(LWAUTH_PAM_MODULE_PATH) +
                   " mode=primary\nauth required /lib/x86_64-linux-gnu/security/pam_deny.so\n");
    write_file(services / "pam.d/other",
               "auth required /lib/x86_64-linux-gnu/security/pam_deny.so\n");
    Setup setup{args, daemon, filled, users};
    auto one = run_phase(setup, 1, true, 0);
    auto two = one ? run_phase(setup, 2, true, 0) : std::nullopt;
    double longest = 0;
    for (auto* t : {&one, &two}) {
        for (double s : t->has_value() ? (*t)->round_s : std::vector<double>{}) {
            longest += s;
        }
    }
    auto idle = two ? run_phase(setup, 1, false, longest / 2) : std::nullopt;
    if (!idle) {
        return 1;
    }
    std::printf(
        "### PIN logins through pam_lwauth.so (burst of %d from %d threads, %d rounds; "
        "Argon2id m = 19 MiB, t = 2, p = 1)\n\n"
        "| lwauthd | PIN logins/s (median round) | succeeded / failed | login p50 / p99 | "
        "Status calls | Status p50 / p99 / max |\n| --- | --- | --- | --- | --- | --- |\n",
        args.burst, args.threads, args.rounds);
    print_row("no logins (the floor)", args, *idle);
    print_row("1 worker", args, *one);
    print_row("2 workers", args, *two);
    return one->failed.empty() && two->failed.empty() ? 0 : 2;
}
