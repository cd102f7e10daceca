// Login instructions: what one lwauth login costs lwauthd, in instructions and malloc
// calls counted by valgrind, figures that stay the same whatever else the machine runs.
//
//   login_instructions [--logins 200,400] [--lwauthd PATH]  (as root)
//
// For each count N of --logins: a fresh lwauthd under `valgrind --tool=callgrind`, on a
// fresh copy of one state directory (users user0... with 2-step on and an email), N
// sequential logins through the real pam_lwauth.so mode=second_factor under pam_wrapper
// (login_cost's lwauth stack; login i is user i, the code read from the outbox), then
// SIGTERM. Callgrind counts every instruction lwauthd ran (all threads, start-up and
// exit included) and every call to libc's malloc (operator new's included). Between two
// counts, start-up and exit cancel out: the difference divided by the difference of N is
// the cost of one login. --lwauthd runs another build of lwauthd against this build's
// module.
//
// Prints a Markdown table and a last line "per-login: <instructions> <mallocs>" for
// bench/login_instructions. Exits 2 when a login failed.
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "bench_support.hpp"

using namespace lwauth;
using namespace lwauth::test;

namespace {

constexpr const char* kValgrind = "/usr/bin/valgrind";

struct Args {
    std::vector<int> logins{200, 400};
    fs::path lwauthd = lwauthd_path();
};

Args parse_args(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--logins" && i + 1 < argc) {
            a.logins.clear();
            std::stringstream list(argv[++i]);
            std::string item;
            while (std::getline(list, item, ',')) {
                a.logins.push_back(std::stoi(item));
            }
        } else if (arg == "--lwauthd" && i + 1 < argc) {
            a.lwauthd = argv[++i];
        } else {
            std::fprintf(stderr, "usage: login_instructions [--logins 200,400] [--lwauthd PATH]\n");
            std::exit(64);
        }
    }
    if (a.logins.size() < 2) {
        std::fprintf(stderr, "login_instructions: --logins needs two counts or more\n");
        std::exit(64);
    }
    return a;
}

// The newest code the outbox holds for `user`.
std::string newest_code(const fs::path& outbox, const std::string& user) {
    std::vector<OutboxMessage> messages = read_outbox(outbox);
    for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
        if (it->user == user) {
            return it->code();
        }
    }
    return "";
}

// ---- callgrind's output -----------------------------------------------------------------

struct Counts {
    long long instructions = 0;
    long long mallocs = 0;
};

// The totals line, and the calls to malloc summed over every caller (the file is written
// with --compress-strings=no: each cfn= line names its function).
Counts read_callgrind(const fs::path& path) {
    Counts counts;
    std::ifstream in(path);
    std::string line;
    bool to_malloc = false;
    while (std::getline(in, line)) {
        if (line.starts_with("totals:") || line.starts_with("summary:")) {
            counts.instructions = std::stoll(line.substr(line.find(':') + 1));
        } else if (line.starts_with("cfn=")) {
            std::string name = line.substr(4);
            to_malloc = name == "malloc" || name == "__libc_malloc";
        } else if (to_malloc && line.starts_with("calls=")) {
            counts.mallocs += std::stoll(line.substr(6));
            to_malloc = false;
        }
    }
    return counts;
}

// ---- one run: a fresh lwauthd under callgrind, `n` logins, its counts --------------------

struct Run {
    int logins = 0;
    int failures = 0;
    Counts counts;
};

bool run_logins(const Args& args, Daemon& daemon, const fs::path& filled, int n, Run& run) {
    fs::remove_all(daemon.state_dir());
    fs::copy(filled, daemon.state_dir(), fs::copy_options::recursive);
    fs::permissions(daemon.state_dir(), fs::perms::owner_all);
    fs::path out = daemon.state_dir().parent_path() / ("callgrind." + std::to_string(n));
    auto env = nss_wrapper_env(daemon.state_dir().parent_path());
    env["DBUS_SYSTEM_BUS_ADDRESS"] = daemon.bus_address();
    Process lwauthd({kValgrind, "--tool=callgrind", "--compress-strings=no",
                     "--callgrind-out-file=" + out.string(), args.lwauthd.string(), "--config",
                     daemon.config_dir().string(), "--state-dir", daemon.state_dir().string(),
                     "--log-target", "stderr"},
                    env, daemon.log_path());
    if (!wait_for_name(daemon.bus_address(), "org.lwauth.Auth1", std::chrono::seconds(120))) {
        std::fprintf(stderr, "lwauthd did not start:\n%s\n", daemon.log().c_str());
        return false;
    }
    run.logins = n;
    for (int i = 0; i < n; ++i) {
        std::string user = "user" + std::to_string(i);
        bench::Person person{[&] { return newest_code(daemon.outbox(), user); }};
        if (bench::one_login("lwauth", user.c_str(), person) != PAM_SUCCESS) {
            ++run.failures;
        }
    }
    lwauthd.stop(SIGTERM, std::chrono::seconds(120));
    run.counts = read_callgrind(out);
    return run.counts.instructions > 0;
}

}  // namespace

int main(int argc, char** argv) {
    // libpam must be redirected by pam_wrapper from the start: re-execute with it preloaded.
    if (int rc = bench::under_pam_wrapper(argv); rc != 0) {
        return rc;
    }
    Args args = parse_args(argc, argv);
    if (geteuid() != 0) {
        std::fprintf(stderr, "login_instructions: run as root\n");
        return 1;
    }
    int most = *std::max_element(args.logins.begin(), args.logins.end());
    TempDir dir("lwauth-login-instructions");
    PrivateBus bus(dir.path());
    Daemon daemon(dir.path(), bus.address(), bench::login_policy(dir / "outbox.jsonl"));
    std::vector<std::string> users;
    for (int i = 0; i < most; ++i) {
        users.push_back("user" + std::to_string(i));
    }
    bench::add_users(daemon, users);
    const fs::path filled = dir / "state-filled";
    bench::fill_state(filled, users);
    setenv("DBUS_SYSTEM_BUS_ADDRESS", bus.address().c_str(), 1);
    TempDir services("lwauth-login-instructions-pam");
    setenv("PAM_WRAPPER_SERVICE_DIR", (services / "pam.d").c_str(), 1);
    write_file(services / "pam.d/lwauth",
               "auth required " + std::string(LWAUTH_PAM_MODULE_PATH) + " mode=second_factor\n");
    write_file(services / "pam.d/other", "auth required pam_deny.so\n");  // libpam reads it

    std::vector<Run> runs;
    int failures = 0;
    std::printf("lwauthd: %s\n\n| logins | failures | instructions | malloc calls |\n",
                args.lwauthd.c_str());
    std::printf("| --- | --- | --- | --- |\n");
    for (int n : args.logins) {
        Run run;
        if (!run_logins(args, daemon, filled, n, run)) {
            return 1;
        }
        failures += run.failures;
        std::printf("| %d | %d | %lld | %lld |\n", n, run.failures, run.counts.instructions,
                    run.counts.mallocs);
        std::fflush(stdout);
        runs.push_back(run);
    }
    const Run& low = runs.front();
    const Run& high = runs.back();
    double logins = high.logins - low.logins;
    double instructions = static_cast<double>(high.counts.instructions - low.counts.instructions);
    double mallocs = static_cast<double>(high.counts.mallocs - low.counts.mallocs);
    std::printf("| per login (%d − %d) | | %.0f | %.1f |\n\n", high.logins, low.logins,
                instructions / logins, mallocs / logins);
    std::printf("per-login: %.0f %.1f\n", instructions / logins, mallocs / logins);
    return failures == 0 ? 0 : 2;
}
