#include "harness.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <memory>
#include <random>
#include <nlohmann/json.hpp>
#include <regex>
#include <cstdio>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace lwauth::test {

namespace {

// The name of the running GoogleTest test, "" outside one.
std::string current_test_name() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    return info == nullptr ? "" : std::string(info->test_suite_name()) + "." + info->name();
}

}  // namespace

namespace {

// The current test's place among the program's: one number a test, for its directory.
std::string test_number() {
    const auto* unit = ::testing::UnitTest::GetInstance();
    const auto* suite = unit->current_test_suite();
    const auto* info = unit->current_test_info();
    int suite_index = 0;
    for (int i = 0; suite != nullptr && i < unit->total_test_suite_count(); ++i) {
        if (unit->GetTestSuite(i) == suite) {
            suite_index = i + 1;
            break;
        }
    }
    int test_index = 0;
    for (int i = 0; suite != nullptr && info != nullptr && i < suite->total_test_count(); ++i) {
        if (suite->GetTestInfo(i) == info) {
            test_index = i + 1;
            break;
        }
    }
    char number[16];
    std::snprintf(number, sizeof number, "%03d%03d", suite_index % 1000, test_index % 1000);
    return number;
}

}  // namespace

fs::path keep_dir() {
    // One directory a test, named by the process that ran it (a child forked later writes
    // to its parent's: the pid is the first one's) and the test's number, so that each
    // test's files are judged alone by the leak audit also where a suite's tests share one
    // process (the asan preset). Short, as the bus and login sockets below it need.
    static const fs::path root = [] {
        const char* keep = std::getenv("LWAUTH_TEST_KEEP");
        if (keep == nullptr || keep[0] != '/') {
            return fs::path();
        }
        fs::permissions(fs::path(keep), fs::perms(0755));
        return fs::path(keep);
    }();
    static const std::string pid = std::to_string(getpid());
    if (root.empty()) {
        return root;
    }
    fs::path dir = root / (pid + test_number());
    std::error_code ec;
    if (fs::create_directories(dir, ec)) {
        fs::permissions(dir, fs::perms(0755), ec);
    }
    if (!fs::exists(dir / "test")) {
        if (std::string name = current_test_name(); !name.empty()) {
            write_file(dir / "test", name + "\n");
        }
    }
    return dir;
}

void keep_note(const std::string& name, const std::string& text) {
    const fs::path& dir = keep_dir();
    if (!dir.empty()) {
        std::ofstream(dir / name, std::ios::app) << text << "\n";
    }
}

TempDir::TempDir(const std::string& prefix) {
    const fs::path& keep = keep_dir();
    std::string tmpl = (keep.empty() ? fs::path("/tmp") : keep).string() + "/" + prefix + ".XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) {
        throw std::runtime_error("mkdtemp: " + std::string(std::strerror(errno)));
    }
    path_ = tmpl;
    // Traversable, so that test users (nobody, alice...) reach the bus socket in it.
    fs::permissions(path_, fs::perms(0755));
}

TempDir::~TempDir() {
    std::error_code ec;
    if (std::getenv("LWAUTH_TEST_KEEP") == nullptr) {
        fs::remove_all(path_, ec);
    }
}

void write_file(const fs::path& path, const std::string& text, fs::perms mode) {
    fs::create_directories(path.parent_path());
    {
        std::ofstream out(path, std::ios::trunc);
        out << text;
        if (!out) {
            throw std::runtime_error("cannot write " + path.string());
        }
    }
    fs::permissions(path, mode);
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

namespace {

std::vector<char*> to_cstrings(std::vector<std::string>& strings) {
    std::vector<char*> out;
    for (auto& s : strings) {
        out.push_back(s.data());
    }
    out.push_back(nullptr);
    return out;
}

[[noreturn]] void exec_child(std::vector<std::string> argv,
                             const std::map<std::string, std::string>& env,
                             std::optional<uid_t> uid) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (uid && *uid != 0) {
        gid_t gid = *uid == 65534 ? 65534 : *uid;
        if (setgroups(0, nullptr) != 0 || setresgid(gid, gid, gid) != 0 ||
            setresuid(*uid, *uid, *uid) != 0) {
            _exit(126);
        }
    }
    std::vector<std::string> envs;
    for (const auto& [k, v] : env) {
        envs.push_back(k + "=" + v);
    }
    auto cargv = to_cstrings(argv);
    auto cenv = to_cstrings(envs);
    execve(cargv[0], cargv.data(), cenv.data());
    _exit(127);
}

int decode_status(int status) {
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    if (WIFSIGNALED(status)) {
        return 128 + WTERMSIG(status);
    }
    return -1;
}

}  // namespace

std::map<std::string, std::string> base_env() {
    std::map<std::string, std::string> env{
        {"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
        {"LANG", "C.UTF-8"},
        // the build tree's catalogs (po/), for lwauthd and lwauthctl
        {"LWAUTH_LOCALEDIR", LWAUTH_BUILD_LOCALEDIR}};
    add_sanitizer_env(env);
    return env;
}

Process::Process(std::vector<std::string> argv, std::map<std::string, std::string> env,
                 const fs::path& log, std::optional<uid_t> uid) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        throw std::runtime_error("cannot open log " + log.string());
    }
    pid_ = fork();
    if (pid_ < 0) {
        close(fd);
        throw std::runtime_error("fork failed");
    }
    if (pid_ == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        exec_child(std::move(argv), env, uid);
    }
    close(fd);
}

Process::~Process() {
    if (pid_ > 0 && !status_) {
        stop(SIGKILL);
    }
}

Process::Process(Process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), status_(other.status_) {}

Process& Process::operator=(Process&& other) noexcept {
    if (this != &other) {
        if (pid_ > 0 && !status_) {
            stop(SIGKILL);
        }
        pid_ = std::exchange(other.pid_, -1);
        status_ = other.status_;
    }
    return *this;
}

bool Process::running() {
    if (pid_ <= 0 || status_) {
        return false;
    }
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
        status_ = decode_status(status);
        return false;
    }
    return true;
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (running()) {
        if (std::chrono::steady_clock::now() > deadline) {
            return std::nullopt;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return status_;
}

void Process::signal(int sig) {
    if (running()) {
        ::kill(pid_, sig);
    }
}

int Process::stop(int sig, std::chrono::milliseconds timeout) {
    if (pid_ <= 0) {
        return -1;
    }
    signal(sig);
    if (auto status = wait(timeout)) {
        return *status;
    }
    ::kill(pid_, SIGKILL);
    return wait(std::chrono::seconds(10)).value_or(-1);
}

namespace {

// The command line of a run, one argument a line, beside its input and output.
void write_argv(const fs::path& io, const std::vector<std::string>& argv) {
    std::string text;
    for (const auto& arg : argv) {
        text += arg + "\n";
    }
    write_file(io / "argv", text);
}

}  // namespace

RunResult run(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
              std::optional<uid_t> uid, const std::string& input) {
    TempDir io("lwauth-run");
    fs::path out = io / "out";
    fs::path err = io / "err";
    fs::path in = io / "in";
    write_file(in, input);
    write_argv(io.path(), argv);
    pid_t pid = fork();
    if (pid == 0) {
        int i = open(in.c_str(), O_RDONLY);
        int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
        int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
        dup2(i, 0);
        dup2(o, 1);
        dup2(e, 2);
        exec_child(argv, env, uid);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return {decode_status(status), read_file(out), read_file(err)};
}

RunResult run_with_late_input(
    const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
    std::optional<uid_t> uid, const std::string& early,
    const std::function<std::string(const std::function<bool()>& child_runs)>& input) {
    TempDir io("lwauth-run");
    fs::path out = io / "out";
    fs::path err = io / "err";
    write_argv(io.path(), argv);
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
        throw std::runtime_error("pipe: " + std::string(std::strerror(errno)));
    }
    pid_t pid = fork();
    if (pid == 0) {
        int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
        int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
        dup2(pipe_fds[0], 0);
        dup2(o, 1);
        dup2(e, 2);
        exec_child(argv, env, uid);
    }
    close(pipe_fds[0]);
    // A child that has exited must not kill the test with SIGPIPE.
    signal(SIGPIPE, SIG_IGN);
    // WNOWAIT: look without reaping, so that the waitpid below still gets the status.
    auto child_runs = [pid] {
        siginfo_t info{};
        return waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
               info.si_pid == 0;
    };
    auto send = [&](const std::string& text) {
        size_t done = 0;
        while (done < text.size()) {
            ssize_t n = write(pipe_fds[1], text.data() + done, text.size() - done);
            if (n <= 0) {
                break;
            }
            done += static_cast<size_t>(n);
        }
    };
    send(early);
    std::string late = input(child_runs);
    send(late);
    // What was typed, as run() leaves it in "in" (for tests/leak_audit.py).
    write_file(io / "in", early + late);
    close(pipe_fds[1]);
    int status = 0;
    waitpid(pid, &status, 0);
    return {decode_status(status), read_file(out), read_file(err)};
}

PrivateBus::PrivateBus(const fs::path& dir, bool permissive, const std::string& extra_config,
                       bool systemd_activation) {
    // dbus-daemon must know every UID that connects (it resolves groups for its policy),
    // so it sees the same user database as lwauthd.
    write_user_db(dir);
    fs::path socket = dir / "system_bus_socket";
    std::string policy;
    if (permissive) {
        policy = R"(
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>)";
    } else {
        // The same defaults as Debian's system.conf, then the shipped lwauth policy.
        policy = R"(
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
  </policy>
  <include>)" + (source_dir() / "packaging/dbus/org.lwauth.Auth1.conf").string() +
                 "</include>";
    }
    std::string config =
        R"(<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=)" +
        socket.string() +
        R"(</listen>
  <auth>EXTERNAL</auth>)" +
        policy + "\n" + extra_config + "\n</busconfig>\n";
    write_file(dir / "bus.conf", config);
    std::vector<std::string> argv = {"/usr/bin/dbus-daemon",
                                     "--config-file=" + (dir / "bus.conf").string(), "--nofork",
                                     "--nopidfile", "--nosyslog"};
    if (systemd_activation) {
        argv.emplace_back("--systemd-activation");
    }
    process_ = Process(argv, nss_wrapper_env(dir), dir / "dbus-daemon.log");
    address_ = "unix:path=" + socket.string();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!wait_for_name(address_, "org.freedesktop.DBus", std::chrono::milliseconds(0))) {
        if (std::chrono::steady_clock::now() > deadline || !process_.running()) {
            throw std::runtime_error("dbus-daemon did not start: " +
                                     read_file(dir / "dbus-daemon.log"));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

PrivateBus::~PrivateBus() {
    process_.stop(SIGTERM);
}

FakeSystemd::FakeSystemd(const std::string& bus_address, const std::string& error_name,
                         const std::string& error_message) {
    // A child of its own, so that its loop runs beside the test. Only _exit there.
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        sd_bus* bus = nullptr;
        if (sd_bus_new(&bus) < 0 || sd_bus_set_address(bus, bus_address.c_str()) < 0 ||
            sd_bus_set_bus_client(bus, 1) < 0 || sd_bus_start(bus) < 0) {
            _exit(4);
        }
        struct Answer {
            std::string name, message;
        } answer{error_name, error_message};
        auto on_request = [](sd_bus_message* m, void* userdata, sd_bus_error*) -> int {
            auto* a = static_cast<Answer*>(userdata);
            const char* unit = nullptr;
            if (sd_bus_message_read(m, "s", &unit) < 0) {
                return 0;
            }
            sd_bus_message* signal = nullptr;
            sd_bus* b = sd_bus_message_get_bus(m);
            if (sd_bus_message_new_signal(b, &signal, "/org/freedesktop/systemd1",
                                          "org.freedesktop.systemd1.Activator",
                                          "ActivationFailure") >= 0 &&
                sd_bus_message_set_destination(signal, "org.freedesktop.DBus") >= 0 &&
                sd_bus_message_append(signal, "sss", unit, a->name.c_str(), a->message.c_str()) >=
                    0) {
                sd_bus_send(b, signal, nullptr);
            }
            sd_bus_message_unref(signal);
            return 0;
        };
        if (sd_bus_match_signal(bus, nullptr, nullptr, "/org/freedesktop/DBus",
                                "org.freedesktop.systemd1.Activator", "ActivationRequest",
                                on_request, &answer) < 0 ||
            sd_bus_request_name(bus, "org.freedesktop.systemd1", 0) < 0) {
            _exit(5);
        }
        for (;;) {
            int r = sd_bus_process(bus, nullptr);
            if (r < 0) {
                _exit(0);
            }
            if (r == 0 && sd_bus_wait(bus, UINT64_MAX) < 0) {
                _exit(0);
            }
        }
    }
    process_ = Process::adopt(pid);
    ready_ =
        pid > 0 && wait_for_name(bus_address, "org.freedesktop.systemd1", std::chrono::seconds(10));
}

bool wait_for_name(const std::string& address, const std::string& name,
                   std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    do {
        sd_bus* bus = nullptr;
        if (sd_bus_new(&bus) >= 0) {
            bool owned = false;
            if (sd_bus_set_address(bus, address.c_str()) >= 0 &&
                sd_bus_set_bus_client(bus, 1) >= 0 && sd_bus_start(bus) >= 0) {
                sd_bus_message* reply = nullptr;
                if (sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "NameHasOwner", nullptr, &reply, "s",
                                       name.c_str()) >= 0) {
                    int has = 0;
                    sd_bus_message_read(reply, "b", &has);
                    owned = has != 0;
                    sd_bus_message_unref(reply);
                }
            }
            sd_bus_flush_close_unref(bus);
            if (owned) {
                return true;
            }
        }
        if (timeout.count() == 0) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } while (std::chrono::steady_clock::now() < deadline);
    return false;
}

const std::vector<TestUser>& test_users() {
    static const std::vector<TestUser> users = {
        {"alice", 40001, {}},           {"bob", 40002, {}},  {"carol", 40003, {}},
        {"dave", 40004, {"ops"}},       {"erin", 40005, {}}, {"frank", 40006, {"lwadmins"}},
        {"grace", 40007, {"lwadmins"}},
    };
    return users;
}

uid_t uid_of(const std::string& name) {
    if (name == "root") {
        return 0;
    }
    if (name == "nobody") {
        return 65534;
    }
    if (name == "lwauth") {
        return kDaemonUid;
    }
    for (const auto& u : test_users()) {
        if (u.name == name) {
            return u.uid;
        }
    }
    throw std::runtime_error("unknown test user " + name);
}

void write_user_db(const fs::path& dir) {
    const std::string lwauth = "lwauth:x:" + std::to_string(kDaemonUid) + ":";
    std::string passwd =
        "root:x:0:0:root:/root:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        "sshd:x:102:65534::/run/sshd:/usr/sbin/nologin\n" +
        lwauth + std::to_string(kDaemonUid) +
        ":lwauth login verification daemon:/var/lib/lwauth:/usr/sbin/nologin\n";
    std::string group = "root:x:0:\nnogroup:x:65534:\n" + lwauth + "\n";
    std::map<std::string, std::vector<std::string>> extra_groups;
    for (const auto& u : test_users()) {
        fs::path home = dir / "home" / u.name;
        fs::create_directories(home);
        if (chown(home.c_str(), u.uid, u.uid) != 0 && geteuid() == 0) {
            throw std::runtime_error("cannot chown " + home.string());
        }
        passwd += u.name + ":x:" + std::to_string(u.uid) + ":" + std::to_string(u.uid) + ":" +
                  u.name + ":" + home.string() + ":/bin/sh\n";
        group += u.name + ":x:" + std::to_string(u.uid) + ":\n";
        for (const auto& g : u.groups) {
            extra_groups[g].push_back(u.name);
        }
    }
    gid_t next_gid = 41000;
    for (const auto& [g, members] : extra_groups) {
        group += g + ":x:" + std::to_string(next_gid++) + ":";
        for (size_t i = 0; i < members.size(); ++i) {
            group += (i ? "," : "") + members[i];
        }
        group += "\n";
    }
    write_file(dir / "passwd", passwd);
    write_file(dir / "group", group);
}

std::map<std::string, std::string> nss_wrapper_env(const fs::path& dir) {
    auto env = base_env();
    env["LD_PRELOAD"] = "libnss_wrapper.so";
    env["NSS_WRAPPER_PASSWD"] = (dir / "passwd").string();
    env["NSS_WRAPPER_GROUP"] = (dir / "group").string();
    if (fs::exists(dir / "passwd.hidden")) {
        env["NSS_WRAPPER_MODULE_SO_PATH"] = LWAUTH_NSS_HIDDEN_PATH;
        env["NSS_WRAPPER_MODULE_FN_PREFIX"] = "lwauthhidden";
        env["LWAUTH_TEST_HIDDEN_PASSWD"] = (dir / "passwd.hidden").string();
    }
#ifdef __SANITIZE_ADDRESS__
    // nss_wrapper's RTLD_DEEPBIND dlopen of libc cannot run under AddressSanitizer
    // (google/sanitizers#611); the asan preset builds lwauthd with it too.
    env["NSS_WRAPPER_DISABLE_DEEPBIND"] = "1";
#endif
    return env;
}

std::string oathtool_totp(const std::string& secret, int64_t offset, int digits,
                          const std::string& algorithm) {
    int64_t now = std::time(nullptr);
    if (now % 30 >= 28) {
        std::this_thread::sleep_for(std::chrono::seconds(3));
        now = std::time(nullptr);
    }
    RunResult r =
        run({"/usr/bin/oathtool", "--totp=" + algorithm, "--digits=" + std::to_string(digits), "-b",
             secret, "--now", "@" + std::to_string(now + offset)},
            base_env());
    if (r.exit_code != 0) {
        throw std::runtime_error("oathtool failed: " + r.err);
    }
    return r.out.substr(0, r.out.find('\n'));
}

std::string Daemon::sql(const std::string& statements) const {
    RunResult r =
        run({"/usr/bin/sqlite3", (state_dir() / "lwauth.db").string(), statements}, base_env());
    if (r.exit_code != 0) {
        throw std::runtime_error("sqlite3 failed: " + r.err);
    }
    return r.out;
}

void Daemon::refuse_store_write(const std::string& when, const std::string& user) const {
    sql("CREATE TRIGGER refuse_" + user + " BEFORE " + when + " = '" + user +
        "' BEGIN SELECT RAISE(ABORT, '" + kStoreRefusal + "'); END");
}

std::string default_test_policy(const fs::path& outbox, const std::string& extra) {
    return "[policy]\n"
           "two_step = optional\n"
           "\n[code]\n"
           "channels = sms, email\n"
           "resend_interval = 0s\n"
           "max_sends_per_hour = 100\n"
           "max_sends_per_destination_per_hour = 100\n"
           "max_sends_per_host_per_hour = 1000\n"
           "\n[lockout]\n"
           "max_failures = 5\n"
           "duration = 15m\n"
           "\n[channel.outbox]\n"
           "type = outbox\n"
           "path = " +
           outbox.string() + "\n\n" + extra;
}

std::string latest_code(const fs::path& outbox, const std::string& destination) {
    auto messages = read_outbox(outbox);
    for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
        if (it->destination == destination) {
            return it->code();
        }
    }
    return "";
}

bool give_to_daemon(const fs::path& path, bool directory) {
    if (directory) {
        fs::create_directories(path);
    } else {
        write_file(path, "", fs::perms(0600));
    }
    return ::chown(path.c_str(), kDaemonUid, kDaemonUid) == 0 &&
           ::chmod(path.c_str(), directory ? 0700 : 0600) == 0;
}

Daemon::Daemon(const fs::path& dir, const std::string& bus_address, const std::string& policy_text)
    : dir_(dir), bus_address_(bus_address) {
    fs::create_directories(config_dir());
    write_policy(policy_text);
    write_user_db(dir_);
    if (!fs::exists(machine_id_file())) {
        // A machine of its own: two lwauthd of a test are two machines, never the host's.
        std::random_device random;
        std::ostringstream id;
        for (int i = 0; i < 4; ++i) {
            id << std::hex << std::setw(8) << std::setfill('0') << random();
        }
        write_file(machine_id_file(), id.str() + "\n", fs::perms(0444));
    }
}

Daemon::~Daemon() {
    bool checked = !daemon_wrapper().empty();
#ifdef __SANITIZE_ADDRESS__
    checked = true;
#endif
    if (checked) {
        // An exit of its own, so that LeakSanitizer or valgrind checks it at exit (after
        // SIGCONT: it may be frozen). A status stop() returned already is not told twice.
        bool was_running = process_.running();
        process_.signal(SIGCONT);
        int status = process_.stop(SIGTERM, patience());
        if (was_running) {
            check_exit(status);
        }
    } else {
        process_.stop(SIGKILL);
    }
}

void Daemon::write_policy(const std::string& text) const {
    write_file(config_dir() / "lwauth.conf", text);
}

std::map<std::string, std::string> Daemon::client_env() const {
    auto env = base_env();
    env["DBUS_SYSTEM_BUS_ADDRESS"] = bus_address_;
    return env;
}

std::vector<std::string> daemon_wrapper() {
    std::vector<std::string> words;
    if (const char* wrapper = std::getenv("LWAUTH_TEST_DAEMON_WRAPPER")) {
        std::istringstream in(wrapper);
        for (std::string word; in >> word;) {
            words.push_back(word);
        }
    }
    return words;
}

bool Daemon::start() {
    auto env = nss_wrapper_env(dir_);
    env["DBUS_SYSTEM_BUS_ADDRESS"] = bus_address_;
    fs::path run_dir = login_socket().parent_path();
    fs::create_directories(run_dir);
    fs::permissions(run_dir, fs::perms::owner_all);
    if (user_ && ::chown(run_dir.c_str(), *user_, *user_) != 0) {
        return false;
    }
    std::vector<std::string> argv = daemon_wrapper();
    bool wrapped = !argv.empty();
    argv.insert(argv.end(),
                {(program_.empty() ? lwauthd_path() : program_).string(), "--config",
                 config_dir().string(), "--state-dir", state_dir().string(), "--log-target",
                 "stderr", "--common-pins", LWAUTH_SOURCE_DIR "/daemon/quick/common-pins",
                 "--login-socket", serve_login_socket_ ? login_socket().string() : "",
                 "--machine-id-file", machine_id_file().string()});
    process_ = Process(argv, env, log_path(), user_);
    auto deadline = std::chrono::steady_clock::now() +
                    (wrapped ? patience() : std::chrono::milliseconds(20000));
    while (std::chrono::steady_clock::now() < deadline) {
        if (!process_.running()) {
            return false;
        }
        if (wait_for_name(bus_address_, "org.lwauth.Auth1", std::chrono::milliseconds(0))) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
}

int Daemon::stop() {
    return check_exit(process_.stop(SIGTERM, patience()));
}

std::chrono::milliseconds Daemon::patience() {
    // valgrind takes seconds to start lwauthd, and to check for leaks at its exit, on a
    // loaded machine.
    return daemon_wrapper().empty() ? std::chrono::seconds(10) : std::chrono::seconds(120);
}

int Daemon::check_exit(int status) const {
    if (status == kWrapperErrorExit && !daemon_wrapper().empty()) {
        ADD_FAILURE() << "lwauthd under LWAUTH_TEST_DAEMON_WRAPPER exited " << kWrapperErrorExit
                      << " (a memcheck error): " << log();
    }
    return status;
}

void Daemon::kill() {
    process_.stop(SIGKILL);
}

void Daemon::reload() {
    process_.signal(SIGHUP);
}

void Daemon::freeze() {
    process_.signal(SIGSTOP);
}

std::string Daemon::log() const {
    return read_file(log_path());
}

size_t Daemon::log_count(const std::string& text) const {
    std::string text_of_log = log();
    size_t seen = 0;
    for (size_t at = text_of_log.find(text); at != std::string::npos;
         at = text_of_log.find(text, at + 1)) {
        ++seen;
    }
    return seen;
}

bool Daemon::log_shows(const std::string& text, size_t count) const {
    for (int i = 0; i < 500; ++i) {
        if (log_count(text) >= count) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
}

RunResult Daemon::ctl(const std::string& user, const std::vector<std::string>& args,
                      const std::string& input) const {
    std::vector<std::string> argv{lwauthctl_path().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, client_env(), uid_of(user), input);
}

RunResult Daemon::ctl_with_code(const std::string& user, const std::vector<std::string>& args,
                                const std::string& before) const {
    std::vector<std::string> argv{lwauthctl_path().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    size_t sent = read_outbox(outbox()).size();
    return run_with_late_input(
        argv, client_env(), uid_of(user), before,
        [&](const std::function<bool()>& child_runs) -> std::string {
            // Up to 20 s for the code; without one, end of input (lwauthctl gives up).
            auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
            while (child_runs() && std::chrono::steady_clock::now() < deadline) {
                auto messages = read_outbox(outbox());
                if (messages.size() > sent) {
                    return messages.back().code() + "\n";
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
            return "";
        });
}

bool Daemon::enroll(const std::string& user, const std::string& kind,
                    const std::string& value) const {
    // With a contact verified already, lwauthctl asks for a code to it first.
    auto added = ctl_with_code(user, {"contact", "add", kind, value});
    if (added.exit_code != 0) {
        return false;
    }
    auto messages = read_outbox(outbox());
    if (messages.empty()) {
        return false;
    }
    auto confirmed = ctl(user, {"contact", "confirm", kind, messages.back().code()});
    return confirmed.exit_code == 0;
}

std::string OutboxMessage::code() const {
    static const std::regex kCode("[0-9]{6,10}");
    std::smatch m;
    return std::regex_search(text, m, kCode) ? m.str() : "";
}

std::vector<OutboxMessage> read_outbox(const fs::path& path) {
    std::ifstream in(path);
    return read_outbox(in);
}

std::vector<OutboxMessage> read_outbox(std::istream& in) {
    std::vector<OutboxMessage> out;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) {
            continue;
        }
        auto j = nlohmann::json::parse(line);
        out.push_back({j.value("channel", ""), j.value("kind", ""), j.value("user", ""),
                       j.value("destination", ""), j.value("text", "")});
    }
    return out;
}

OutboxFd::OutboxFd(const fs::path& path)
    : fd_(open(path.c_str(), O_RDONLY | O_CLOEXEC)), seen_(read_outbox(path).size()) {}

OutboxFd::~OutboxFd() {
    if (fd_ >= 0) {
        close(fd_);
    }
}

std::vector<OutboxMessage> OutboxFd::messages() const {
    std::string all;
    char buf[4096];
    ssize_t n;
    for (off_t at = 0; (n = pread(fd_, buf, sizeof buf, at)) > 0; at += n) {
        all.append(buf, static_cast<size_t>(n));
    }
    std::istringstream in(all);
    return read_outbox(in);
}

std::string OutboxFd::next_code() {
    for (int i = 0; i < 200; ++i) {
        auto sent = messages();
        if (sent.size() > seen_) {
            return sent[seen_++].code();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return "";
}

size_t OutboxFd::count() const {
    return messages().size();
}

LoginResult login_as_root_with(const std::string& address, const std::string& user,
                               const std::function<std::string()>& answer_of) {
    return login_as_root_named(address, user, [&](const std::string&) { return answer_of(); });
}

namespace {

// Calls Login.Start for `user` from `place` on `bus`.
int start_login(sd_bus* bus, const std::string& user, const LoginPlace& place, sd_bus_error* error,
                sd_bus_message** reply) {
    sd_bus_message* raw = nullptr;
    int r = sd_bus_message_new_method_call(bus, &raw, "org.lwauth.Auth1", "/org/lwauth/Auth1",
                                           "org.lwauth.Auth1.Login", "Start");
    std::unique_ptr<sd_bus_message, decltype(&sd_bus_message_unref)> call(raw,
                                                                          sd_bus_message_unref);
    if (r < 0) {
        return r;
    }
    std::vector<std::pair<const char*, std::string>> context = {
        {"user", user}, {"service", place.service}, {"mode", place.mode}};
    if (!place.rhost.empty()) {
        context.emplace_back("rhost", place.rhost);
    }
    if (!place.tty.empty()) {
        context.emplace_back("tty", place.tty);
    }
    r = sd_bus_message_open_container(raw, 'a', "{sv}");
    for (const auto& [key, value] : context) {
        if (r >= 0) {
            r = sd_bus_message_append(raw, "{sv}", key, "s", value.c_str());
        }
    }
    if (r >= 0 && place.reply_timeout_usec != 0) {
        r = sd_bus_message_append(raw, "{sv}", "reply_timeout_usec", "t", place.reply_timeout_usec);
    }
    if (r >= 0) {
        r = sd_bus_message_close_container(raw);
    }
    return r < 0 ? r : sd_bus_call(bus, raw, 0, error, reply);
}

LoginResult login_as_root_at(const std::string& address, const std::string& user,
                             const LoginPlace& place,
                             const std::function<std::string(const std::string&)>& answer_of) {
    LoginResult result;
    sd_bus* bus = nullptr;
    const char* unique_name = nullptr;
    if (sd_bus_new(&bus) < 0 || sd_bus_set_address(bus, address.c_str()) < 0 ||
        sd_bus_set_bus_client(bus, 1) < 0 || sd_bus_start(bus) < 0 ||
        sd_bus_get_unique_name(bus, &unique_name) < 0) {
        sd_bus_flush_close_unref(bus);
        result.verdict = "no-bus";
        return result;
    }
    const std::string client = unique_name;
    sd_bus_message* reply = nullptr;
    sd_bus_error error = SD_BUS_ERROR_NULL;
    int r = start_login(bus, user, place, &error, &reply);
    std::string login_id;
    for (int turn = 0; r >= 0 && turn < 50; ++turn) {
        const char* id = nullptr;
        const char* prompt = nullptr;
        const char* verdict = nullptr;
        const char* kind = nullptr;
        const char* text = nullptr;
        int echo = 0;
        sd_bus_message_read(reply, "s", &id);
        login_id = id;
        sd_bus_message_enter_container(reply, 'a', "(ss)");
        while (sd_bus_message_read(reply, "(ss)", &kind, &text) > 0) {
            result.lines.emplace_back(text);
            keep_note("conversation", text);
        }
        sd_bus_message_exit_container(reply);
        sd_bus_message_read(reply, "sbs", &prompt, &echo, &verdict);
        result.verdict = verdict;
        // Copied before the reply it points into goes.
        const std::string asked = prompt != nullptr ? prompt : "";
        sd_bus_message_unref(reply);
        reply = nullptr;
        if (!result.verdict.empty()) {
            break;
        }
        ++result.prompts;
        keep_note("conversation", asked);
        const std::string answer = answer_of(client);
        keep_note("answers", answer);
        r = sd_bus_call_method(bus, "org.lwauth.Auth1", "/org/lwauth/Auth1",
                               "org.lwauth.Auth1.Login", "Answer", &error, &reply, "ss",
                               login_id.c_str(), answer.c_str());
    }
    if (r < 0) {
        result.verdict = error.name ? error.name : "error";
    } else if (place.confirm && !login_id.empty()) {
        sd_bus_error_free(&error);
        r = sd_bus_call_method(bus, "org.lwauth.Auth1", "/org/lwauth/Auth1",
                               "org.lwauth.Auth1.Login", "Confirm", &error, nullptr, "s",
                               login_id.c_str());
        result.confirmed = r >= 0 ? "ok" : (error.name ? error.name : "error");
    }
    sd_bus_error_free(&error);
    sd_bus_flush_close_unref(bus);
    return result;
}

}  // namespace

LoginResult login_as_root_named(const std::string& address, const std::string& user,
                                const std::function<std::string(const std::string&)>& answer_of) {
    return login_as_root_at(address, user, LoginPlace{}, answer_of);
}

LoginResult login_as_root_from(const std::string& address, const std::string& user,
                               const LoginPlace& place,
                               const std::function<std::string()>& answer_of) {
    return login_as_root_at(address, user, place, [&](const std::string&) { return answer_of(); });
}

bool become(uid_t uid) {
    return uid == 0 || (setgroups(0, nullptr) == 0 && setresgid(uid, uid, uid) == 0 &&
                        setresuid(uid, uid, uid) == 0);
}

namespace {

// Runs `child` in a forked process as `uid`, given the write end of a pipe; what it
// wrote there, once it has ended ("" when it could not start).
std::string output_as(uid_t uid, const std::function<void(int fd)>& child) {
    int fds[2];
    if (pipe(fds) != 0) {
        return "";
    }
    pid_t pid = fork();
    if (pid == 0) {
        // The child must never return into the test framework: only _exit.
        close(fds[0]);
        if (!become(uid)) {
            _exit(3);
        }
        child(fds[1]);
        _exit(0);
    }
    close(fds[1]);
    std::string text;
    char buf[4096];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) {
        text.append(buf, static_cast<size_t>(n));
    }
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return text;
}

}  // namespace

LoginResult login_as_uid_from(const std::string& address, uid_t uid, const std::string& user,
                              const LoginPlace& place,
                              const std::function<std::string()>& answer_of) {
    LoginResult result;
    std::string text = output_as(uid, [&](int fd) {
        LoginResult child = login_as_root_from(address, user, place, answer_of);
        // The verdict, the number of prompts and each line, each ended by a NUL.
        std::string out = child.verdict + '\0' + std::to_string(child.prompts) + '\0';
        for (const auto& line : child.lines) {
            out += line + '\0';
        }
        ssize_t ignored = write(fd, out.data(), out.size());
        (void)ignored;
    });
    std::vector<std::string> fields;
    for (size_t start = 0, end; (end = text.find('\0', start)) != std::string::npos;
         start = end + 1) {
        fields.push_back(text.substr(start, end - start));
    }
    if (fields.size() < 2) {
        result.verdict = "child-failed";
        return result;
    }
    result.verdict = fields[0];
    result.prompts = std::stoi(fields[1]);
    result.lines.assign(fields.begin() + 2, fields.end());
    return result;
}

LoginResult login_as_root(const std::string& address, const std::string& user,
                          const std::string& answer) {
    return login_as_root_with(address, user, [&] { return answer; });
}

BusMonitor::BusMonitor(const std::string& address, const std::string& driver_member)
    : address_(address), member_(driver_member) {
    std::string rule =
        "type='method_call',destination='org.freedesktop.DBus',member='" + member_ + "'";
    sd_bus_message* m = nullptr;
    sd_bus_error error = SD_BUS_ERROR_NULL;
    if (sd_bus_new(&bus_) < 0 || sd_bus_set_monitor(bus_, 1) < 0 ||
        sd_bus_set_address(bus_, address.c_str()) < 0 || sd_bus_set_bus_client(bus_, 1) < 0 ||
        sd_bus_start(bus_) < 0 ||
        sd_bus_message_new_method_call(bus_, &m, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus.Monitoring", "BecomeMonitor") < 0 ||
        sd_bus_message_append(m, "asu", 1, rule.c_str(), 0u) < 0 ||
        sd_bus_call(bus_, m, 10 * 1000 * 1000, &error, nullptr) < 0) {
        std::string why = error.message ? error.message : "cannot connect";
        sd_bus_error_free(&error);
        sd_bus_message_unref(m);
        sd_bus_flush_close_unref(bus_);
        throw std::runtime_error("cannot monitor the bus: " + why);
    }
    sd_bus_message_unref(m);
}

BusMonitor::~BusMonitor() {
    sd_bus_flush_close_unref(bus_);
}

std::vector<std::string> BusMonitor::calls() {
    // One more such call, about the monitor itself: the bus passes calls on in the order it
    // takes them, so once this one has come, every call made before it has too.
    const char* self = nullptr;
    sd_bus_get_unique_name(bus_, &self);
    const std::string sentinel = self ? self : "";
    sd_bus* caller = nullptr;
    if (sd_bus_new(&caller) >= 0 && sd_bus_set_address(caller, address_.c_str()) >= 0 &&
        sd_bus_set_bus_client(caller, 1) >= 0 && sd_bus_start(caller) >= 0) {
        sd_bus_call_method(caller, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                           "org.freedesktop.DBus", member_.c_str(), nullptr, nullptr, "s",
                           sentinel.c_str());
    }
    sd_bus_flush_close_unref(caller);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
        sd_bus_message* m = nullptr;
        int r = sd_bus_process(bus_, &m);
        if (r < 0) {
            break;
        }
        if (m != nullptr) {
            const char* arg = nullptr;
            bool ours =
                sd_bus_message_is_method_call(m, "org.freedesktop.DBus", member_.c_str()) > 0 &&
                sd_bus_message_read(m, "s", &arg) > 0;
            std::string name = ours ? arg : "";
            sd_bus_message_unref(m);
            if (ours && name == sentinel) {
                return seen_;
            }
            if (ours) {
                seen_.push_back(name);
            }
            continue;
        }
        if (r == 0) {
            sd_bus_wait(bus_, 100 * 1000);
        }
    }
    throw std::runtime_error("the bus monitor did not see its own " + member_ + " call");
}

int wait_for_listening_port(const fs::path& log) {
    for (int i = 0; i < 500; ++i) {
        std::string text = read_file(log);
        auto at = text.find("LISTENING ");
        if (at != std::string::npos) {
            return std::stoi(text.substr(at + 10));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return 0;
}

namespace {

// In the child of call_rounds_as: sends each round's calls at once on one connection and
// waits for all their replies before the next round. One line per reply on `out`.
void run_rounds(sd_bus* bus, const std::vector<CallRound>& rounds, int out) {
    std::vector<CallReply> previous;
    for (const auto& round : rounds) {
        std::vector<CallReply> replies;
        std::vector<sd_bus_slot*> slots;
        std::vector<Append> calls = round.calls(previous);
        struct Pending {
            CallReply* reply;
            int* left;
        };
        replies.resize(calls.size());
        std::vector<Pending> pending(calls.size());
        int left = static_cast<int>(calls.size());
        for (size_t i = 0; i < calls.size(); ++i) {
            sd_bus_message* m = nullptr;
            sd_bus_message_new_method_call(bus, &m, "org.lwauth.Auth1", "/org/lwauth/Auth1",
                                           round.interface, round.member);
            if (calls[i]) {
                calls[i](m);
            }
            pending[i] = {&replies[i], &left};
            sd_bus_slot* slot = nullptr;
            auto on_reply = [](sd_bus_message* reply, void* userdata, sd_bus_error*) -> int {
                auto* p = static_cast<Pending*>(userdata);
                const sd_bus_error* e = sd_bus_message_get_error(reply);
                if (e != nullptr) {
                    p->reply->error = e->name ? e->name : "error";
                } else if (const char* sig = sd_bus_message_get_signature(reply, 1);
                           sig != nullptr && std::string_view(sig) == "sa(ss)sbs") {
                    const char* id = nullptr;
                    const char* prompt = nullptr;
                    const char* verdict = nullptr;
                    int echo = 0;
                    sd_bus_message_read(reply, "s", &id);
                    sd_bus_message_skip(reply, "a(ss)");
                    sd_bus_message_read(reply, "sbs", &prompt, &echo, &verdict);
                    p->reply->id = id ? id : "";
                    p->reply->verdict = verdict ? verdict : "";
                }
                --*p->left;
                return 0;
            };
            if (sd_bus_call_async(bus, &slot, m, on_reply, &pending[i], 30 * 1000 * 1000) < 0) {
                replies[i].error = "send-failed";
                --left;
            }
            slots.push_back(slot);
            sd_bus_message_unref(m);
        }
        while (left > 0) {
            int r = sd_bus_process(bus, nullptr);
            if (r < 0) {
                break;
            }
            if (r == 0 && sd_bus_wait(bus, UINT64_MAX) < 0) {
                break;
            }
        }
        for (auto* slot : slots) {
            sd_bus_slot_unref(slot);
        }
        for (const auto& reply : replies) {
            std::string line = reply.error + "\t" + reply.id + "\t" + reply.verdict + "\n";
            ssize_t ignored = write(out, line.data(), line.size());
            (void)ignored;
        }
        ssize_t ignored = write(out, "\n", 1);  // the end of a round
        (void)ignored;
        previous = std::move(replies);
    }
}

}  // namespace

std::vector<std::vector<CallReply>> call_rounds_as(const std::string& address, uid_t uid,
                                                   const std::vector<CallRound>& rounds) {
    std::vector<std::vector<CallReply>> out;
    std::string text = output_as(uid, [&](int fd) {
        sd_bus* bus = nullptr;
        if (sd_bus_new(&bus) < 0 || sd_bus_set_address(bus, address.c_str()) < 0 ||
            sd_bus_set_bus_client(bus, 1) < 0 || sd_bus_start(bus) < 0) {
            _exit(4);
        }
        run_rounds(bus, rounds, fd);
        sd_bus_flush_close_unref(bus);
    });
    std::istringstream lines(text);
    std::string line;
    out.emplace_back();
    while (std::getline(lines, line)) {
        if (line.empty()) {
            out.emplace_back();
            continue;
        }
        CallReply reply;
        std::istringstream fields(line);
        std::getline(fields, reply.error, '\t');
        std::getline(fields, reply.id, '\t');
        std::getline(fields, reply.verdict, '\t');
        out.back().push_back(std::move(reply));
    }
    out.pop_back();  // after the last round's end
    return out;
}

std::string call_as(const std::string& address, uid_t uid, const char* interface,
                    const char* member, const std::function<void(sd_bus_message*)>& append) {
    auto rounds = call_rounds_as(
        address, uid,
        {{interface, member, [&](const std::vector<CallReply>&) { return std::vector{append}; }}});
    if (rounds.size() != 1 || rounds[0].size() != 1) {
        return "no-reply";
    }
    return rounds[0][0].error;
}

int pick_free_port() {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    int port = -1;
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
        port = ntohs(addr.sin_port);
    }
    close(fd);
    return port;
}

RunResult gateway_control(const std::string& base_url, const fs::path& ca,
                          const std::string& json) {
    return run({"/usr/bin/python3", "-c",
                "import ssl,sys,urllib.request as u\n"
                "c=ssl.create_default_context(cafile=sys.argv[2])\n"
                "r=u.Request(sys.argv[1],data=sys.argv[3].encode(),"
                "headers={'Content-Type':'application/json'})\n"
                "u.urlopen(r,context=c).read()\n",
                base_url + "/_control", ca.string(), json},
               base_env());
}

size_t gateway_requests(const fs::path& journal, const std::string& service) {
    std::ifstream in(journal);
    size_t n = 0;
    std::string line;
    while (std::getline(in, line)) {
        n += nlohmann::json::parse(line).value("service", "") == service ? 1 : 0;
    }
    return n;
}

LineProvider::LineProvider(const fs::path& dir, const std::string& redirect_uri) : dir_(dir) {
    RunResult pki = run({"/bin/bash", (source_dir() / "tests/fakes/make_test_pki.sh").string(),
                         (dir_ / "pki").string()},
                        base_env());
    if (pki.exit_code != 0) {
        write_file(dir_ / "line-fake.log", "make_test_pki.sh failed: " + pki.err);
        return;
    }
    fs::create_directories(dir_ / "line-fake");
    process_ =
        Process({"/usr/bin/python3", (source_dir() / "tests/fakes/line_login.py").string(),
                 "--cert", (dir_ / "pki/server.pem").string(), "--key",
                 (dir_ / "pki/server.key").string(), "--state-dir", (dir_ / "line-fake").string(),
                 "--redirect-uri", redirect_uri, "--channel-secret", kChannelSecret},
                base_env(), dir_ / "line-fake.log");
    port_ = wait_for_listening_port(dir_ / "line-fake.log");
}

std::string LineProvider::policy_section(const std::string& public_url, int port,
                                         const std::string& subject_key) const {
    write_file(dir_ / "line-secret", std::string(kChannelSecret) + "\n", fs::perms(0600));
    write_file(dir_ / "subject.key", subject_key + "\n", fs::perms(0600));
    return "[line]\nchannel_id = " + std::string(kChannelId) +
           "\nchannel_secret_file = " + (dir_ / "line-secret").string() +
           "\npublic_url = " + public_url + "\nlisten = 127.0.0.1:" + std::to_string(port) +
           "\nauthorize_url = " + url() + "/oauth2/v2.1/authorize\ntoken_url = " + url() +
           "/oauth2/v2.1/token\njwks_url = " + url() +
           "/oauth2/v2.1/certs\nca_file = " + ca().string() +
           "\nsubject_key_file = " + (dir_ / "subject.key").string() + "\n";
}

bool LineProvider::control(const std::string& json) const {
    return gateway_control(url(), ca(), json).exit_code == 0;
}

std::string LineProvider::phone(const std::string& url, std::optional<int> pick) const {
    std::vector<std::string> argv = {"/usr/bin/python3",
                                     (source_dir() / "tests/fakes/line_phone.py").string(), url,
                                     "--ca-file", ca().string()};
    if (pick) {
        argv.push_back("--pick");
        argv.push_back(std::to_string(*pick));
    }
    return run(argv, base_env()).out;
}

RunResult LineProvider::link(const Daemon& daemon, const std::string& user, const fs::path& log,
                             bool wrong) const {
    auto env = daemon.client_env();
    env["LANG"] = "C.UTF-8";
    Process linking({lwauthctl_path().string(), "line", "link"}, env, log, uid_of(user));
    PrintedLink printed;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while ((printed.number < 0 || printed.url.empty()) &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        printed = last_printed_link(read_file(log), R"(Then pick the number (\d+) on the page)");
    }
    RunResult result;
    if (printed.number >= 0 && !printed.url.empty()) {
        result.err = phone(
            printed.url, wrong ? (printed.number == 10 ? 11 : printed.number - 1) : printed.number);
    }
    result.exit_code = linking.wait(std::chrono::seconds(30)).value_or(-1);
    result.out = read_file(log);
    return result;
}

PrintedLink last_printed_link(const std::string& text, const std::string& number) {
    static const std::regex url_re(R"((https?://[^\s]+/l[/?][^\s]+))");
    const std::regex number_re(number);
    PrintedLink printed;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), url_re);
         it != std::sregex_iterator(); ++it) {
        printed.url = (*it)[1];
    }
    for (auto it = std::sregex_iterator(text.begin(), text.end(), number_re);
         it != std::sregex_iterator(); ++it) {
        printed.number = std::stoi((*it)[1]);
    }
    return printed;
}

bool emit_signal_as(const std::string& address, const char* name, const char* path,
                    const char* interface, const char* member, const Append& append) {
    sd_bus* bus = nullptr;
    sd_bus_message* signal = nullptr;
    bool sent = sd_bus_new(&bus) >= 0 && sd_bus_set_address(bus, address.c_str()) >= 0 &&
                sd_bus_set_bus_client(bus, 1) >= 0 && sd_bus_start(bus) >= 0 &&
                sd_bus_request_name(bus, name, 0) >= 0 &&
                sd_bus_message_new_signal(bus, &signal, path, interface, member) >= 0;
    if (sent) {
        append(signal);
        sent = sd_bus_send(bus, signal, nullptr) >= 0 && sd_bus_flush(bus) >= 0;
    }
    sd_bus_message_unref(signal);
    sd_bus_flush_close_unref(bus);
    return sent;
}

fs::path lwauthd_path() {
    return LWAUTH_LWAUTHD_PATH;
}
fs::path wait_daemon_path() {
    return LWAUTH_WAIT_DAEMON_PATH;
}
fs::path lwauthctl_path() {
    return LWAUTH_LWAUTHCTL_PATH;
}
fs::path source_dir() {
    return LWAUTH_SOURCE_DIR;
}

}  // namespace lwauth::test
