// Login cost: what one login through pam_lwauth.so costs, next to the PAM modules people
// would otherwise use for a second factor, and what it is made of.
//
//   login_cost [--seconds N] [--rounds N] [--concurrency 1,8,64,256,512] [--syscalls]
//              [--perf DIR]  (as root)
//
// 1. Cost per login: pam_start / pam_authenticate / pam_end in a loop, through the real
//    libpam (redirected by pam_wrapper to service files written here), the stacks taking
//    turns for --rounds rounds, for
//      socket   pam_lwauth.so mode=second_factor socket=..., the real lwauthd serving its
//               login socket (D-Bus peer to peer, no broker), the code read from the
//               outbox (2-step on, an enrolled email)
//      bus      the same module and lwauthd, socket= naming a socket that is not there:
//               the module falls back to the system bus (a private dbus-daemon here), as
//               on a host whose lwauthd serves no login socket
//      google   pam_google_authenticator.so (TOTP, computed here from the secret)
//      oath     pam_oath.so (HOTP, the next counter's code computed here)
//      permit   pam_permit.so, the floor of libpam itself
//    with the CPU per login of the PAM process (getrusage: libpam, the module and the
//    benchmark's conversation), lwauthd and dbus-daemon (/proc/PID/stat).
// 2. lwauth's floor: a connection to the bus and to the login socket, empty D-Bus round
//    trips over each, one HMAC-SHA256 as lwauthd keys it, one read of a user's state from
//    the store (SqliteStore::load_user, one unseal), one SQLite commit (WAL,
//    synchronous=FULL) and one append + fsync on the filesystem of lwauthd's state
//    directory; and, counted on the bus, the messages one lwauth login over the bus takes.
// 3. Concurrency: lwauth over each path with 1, 8, 64, 256, 512 conversations at once (a
//    thread and a user each), with the CPU time per login of each process; a fresh
//    lwauthd, on a fresh copy of the filled state directory, for each row. --perf DIR
//    records `perf record --call-graph dwarf` of lwauthd and the PAM process (and dbus-daemon on the bus
//    path) during each path's first row, into DIR/socket.data and DIR/bus.data (the
//    profiled rows' figures include perf's own cost).
//
// Prints Markdown tables; nothing asserts a time. Exits 2 when a login failed.
#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <security/pam_appl.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bench_support.hpp"

using namespace lwauth;
using namespace lwauth::test;
using namespace lwauth::bench;
using Steady = std::chrono::steady_clock;

namespace {

constexpr const char* kModuleDir = "/lib/x86_64-linux-gnu/security";

// ---- one-time codes (RFC 4226 / RFC 6238) ----------------------------------------------

std::string hotp(const std::vector<unsigned char>& key, uint64_t counter) {
    unsigned char msg[8];
    for (int i = 7; i >= 0; --i) {
        msg[i] = static_cast<unsigned char>(counter & 0xff);
        counter >>= 8;
    }
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()), msg, sizeof msg, mac, &len);
    unsigned offset = mac[len - 1] & 0x0f;
    uint32_t bin = (static_cast<uint32_t>(mac[offset] & 0x7f) << 24) |
                   (static_cast<uint32_t>(mac[offset + 1]) << 16) |
                   (static_cast<uint32_t>(mac[offset + 2]) << 8) |
                   static_cast<uint32_t>(mac[offset + 3]);
    char buf[16];
    std::snprintf(buf, sizeof buf, "%06u", bin % 1000000u);
    return buf;
}

std::string totp(const std::vector<unsigned char>& key) {
    return hotp(key, static_cast<uint64_t>(std::time(nullptr)) / 30);
}

std::string base32(const std::vector<unsigned char>& data) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    std::string out;
    uint32_t buffer = 0;
    int bits = 0;
    for (unsigned char c : data) {
        buffer = (buffer << 8) | c;
        bits += 8;
        while (bits >= 5) {
            out += kAlphabet[(buffer >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0) {
        out += kAlphabet[(buffer << (5 - bits)) & 31];
    }
    return out;
}

std::string hex(const std::vector<unsigned char>& data) {
    std::string out;
    char buf[3];
    for (unsigned char c : data) {
        std::snprintf(buf, sizeof buf, "%02x", c);
        out += buf;
    }
    return out;
}

// ---- PAM ---------------------------------------------------------------------------

struct RunStats {
    std::vector<double> us;  // each login that started and ended inside the window
    long failures = 0;
    std::map<int, long> failure_codes;
    double window_s = 0;
    long cpu_daemon_ticks = 0;
    long cpu_bus_ticks = 0;
    double cpu_self_us = 0;  // this process: libpam, the module, the conversation
    [[nodiscard]] double rate() const {
        return window_s > 0 ? static_cast<double>(us.size()) / window_s : 0.0;
    }
};

// User + system CPU time of this process, all its threads, in microseconds.
double self_cpu_us() {
    struct rusage usage {};
    getrusage(RUSAGE_SELF, &usage);
    auto us = [](const struct timeval& t) {
        return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_usec);
    };
    return us(usage.ru_utime) + us(usage.ru_stime);
}

const double kTickUs = 1e6 / static_cast<double>(sysconf(_SC_CLK_TCK));

// CPU per login of the PAM process, lwauthd and dbus-daemon, in ms, "a / b / c".
std::string cpu_text(const RunStats& s, bool daemon = true) {
    double n = static_cast<double>(std::max<size_t>(1, s.us.size()));
    double self = s.cpu_self_us / n / 1000;
    double d = static_cast<double>(s.cpu_daemon_ticks) * kTickUs / n / 1000;
    double b = static_cast<double>(s.cpu_bus_ticks) * kTickUs / n / 1000;
    char buf[160];
    if (!daemon) {
        std::snprintf(buf, sizeof buf, "%.3f | – | – | %.3f", self, self);
    } else {
        std::snprintf(buf, sizeof buf, "%.3f | %.3f | %.3f | %.3f", self, d, b, self + d + b);
    }
    return buf;
}

// `threads` conversations at once, each its own loop of logins as users[i]; a warm-up,
// then `seconds` measured.
// Each thread logs its users in by turns (users[thread]).
RunStats run_logins(const std::string& service, const std::vector<std::vector<std::string>>& users,
                    const std::function<std::string(const std::string& user)>& answer,
                    double warmup_s, double seconds, pid_t daemon_pid = -1, pid_t bus_pid = -1,
                    const std::function<void()>& at_begin = {},
                    const std::function<void()>& at_end = {}) {
    size_t threads = users.size();
    std::atomic<bool> stop{false};
    std::vector<RunStats> per(threads);
    auto t0 = Steady::now();
    auto begin = t0 + std::chrono::microseconds(static_cast<long>(warmup_s * 1e6));
    auto end = begin + std::chrono::microseconds(static_cast<long>(seconds * 1e6));
    std::vector<std::thread> pool;
    for (size_t i = 0; i < threads; ++i) {
        pool.emplace_back([&, i] {
            Person person;
            const std::string* user = nullptr;
            person.answer = [&] { return answer(*user); };
            for (size_t turn = 0; !stop.load(std::memory_order_relaxed); ++turn) {
                user = &users[i][turn % users[i].size()];
                auto a = Steady::now();
                int rc = one_login(service.c_str(), user->c_str(), person);
                auto b = Steady::now();
                if (a >= begin && b <= end) {
                    if (rc == PAM_SUCCESS) {
                        per[i].us.push_back(us_between(a, b));
                    }
                }
                if (a >= begin && a <= end && rc != PAM_SUCCESS) {
                    ++per[i].failures;
                    ++per[i].failure_codes[rc];
                }
                if (b > end) {
                    break;
                }
            }
        });
    }
    std::this_thread::sleep_until(begin);
    if (at_begin) {
        at_begin();  // the threads are running
    }
    long d0 = cpu_ticks(daemon_pid);
    long b0 = cpu_ticks(bus_pid);
    double s0 = self_cpu_us();
    std::this_thread::sleep_until(end);
    long d1 = cpu_ticks(daemon_pid);
    long b1 = cpu_ticks(bus_pid);
    double s1 = self_cpu_us();
    if (at_end) {
        at_end();
    }
    for (auto& t : pool) {
        t.join();
    }
    RunStats all;
    for (auto& p : per) {
        all.us.insert(all.us.end(), p.us.begin(), p.us.end());
        all.failures += p.failures;
        for (auto [code, count] : p.failure_codes) {
            all.failure_codes[code] += count;
        }
    }
    all.window_s = seconds;
    all.cpu_daemon_ticks = d1 - d0;
    all.cpu_bus_ticks = b1 - b0;
    all.cpu_self_us = s1 - s0;
    return all;
}

std::string failures_text(const RunStats& s) {
    std::string out = std::to_string(s.failures);
    if (s.failures > 0) {
        out += " (";
        bool first = true;
        for (auto [code, count] : s.failure_codes) {
            out += (first ? "" : ", ") + std::to_string(count) + "× " + pam_strerror(nullptr, code);
            first = false;
        }
        out += ")";
    }
    return out;
}

// ---- floors ------------------------------------------------------------------------

sd_bus* connect_bus(const std::string& address) {
    sd_bus* bus = nullptr;
    sd_bus_new(&bus);
    sd_bus_set_address(bus, address.c_str());
    sd_bus_set_bus_client(bus, 1);
    if (sd_bus_start(bus) < 0) {
        sd_bus_flush_close_unref(bus);
        return nullptr;
    }
    return bus;
}

struct Floor {
    std::string what;
    std::vector<double> us;
    std::string note;
};

template <typename F>
Floor time_n(const std::string& what, int n, F&& f) {
    Floor out{what, {}, ""};
    for (int i = 0; i < n / 10; ++i) {
        f();  // warm-up
    }
    for (int i = 0; i < n; ++i) {
        auto a = Steady::now();
        f();
        out.us.push_back(us_between(a, Steady::now()));
    }
    return out;
}

// A peer-to-peer D-Bus connection to lwauthd's login socket, authenticated (as the module
// makes it); nullptr when it failed.
sd_bus* connect_private(const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un address {};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path.c_str());
    if (fd < 0 ||
        ::connect(fd, reinterpret_cast<const struct sockaddr*>(&address), sizeof address) < 0) {
        if (fd >= 0) {
            ::close(fd);
        }
        return nullptr;
    }
    sd_bus* bus = nullptr;
    sd_bus_new(&bus);
    sd_bus_set_fd(bus, fd, fd);
    if (sd_bus_start(bus) < 0) {
        sd_bus_flush_close_unref(bus);
        return nullptr;
    }
    while (sd_bus_is_ready(bus) == 0 && sd_bus_is_open(bus) > 0) {
        if (sd_bus_process(bus, nullptr) == 0) {
            sd_bus_wait(bus, 1000 * 1000);
        }
    }
    if (sd_bus_is_ready(bus) <= 0) {
        sd_bus_flush_close_unref(bus);
        return nullptr;
    }
    return bus;
}

Floor connect_private_floor(const std::string& path, int n) {
    int failed = 0;
    Floor f = time_n(
        "connect to the login socket + authentication + close (sd-bus, as the module does "
        "per login)",
        n, [&] {
            sd_bus* bus = connect_private(path);
            failed += bus == nullptr ? 1 : 0;
            sd_bus_flush_close_unref(bus);
        });
    if (failed > 0) {
        f.note = std::to_string(failed) + " connections failed";
    }
    return f;
}

// What lwauthd computes for a code: one HMAC-SHA256 under its key (Hasher, keyed once),
// timed in batches of 100 (one is shorter than the clock's own cost).
Floor hmac_floor(int n) {
    OpenSslRandom random;
    uint8_t key[32];
    random.fill(key, sizeof key);
    Hasher hasher(SecretString(std::string_view(reinterpret_cast<const char*>(key), sizeof key)));
    unsigned sink = 0;
    Floor f = time_n("one HMAC-SHA256 of a code (lwauthd's Hasher; batches of 100)", n, [&] {
        for (int i = 0; i < 100; ++i) {
            sink += hasher.keyed_hash("login-code:user0", "123456")[0];
        }
    });
    for (double& us : f.us) {
        us /= 100;
    }
    f.note = sink == 1 ? " " : "";  // keeps the hashes from being optimised away
    return f;
}

// One read of a user's state as a login's Start makes it: SqliteStore::load_user (the row,
// the contacts and their unseal) on a copy of the filled state directory.
Floor load_user_floor(const fs::path& filled, const fs::path& dir, int users, int n) {
    fs::copy(filled, dir, fs::copy_options::recursive);
    OpenSslRandom random;
    SqliteStore store(
        (dir / "lwauth.db").string(),
        ContactCipher(load_or_create_key((dir / "contacts.key").string(), random), random));
    int i = 0;
    size_t contacts = 0;
    Floor f = time_n("one read of a user's state from the store (SqliteStore::load_user, one unseal)",
                     n, [&] {
                         UserState state = store.load_user("user" + std::to_string(i++ % users));
                         contacts += state.contacts.size();
                     });
    if (contacts == 0) {
        f.note = "no contacts read";
    }
    return f;
}

Floor connect_floor(const std::string& address, int n) {
    return time_n("connect to the bus + Hello + close (sd-bus, as the module does per login)", n,
                  [&] {
                      sd_bus* bus = connect_bus(address);
                      const char* unique = nullptr;
                      sd_bus_get_unique_name(bus, &unique);  // waits for Hello's reply
                      sd_bus_flush_close_unref(bus);
                  });
}

Floor call_floor(sd_bus* bus, const std::string& what, const char* dest, const char* path,
                 const char* iface, const char* member, int n) {
    int errors = 0;
    std::string error_name;
    Floor f = time_n(what, n, [&] {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message* reply = nullptr;
        if (sd_bus_call_method(bus, dest, path, iface, member, &error, &reply, "") < 0) {
            ++errors;
            error_name = error.name ? error.name : "?";
        }
        sd_bus_message_unref(reply);
        sd_bus_error_free(&error);
    });
    if (errors > 0) {
        f.note = std::to_string(errors) + " calls failed: " + error_name;
    }
    return f;
}

Floor sqlite_floor(const fs::path& dir, int n) {
    fs::path path = dir / "floor.db";
    sqlite3* db = nullptr;
    sqlite3_open(path.c_str(), &db);
    sqlite3_exec(db,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                 "CREATE TABLE sends (id INTEGER PRIMARY KEY, user TEXT NOT NULL, "
                 "destination TEXT NOT NULL, at INTEGER NOT NULL);",
                 nullptr, nullptr, nullptr);
    sqlite3_stmt* insert = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO sends (user, destination, at) VALUES ('alice', ?, ?)", -1,
                       &insert, nullptr);
    long i = 0;
    Floor f = time_n("SQLite commit: one INSERT, own transaction (WAL, synchronous=FULL)", n, [&] {
        sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
        sqlite3_bind_text(insert, 1, "0123456789abcdef0123456789abcdef", -1, SQLITE_STATIC);
        sqlite3_bind_int64(insert, 2, ++i);
        sqlite3_step(insert);
        sqlite3_reset(insert);
        sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    });
    sqlite3_finalize(insert);
    sqlite3_close(db);
    return f;
}

Floor fsync_floor(const fs::path& dir, int n) {
    fs::path path = dir / "floor.jsonl";
    std::string line(240, 'x');
    line += "\n";
    return time_n(
        "open + append a 240-byte line + fsync + close (the disk's fsync, which pam_oath's "
        "rewrite of its users file waits for; lwauth's outbox appends without it)",
        n, [&] {
            int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
            ssize_t w = ::write(fd, line.data(), line.size());
            (void)w;
            ::fsync(fd);
            ::close(fd);
        });
}

// ---- messages on the bus for one login -----------------------------------------------

// A monitor connection (BecomeMonitor) that counts every message the bus routes.
class BusCounter {
  public:
    explicit BusCounter(const std::string& address) {
        sd_bus_new(&bus_);
        sd_bus_set_address(bus_, address.c_str());
        sd_bus_set_bus_client(bus_, 1);
        sd_bus_set_monitor(bus_, 1);
        if (sd_bus_start(bus_) < 0) {
            error_ = "cannot connect";
            return;
        }
        sd_bus_message* m = nullptr;
        sd_bus_message_new_method_call(bus_, &m, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus.Monitoring", "BecomeMonitor");
        sd_bus_message_append(m, "asu", 0, 0u);
        sd_bus_error error = SD_BUS_ERROR_NULL;
        if (sd_bus_call(bus_, m, 5 * 1000 * 1000, &error, nullptr) < 0) {
            error_ = error.name ? error.name : "BecomeMonitor failed";
        }
        sd_bus_error_free(&error);
        sd_bus_message_unref(m);
        if (error_.empty()) {
            thread_ = std::thread([this] { loop(); });
        }
    }
    ~BusCounter() {
        stop_ = true;
        if (thread_.joinable()) {
            thread_.join();
        }
        sd_bus_flush_close_unref(bus_);
    }
    [[nodiscard]] const std::string& error() const { return error_; }
    void reset() {
        std::lock_guard lock(mutex_);
        counts_.clear();
    }
    std::map<std::string, int> counts() {
        std::lock_guard lock(mutex_);
        return counts_;
    }

  private:
    void loop() {
        while (!stop_) {
            sd_bus_message* m = nullptr;
            int r = sd_bus_process(bus_, &m);
            if (r < 0) {
                break;
            }
            if (m != nullptr) {
                uint8_t type = 0;
                sd_bus_message_get_type(m, &type);
                const char* member = sd_bus_message_get_member(m);
                const char* iface = sd_bus_message_get_interface(m);
                std::string key;
                switch (type) {
                    case SD_BUS_MESSAGE_METHOD_CALL:
                        key = std::string("call ") + (iface ? iface : "") + "." +
                              (member ? member : "");
                        break;
                    case SD_BUS_MESSAGE_METHOD_RETURN:
                        key = "reply";
                        break;
                    case SD_BUS_MESSAGE_METHOD_ERROR:
                        key = "error";
                        break;
                    default:
                        key = std::string("signal ") + (member ? member : "");
                        break;
                }
                std::lock_guard lock(mutex_);
                ++counts_[key];
                sd_bus_message_unref(m);
                continue;
            }
            if (r == 0) {
                sd_bus_wait(bus_, 50 * 1000);
            }
        }
    }

    sd_bus* bus_ = nullptr;
    std::string error_;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::mutex mutex_;
    std::map<std::string, int> counts_;
};

// ---- syscalls of lwauthd for N logins (--syscalls), with strace ------------------------

std::string strace_counts(pid_t pid, const fs::path& out, const std::function<void()>& work) {
    pid_t child = fork();
    if (child == 0) {
        execl("/usr/bin/strace", "strace", "-f", "-c", "-e",
              "trace=fsync,fdatasync,sendmsg,recvmsg,pwrite64,openat", "-o", out.c_str(), "-p",
              std::to_string(pid).c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // attached
    work();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the write-behind flush
    kill(child, SIGINT);
    int status = 0;
    waitpid(child, &status, 0);
    return read_file(out);
}

// perf record -g of the given processes (all their threads as they are when it starts),
// into `out`, until stop().
class PerfRecord {
  public:
    void start(const std::vector<pid_t>& pids, const fs::path& out) {
        std::string list;
        for (pid_t p : pids) {
            list += (list.empty() ? "" : ",") + std::to_string(p);
        }
        child_ = fork();
        if (child_ == 0) {
            // DWARF call graphs: Debian's libraries keep no frame pointers.
            execl("/usr/bin/perf", "perf", "record", "-q", "--call-graph", "dwarf,8192", "-F",
                  "999", "-o", out.c_str(), "-p", list.c_str(), static_cast<char*>(nullptr));
            _exit(127);
        }
    }
    void stop() {
        if (child_ > 0) {
            kill(child_, SIGINT);
            int status = 0;
            waitpid(child_, &status, 0);
            child_ = -1;
        }
    }

  private:
    pid_t child_ = -1;
};

struct Args {
    double seconds = 10;
    int rounds = 10;
    std::vector<int> concurrency{1, 8, 64, 256, 512};
    bool syscalls = false;
    std::string perf_dir;
};

Args parse_args(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--seconds" && i + 1 < argc) {
            a.seconds = std::stod(argv[++i]);
        } else if (arg == "--concurrency" && i + 1 < argc) {
            a.concurrency.clear();
            std::stringstream list(argv[++i]);
            std::string item;
            while (std::getline(list, item, ',')) {
                a.concurrency.push_back(std::stoi(item));
            }
        } else if (arg == "--rounds" && i + 1 < argc) {
            a.rounds = std::max(1, std::stoi(argv[++i]));
        } else if (arg == "--syscalls") {
            a.syscalls = true;
        } else if (arg == "--perf" && i + 1 < argc) {
            a.perf_dir = argv[++i];
        } else {
            std::fprintf(stderr,
                         "usage: login_cost [--seconds N] [--rounds N] [--concurrency "
                         "1,8,64,256,512] [--syscalls] [--perf DIR]\n");
            std::exit(64);
        }
    }
    return a;
}

}  // namespace

int main(int argc, char** argv) {
    // libpam must be redirected by pam_wrapper from the start: re-execute with it preloaded.
    if (int rc = bench::under_pam_wrapper(argv); rc != 0) {
        return rc;
    }
    Args args = parse_args(argc, argv);
    if (geteuid() != 0) {
        std::fprintf(stderr, "login_cost: run as root\n");
        return 1;
    }
    // 512 conversations hold 512 connections here and open files besides.
    struct rlimit files {};
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = std::min<rlim_t>(files.rlim_max, 65536);
        setrlimit(RLIMIT_NOFILE, &files);
    }
    // lwauth's policy allows at most 1000 codes per user (and per destination) an hour and
    // 100000 per host: the logins go round a pool of users, each with 2-step on and an email,
    // so that no cap is reached (a few dozen codes per user in a run).
    int max_threads = 1;
    for (int c : args.concurrency) {
        max_threads = std::max(max_threads, c);
    }
    const int pool_size = std::max(1024, max_threads);
    std::vector<std::string> pool;
    for (int i = 0; i < pool_size; ++i) {
        pool.push_back("user" + std::to_string(i));
    }
    const double warmup = std::min(1.0, args.seconds / 5);

    TempDir dir("lwauth-login-cost");
    std::string policy = bench::login_policy(dir / "outbox.jsonl");
    // dbus-daemon allows 256 connections per UID by default; the bus path's 256- and
    // 512-conversation rows need that many for root alone (plus lwauthd's and this
    // program's own), as a host expecting that many simultaneous logins over the bus would
    // configure. The login socket has no such limit below lwauthd's own (1,024).
    PrivateBus bus(dir.path(), false, R"(<limit name="max_connections_per_user">1024</limit>)");
    Daemon daemon(dir.path(), bus.address(), policy);
    // Users user0... for the concurrent runs, in the user database of lwauthd and the bus
    // (the Daemon has written the harness's users; these are added to them).
    bench::add_users(daemon, pool);
    // Their 2-step and email, written through the real store into a state directory that no
    // lwauthd opens: each lwauthd below starts on a copy of it.
    const fs::path filled_state = dir / "state-filled";
    bench::fill_state(filled_state, pool);
    pid_t daemon_pid = start_fresh(daemon, filled_state);
    if (daemon_pid < 0) {
        return 1;
    }
    if (!daemon.enroll("alice", "email", "alice@example.com")) {
        std::fprintf(stderr, "cannot enroll alice:\n%s\n", daemon.log().c_str());
        return 1;
    }
    pid_t bus_pid = find_process((dir / "bus.conf").string());
    setenv("DBUS_SYSTEM_BUS_ADDRESS", bus.address().c_str(), 1);

    // The peers' secrets.
    std::vector<unsigned char> ga_key(20);
    std::vector<unsigned char> oath_key(20);
    RAND_bytes(ga_key.data(), static_cast<int>(ga_key.size()));
    RAND_bytes(oath_key.data(), static_cast<int>(oath_key.size()));
    // No DISALLOW_REUSE and no RATE_LIMIT: the same TOTP may log in again and again within
    // its 30 s (as a person cannot, but a benchmark must), and the file is never rewritten.
    write_file(dir / "ga/root.ga", base32(ga_key) + "\n\" WINDOW_SIZE 17\n\" TOTP_AUTH\n",
               fs::perms(0400));
    // HOTP: pam_oath refuses a code at or below the last counter it accepted (and rewrites
    // the file with the new counter on each login), so each login answers the next one.
    write_file(dir / "oath/users.oath", "HOTP root - " + hex(oath_key) + "\n", fs::perms(0600));

    TempDir services("lwauth-login-cost-pam");
    setenv("PAM_WRAPPER_SERVICE_DIR", (services / "pam.d").c_str(), 1);
    std::string permit = std::string(kModuleDir) + "/pam_permit.so";
    auto service = [&](const std::string& name, const std::string& auth) {
        write_file(services / "pam.d" / name,
                   "auth required " + auth + "\naccount required " + permit + "\n");
    };
    // The socket path names lwauthd's login socket; the bus path names one that is not
    // there, so that the module falls back to the bus as on a host without it.
    service("lwauth-socket", std::string(LWAUTH_PAM_MODULE_PATH) +
                                 " mode=second_factor socket=" + daemon.login_socket().string());
    service("lwauth-bus", std::string(LWAUTH_PAM_MODULE_PATH) + " mode=second_factor socket=" +
                              (dir / "no-such.socket").string());
    service("google", std::string(kModuleDir) + "/pam_google_authenticator.so secret=" +
                          (dir / "ga").string() + "/${USER}.ga user=root");
    service("oath", std::string(kModuleDir) + "/pam_oath.so usersfile=" +
                        (dir / "oath/users.oath").string() + " window=20");
    service("permit", permit);
    // libpam reads "other" as the default of every service.
    write_file(services / "pam.d/other",
               "auth required " + std::string(kModuleDir) + "/pam_deny.so\n");

    OutboxTail outbox(daemon.outbox());
    int failed_total = 0;

    // ---- 1. cost per login ----
    // The stacks take turns, `rounds` times, each for seconds/rounds: whatever else the
    // machine does (another VM, a cron job) then weighs on every stack alike, and the
    // ratios compare logins measured minutes apart no more than seconds apart.
    uint64_t oath_counter = 0;
    struct Stack {
        std::string name;
        std::string service;
        std::vector<std::vector<std::string>> users;
        std::function<std::string(const std::string& user)> answer;
    };
    const std::vector<Stack> stacks = {
        {"lwauth, socket: pam_lwauth.so mode=second_factor over lwauthd's login socket",
         "lwauth-socket",
         {pool},
         [&](const std::string& u) { return outbox.code_for(u); }},
        {"lwauth, bus: pam_lwauth.so mode=second_factor over the system bus (no socket)",
         "lwauth-bus",
         {pool},
         [&](const std::string& u) { return outbox.code_for(u); }},
        {"google: pam_google_authenticator.so (TOTP)",
         "google",
         {{"root"}},
         [&](const std::string&) { return totp(ga_key); }},
        {"oath: pam_oath.so window=20 (HOTP)",
         "oath",
         {{"root"}},
         [&](const std::string&) { return hotp(oath_key, oath_counter++); }},
        {"permit: pam_permit.so (libpam's floor)",
         "permit",
         {{"root"}},
         [&](const std::string&) { return std::string(); }},
    };
    struct Row {
        std::string stack;
        RunStats stats;
        std::vector<double> round_rates;
    };
    std::vector<Row> rows;
    for (const auto& stack : stacks) {
        rows.push_back({stack.name, {}, {}});
    }
    const double slice = args.seconds / args.rounds;
    for (int round = 0; round < args.rounds; ++round) {
        for (size_t i = 0; i < stacks.size(); ++i) {
            RunStats part = run_logins(stacks[i].service, stacks[i].users, stacks[i].answer,
                                       round == 0 ? warmup : std::min(0.2, warmup), slice,
                                       daemon_pid, bus_pid);
            Row& row = rows[i];
            row.round_rates.push_back(part.rate());
            row.stats.us.insert(row.stats.us.end(), part.us.begin(), part.us.end());
            row.stats.failures += part.failures;
            for (auto [code, count] : part.failure_codes) {
                row.stats.failure_codes[code] += count;
            }
            row.stats.window_s += part.window_s;
            row.stats.cpu_self_us += part.cpu_self_us;
            row.stats.cpu_daemon_ticks += part.cpu_daemon_ticks;
            row.stats.cpu_bus_ticks += part.cpu_bus_ticks;
        }
    }

    std::printf(
        "### Cost per login (one conversation at a time; the stacks take turns, %d rounds of "
        "%.1f s each, %.0f s in all per stack)\n\n",
        args.rounds, slice, args.seconds);
    std::printf(
        "| stack | logins | failures | logins/s | p50 | p99 | socket ÷ this (throughput) | "
        "socket ÷ this, rounds (min–max) | CPU per login, ms: PAM process | lwauthd | "
        "dbus-daemon | total |\n");
    std::printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    double lwauth_rate = rows[0].stats.rate();
    double lwauth_p50 = 0;
    for (auto& row : rows) {
        double p50 = pct(row.stats.us, 0.5);
        double p99 = pct(row.stats.us, 0.99);
        if (&row == &rows[0]) {
            lwauth_p50 = p50;
        }
        double lo = 0;
        double hi = 0;
        for (size_t i = 0; i < row.round_rates.size(); ++i) {
            double ratio = row.round_rates[i] > 0 ? rows[0].round_rates[i] / row.round_rates[i] : 0;
            lo = i == 0 ? ratio : std::min(lo, ratio);
            hi = i == 0 ? ratio : std::max(hi, ratio);
        }
        failed_total += static_cast<int>(row.stats.failures);
        std::printf("| %s | %zu | %s | %.0f | %s | %s | %.3f | %.2f–%.2f | %s |\n",
                    row.stack.c_str(), row.stats.us.size(), failures_text(row.stats).c_str(),
                    row.stats.rate(), fmt_us(p50).c_str(), fmt_us(p99).c_str(),
                    row.stats.rate() > 0 ? lwauth_rate / row.stats.rate() : 0.0, lo, hi,
                    cpu_text(row.stats, &row - &rows[0] < 2).c_str());
    }
    // The issue's ratios: each lwauth path against the faster of the two peers.
    const double fastest_peer = std::max(rows[2].stats.rate(), rows[3].stats.rate());
    const char* fastest_name = rows[2].stats.rate() >= rows[3].stats.rate() ? "google" : "oath";
    std::printf(
        "\nSequential, against the fastest peer (%s, %.0f logins/s): socket %.2f ×, bus %.2f × "
        "(target for the socket: ≥ 1.5 ×); socket ÷ bus %.2f ×.\n",
        fastest_name, fastest_peer, fastest_peer > 0 ? rows[0].stats.rate() / fastest_peer : 0.0,
        fastest_peer > 0 ? rows[1].stats.rate() / fastest_peer : 0.0,
        rows[1].stats.rate() > 0 ? rows[0].stats.rate() / rows[1].stats.rate() : 0.0);

    // ---- 2. lwauth's floor ----
    std::vector<Floor> floors;
    floors.push_back(connect_floor(bus.address(), 2000));
    floors.push_back(connect_private_floor(daemon.login_socket().string(), 2000));
    sd_bus* probe = connect_bus(bus.address());
    sd_bus* private_probe = connect_private(daemon.login_socket().string());
    floors.push_back(call_floor(
        probe, "D-Bus round trip to the bus itself (org.freedesktop.DBus.GetId)",
        "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetId", 5000));
    floors.push_back(call_floor(
        probe, "D-Bus round trip to lwauthd through the bus (org.freedesktop.DBus.Peer.Ping)",
        "org.lwauth.Auth1", "/org/lwauth/Auth1", "org.freedesktop.DBus.Peer", "Ping", 5000));
    if (private_probe != nullptr) {
        floors.push_back(call_floor(
            private_probe,
            "D-Bus round trip to lwauthd over the login socket (org.freedesktop.DBus.Peer.Ping)",
            nullptr, "/org/lwauth/Auth1", "org.freedesktop.DBus.Peer", "Ping", 5000));
    }
    floors.push_back(hmac_floor(5000));
    fs::path floor_dir = dir / "floor";  // next to state/: the same filesystem
    fs::create_directories(floor_dir);
    floors.push_back(load_user_floor(filled_state, floor_dir / "state", pool_size, 5000));
    floors.push_back(sqlite_floor(floor_dir, 1000));
    floors.push_back(fsync_floor(floor_dir, 1000));

    // Messages on the bus for one lwauth login (sequential), seen by a monitor.
    std::map<std::string, int> per_login;
    std::string monitor_error;
    {
        BusCounter counter(bus.address());
        monitor_error = counter.error();
        if (monitor_error.empty()) {
            Person alice;
            alice.answer = [&] { return outbox.code_for("alice"); };
            one_login("lwauth-bus", "alice", alice);  // warm
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            counter.reset();
            constexpr int kLogins = 20;
            for (int i = 0; i < kLogins; ++i) {
                if (one_login("lwauth-bus", "alice", alice) != PAM_SUCCESS) {
                    ++failed_total;
                }
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            for (auto& [what, count] : counter.counts()) {
                per_login[what] = (count + kLogins / 2) / kLogins;
            }
        }
    }

    std::printf("\n### lwauth's floor (on this machine, this filesystem: %s)\n\n",
                floor_dir.c_str());
    std::printf("| operation | samples | p50 | p99 | note |\n| --- | --- | --- | --- | --- |\n");
    for (auto& f : floors) {
        std::printf("| %s | %zu | %s | %s | %s |\n", f.what.c_str(), f.us.size(),
                    fmt_us(pct(f.us, 0.5)).c_str(), fmt_us(pct(f.us, 0.99)).c_str(),
                    f.note.c_str());
    }
    std::printf("| one lwauth login over the socket (from the table above) | %zu | %s | %s | |\n",
                rows[0].stats.us.size(), fmt_us(lwauth_p50).c_str(),
                fmt_us(pct(rows[0].stats.us, 0.99)).c_str());
    std::printf("| one lwauth login over the bus (from the table above) | %zu | %s | %s | |\n",
                rows[1].stats.us.size(), fmt_us(pct(rows[1].stats.us, 0.5)).c_str(),
                fmt_us(pct(rows[1].stats.us, 0.99)).c_str());
    std::printf("| one pam_permit login: libpam alone (from the table above) | %zu | %s | %s | |\n",
                rows[4].stats.us.size(), fmt_us(pct(rows[4].stats.us, 0.5)).c_str(),
                fmt_us(pct(rows[4].stats.us, 0.99)).c_str());

    std::printf(
        "\n### Messages the bus routes for one lwauth login over the bus (a monitor, mean of 20 "
        "logins)\n\n");
    if (!monitor_error.empty()) {
        std::printf(
            "(no monitor: BecomeMonitor answered %s; the bus runs the shipped policy, "
            "which allows only the org.freedesktop.DBus interface of the bus. Run with "
            "--syscalls for lwauthd's messages counted by strace.)\n",
            monitor_error.c_str());
    } else {
        std::printf("| message | per login |\n| --- | --- |\n");
        for (auto& [what, count] : per_login) {
            std::printf("| %s | %d |\n", what.c_str(), count);
        }
    }

    if (args.syscalls && daemon_pid > 0) {
        constexpr int kLogins = 200;
        std::string report = strace_counts(daemon_pid, dir / "strace.txt", [&] {
            Person alice;
            alice.answer = [&] { return outbox.code_for("alice"); };
            for (int i = 0; i < kLogins; ++i) {
                one_login("lwauth-socket", "alice", alice);
            }
        });
        std::printf(
            "\n### lwauthd's system calls for %d sequential logins (strace -c -f)\n\n```\n%s```\n",
            kLogins, report.c_str());
    }

    // ---- 3. concurrency ----
    std::printf(
        "\n### lwauth with parallel conversations (%.0f s each; a thread, a PAM handle and a "
        "connection per conversation; a user per thread)\n\n",
        args.seconds);
    std::printf(
        "| path | conversations | logins | failures | logins/s | p50 | p99 | ÷ fastest peer's "
        "sequential | CPU per login, ms: PAM process | lwauthd | dbus-daemon | total |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (const char* path : {"socket", "bus"}) {
        bool first_row = true;
        for (int c : args.concurrency) {
            // A fresh lwauthd on a fresh state directory for each row, so that the caps count
            // the sends of this row alone: through one lwauthd, a full run does more than
            // the host's cap allows in an hour (100,000, the policy's upper bound).
            daemon_pid = start_fresh(daemon, filled_state);
            if (daemon_pid < 0) {
                return 1;
            }
            // Thread i takes users i, i + c, i + 2c... of the pool: no two threads share one.
            std::vector<std::vector<std::string>> users(static_cast<size_t>(c));
            for (size_t u = 0; u < pool.size(); ++u) {
                users[u % users.size()].push_back(pool[u]);
            }
            // The profile starts once the conversations' threads run, so that it sees them.
            PerfRecord perf;
            std::function<void()> perf_start;
            if (first_row && !args.perf_dir.empty()) {
                perf_start = [&, path] {
                    fs::create_directories(args.perf_dir);
                    std::vector<pid_t> pids{daemon_pid, getpid()};
                    if (std::string(path) == "bus") {
                        pids.push_back(bus_pid);
                    }
                    perf.start(pids, fs::path(args.perf_dir) / (std::string(path) + ".data"));
                };
            }
            RunStats s = run_logins(
                std::string("lwauth-") + path, users,
                [&](const std::string& u) { return outbox.code_for(u); }, warmup, args.seconds,
                daemon_pid, bus_pid, perf_start, [&] { perf.stop(); });
            first_row = false;
            failed_total += static_cast<int>(s.failures);
            std::printf("| %s | %d | %zu | %s | %.0f | %s | %s | %.2f | %s |\n", path, c,
                        s.us.size(), failures_text(s).c_str(), s.rate(),
                        fmt_us(pct(s.us, 0.5)).c_str(), fmt_us(pct(s.us, 0.99)).c_str(),
                        fastest_peer > 0 ? s.rate() / fastest_peer : 0.0, cpu_text(s).c_str());
            std::fflush(stdout);
        }
    }
    std::printf(
        "\n(a fresh lwauthd on a fresh state directory for each row, the last pid %d; "
        "dbus-daemon pid %d; CPU of this process from getrusage, of the others from "
        "/proc/PID/stat, %ld ticks/s)\n",
        static_cast<int>(daemon_pid), static_cast<int>(bus_pid), sysconf(_SC_CLK_TCK));
    sd_bus_flush_close_unref(private_probe);
    sd_bus_flush_close_unref(probe);
    daemon.stop();
    return failed_total == 0 ? 0 : 2;
}
