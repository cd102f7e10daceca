// End to end: logins through the real /usr/sbin/sshd on a loopback port, with
// keyboard-interactive authentication going through a private PAM stack
// (pam_wrapper) of pam_matrix for the password and pam_lwauth.so for the code, users
// from nss_wrapper files, and the real lwauthd on a private dbus-daemon. The client is
// tests/e2e/ssh_client.py (paramiko), which reads the code from the outbox.
//
// Each test gets its own temp dir, bus, lwauthd, sshd and port. Must run as root (sshd
// needs it); see tests/e2e/README.md for the recipe and its pitfalls.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace lwauth::test {
namespace {

using namespace std::chrono_literals;

const fs::path kSshd = "/usr/sbin/sshd";  // absolute: sshd re-execs itself per connection
const fs::path kSshKeygen = "/usr/bin/ssh-keygen";
const fs::path kPython = "/usr/bin/python3";  // Debian's python, which has paramiko
const fs::path kTimeout = "/usr/bin/timeout";
const fs::path kUnshare = "/usr/bin/unshare";
const fs::path kMount = "/bin/mount";
const fs::path kShell = "/bin/sh";
const fs::path kSystemBusDir = "/run/dbus";  // sd_bus_open_system()'s default socket is in it
const fs::path kLibDir = "/usr/lib/x86_64-linux-gnu";
const fs::path kPamMatrix = kLibDir / "pam_wrapper/pam_matrix.so";
const fs::path kPamPermit = "/lib/x86_64-linux-gnu/security/pam_permit.so";
const fs::path kPamDeny = "/lib/x86_64-linux-gnu/security/pam_deny.so";
const char* const kPassword = "secret";
const char* const kSessionMarker = "lwauth-e2e-ok";

// The client's own timeouts (connect, each wait for a code) stay well below sshd's
// LoginGraceTime (120 s); timeout(1) is only a backstop against a hung client.
constexpr int kClientTimeoutSeconds = 30;
constexpr int kClientKillAfterSeconds = 150;

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!condition()) {
        if (std::chrono::steady_clock::now() > deadline) {
            return condition();
        }
        std::this_thread::sleep_for(50ms);
    }
    return true;
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

size_t count_of(const std::string& haystack, const std::string& needle) {
    size_t n = 0;
    for (size_t at = haystack.find(needle); at != std::string::npos;
         at = haystack.find(needle, at + 1)) {
        ++n;
    }
    return n;
}

std::string tail(const std::string& text, size_t lines) {
    size_t at = text.size();
    while (lines-- > 0 && at > 0) {
        at = text.rfind('\n', at - 1);
        if (at == std::string::npos) {
            return text;
        }
    }
    return text.substr(at == 0 ? 0 : at + 1);
}

// pam_wrapper makes a /tmp/pam.<char> dir for every process that loads it (the listener
// and each connection's re-exec'd sshd) and sshd leaves via _exit(), so they stay.
std::vector<fs::path> pam_wrapper_dirs() {
    std::vector<fs::path> dirs;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/tmp", ec)) {
        const std::string name = entry.path().filename().string();
        if (name.size() == 5 && name.starts_with("pam.") && entry.is_directory(ec)) {
            dirs.push_back(entry.path());
        }
    }
    return dirs;
}

// The pid recorded in a pam_wrapper dir, or -1 if there is none (yet).
pid_t pam_wrapper_dir_pid(const fs::path& dir) {
    std::string text = read_file(dir / "pid");
    try {
        long pid = std::stol(text);
        return pid > 0 ? static_cast<pid_t>(pid) : -1;
    } catch (const std::exception&) {
        return -1;
    }
}

// Each pam_wrapper dir with the pid it belongs to.
std::map<fs::path, pid_t> pam_wrapper_snapshot() {
    std::map<fs::path, pid_t> out;
    for (const auto& d : pam_wrapper_dirs()) {
        out[d] = pam_wrapper_dir_pid(d);
    }
    return out;
}

bool alive(pid_t pid) {
    return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM);
}

struct Login {
    int exit_code = -1;
    std::string out;  // the session's output
    std::string err;  // what the client saw: prompts, instructions, answers, errors
};

class SshdE2E : public ::testing::Test {
  protected:
    void SetUp() override {
        if (geteuid() != 0) {
            GTEST_SKIP() << "the sshd end-to-end tests must run as root";
        }
        for (const fs::path& needed :
             {kSshd, kSshKeygen, kPython, kTimeout, kUnshare, kMount, kShell,
              kLibDir / "libpam_wrapper.so", kLibDir / "libnss_wrapper.so", kPamMatrix, kPamPermit,
              kPamDeny, fs::path(LWAUTH_PAM_MODULE_PATH), client_script()}) {
            ASSERT_TRUE(fs::exists(needed))
                << "missing " << needed
                << " (packages: openssh-server python3-paramiko libpam-wrapper "
                   "libnss-wrapper)";
        }

        bus_ = std::make_unique<PrivateBus>(dir_.path());
        daemon_ = std::make_unique<Daemon>(dir_.path(), bus_->address(), policy());
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
        // A confirmed contact turns 2-step on for alice; bob has none (two_step = optional).
        ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com")) << daemon_->log();

        write_sshd_files();
        if (HasFatalFailure()) {
            return;
        }
        pam_dirs_before_ = pam_wrapper_snapshot();
        pam_dirs_noted_ = true;
        start_sshd();
    }

    void TearDown() override {
        if (sshd_.pid() > 0) {
            sshd_.stop(SIGTERM);
        }
        if (pam_dirs_noted_) {
            remove_stale_pam_wrapper_dirs();
        }
        daemon_.reset();
        bus_.reset();
    }

    [[nodiscard]] virtual std::string policy() const {
        return default_test_policy(outbox(), "[code]\ntries = 3\n");
    }
    /// Whether sshd's stack starts with pam_lwauth mode=primary (DESIGN.md's full stack).
    [[nodiscard]] virtual bool full_stack() const { return false; }

    /// The auth lines of DIR/pam.d/sshd: pam_matrix checks the password, and only if it is
    /// right does pam_lwauth ask for a code.
    [[nodiscard]] virtual std::string auth_stack() const {
        std::string stack;
        if (full_stack()) {
            stack += std::string("auth     [success=done ignore=ignore default=die] ") +
                     LWAUTH_PAM_MODULE_PATH + " mode=primary\n";
        }
        stack += password_line("requisite");
        stack +=
            std::string("auth     required  ") + LWAUTH_PAM_MODULE_PATH + " mode=second_factor\n";
        return stack;
    }
    /// pam_matrix, standing in for pam_unix, with the given control.
    [[nodiscard]] std::string password_line(const std::string& control) const {
        return "auth     " + control + " " + kPamMatrix.string() +
               " passdb=" + (dir_ / "passdb").string() + "\n";
    }
    /// sshd_config's AuthenticationMethods; publickey authentication is on when it is named.
    [[nodiscard]] virtual std::string authentication_methods() const {
        return "keyboard-interactive";
    }

    [[nodiscard]] fs::path outbox() const { return dir_ / "outbox.jsonl"; }
    [[nodiscard]] fs::path sshd_log_path() const { return dir_ / "sshd.log"; }
    [[nodiscard]] std::string sshd_log() const { return read_file(sshd_log_path()); }
    static fs::path client_script() { return source_dir() / "tests/e2e/ssh_client.py"; }

    void write_sshd_files() {
        const fs::path dir = dir_.path();
        // The users (alice, bob... and the privsep user sshd) and their homes are in
        // DIR/passwd and DIR/group already: PrivateBus and Daemon wrote them.
        ASSERT_TRUE(contains(read_file(dir / "passwd"), "\nsshd:"));
        fs::create_directories("/run/sshd");  // privsep chroot dir, compiled into sshd
        fs::permissions("/run/sshd", fs::perms(0755));
        // sshd runs pam_authenticate() in a child that empties its environment
        // (auth-pam.c: environ[0] = NULL), so DBUS_SYSTEM_BUS_ADDRESS never reaches
        // pam_lwauth and sd_bus_open_system() goes to the default
        // /run/dbus/system_bus_socket. sshd therefore runs in its own mount namespace in
        // which DIR/run-dbus, holding a link to the private bus's socket, is mounted on
        // /run/dbus. The host's /run/dbus is not touched (only created if missing, as a
        // mount point).
        fs::create_directories(kSystemBusDir);
        fs::create_directories(dir / "run-dbus");
        fs::create_symlink(dir / "system_bus_socket", dir / "run-dbus/system_bus_socket");

        const fs::path key = dir / "ssh_host_ed25519_key";
        auto keygen = run({kSshKeygen.string(), "-q", "-t", "ed25519", "-N", "", "-C", "lwauth-e2e",
                           "-f", key.string()},
                          base_env());
        ASSERT_EQ(keygen.exit_code, 0) << keygen.err;

        write_file(dir / "passdb",
                   std::string("alice:") + kPassword + ":sshd\nbob:" + kPassword + ":sshd\n");
        std::string service = auth_stack();
        service += "account  required " + kPamPermit.string() + "\n";
        service += "password required " + kPamPermit.string() + "\n";
        service += "session  required " + kPamPermit.string() + "\n";
        write_file(dir / "pam.d/sshd", service);
    }

    void write_sshd_config(int port) const {
        const fs::path dir = dir_.path();
        std::string config = "ListenAddress 127.0.0.1\n";
        config += "Port " + std::to_string(port) + "\n";
        config += "HostKey " + (dir / "ssh_host_ed25519_key").string() + "\n";
        config += "PidFile " + (dir / "sshd.pid").string() + "\n";
        const std::string methods = authentication_methods();
        config += "AuthenticationMethods " + methods + "\n";
        config += std::string("PubkeyAuthentication ") +
                  (contains(methods, "publickey") ? "yes" : "no") + "\n";
        config +=
            "UsePAM yes\n"
            "KbdInteractiveAuthentication yes\n"
            "PasswordAuthentication no\n"
            "HostbasedAuthentication no\n"
            "PermitRootLogin no\n"
            "StrictModes no\n"
            "PrintMotd no\n"
            "PrintLastLog no\n"
            "UseDNS no\n"
            "X11Forwarding no\n"
            "AllowTcpForwarding no\n"
            "AllowAgentForwarding no\n"
            "LogLevel VERBOSE\n";
        write_file(dir / "sshd_config", config);
    }

    // The environment of sshd itself. LD_PRELOAD is set by sshd_argv()'s shell just
    // before it becomes sshd, so that unshare, sh and mount run without the wrappers (nor,
    // in the asan preset, the sanitizer runtime).
    std::map<std::string, std::string> sshd_env() const {
        auto env = nss_wrapper_env(dir_.path());
        env.erase("LD_PRELOAD");
        env["PAM_WRAPPER"] = "1";
        env["PAM_WRAPPER_SERVICE_DIR"] = (dir_ / "pam.d").string();
        // For sshd's own processes. The PAM auth child loses it (see write_sshd_files),
        // which is why the private bus is also mounted at the default address.
        env["DBUS_SYSTEM_BUS_ADDRESS"] = bus_->address();
#ifdef LWAUTH_ASAN_RUNTIME
        // sshd is not instrumented but loads the instrumented module: the ASan runtime comes
        // first in LD_PRELOAD (sshd_argv()), and pam_wrapper loads libpam without
        // RTLD_DEEPBIND, which the runtime refuses (as for the pam tests, pam_wrapper_main.cpp).
        env["UID_WRAPPER_DISABLE_DEEPBIND"] = "1";
        // No LeakSanitizer in sshd's processes: its check at exit stops the process's
        // threads with ptrace, which the seccomp sandbox of sshd's preauth child answers
        // with SIGSYS. The module's leaks are checked where libpam runs in the test itself
        // (the pam label); ASan's and UBSan's other reports still fail the test here.
        const std::string leaks_on = "detect_leaks=1";
        std::string& options = env["ASAN_OPTIONS"];
        if (auto at = options.find(leaks_on); at != std::string::npos) {
            options.replace(at, leaks_on.size(), "detect_leaks=0");
        }
#endif
        return env;
    }

    // unshare(1) gives sshd a private mount namespace; the shell mounts DIR/run-dbus on
    // /run/dbus there and execs sshd, which keeps the pid (so stopping the Process stops
    // the listener; the namespace goes with sshd and its connection processes).
    std::vector<std::string> sshd_argv() const {
        const std::string script =
            "set -e; " + kMount.string() + " --bind \"$0\" " + kSystemBusDir.string() +
            "; export LD_PRELOAD='" + preload("libpam_wrapper.so libnss_wrapper.so") +
            "'; exec \"$@\"";
        return {kUnshare.string(),
                "--mount",
                "--propagation",
                "private",
                "--",
                kShell.string(),
                "-c",
                script,
                (dir_ / "run-dbus").string(),
                kSshd.string(),
                "-D",
                "-e",
                "-f",
                (dir_ / "sshd_config").string()};
    }

    void start_sshd() {
        std::string last_log;
        for (int attempt = 1; attempt <= 5; ++attempt) {
            port_ = pick_free_port();
            ASSERT_GT(port_, 0) << "no free port";
            write_sshd_config(port_);
            std::error_code ec;
            fs::remove(sshd_log_path(), ec);
            sshd_ = Process(sshd_argv(), sshd_env(), sshd_log_path());
            const std::string ready =
                "Server listening on 127.0.0.1 port " + std::to_string(port_) + ".";
            bool listening =
                wait_until([&] { return contains(sshd_log(), ready) || !sshd_.running(); }, 30s) &&
                contains(sshd_log(), ready);
            if (listening && sshd_.running()) {
                return;
            }
            last_log = sshd_log();
            sshd_.stop(SIGKILL);
            // Someone took the port between our probe and sshd's bind: try another one.
            if (!contains(last_log, "Cannot bind any address") &&
                !contains(last_log, "Address already in use")) {
                break;
            }
        }
        FAIL() << "sshd did not start:\n" << last_log;
    }

    // Waits for the processes behind the pam_wrapper dirs made since SetUp (the listener
    // and the connections' sshd processes, which finish on their own once the client is
    // gone), then removes those dirs. Dirs of processes still alive are left alone.
    void remove_stale_pam_wrapper_dirs() const {
        std::vector<fs::path>
            ours;  // new dirs, and old ones that pam_wrapper reused for our processes
        for (const auto& [d, pid] : pam_wrapper_snapshot()) {
            auto before = pam_dirs_before_.find(d);
            if (before == pam_dirs_before_.end() || before->second != pid) {
                ours.push_back(d);
            }
        }
        wait_until(
            [&] {
                for (const auto& d : ours) {
                    if (alive(pam_wrapper_dir_pid(d))) {
                        return false;
                    }
                }
                return true;
            },
            10s);
        for (const auto& d : ours) {
            pid_t pid = pam_wrapper_dir_pid(d);
            if (pid > 0 && !alive(pid)) {
                std::error_code ec;
                fs::remove_all(d, ec);
            }
        }
    }

    Login login(const std::string& user, const std::string& password,
                const std::string& code_mode) const {
        return run_client({"--user", user, "--password", password, "--code-mode", code_mode});
    }

    // ssh_client.py with these arguments, the port, the outbox and the timeout.
    Login run_client(const std::vector<std::string>& args) const {
        const std::string port = std::to_string(port_);
        const std::string kill_after = std::to_string(kClientKillAfterSeconds);
        const std::string timeout = std::to_string(kClientTimeoutSeconds);
        std::vector<std::string> argv = {kTimeout.string(),
                                         "-k",
                                         "5",
                                         kill_after,
                                         kPython.string(),
                                         client_script().string(),
                                         "--port",
                                         port,
                                         "--outbox",
                                         outbox().string(),
                                         "--timeout",
                                         timeout};
        argv.insert(argv.end(), args.begin(), args.end());
        auto r = run(argv, base_env());
        return {r.exit_code, r.out, r.err};
    }

    // Everything worth seeing when an expectation about a login fails.
    std::string explain(const Login& l) const {
        return "client exit " + std::to_string(l.exit_code) + "\n--- client stdout:\n" + l.out +
               "\n--- client stderr:\n" + l.err + "\n--- sshd log (tail):\n" +
               tail(sshd_log(), 40) + "\n--- lwauthd log (tail):\n" + tail(daemon_->log(), 40);
    }

    // sshd logs the outcome from the connection's process; it may land a moment after the
    // client has returned.
    bool sshd_logged(const std::string& line) const {
        return wait_until([&] { return contains(sshd_log(), line); }, 10s);
    }

    TempDir dir_{"lwauth-e2e-sshd"};
    std::unique_ptr<PrivateBus> bus_;
    std::unique_ptr<Daemon> daemon_;
    Process sshd_;
    int port_ = -1;
    std::map<fs::path, pid_t> pam_dirs_before_;  // pam_wrapper dirs (and their pids) before sshd
    bool pam_dirs_noted_ = false;
};

TEST_F(SshdE2E, AliceLogsInWithPasswordAndCode) {
    const size_t sent_before = read_outbox(outbox()).size();
    Login l = login("alice", kPassword, "right");
    ASSERT_EQ(l.exit_code, 0) << explain(l);
    EXPECT_TRUE(contains(l.out, kSessionMarker)) << explain(l);
    EXPECT_TRUE(contains(l.err, "Verification code")) << explain(l);
    EXPECT_TRUE(contains(l.err, "A verification code was sent by email")) << explain(l);

    // Exactly one new message, to alice's address, and its code is what the client typed.
    auto messages = read_outbox(outbox());
    ASSERT_EQ(messages.size(), sent_before + 1) << explain(l);
    const auto& sent = messages.back();
    EXPECT_EQ(sent.user, "alice");
    EXPECT_EQ(sent.destination, "alice@example.com");
    EXPECT_EQ(sent.kind, "email");
    ASSERT_FALSE(sent.code().empty());
    EXPECT_TRUE(contains(l.err, "answer (code, mode=right): '" + sent.code() + "'")) << explain(l);
    EXPECT_FALSE(contains(l.err, "Wrong code")) << explain(l);

    EXPECT_TRUE(sshd_logged("Accepted keyboard-interactive/pam for alice")) << explain(l);
}

TEST_F(SshdE2E, WrongCodeIsDenied) {
    const size_t sent_before = read_outbox(outbox()).size();
    Login l = login("alice", kPassword, "wrong");
    ASSERT_EQ(l.exit_code, 1) << explain(l);
    EXPECT_FALSE(contains(l.out, kSessionMarker)) << explain(l);
    // tries = 3: the code is asked for three times, every answer is wrong, then the
    // login is denied (lockout's max_failures = 5 is not reached).
    EXPECT_EQ(count_of(l.err, "answer (code, mode=wrong)"), 3u) << explain(l);
    EXPECT_TRUE(contains(l.err, "Wrong code. 2 tries left.")) << explain(l);
    EXPECT_TRUE(contains(l.err, "Wrong code. 1 try left.")) << explain(l);
    EXPECT_TRUE(contains(l.err, "No tries are left for this code")) << explain(l);
    EXPECT_EQ(read_outbox(outbox()).size(), sent_before + 1) << "one code, no resend";

    EXPECT_TRUE(sshd_logged("Failed keyboard-interactive/pam for alice")) << explain(l);
    EXPECT_FALSE(contains(sshd_log(), "Accepted keyboard-interactive/pam for alice")) << explain(l);
    EXPECT_TRUE(contains(daemon_->log(), "code-wrong")) << daemon_->log();
}

TEST_F(SshdE2E, BobWithoutTwoStepNeedsOnlyThePassword) {
    const size_t sent_before = read_outbox(outbox()).size();
    Login l = login("bob", kPassword, "none");
    ASSERT_EQ(l.exit_code, 0) << explain(l);
    EXPECT_TRUE(contains(l.out, kSessionMarker)) << explain(l);
    EXPECT_TRUE(contains(l.err, "assword")) << explain(l);
    EXPECT_FALSE(contains(l.err, "Verification code")) << explain(l);
    EXPECT_FALSE(contains(l.err, "answer (code")) << explain(l);
    EXPECT_EQ(read_outbox(outbox()).size(), sent_before) << "no code is sent to bob";
    EXPECT_TRUE(sshd_logged("Accepted keyboard-interactive/pam for bob")) << explain(l);
}

TEST_F(SshdE2E, WrongPasswordSendsNoCode) {
    const size_t sent_before = read_outbox(outbox()).size();
    Login l = login("alice", "not-the-password", "right");
    ASSERT_EQ(l.exit_code, 1) << explain(l);
    EXPECT_FALSE(contains(l.err, "Verification code")) << explain(l);
    // pam_matrix is requisite: the stack stops before pam_lwauth asks lwauthd for a code.
    EXPECT_EQ(read_outbox(outbox()).size(), sent_before) << explain(l);
    EXPECT_TRUE(sshd_logged("Failed keyboard-interactive/pam for alice")) << explain(l);
}

TEST_F(SshdE2E, DaemonDownDeniesUnderSecureFailmode) {
    ASSERT_EQ(daemon_->stop(), 0) << daemon_->log();
    ASSERT_FALSE(wait_for_name(bus_->address(), "org.lwauth.Auth1", 0ms));
    const size_t sent_before = read_outbox(outbox()).size();

    // No failmode= in the service file: secure is the default.
    Login l = login("alice", kPassword, "right");
    ASSERT_EQ(l.exit_code, 1) << explain(l);
    EXPECT_FALSE(contains(l.out, kSessionMarker)) << explain(l);
    EXPECT_FALSE(contains(l.err, "Verification code")) << explain(l);
    EXPECT_TRUE(contains(l.err, "The login verification service is not available")) << explain(l);
    EXPECT_EQ(read_outbox(outbox()).size(), sent_before);
    EXPECT_TRUE(sshd_logged("Failed keyboard-interactive/pam for alice")) << explain(l);
}

// An authenticator app: bob adds one with lwauthctl, then logs in over SSH with his
// password and the app's code, which the client gets from Debian's oathtool.
class SshdTotp : public SshdE2E {
  protected:
    std::string policy() const override {
        return SshdE2E::policy() + "\n[policy]\ntotp = allowed\n";
    }
};

TEST_F(SshdTotp, BobLogsInWithPasswordAndHisAppsCodeAndNothingIsSent) {
    RunResult add = daemon_->ctl("bob", {"--json", "totp", "add"});
    ASSERT_EQ(add.exit_code, 0) << add.err << daemon_->log();
    std::string uri = nlohmann::json::parse(add.out).value("uri", "");
    std::string secret = uri.substr(uri.find("secret=") + 7, 32);
    RunResult confirm = daemon_->ctl("bob", {"totp", "confirm", oathtool_totp(secret)});
    ASSERT_EQ(confirm.exit_code, 0) << confirm.out << confirm.err << daemon_->log();

    const size_t sent_before = read_outbox(outbox()).size();
    // The next step's code: the enrolling code's step counts as used.
    Login l = run_client({"--user", "bob", "--password", kPassword, "--totp-secret", secret,
                          "--totp-offset", "30"});
    ASSERT_EQ(l.exit_code, 0) << explain(l);
    EXPECT_TRUE(contains(l.out, kSessionMarker)) << explain(l);
    EXPECT_TRUE(contains(l.err, "Authenticator app code")) << explain(l);
    EXPECT_EQ(read_outbox(outbox()).size(), sent_before) << "no code is sent";
    EXPECT_TRUE(sshd_logged("Accepted keyboard-interactive/pam for bob")) << explain(l);
}

// DESIGN.md's full stack: mode=primary first. Alice may log in with her phone number.
class SshdPhoneLogin : public SshdE2E {
  protected:
    std::string policy() const override {
        return SshdE2E::policy() + "\n[policy]\nlogin_with_phone = allowed\n" + extra_policy();
    }
    virtual std::string extra_policy() const { return ""; }
    bool full_stack() const override { return true; }

    void SetUp() override {
        SshdE2E::SetUp();
        if (IsSkipped() || HasFatalFailure()) {
            return;
        }
        ASSERT_TRUE(daemon_->enroll("alice", "phone", kAlicePhone)) << daemon_->log();
    }

    static constexpr const char* kAlicePhone = "+819012345678";
};

TEST_F(SshdPhoneLogin, AliceLogsInWithACodeToHerPhoneAndNoPassword) {
    const size_t sent_before = read_outbox(outbox()).size();
    Login l = login("alice", "never-asked", "right");
    ASSERT_EQ(l.exit_code, 0) << explain(l);
    EXPECT_TRUE(contains(l.out, kSessionMarker)) << explain(l);
    EXPECT_FALSE(contains(l.err, "assword:")) << "no password prompt\n" << explain(l);
    EXPECT_TRUE(contains(l.err, "A verification code was sent by SMS to +81")) << explain(l);
    EXPECT_TRUE(contains(l.err, "Type p to log in with your password instead.")) << explain(l);
    auto messages = read_outbox(outbox());
    ASSERT_EQ(messages.size(), sent_before + 1) << "one code: no second factor after it";
    EXPECT_EQ(messages.back().destination, kAlicePhone);
    EXPECT_EQ(messages.back().kind, "sms");
    EXPECT_TRUE(sshd_logged("Accepted keyboard-interactive/pam for alice")) << explain(l);
}

TEST_F(SshdPhoneLogin, AWrongCodeDeniesWithoutAskingForThePassword) {
    Login l = login("alice", kPassword, "wrong");
    ASSERT_EQ(l.exit_code, 1) << explain(l);
    EXPECT_FALSE(contains(l.err, "assword:")) << explain(l);
    EXPECT_TRUE(sshd_logged("Failed keyboard-interactive/pam for alice")) << explain(l);
}

TEST_F(SshdPhoneLogin, BobWithoutAPhoneGetsThePasswordAsBefore) {
    Login l = login("bob", kPassword, "none");
    ASSERT_EQ(l.exit_code, 0) << explain(l);
    EXPECT_TRUE(contains(l.err, "assword")) << explain(l);
    EXPECT_FALSE(contains(l.err, "Verification code")) << explain(l);
}

// DESIGN.md's full stack with login_with_line: bob has linked his LINE account (through
// lwauthctl line link and the test phone, with the fake LINE Login provider); the client
// approves in LINE with the phone when asked.
class SshdLineLogin : public SshdE2E {
  protected:
    std::string policy() const override {
        return SshdE2E::policy() + "\n[policy]\nlogin_with_line = allowed\n" +
               line_.policy_section(public_url(), line_port_, std::string(32, 's'));
    }
    bool full_stack() const override { return true; }

    void SetUp() override {
        ASSERT_TRUE(line_.ready()) << line_.log();
        SshdE2E::SetUp();
        if (IsSkipped() || HasFatalFailure()) {
            return;
        }
        RunResult linked = line_.link(*daemon_, "bob", dir_ / "link.log");
        ASSERT_EQ(linked.exit_code, 0) << linked.out << linked.err << daemon_->log();
    }

    [[nodiscard]] std::string public_url() const {
        return "http://127.0.0.1:" + std::to_string(line_port_);
    }

    Login login_with_phone(const std::string& pick) const {
        return run_client({"--user", "bob", "--password", "never-asked", "--line-ca",
                           line_.ca().string(), "--line-pick", pick});
    }

    int line_port_ = pick_free_port();  // [line] listen
    LineProvider line_{dir_.path(), public_url() + "/line/callback"};
};

TEST_F(SshdLineLogin, BobApprovesInLineAndLogsInWithoutAPassword) {
    Login l = login_with_phone("right");
    ASSERT_EQ(l.exit_code, 0) << explain(l);
    EXPECT_TRUE(contains(l.out, kSessionMarker)) << explain(l);
    EXPECT_TRUE(contains(l.err, "Then pick this number in LINE: ")) << explain(l);
    EXPECT_TRUE(contains(l.err, "phone (pick=right): exit 0")) << explain(l);
    EXPECT_FALSE(contains(l.err, "assword:")) << "no password prompt\n" << explain(l);
    EXPECT_TRUE(sshd_logged("Accepted keyboard-interactive/pam for bob")) << explain(l);
}

TEST_F(SshdLineLogin, AWrongNumberPickedInLineDeniesWithoutAskingForThePassword) {
    Login l = login_with_phone("wrong");
    ASSERT_EQ(l.exit_code, 1) << explain(l);
    EXPECT_TRUE(contains(l.err, "The wrong number was picked in LINE.")) << explain(l);
    EXPECT_FALSE(contains(l.err, "assword:")) << explain(l);
    EXPECT_TRUE(sshd_logged("Failed keyboard-interactive/pam for bob")) << explain(l);
}

class SshdPhoneLoginLocalOnly : public SshdPhoneLogin {
  protected:
    std::string extra_policy() const override { return "[login]\nphone_local_only = yes\n"; }
};

TEST_F(SshdPhoneLoginLocalOnly, ARemoteSessionGetsThePasswordAndTwoStep) {
    const size_t sent_before = read_outbox(outbox()).size();
    Login l = login("alice", kPassword, "right");
    ASSERT_EQ(l.exit_code, 0) << explain(l);
    EXPECT_TRUE(contains(l.err, "assword")) << explain(l);
    EXPECT_FALSE(contains(l.err, "Type p to log in with your password")) << explain(l);
    EXPECT_EQ(read_outbox(outbox()).size(), sent_before + 1) << "only 2-step's code";
}

// "SSH with a key and a code" (pam_lwauth(8)): sshd asks for a key, then for a code and no
// password. The auth stack has no password module; lwauth's success ends it, and its
// PAM_IGNORE (2-step does not apply, or lwauthd unreachable under failmode=safe) meets
// pam_deny, so that the key alone never logs in.
class SshdKeyAndCode : public SshdE2E {
  protected:
    void SetUp() override {
        SshdE2E::SetUp();
        if (IsSkipped() || HasFatalFailure()) {
            return;
        }
        // alice and bob accept user_key; stranger_key is nobody's.
        make_key(user_key());
        make_key(stranger_key());
        const std::string authorized = read_file(user_key().string() + ".pub");
        for (const char* user : {"alice", "bob"}) {
            const fs::path ssh_dir = dir_ / "home" / user / ".ssh";
            fs::create_directories(ssh_dir);
            write_file(ssh_dir / "authorized_keys", authorized);
        }
    }

    std::string authentication_methods() const override { return "publickey,keyboard-interactive"; }
    std::string auth_stack() const override {
        return std::string("auth     [success=done ignore=ignore default=die] ") +
               LWAUTH_PAM_MODULE_PATH + " mode=second_factor" + lwauth_options() + "\n" +
               "auth     requisite " + kPamDeny.string() + "\n";
    }
    [[nodiscard]] virtual std::string lwauth_options() const { return ""; }

    [[nodiscard]] fs::path user_key() const { return dir_ / "user_key"; }
    [[nodiscard]] fs::path stranger_key() const { return dir_ / "stranger_key"; }

    void make_key(const fs::path& key) const {
        auto keygen = run({kSshKeygen.string(), "-q", "-t", "ed25519", "-N", "", "-C",
                           key.filename().string(), "-f", key.string()},
                          base_env());
        ASSERT_EQ(keygen.exit_code, 0) << keygen.err;
    }

    // A login that offers key (if any) and then goes on to keyboard-interactive; no
    // password is given to the client.
    Login login_with_key(const std::string& user, const fs::path& key,
                         const std::string& code_mode) const {
        std::vector<std::string> args = {"--user", user, "--code-mode", code_mode};
        if (!key.empty()) {
            args.insert(args.end(), {"--key", key.string()});
        }
        return run_client(args);
    }
};

TEST_F(SshdKeyAndCode, TheKeyAndTheRightCodeLogInWithNoPasswordAsked) {
    const size_t sent_before = read_outbox(outbox()).size();
    Login l = login_with_key("alice", user_key(), "right");
    ASSERT_EQ(l.exit_code, 0) << explain(l);
    EXPECT_TRUE(contains(l.out, kSessionMarker)) << explain(l);
    EXPECT_TRUE(contains(l.err, "publickey accepted (partial), methods left: keyboard-interactive"))
        << explain(l);
    EXPECT_FALSE(contains(l.err, "assword")) << "no password prompt\n" << explain(l);
    EXPECT_EQ(count_of(l.err, "prompt ("), 1u) << "the code prompt alone\n" << explain(l);

    auto messages = read_outbox(outbox());
    ASSERT_EQ(messages.size(), sent_before + 1) << explain(l);
    ASSERT_FALSE(messages.back().code().empty());
    EXPECT_EQ(messages.back().destination, "alice@example.com");
    EXPECT_TRUE(contains(l.err, "answer (code, mode=right): '" + messages.back().code() + "'"))
        << explain(l);

    EXPECT_TRUE(sshd_logged("Partial publickey for alice")) << explain(l);
    EXPECT_TRUE(sshd_logged("Accepted keyboard-interactive/pam for alice")) << explain(l);
}

TEST_F(SshdKeyAndCode, TheKeyAndAWrongCodeAreRefused) {
    const size_t sent_before = read_outbox(outbox()).size();
    Login l = login_with_key("alice", user_key(), "wrong");
    ASSERT_EQ(l.exit_code, 1) << explain(l);
    EXPECT_FALSE(contains(l.out, kSessionMarker)) << explain(l);
    EXPECT_FALSE(contains(l.err, "assword")) << explain(l);
    EXPECT_EQ(count_of(l.err, "answer (code, mode=wrong)"), 3u) << explain(l);
    EXPECT_TRUE(contains(l.err, "No tries are left for this code")) << explain(l);
    EXPECT_EQ(read_outbox(outbox()).size(), sent_before + 1) << "one code, no resend";
    EXPECT_TRUE(sshd_logged("Failed keyboard-interactive/pam for alice")) << explain(l);
    EXPECT_FALSE(contains(sshd_log(), "Accepted keyboard-interactive/pam for alice")) << explain(l);
}

TEST_F(SshdKeyAndCode, WithoutAKeyNothingIsAskedAndNoCodeSent) {
    const size_t sent_before = read_outbox(outbox()).size();
    Login l = login_with_key("alice", {}, "right");
    ASSERT_EQ(l.exit_code, 1) << explain(l);
    // sshd offers publickey alone until a key has been accepted.
    EXPECT_TRUE(contains(l.err, "allowed types: ['publickey']")) << explain(l);
    EXPECT_FALSE(contains(l.err, "prompt (")) << explain(l);
    EXPECT_EQ(read_outbox(outbox()).size(), sent_before) << explain(l);
    EXPECT_FALSE(contains(sshd_log(), "keyboard-interactive/pam for alice")) << explain(l);
}

TEST_F(SshdKeyAndCode, AnUnknownKeyIsRefusedBeforeAnyCodeIsSent) {
    const size_t sent_before = read_outbox(outbox()).size();
    // The client goes on to keyboard-interactive after the refused key all the same.
    Login l = login_with_key("alice", stranger_key(), "right");
    ASSERT_EQ(l.exit_code, 1) << explain(l);
    EXPECT_TRUE(contains(l.err, "publickey refused")) << explain(l);
    EXPECT_TRUE(contains(l.err, "allowed types: ['publickey']")) << explain(l);
    EXPECT_FALSE(contains(l.err, "prompt (")) << explain(l);
    EXPECT_EQ(read_outbox(outbox()).size(), sent_before) << explain(l);
    EXPECT_TRUE(sshd_logged("Failed publickey for alice")) << explain(l);
    EXPECT_FALSE(contains(sshd_log(), "keyboard-interactive/pam for alice")) << explain(l);
}

// bob has no 2-step: lwauth answers PAM_IGNORE, pam_deny refuses. With the module alone
// in the stack libpam would refuse too (a stack in which every module ignores fails), but
// any other auth line that succeeds, even an optional one, would let the key alone in.
TEST_F(SshdKeyAndCode, TheKeyAloneIsRefusedWhenTwoStepDoesNotApply) {
    const size_t sent_before = read_outbox(outbox()).size();
    Login l = login_with_key("bob", user_key(), "none");
    ASSERT_EQ(l.exit_code, 1) << explain(l);
    EXPECT_FALSE(contains(l.out, kSessionMarker)) << explain(l);
    EXPECT_FALSE(contains(l.err, "prompt (")) << explain(l);
    EXPECT_EQ(read_outbox(outbox()).size(), sent_before) << "no code is sent to bob";
    EXPECT_TRUE(sshd_logged("Partial publickey for bob")) << explain(l);
    EXPECT_TRUE(sshd_logged("Failed keyboard-interactive/pam for bob")) << explain(l);
}

class SshdKeyAndCodeSafeFailmode : public SshdKeyAndCode {
  protected:
    std::string lwauth_options() const override { return " failmode=safe"; }
};

// failmode=safe turns an unreachable lwauthd into PAM_IGNORE, which this stack refuses.
TEST_F(SshdKeyAndCodeSafeFailmode, TheKeyAloneIsRefusedWhenLwauthdIsDown) {
    ASSERT_EQ(daemon_->stop(), 0) << daemon_->log();
    ASSERT_FALSE(wait_for_name(bus_->address(), "org.lwauth.Auth1", 0ms));
    Login l = login_with_key("alice", user_key(), "right");
    ASSERT_EQ(l.exit_code, 1) << explain(l);
    EXPECT_FALSE(contains(l.out, kSessionMarker)) << explain(l);
    EXPECT_FALSE(contains(l.err, "prompt (")) << explain(l);
    EXPECT_TRUE(sshd_logged("Failed keyboard-interactive/pam for alice")) << explain(l);
}

// The pitfall: /etc/pam.d/sshd still includes common-auth (here Debian 12's, with
// pam_matrix standing in for pam_unix). After the key, keyboard-interactive asks for the
// password, then for the code; a user without 2-step gets in with key and password.
class SshdKeyAndCodeWithCommonAuth : public SshdKeyAndCode {
  protected:
    void SetUp() override {
        SshdKeyAndCode::SetUp();
        if (IsSkipped() || HasFatalFailure()) {
            return;
        }
        // Read by each connection's sshd.
        write_file(common_auth(), password_line("[success=1 default=ignore]") +
                                      "auth     requisite " + kPamDeny.string() +
                                      "\nauth     required " + kPamPermit.string() + "\n");
    }
    // By its full path: pam_wrapper redirects the service file alone, and libpam would look
    // for a bare "@include common-auth" in the real /etc/pam.d.
    [[nodiscard]] fs::path common_auth() const { return dir_ / "common-auth"; }
    std::string auth_stack() const override {
        return "@include " + common_auth().string() + "\nauth     required  " +
               LWAUTH_PAM_MODULE_PATH + " mode=second_factor\n";
    }
};

TEST_F(SshdKeyAndCodeWithCommonAuth, ThePasswordIsAskedAfterTheKeyThenTheCode) {
    Login l = run_client({"--user", "alice", "--key", user_key().string(), "--password", kPassword,
                          "--code-mode", "right"});
    ASSERT_EQ(l.exit_code, 0) << explain(l);
    const size_t password_at = l.err.find("assword");
    const size_t code_at = l.err.find("Verification code");
    ASSERT_NE(password_at, std::string::npos) << explain(l);
    ASSERT_NE(code_at, std::string::npos) << explain(l);
    EXPECT_LT(password_at, code_at) << explain(l);
    EXPECT_TRUE(sshd_logged("Accepted keyboard-interactive/pam for alice")) << explain(l);
}

TEST_F(SshdKeyAndCodeWithCommonAuth, WithoutAPasswordTheKeyAndCodeAreNotEnough) {
    const size_t sent_before = read_outbox(outbox()).size();
    Login l = login_with_key("alice", user_key(), "right");
    ASSERT_EQ(l.exit_code, 1) << explain(l);
    EXPECT_TRUE(contains(l.err, "answer: <empty> (no --password given)")) << explain(l);
    EXPECT_EQ(read_outbox(outbox()).size(), sent_before) << "a wrong password sends no code";
}

TEST_F(SshdKeyAndCodeWithCommonAuth, WithoutTwoStepTheKeyAndPasswordLogIn) {
    Login l = run_client({"--user", "bob", "--key", user_key().string(), "--password", kPassword,
                          "--code-mode", "none"});
    ASSERT_EQ(l.exit_code, 0) << explain(l);
    EXPECT_TRUE(contains(l.err, "assword")) << explain(l);
    EXPECT_FALSE(contains(l.err, "Verification code")) << explain(l);
}

}  // namespace
}  // namespace lwauth::test
