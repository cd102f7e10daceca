// The LINE endpoint under junk: while lwauthd's LINE Login endpoint takes --rate junk
// requests a second, do logins through pam_lwauth.so still succeed, and does lwauthd
// still answer its bus callers in time?
//
//   line_junk [--seconds 10] [--rate 1000] [--threads 8] [--slow 4] [--sources N]  (as root)
//
// lwauthd runs login_cost's policy (2-step, codes to the outbox) plus a [line] section
// listening on a free loopback port. Two phases of --seconds each, each on a fresh
// lwauthd started on a fresh copy of the same state: without junk, then with it. In each:
//   - logins: sequential 2-step logins through the real libpam and pam_lwauth.so (under
//     pam_wrapper), the code read from the outbox, going round 1,024 users;
//   - Status: Account.Status from a bus connection of its own every 10 ms, one call at a
//     time, its latency measured;
//   - junk (second phase only): --threads threads, each paced evenly at its share of
//     --rate, one request per connection: unknown paths, short links with random and
//     malformed tokens, callbacks with unknown state or an error, bad percent-escapes,
//     oversized headers and bodies, wrong methods, bytes that are not HTTP, POSTs to the
//     confirmation route with random tokens; each answer counted by its status (or how
//     the connection ended). --slow clients open a connection and send nothing, again
//     each time lwauthd closes it. Junk threads connect from --sources loopback addresses
//     127.0.0.10... (default one per thread, as distinct clients; 1 puts every request
//     behind one address, as a TLS proxy on the host would), the slow clients from
//     127.0.0.9.
//
// Prints Markdown tables; every figure in them is measured in the run. Nothing asserts a
// time. Exits 2 when a login failed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <random>
#include <thread>

#include "bench_support.hpp"

using namespace lwauth;
using namespace lwauth::test;
using namespace lwauth::bench;
using Steady = std::chrono::steady_clock;

namespace {

constexpr int kUsers = 1024;
constexpr auto kStatusEvery = std::chrono::milliseconds(10);
constexpr int kAnswerTimeoutS = 3;  // a junk request with no answer by then counts as such

struct Args {
    double seconds = 10;
    int rate = 1000;
    int threads = 8;
    int slow = 4;
    int sources = 0;  // 0: one per junk thread
};

Args parse_args(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (i + 1 >= argc) {
            arg = "";
        }
        if (arg == "--seconds") {
            a.seconds = std::stod(argv[++i]);
        } else if (arg == "--rate") {
            a.rate = std::max(1, std::stoi(argv[++i]));
        } else if (arg == "--threads") {
            a.threads = std::max(1, std::stoi(argv[++i]));
        } else if (arg == "--slow") {
            a.slow = std::max(0, std::stoi(argv[++i]));
        } else if (arg == "--sources") {
            a.sources = std::max(1, std::min(200, std::stoi(argv[++i])));
        } else {
            std::fprintf(stderr,
                         "usage: line_junk [--seconds N] [--rate N] [--threads N] [--slow N] "
                         "[--sources N]\n");
            std::exit(64);
        }
    }
    if (a.sources == 0) {
        a.sources = std::min(200, a.threads);
    }
    return a;
}

// ---- junk requests ---------------------------------------------------------------------

std::string random_token(std::mt19937_64& rng, size_t length) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out(length, 'A');
    for (char& c : out) {
        c = kAlphabet[rng() % 64];
    }
    return out;
}

template <size_t N>
const char* pick(std::mt19937_64& rng, const char* const (&choices)[N]) {
    return choices[rng() % N];
}

std::string get(const std::string& target, const std::string& extra_headers = "") {
    return "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: junk\r\n" +
           extra_headers + "\r\n";
}

std::string post(const std::string& target, const std::string& body) {
    return "POST " + target +
           " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
           "Content-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
}

struct Junk {
    const char* kind;
    std::string bytes;
};

// The n-th junk request: the kinds take turns, their details drawn from `rng`.
Junk junk_request(uint64_t n, std::mt19937_64& rng) {
    static const char* const kPaths[] = {"/wp-login.php",
                                         "/.env",
                                         "/admin",
                                         "/line",
                                         "/l/",
                                         "/line/callbackx",
                                         "/%2e%2e/%2e%2e/etc/passwd",
                                         "/"};
    static const char* const kBadTokens[] = {
        "",           "%00",         "a%00b", "<script>alert(1)</script>", "AAAA&k=BBBB",
        "..%2f..%2f", "%F0%9F%92%A9"};
    static const char* const kBadEscapes[] = {"/l?k=%zz%4", "/line/callback?state=%E0%&code=%",
                                              "/l?k=%", "/line/callback?state=%%%&code=%G1",
                                              "/l%zz?k=1"};
    static const char* const kNotHttp[] = {
        "GARBAGE\r\n\r\n", "\x16\x03\x01\x02\x31\x01\x02\x2d\x03\x03\r\n\r\n",
        "GET /l HTTP/9.9\r\n\r\n", "GET\r\n\r\n", "GET /l HTTP/1.1\r\nHost\r\n\r\n"};
    switch (n % 11) {
        case 0:
            return {"unknown path", get(pick(rng, kPaths))};
        case 1:
            return {"short link, random token", get("/l?k=" + random_token(rng, 22))};
        case 2:
            return {"short link, malformed token",
                    get("/l?k=" + (rng() % 4 == 0 ? random_token(rng, 600)
                                                  : std::string(pick(rng, kBadTokens))))};
        case 3:
            return {"callback, unknown state", get("/line/callback?code=" + random_token(rng, 20) +
                                                   "&state=" + random_token(rng, 43))};
        case 4:
            return {"callback, error", get("/line/callback?error=ACCESS_DENIED&error_description="
                                           "The+user+has+denied&state=" +
                                           random_token(rng, 43))};
        case 5:
            return {"bad percent-escape", get(pick(rng, kBadEscapes))};
        case 6:
            return {"oversized header (16 KiB)",
                    get("/l?k=" + random_token(rng, 22),
                        "X-Junk: " + std::string(16384, 'j') + "\r\n")};
        case 7:
            return {"oversized body (64 KiB)",
                    post("/line/confirm", "confirm=" + std::string(65536, 'b'))};
        case 8:
            return {"confirm, random token",
                    post("/line/confirm", "confirm=" + random_token(rng, 22) +
                                              "&number=" + std::to_string(rng() % 100))};
        case 9:
            return {"wrong method", rng() % 2 == 0
                                        ? "DELETE /l?k=x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                                        : "PUT /line/confirm HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                          "Content-Length: 0\r\n\r\n"};
        default:
            return {"not HTTP", pick(rng, kNotHttp)};
    }
}

// ---- one connection ---------------------------------------------------------------------

// A TCP connection from `source` (a loopback address) to 127.0.0.1:port, or -errno.
int connect_from(const std::string& source, int port, int timeout_s) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    int on = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof on);
    timeval tv{timeout_s, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in from{};
    from.sin_family = AF_INET;
    inet_pton(AF_INET, source.c_str(), &from.sin_addr);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) < 0 ||
        ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0) {
        int e = errno;
        ::close(fd);
        return -e;
    }
    return fd;
}

// Sends `bytes` on a new connection and reads until lwauthd closes it: "404", ...,
// or how the connection ended without a status line.
std::string exchange(const std::string& source, int port, const std::string& bytes) {
    int fd = connect_from(source, port, kAnswerTimeoutS);
    if (fd < 0) {
        return -fd == ECONNREFUSED ? "connection refused"
                                   : std::string("connect failed: ") + std::strerror(-fd);
    }
    bool sent_all = true;
    for (size_t at = 0; at < bytes.size();) {
        ssize_t n = ::send(fd, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
        if (n <= 0) {
            sent_all = false;
            break;
        }
        at += static_cast<size_t>(n);
    }
    std::string answer;
    char buf[4096];
    ssize_t n = 0;
    int error = 0;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
        if (answer.size() < 64) {
            answer.append(buf, static_cast<size_t>(n));
        }
    }
    if (n < 0) {
        error = errno;
    }
    ::close(fd);
    if (answer.rfind("HTTP/1.", 0) == 0 && answer.size() >= 12) {
        return answer.substr(9, 3);
    }
    if (error == EAGAIN || error == EWOULDBLOCK) {
        return "no answer in " + std::to_string(kAnswerTimeoutS) + " s";
    }
    std::string how = error == ECONNRESET ? "reset" : "closed";
    return how + " unanswered" + (sent_all ? "" : " (request cut off)");
}

// ---- the junk generator ---------------------------------------------------------------

struct JunkTally {
    std::map<std::string, long> by_answer;
    std::map<std::string, std::map<std::string, long>> by_kind;
    long sent = 0;
    long slow_opened = 0;
    std::map<std::string, long> slow_ended;  // how each slow connection ended
    std::vector<double> slow_held_s;         // how long lwauthd kept those it kept waiting
};

class JunkGenerator {
  public:
    JunkGenerator(const Args& args, int port) : args_(args), port_(port) {}

    void start(Steady::time_point begin, Steady::time_point end) {
        for (int i = 0; i < args_.threads; ++i) {
            pool_.emplace_back([this, i, begin, end] { send_paced(i, begin, end); });
        }
        for (int i = 0; i < args_.slow; ++i) {
            pool_.emplace_back([this, begin, end] { hold_silent(begin, end); });
        }
    }

    JunkTally join() {
        for (auto& t : pool_) {
            t.join();
        }
        pool_.clear();
        return tally_;
    }

  private:
    // Thread `i` sends requests i, i + threads, ... at begin + k / rate: all threads
    // together, one request every 1/rate s. A thread that falls behind sends at once.
    void send_paced(int i, Steady::time_point begin, Steady::time_point end) {
        std::mt19937_64 rng(0x6a756e6bULL + static_cast<uint64_t>(i));
        std::string source = "127.0.0." + std::to_string(10 + i % args_.sources);
        const double interval_us = 1e6 / args_.rate;
        JunkTally mine;
        for (uint64_t k = static_cast<uint64_t>(i);; k += static_cast<uint64_t>(args_.threads)) {
            auto due = begin + std::chrono::microseconds(
                                   static_cast<long>(static_cast<double>(k) * interval_us));
            if (due >= end) {
                break;
            }
            std::this_thread::sleep_until(due);
            Junk junk = junk_request(k, rng);
            std::string answer = exchange(source, port_, junk.bytes);
            ++mine.sent;
            ++mine.by_answer[answer];
            ++mine.by_kind[junk.kind][answer];
        }
        std::lock_guard lock(mutex_);
        tally_.sent += mine.sent;
        for (auto& [answer, count] : mine.by_answer) {
            tally_.by_answer[answer] += count;
        }
        for (auto& [kind, answers] : mine.by_kind) {
            for (auto& [answer, count] : answers) {
                tally_.by_kind[kind][answer] += count;
            }
        }
    }

    // Opens a connection and sends nothing until lwauthd closes it, then again, until end.
    void hold_silent(Steady::time_point begin, Steady::time_point end) {
        std::this_thread::sleep_until(begin);
        while (Steady::now() < end) {
            int fd = connect_from("127.0.0.9", port_, 1);
            if (fd < 0) {
                count_slow(fd == -ECONNREFUSED ? "connection refused" : "connect failed", -1);
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
                continue;
            }
            auto opened = Steady::now();
            std::string how = "still open at the end";
            while (Steady::now() < end) {
                pollfd p{fd, POLLIN, 0};
                if (::poll(&p, 1, 100) > 0) {
                    char c = 0;
                    ssize_t n = ::recv(fd, &c, 1, 0);
                    how = n > 0 ? "answered" : "closed by lwauthd";
                    break;
                }
            }
            ::close(fd);
            double held_s = std::chrono::duration<double>(Steady::now() - opened).count();
            if (how == "closed by lwauthd" && held_s < 1) {
                // Not kept waiting: closed at once (past the per-address limit). Back off,
                // as a client that wants to hold a connection would.
                how = "closed by lwauthd within 1 s";
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
            count_slow(how, held_s);
        }
    }

    void count_slow(const std::string& how, double held_s) {
        std::lock_guard lock(mutex_);
        ++tally_.slow_ended[how];
        if (held_s >= 0) {
            ++tally_.slow_opened;
            if (how == "closed by lwauthd") {
                tally_.slow_held_s.push_back(held_s);
            }
        }
    }

    const Args& args_;
    int port_;
    std::vector<std::thread> pool_;
    std::mutex mutex_;
    JunkTally tally_;
};

// ---- logins and Status -----------------------------------------------------------------

struct LoginTally {
    long ok = 0;
    std::map<int, long> failed;  // by PAM result
    std::vector<double> us;
};

// Sequential logins through pam_lwauth.so from `begin` until `end`, going round `users`.
LoginTally run_logins(const std::vector<std::string>& users, OutboxTail& outbox,
                      Steady::time_point begin, Steady::time_point end) {
    LoginTally out;
    Person person;
    const std::string* user = nullptr;
    person.answer = [&] { return outbox.code_for(*user); };
    std::this_thread::sleep_until(begin);
    for (size_t turn = 0; Steady::now() < end; ++turn) {
        user = &users[turn % users.size()];
        auto a = Steady::now();
        int rc = one_login("lwauth", user->c_str(), person);
        if (rc == PAM_SUCCESS) {
            ++out.ok;
            out.us.push_back(us_between(a, Steady::now()));
        } else {
            ++out.failed[rc];
        }
    }
    return out;
}

// ---- a phase ---------------------------------------------------------------------------

struct Phase {
    std::string load;  // /proc/loadavg's first three fields at the start
    double seconds = 0;
    LoginTally logins;
    StatusTally status;
    std::optional<JunkTally> junk;
    double daemon_cpu_s = 0;
    double bus_cpu_s = 0;
    long daemon_log_lines = 0;
};

std::string load_average() {
    std::istringstream in(read_file("/proc/loadavg"));
    std::string a, b, c;
    in >> a >> b >> c;
    return a + " " + b + " " + c;
}

long lines_of(const std::string& text) {
    return std::count(text.begin(), text.end(), '\n');
}

struct Setup {
    const Args& args;
    Daemon& daemon;
    const fs::path& filled;
    const std::vector<std::string>& users;
    OutboxTail& outbox;
    const std::string& bus_address;
    pid_t bus_pid;
    int port;
};

std::optional<Phase> run_phase(const Setup& s, bool with_junk) {
    pid_t daemon_pid = start_fresh(s.daemon, s.filled);
    if (daemon_pid < 0) {
        return std::nullopt;
    }
    Phase phase;
    phase.load = load_average();
    phase.seconds = s.args.seconds;
    long log_before = lines_of(s.daemon.log());
    auto begin = Steady::now() + std::chrono::milliseconds(300);
    auto end = begin + std::chrono::microseconds(static_cast<long>(s.args.seconds * 1e6));
    JunkGenerator junk(s.args, s.port);
    if (with_junk) {
        junk.start(begin, end);
    }
    StatusTally status;
    std::thread prober([&] {
        status = probe_status(s.bus_address, kStatusEvery, begin,
                              [end](Steady::time_point due) { return due < end; });
    });
    std::thread cpu([&] {
        std::this_thread::sleep_until(begin);
        long d0 = cpu_ticks(daemon_pid);
        long b0 = cpu_ticks(s.bus_pid);
        std::this_thread::sleep_until(end);
        double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
        phase.daemon_cpu_s = static_cast<double>(cpu_ticks(daemon_pid) - d0) / tick;
        phase.bus_cpu_s = static_cast<double>(cpu_ticks(s.bus_pid) - b0) / tick;
    });
    phase.logins = run_logins(s.users, s.outbox, begin, end);
    prober.join();
    cpu.join();
    if (with_junk) {
        phase.junk = junk.join();
    }
    phase.status = std::move(status);
    phase.daemon_log_lines = lines_of(s.daemon.log()) - log_before;
    return phase;
}

// ---- the tables ------------------------------------------------------------------------

std::string counts_text(const std::map<std::string, long>& counts) {
    std::vector<std::pair<std::string, long>> sorted(counts.begin(), counts.end());
    std::string out;
    for (const auto& [what, count] : sorted) {
        out += (out.empty() ? "" : ", ") + what + ": " + std::to_string(count);
    }
    return out.empty() ? "–" : out;
}

std::string login_failures(const LoginTally& t) {
    std::map<std::string, long> named;
    for (auto [rc, count] : t.failed) {
        named[pam_strerror(nullptr, rc)] += count;
    }
    return named.empty() ? "0" : counts_text(named);
}

double success_pct(const LoginTally& t) {
    long failed = 0;
    for (auto [rc, count] : t.failed) {
        failed += count;
    }
    long all = t.ok + failed;
    return all > 0 ? 100.0 * static_cast<double>(t.ok) / static_cast<double>(all) : 0.0;
}

void row(const char* what, const std::string& without, const std::string& with) {
    std::printf("| %s | %s | %s |\n", what, without.c_str(), with.c_str());
}

// `value` with `decimals` digits after the point.
std::string num(double value, int decimals) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
    return buf;
}

std::string cpu_text(double cpu_s, double seconds) {
    return num(cpu_s, 2) + " s (" + num(100 * cpu_s / seconds, 0) + " %)";
}

std::string junk_cell(const Phase& p, const std::function<std::string(const JunkTally&)>& f) {
    return p.junk ? f(*p.junk) : "–";
}

void print_tables(const Args& args, Phase& quiet, Phase& busy) {
    std::printf(
        "### LINE endpoint under junk (%.0f s per phase; load average at the start: "
        "%s without junk, %s with it)\n\n",
        args.seconds, quiet.load.c_str(), busy.load.c_str());
    std::printf("| | without junk | with junk |\n| --- | --- | --- |\n");
    auto both = [&](const char* what, const std::function<std::string(Phase&)>& f) {
        row(what, f(quiet), f(busy));
    };
    both("logins: succeeded / failed",
         [](Phase& p) { return std::to_string(p.logins.ok) + " / " + login_failures(p.logins); });
    both("logins/s", [](Phase& p) { return num(static_cast<double>(p.logins.ok) / p.seconds, 0); });
    both("login success", [](Phase& p) { return num(success_pct(p.logins), 2) + " %"; });
    both("login p50 / p99", [](Phase& p) {
        return fmt_us(pct(p.logins.us, 0.5)) + " / " + fmt_us(pct(p.logins.us, 0.99));
    });
    both("Status calls (errors)", [](Phase& p) {
        return std::to_string(p.status.us.size()) + " (" +
               (p.status.errors.empty() ? "0" : counts_text(p.status.errors)) + ")";
    });
    both("Status p50 / p99 / max", [](Phase& p) {
        return fmt_us(pct(p.status.us, 0.5)) + " / " + fmt_us(pct(p.status.us, 0.99)) + " / " +
               fmt_us(pct(p.status.us, 1.0));
    });
    both("junk sent (achieved rate)", [&](Phase& p) {
        return junk_cell(p, [&](const JunkTally& j) {
            return std::to_string(j.sent) + " (" + num(static_cast<double>(j.sent) / p.seconds, 0) +
                   "/s" + " of " + std::to_string(args.rate) + "/s asked)";
        });
    });
    both("junk answered by status", [](Phase& p) {
        return junk_cell(p, [](const JunkTally& j) { return counts_text(j.by_answer); });
    });
    both("silent connections: opened; how they ended; held p50 / max (those kept waiting)",
         [](Phase& p) {
             return junk_cell(p, [](const JunkTally& j) {
                 std::vector<double> held = j.slow_held_s;
                 return std::to_string(j.slow_opened) + "; " + counts_text(j.slow_ended) + "; " +
                        num(pct(held, 0.5), 1) + " s / " + num(pct(held, 1.0), 1) + " s";
             });
         });
    both("lwauthd CPU (share of one core)",
         [](Phase& p) { return cpu_text(p.daemon_cpu_s, p.seconds); });
    both("dbus-daemon CPU (share of one core)",
         [](Phase& p) { return cpu_text(p.bus_cpu_s, p.seconds); });
    both("lwauthd log lines", [](Phase& p) { return std::to_string(p.daemon_log_lines); });
    if (!busy.junk) {
        return;
    }
    std::printf(
        "\n### Junk by kind, with the answers it got\n\n| kind | sent | answers |\n"
        "| --- | --- | --- |\n");
    for (const auto& [kind, answers] : busy.junk->by_kind) {
        long sent = 0;
        for (const auto& [answer, count] : answers) {
            sent += count;
        }
        std::printf("| %s | %ld | %s |\n", kind.c_str(), sent, counts_text(answers).c_str());
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (int rc = under_pam_wrapper(argv); rc != 0) {
        return rc;
    }
    Args args = parse_args(argc, argv);
    if (geteuid() != 0) {
        std::fprintf(stderr, "line_junk: run as root\n");
        return 1;
    }
    std::vector<std::string> users;
    for (int i = 0; i < kUsers; ++i) {
        users.push_back("user" + std::to_string(i));
    }
    TempDir dir("lwauth-line-junk");
    int port = pick_free_port();
    std::mt19937_64 seed(std::random_device{}());
    write_file(dir / "channel.secret", random_token(seed, 43) + "\n", fs::perms(0600));
    std::string policy = login_policy(dir / "outbox.jsonl") +
                         "\n[line]\nchannel_id = 1234567890\nchannel_secret_file = " +
                         (dir / "channel.secret").string() +
                         "\npublic_url = http://127.0.0.1:" + std::to_string(port) +
                         "\nlisten = 127.0.0.1:" + std::to_string(port) + "\n";
    PrivateBus bus(dir.path());
    Daemon daemon(dir.path(), bus.address(), policy);
    add_users(daemon, users);
    const fs::path filled = dir / "state-filled";
    fill_state(filled, users);
    pid_t bus_pid = find_process((dir / "bus.conf").string());
    setenv("DBUS_SYSTEM_BUS_ADDRESS", bus.address().c_str(), 1);

    TempDir services("lwauth-line-junk-pam");
    setenv("PAM_WRAPPER_SERVICE_DIR", (services / "pam.d").c_str(), 1);
    write_file(services / "pam.d/lwauth", "auth required " + std::string(LWAUTH_PAM_MODULE_PATH) +
                                              " mode=second_factor\naccount required "
                                              "/lib/x86_64-linux-gnu/security/pam_permit.so\n");
    write_file(services / "pam.d/other",
               "auth required /lib/x86_64-linux-gnu/security/pam_deny.so\n");
    OutboxTail outbox(daemon.outbox());
    Setup setup{args, daemon, filled, users, outbox, bus.address(), bus_pid, port};
    auto quiet = run_phase(setup, false);
    auto busy = quiet ? run_phase(setup, true) : std::nullopt;
    if (!busy) {
        return 1;
    }
    print_tables(args, *quiet, *busy);
    return quiet->logins.failed.empty() && busy->logins.failed.empty() ? 0 : 2;
}
