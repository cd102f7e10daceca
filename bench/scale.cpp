// Scale: how lwauthd behaves with many logins waiting at their prompt, with many users in
// its store, and with a large policy.
//
//   scale [--waiting 10000] [--users 100000] [--starts 2000] [--answers 1000] [--threads 4]
//         [--repeat 10] [--parts 123]                     (as root)
//
// 1. WAITING logins started (Login.Start, mode=second_factor) and left at their prompt;
//    lwauthd's RSS before and with them waiting, Start latency, then Answer latency for
//    ANSWERS of them. The engine refuses logins beyond LoginEngine::kMaxPendingLogins, so
//    the same run is repeated at exactly that many.
// 2. Start latency (each login cancelled right after) with 100 and with USERS users in the
//    store, written before lwauthd starts.
// 3. lwauthd start-up (spawn to bus name owned), Admin.ReloadPolicy and
//    `lwauthctl policy check` with the small policy and with 1,000 [user:]/[group:] sections.
//
// Prints Markdown tables; times are reported, never asserted.
#include <sqlite3.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "codes.hpp"
#include "harness.hpp"
#include "login/engine.hpp"
#include "store/contact_cipher.hpp"
#include "store/sqlite_store.hpp"

using namespace lwauth;
using namespace lwauth::test;
using Steady = std::chrono::steady_clock;

namespace {

constexpr const char* kService = "org.lwauth.Auth1";
constexpr const char* kPath = "/org/lwauth/Auth1";
constexpr const char* kLogin = "org.lwauth.Auth1.Login";
constexpr const char* kAdmin = "org.lwauth.Auth1.Admin";

struct Options {
    int waiting = 10000;
    int users = 100000;
    int starts = 2000;
    int answers = 1000;
    int threads = 4;
    int repeat = 10;
    std::string parts = "123";  // which parts to run
};

double ms_since(Steady::time_point t) {
    return std::chrono::duration<double, std::milli>(Steady::now() - t).count();
}

// Nearest-rank percentile of a sorted copy.
struct Stats {
    size_t n = 0;
    double p50 = 0;
    double p99 = 0;
    double max = 0;
};

Stats stats_of(std::vector<double> v) {
    Stats s;
    s.n = v.size();
    if (v.empty()) {
        return s;
    }
    std::sort(v.begin(), v.end());
    auto at = [&](double p) {
        size_t i = std::min(v.size() - 1,
                            static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
        return v[i];
    };
    s.p50 = at(0.5);
    s.p99 = at(0.99);
    s.max = v.back();
    return s;
}

std::vector<std::string> g_rows;  // the latency table, printed at the end as well

void row(const std::string& what, const std::vector<double>& ms, const std::string& note) {
    Stats s = stats_of(ms);
    char buf[512];
    std::snprintf(buf, sizeof buf, "| %s | %zu | %.2f ms | %.2f ms | %.2f ms | %s |", what.c_str(),
                  s.n, s.p50, s.p99, s.max, note.c_str());
    g_rows.emplace_back(buf);
    std::printf("%s\n", buf);
    std::fflush(stdout);
}

std::vector<std::string> g_rss;

struct Memory {
    long rss_kib = 0;
    long hwm_kib = 0;
};

Memory memory_of(pid_t pid) {
    Memory m;
    std::string status = read_file("/proc/" + std::to_string(pid) + "/status");
    auto field = [&](const char* name) {
        auto at = status.find(name);
        return at == std::string::npos ? 0L : std::stol(status.substr(at + std::strlen(name)));
    };
    m.rss_kib = field("VmRSS:");
    m.hwm_kib = field("VmHWM:");
    return m;
}

// lwauthd's CPU time (user + system) so far, in ms.
double cpu_ms(pid_t pid) {
    std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
    auto close = stat.rfind(')');
    std::vector<std::string> fields;
    size_t at = close + 2;
    while (at < stat.size()) {
        size_t end = stat.find(' ', at);
        fields.push_back(stat.substr(at, end == std::string::npos ? std::string::npos : end - at));
        if (end == std::string::npos) {
            break;
        }
        at = end + 1;
    }
    // Fields 14 and 15 (utime, stime) are at 11 and 12 counting from field 3 (state).
    if (fields.size() < 13) {
        return 0;
    }
    return static_cast<double>(std::stoll(fields[11]) + std::stoll(fields[12])) * 1000.0 /
           static_cast<double>(sysconf(_SC_CLK_TCK));
}

void rss_row(const std::string& run, const std::string& when, pid_t pid,
             const std::string& note = "") {
    Memory m = memory_of(pid);
    char buf[512];
    std::snprintf(buf, sizeof buf, "| %s | %s | %.1f MiB | %.1f MiB | %s |", run.c_str(),
                  when.c_str(), static_cast<double>(m.rss_kib) / 1024.0,
                  static_cast<double>(m.hwm_kib) / 1024.0, note.c_str());
    g_rss.emplace_back(buf);
    std::printf("%s\n", buf);
    std::fflush(stdout);
}

sd_bus* connect(const std::string& address) {
    sd_bus* bus = nullptr;
    if (sd_bus_new(&bus) < 0 || sd_bus_set_address(bus, address.c_str()) < 0 ||
        sd_bus_set_bus_client(bus, 1) < 0 || sd_bus_start(bus) < 0) {
        throw std::runtime_error("cannot connect to the private bus");
    }
    return bus;
}

// --- the store -------------------------------------------------------------------------

std::string user_name(int i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "u%06d", i);
    return buf;
}

// Users u000000..u(N-1), each with 2-step on and a verified email, written before lwauthd
// starts: the project's store creates the schema and contacts.key, then one raw
// transaction inserts every row, sealed as the store seals them (binding user "\n" kind).
double populate(const fs::path& state_dir, int users) {
    auto t0 = Steady::now();
    fs::create_directories(state_dir);
    // lwauthd starts only on a state directory of its own with no group or other bits.
    fs::permissions(state_dir, fs::perms::owner_all);
    std::string db_path = (state_dir / "lwauth.db").string();
    std::string key_path = (state_dir / "contacts.key").string();
    OpenSslRandom random;
    { SqliteStore store(db_path, ContactCipher(load_or_create_key(key_path, random), random)); }
    ContactCipher cipher(load_or_create_key(key_path, random), random);
    sqlite3* db = nullptr;
    if (sqlite3_open(db_path.c_str(), &db) != SQLITE_OK) {
        throw std::runtime_error("cannot open " + db_path);
    }
    auto exec = [&](const char* sql) {
        char* err = nullptr;
        if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
            std::string text = err ? err : "?";
            sqlite3_free(err);
            throw std::runtime_error(std::string(sql) + ": " + text);
        }
    };
    exec("BEGIN");
    sqlite3_stmt* add_user = nullptr;
    sqlite3_stmt* add_contact = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO users (name, two_step) VALUES (?, 1)", -1, &add_user,
                       nullptr);
    sqlite3_prepare_v2(db,
                       "INSERT INTO contacts (user, kind, source, sealed_value, verified_at) "
                       "VALUES (?, 'email', 'self', ?, strftime('%s','now'))",
                       -1, &add_contact, nullptr);
    for (int i = 0; i < users; ++i) {
        std::string user = user_name(i);
        std::string sealed = cipher.seal(user + "@example.test", user + "\nemail");
        sqlite3_bind_text(add_user, 1, user.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(add_contact, 1, user.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_blob(add_contact, 2, sealed.data(), static_cast<int>(sealed.size()),
                          SQLITE_TRANSIENT);
        if (sqlite3_step(add_user) != SQLITE_DONE || sqlite3_step(add_contact) != SQLITE_DONE) {
            throw std::runtime_error(std::string("insert: ") + sqlite3_errmsg(db));
        }
        sqlite3_reset(add_user);
        sqlite3_reset(add_contact);
    }
    sqlite3_finalize(add_user);
    sqlite3_finalize(add_contact);
    exec("COMMIT");
    sqlite3_close(db);
    return ms_since(t0);
}

// --- lwauthd ---------------------------------------------------------------------------

std::string login_policy(const fs::path& outbox, const std::string& extra = "") {
    // The caps at the parser's maxima (1000, 1000, 100000): each run's users get at most
    // a few dozen codes, so they never bite.
    return "[policy]\ntwo_step = optional\n"
           "\n[code]\nchannels = email\nresend_interval = 0s\n"
           "max_sends_per_hour = 1000\nmax_sends_per_destination_per_hour = 1000\n"
           "max_sends_per_host_per_hour = 100000\n"
           "\n[login]\ntimeout = 1h\n"
           "\n[channel.outbox]\ntype = outbox\npath = " +
           outbox.string() + "\n\n" + extra;
}

std::string big_sections(int users, int groups) {
    std::string out;
    for (int i = 0; i < users; ++i) {
        out += "[user:" + user_name(i) + "]\ntwo_step = required\ncode.length = 8\n\n";
    }
    for (int i = 0; i < groups; ++i) {
        out += "[group:grp" + std::to_string(i) + "]\ntwo_step = optional\ncode.length = 7\n\n";
    }
    return out;
}

// lwauthd on the private bus, as Daemon::start() runs it, but started here so that the
// start-up is timed by the NameOwnerChanged signal (not by polling) and the pid is known.
class Lwauthd {
  public:
    Lwauthd(const fs::path& dir, const std::string& address) : dir_(dir), address_(address) {
        watch_ = connect(address);
        sd_bus_match_signal(watch_, nullptr, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                            "org.freedesktop.DBus", "NameOwnerChanged", on_owner, this);
        // The match is in place before anything starts.
        sd_bus_call_method(watch_, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                           "org.freedesktop.DBus", "GetId", nullptr, nullptr, "");
    }
    ~Lwauthd() {
        stop();
        sd_bus_flush_close_unref(watch_);
    }

    // Spawns lwauthd and waits for it to own its name; the time taken, or -1.
    double start() {
        owned_ = false;
        auto env = nss_wrapper_env(dir_);
        env["DBUS_SYSTEM_BUS_ADDRESS"] = address_;
        auto t0 = Steady::now();
        process_ = Process({lwauthd_path().string(), "--config", (dir_ / "etc").string(),
                            "--state-dir", (dir_ / "state").string(), "--log-target", "stderr"},
                           env, dir_ / "lwauthd.log");
        while (!owned_) {
            if (ms_since(t0) > 60000 || !process_.running()) {
                std::fprintf(stderr, "lwauthd did not start:\n%s\n",
                             read_file(dir_ / "lwauthd.log").c_str());
                return -1;
            }
            if (sd_bus_process(watch_, nullptr) == 0) {
                sd_bus_wait(watch_, 100 * 1000);
            }
        }
        return ms_since(t0);
    }

    // SIGTERM, and wait until the name is free again.
    void stop() {
        if (!process_.running()) {
            return;
        }
        process_.stop(SIGTERM, std::chrono::seconds(30));
        auto t0 = Steady::now();
        while (owned_ && ms_since(t0) < 10000) {
            if (sd_bus_process(watch_, nullptr) == 0) {
                sd_bus_wait(watch_, 100 * 1000);
            }
        }
    }

    [[nodiscard]] pid_t pid() const { return process_.pid(); }
    [[nodiscard]] std::string log() const { return read_file(dir_ / "lwauthd.log"); }

  private:
    static int on_owner(sd_bus_message* m, void* userdata, sd_bus_error*) {
        auto* self = static_cast<Lwauthd*>(userdata);
        const char* name = nullptr;
        const char* old_owner = nullptr;
        const char* new_owner = nullptr;
        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) >= 0 &&
            std::strcmp(name, kService) == 0) {
            self->owned_ = new_owner != nullptr && *new_owner != '\0';
        }
        return 0;
    }

    fs::path dir_;
    std::string address_;
    sd_bus* watch_ = nullptr;
    bool owned_ = false;
    Process process_;
};

// A private bus, the test users (nss_wrapper), a policy, a store with `users` users and
// lwauthd, all in one temporary directory.
struct Setup {
    TempDir dir{"lwauth-bench-scale"};
    PrivateBus bus{dir.path()};
    Daemon files;  // only for the layout: policy, state and outbox paths; never started
    Lwauthd daemon{dir.path(), bus.address()};
    double populate_ms = 0;

    Setup(int users, const std::string& extra_policy = "")
        : files(dir.path(), bus.address(), login_policy(dir / "outbox.jsonl", extra_policy)) {
        if (users > 0) {
            populate_ms = populate(files.state_dir(), users);
        }
    }
};

// --- logins ----------------------------------------------------------------------------

struct StartResult {
    double ms = 0;
    std::string id;     // non-empty when the login waits at its prompt
    std::string error;  // the D-Bus error name, or "verdict:..." without a prompt
    std::string user;
};

StartResult start_login(sd_bus* bus, const std::string& user) {
    StartResult out;
    out.user = user;
    sd_bus_error error = SD_BUS_ERROR_NULL;
    sd_bus_message* reply = nullptr;
    auto t0 = Steady::now();
    int r = sd_bus_call_method(bus, kService, kPath, kLogin, "Start", &error, &reply, "a{sv}", 3,
                               "user", "s", user.c_str(), "service", "s", "bench", "mode", "s",
                               "second_factor");
    out.ms = ms_since(t0);
    if (r < 0) {
        out.error = error.name ? error.name : "errno";
    } else {
        const char* id = nullptr;
        const char* prompt = nullptr;
        const char* verdict = nullptr;
        int echo = 0;
        sd_bus_message_read(reply, "s", &id);
        sd_bus_message_skip(reply, "a(ss)");
        sd_bus_message_read(reply, "sbs", &prompt, &echo, &verdict);
        if (id != nullptr && *id != '\0') {
            out.id = id;
        } else {
            out.error = std::string("verdict:") + (verdict ? verdict : "?");
        }
    }
    sd_bus_message_unref(reply);
    sd_bus_error_free(&error);
    return out;
}

// Answers login `id`; the verdict ("success"...), or the D-Bus error name.
std::string answer_login(sd_bus* bus, const std::string& id, const std::string& code,
                         double& ms) {
    sd_bus_error error = SD_BUS_ERROR_NULL;
    sd_bus_message* reply = nullptr;
    auto t0 = Steady::now();
    int r = sd_bus_call_method(bus, kService, kPath, kLogin, "Answer", &error, &reply, "ss",
                               id.c_str(), code.c_str());
    ms = ms_since(t0);
    std::string out;
    if (r < 0) {
        out = error.name ? error.name : "errno";
    } else {
        const char* rid = nullptr;
        const char* prompt = nullptr;
        const char* verdict = nullptr;
        int echo = 0;
        sd_bus_message_read(reply, "s", &rid);
        sd_bus_message_skip(reply, "a(ss)");
        sd_bus_message_read(reply, "sbs", &prompt, &echo, &verdict);
        out = verdict && *verdict ? verdict : "prompt again";
    }
    sd_bus_message_unref(reply);
    sd_bus_error_free(&error);
    return out;
}

bool cancel_login(sd_bus* bus, const std::string& id) {
    return sd_bus_call_method(bus, kService, kPath, kLogin, "Cancel", nullptr, nullptr, "s",
                              id.c_str()) >= 0;
}

std::string counts_note(const std::map<std::string, int>& counts) {
    std::string out;
    for (const auto& [what, n] : counts) {
        out += (out.empty() ? "" : ", ") + std::to_string(n) + " " + what;
    }
    return out;
}

// Part 1: `waiting` logins, one user each, started from `threads` root connections (one
// call at a time on each) and left at the prompt; then `answers` of them answered.
int run_waiting(const Options& o, int waiting, const std::string& label) {
    Setup setup(waiting);
    double up = setup.daemon.start();
    if (up < 0) {
        return 1;
    }
    pid_t pid = setup.daemon.pid();
    rss_row(label, "idle, after start", pid, std::to_string(waiting) + " users in the store");

    int threads = std::max(1, o.threads);
    std::vector<sd_bus*> connections;
    for (int t = 0; t < threads; ++t) {
        connections.push_back(connect(setup.bus.address()));
    }
    std::vector<std::vector<StartResult>> results(static_cast<size_t>(threads));
    double cpu0 = cpu_ms(pid);
    auto t0 = Steady::now();
    {
        std::vector<std::thread> workers;
        for (int t = 0; t < threads; ++t) {
            workers.emplace_back([&, t] {
                for (int i = t; i < waiting; i += threads) {
                    results[static_cast<size_t>(t)].push_back(
                        start_login(connections[static_cast<size_t>(t)], user_name(i)));
                }
            });
        }
        for (auto& w : workers) {
            w.join();
        }
    }
    double wall = ms_since(t0);
    double cpu = cpu_ms(pid) - cpu0;
    // In the order the calls were made (thread-interleaved, by user index), to see the
    // latency as the number of pending logins grows.
    std::vector<const StartResult*> all;
    for (const auto& r : results) {
        for (const auto& s : r) {
            all.push_back(&s);
        }
    }
    std::sort(all.begin(), all.end(),
              [](const StartResult* a, const StartResult* b) { return a->user < b->user; });
    std::vector<double> accepted;
    std::vector<double> refused;
    std::map<std::string, int> outcomes;
    for (const auto* s : all) {
        if (!s->id.empty()) {
            accepted.push_back(s->ms);
        } else {
            refused.push_back(s->ms);
            ++outcomes[s->error];
        }
    }
    char note[256];
    std::snprintf(note, sizeof note,
                  "%zu of %d accepted, %.0f ms wall, %d connections; lwauthd CPU %.0f ms for all "
                  "%d Starts",
                  accepted.size(), waiting, wall, threads, cpu, waiting);
    row(label + ": Start, accepted (waits at prompt)", accepted, note);
    size_t slice = std::min<size_t>(500, accepted.size());
    if (accepted.size() >= 2 * slice && slice > 0) {
        row(label + ": Start, first 500 accepted",
            std::vector<double>(accepted.begin(), accepted.begin() + static_cast<long>(slice)),
            "0-500 pending");
        row(label + ": Start, last 500 accepted",
            std::vector<double>(accepted.end() - static_cast<long>(slice), accepted.end()),
            std::to_string(accepted.size() - slice) + "+ pending");
    }
    if (!refused.empty()) {
        row(label + ": Start, refused", refused, counts_note(outcomes));
    }
    rss_row(label, std::to_string(accepted.size()) + " waiting", pid);

    // Codes from the outbox: one line per login, one user per login.
    std::map<std::string, std::string> code_of;
    for (const auto& m : read_outbox(setup.files.outbox())) {
        code_of[m.user] = m.code();
    }
    std::vector<std::vector<double>> answer_ms(static_cast<size_t>(threads));
    std::vector<std::map<std::string, int>> verdicts(static_cast<size_t>(threads));
    int per_thread = (o.answers + threads - 1) / threads;
    double answer_cpu0 = cpu_ms(pid);
    {
        std::vector<std::thread> workers;
        for (int t = 0; t < threads; ++t) {
            workers.emplace_back([&, t] {
                int done = 0;
                for (const auto& s : results[static_cast<size_t>(t)]) {
                    if (done >= per_thread) {
                        break;
                    }
                    if (s.id.empty()) {
                        continue;
                    }
                    double ms = 0;
                    std::string verdict = answer_login(connections[static_cast<size_t>(t)], s.id,
                                                       code_of[s.user], ms);
                    answer_ms[static_cast<size_t>(t)].push_back(ms);
                    ++verdicts[static_cast<size_t>(t)][verdict];
                    ++done;
                }
            });
        }
        for (auto& w : workers) {
            w.join();
        }
    }
    std::vector<double> answered;
    std::map<std::string, int> verdict_counts;
    for (int t = 0; t < threads; ++t) {
        answered.insert(answered.end(), answer_ms[static_cast<size_t>(t)].begin(),
                        answer_ms[static_cast<size_t>(t)].end());
        for (const auto& [v, n] : verdicts[static_cast<size_t>(t)]) {
            verdict_counts[v] += n;
        }
    }
    char answer_note[128];
    std::snprintf(answer_note, sizeof answer_note, "; lwauthd CPU %.0f ms",
                  cpu_ms(pid) - answer_cpu0);
    row(label + ": Answer, right code", answered,
        counts_note(verdict_counts) + "; the others still waiting" + answer_note);
    rss_row(label, "after " + std::to_string(answered.size()) + " answered", pid);
    for (sd_bus* c : connections) {
        sd_bus_flush_close_unref(c);
    }
    setup.daemon.stop();
    return 0;
}

// Part 2: Start latency with `users` users in the store; each login cancelled at once.
int run_store(const Options& o, int users) {
    Setup setup(users);
    std::string label = std::to_string(users) + " users in store";
    std::printf("(populated %d users in %.0f ms)\n", users, setup.populate_ms);
    if (setup.daemon.start() < 0) {
        return 1;
    }
    int threads = std::max(1, o.threads);
    std::vector<std::vector<double>> ms(static_cast<size_t>(threads));
    std::vector<std::map<std::string, int>> failures(static_cast<size_t>(threads));
    constexpr int kWarmUp = 20;  // per connection, not counted
    auto t0 = Steady::now();
    std::vector<std::thread> workers;
    std::atomic<int> next{0};
    std::atomic<int> warm{0};
    double cpu0 = 0;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            sd_bus* bus = connect(setup.bus.address());
            for (int w = 0; w < kWarmUp; ++w) {
                auto s = start_login(bus, user_name((w * 7919 + t) % users));
                if (!s.id.empty()) {
                    cancel_login(bus, s.id);
                }
            }
            // The CPU count starts once every connection has warmed up.
            if (++warm == threads) {
                cpu0 = cpu_ms(setup.daemon.pid());
            }
            while (warm < threads) {
                std::this_thread::yield();
            }
            int i;
            while ((i = next++) < o.starts) {
                // Users spread over the whole store (a stride coprime with the count).
                auto s = start_login(
                    bus, user_name(static_cast<int>((static_cast<int64_t>(i) * 48271 + 13) %
                                                    users)));
                if (s.id.empty()) {
                    ++failures[static_cast<size_t>(t)][s.error];
                } else {
                    ms[static_cast<size_t>(t)].push_back(s.ms);
                    cancel_login(bus, s.id);
                }
            }
            sd_bus_flush_close_unref(bus);
        });
    }
    for (auto& w : workers) {
        w.join();
    }
    double wall = ms_since(t0);
    double cpu = cpu_ms(setup.daemon.pid()) - cpu0;
    std::vector<double> all;
    std::map<std::string, int> failed;
    for (int t = 0; t < threads; ++t) {
        all.insert(all.end(), ms[static_cast<size_t>(t)].begin(), ms[static_cast<size_t>(t)].end());
        for (const auto& [e, n] : failures[static_cast<size_t>(t)]) {
            failed[e] += n;
        }
    }
    char note[256];
    std::snprintf(note, sizeof note,
                  "each cancelled after; %.0f ms wall (with warm-up), %d connections; lwauthd "
                  "CPU %.0f ms%s%s",
                  wall, threads, cpu, failed.empty() ? "" : "; not prompted: ",
                  counts_note(failed).c_str());
    row("Start, " + label, all, note);
    rss_row(label, "after " + std::to_string(o.starts) + " Start+Cancel", setup.daemon.pid(),
            "db " + std::to_string(fs::file_size(setup.files.state_dir() / "lwauth.db") / 1024) +
                " KiB");
    setup.daemon.stop();
    return 0;
}

// Part 3: start-up, reload and policy check, small policy vs 1,000 sections.
int run_policy(const Options& o) {
    Setup setup(0);
    std::string small = login_policy(setup.dir / "outbox.jsonl");
    std::string big = login_policy(setup.dir / "outbox.jsonl", big_sections(500, 500));
    for (const auto& [name, text] :
         {std::pair<std::string, std::string>{"small policy", small}, {"1,000 sections", big}}) {
        setup.files.write_policy(text);
        std::vector<double> up;
        for (int i = 0; i < o.repeat; ++i) {
            double ms = setup.daemon.start();
            if (ms < 0) {
                return 1;
            }
            up.push_back(ms);
            setup.daemon.stop();
        }
        row("lwauthd start-up, " + name, up,
            "spawn to NameOwnerChanged; " + std::to_string(text.size() / 1024) +
                " KiB policy; state dir exists after the first");
    }
    // Reload: the daemon runs; ReloadPolicy as root, round trip.
    setup.files.write_policy(small);
    if (setup.daemon.start() < 0) {
        return 1;
    }
    sd_bus* bus = connect(setup.bus.address());
    for (const auto& [name, text] :
         {std::pair<std::string, std::string>{"small policy", small}, {"1,000 sections", big}}) {
        setup.files.write_policy(text);
        std::vector<double> ms;
        std::string failed;
        for (int i = 0; i < o.repeat; ++i) {
            sd_bus_error error = SD_BUS_ERROR_NULL;
            auto t0 = Steady::now();
            int r = sd_bus_call_method(bus, kService, kPath, kAdmin, "ReloadPolicy", &error,
                                       nullptr, "");
            ms.push_back(ms_since(t0));
            if (r < 0) {
                failed = error.message ? error.message : "failed";
            }
            sd_bus_error_free(&error);
        }
        row("Admin.ReloadPolicy, " + name, ms, failed.empty() ? "round trip" : failed);
    }
    sd_bus_flush_close_unref(bus);
    rss_row("policy", "1,000 sections loaded", setup.daemon.pid());
    setup.daemon.stop();
    for (const auto& [name, text] :
         {std::pair<std::string, std::string>{"small policy", small}, {"1,000 sections", big}}) {
        setup.files.write_policy(text);
        std::vector<double> ms;
        int status = 0;
        for (int i = 0; i < o.repeat; ++i) {
            auto t0 = Steady::now();
            auto r = run({lwauthctl_path().string(), "policy", "check",
                          setup.files.config_dir().string()},
                         base_env());
            ms.push_back(ms_since(t0));
            status = r.exit_code;
        }
        row("lwauthctl policy check, " + name, ms,
            "process spawn to exit; exit status " + std::to_string(status));
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        auto value = [&]() -> int {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "%s needs a value\n", arg.c_str());
                std::exit(2);
            }
            return std::stoi(argv[++i]);
        };
        if (arg == "--waiting") {
            o.waiting = value();
        } else if (arg == "--users") {
            o.users = value();
        } else if (arg == "--starts") {
            o.starts = value();
        } else if (arg == "--answers") {
            o.answers = value();
        } else if (arg == "--threads") {
            o.threads = value();
        } else if (arg == "--repeat") {
            o.repeat = value();
        } else if (arg == "--parts" && i + 1 < argc) {
            o.parts = argv[++i];
        } else {
            std::fprintf(stderr,
                         "usage: scale [--waiting 10000] [--users 100000] [--starts 2000] "
                         "[--answers 1000] [--threads 4] [--repeat 10] [--parts 123]\n");
            return 2;
        }
    }
    if (geteuid() != 0) {
        std::fprintf(stderr, "scale: run as root\n");
        return 2;
    }
    auto part = [&](char c) { return o.parts.find(c) != std::string::npos; };
    int rc = 0;
    if (part('1')) {
        rc |= run_waiting(o, o.waiting, std::to_string(o.waiting) + " logins");
        auto cap = static_cast<int>(LoginEngine::kMaxPendingLogins);
        if (o.waiting != cap) {
            rc |= run_waiting(o, cap, std::to_string(cap) + " logins");
        }
    }
    if (part('2')) {
        rc |= run_store(o, 100);
        rc |= run_store(o, o.users);
    }
    if (part('3')) {
        rc |= run_policy(o);
    }

    std::printf("\n## Latency\n\n| what | n | p50 | p99 | max | note |\n| --- | --- | --- | --- | "
                "--- | --- |\n");
    for (const auto& r : g_rows) {
        std::printf("%s\n", r.c_str());
    }
    std::printf("\n## lwauthd memory\n\n| run | when | VmRSS | VmHWM | note |\n| --- | --- | --- "
                "| --- | --- |\n");
    for (const auto& r : g_rss) {
        std::printf("%s\n", r.c_str());
    }
    return rc;
}
