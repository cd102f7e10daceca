// Test harness: temporary directories, child processes, a private dbus-daemon using the
// shipped D-Bus policy, the real lwauthd with users from nss_wrapper, the outbox, and
// lwauthctl run as any UID. Nothing here touches the real /etc, users or system bus.
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <istream>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lwauth::test {

namespace fs = std::filesystem;

/// Where the running test keeps what it leaves behind for tests/leak_audit.py, made on
/// first use: LWAUTH_TEST_KEEP/<pid><suite number><test number> when LWAUTH_TEST_KEEP is
/// an absolute path (with a file "test" naming the test; a child forked later keeps its
/// parent's pid there); empty otherwise.
[[nodiscard]] fs::path keep_dir();
/// Appends `text` and a newline to keep_dir()/`name` when there is a keep_dir(): what a
/// test typed ("answers") or was shown ("conversation") where no file holds it.
void keep_note(const std::string& name, const std::string& text);

/// A directory under /tmp, removed with everything in it when this dies. With
/// LWAUTH_TEST_KEEP set it stays: under keep_dir() when there is one, else in /tmp.
class TempDir {
  public:
    explicit TempDir(const std::string& prefix = "lwauth-test");
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    [[nodiscard]] const fs::path& path() const { return path_; }
    [[nodiscard]] fs::path operator/(const std::string& name) const { return path_ / name; }

  private:
    fs::path path_;
};

void write_file(const fs::path& path, const std::string& text, fs::perms mode = fs::perms(0644));
[[nodiscard]] std::string read_file(const fs::path& path);

/// A child process with its own environment (not inherited from the test, which may
/// carry pam_wrapper in LD_PRELOAD).
class Process {
  public:
    Process() = default;
    Process(std::vector<std::string> argv, std::map<std::string, std::string> env,
            const fs::path& log, std::optional<uid_t> uid = std::nullopt);
    ~Process();
    Process(Process&& other) noexcept;
    /// Takes charge of a child forked by the caller.
    static Process adopt(pid_t pid) {
        Process p;
        p.pid_ = pid;
        return p;
    }
    Process& operator=(Process&& other) noexcept;

    [[nodiscard]] pid_t pid() const { return pid_; }
    [[nodiscard]] bool running();
    /// Sends a signal and waits for the exit; returns the exit status (or 128+signal).
    int stop(int sig, std::chrono::milliseconds timeout = std::chrono::seconds(10));
    /// Waits for the process to exit by itself.
    std::optional<int> wait(std::chrono::milliseconds timeout);
    void signal(int sig);

  private:
    pid_t pid_ = -1;
    std::optional<int> status_;
};

struct RunResult {
    int exit_code = -1;
    std::string out;
    std::string err;
};

/// In a forked child: runs on as `uid` (gid = uid, no supplementary groups); root stays
/// root. False when the switch failed.
[[nodiscard]] bool become(uid_t uid);

/// Runs a program to completion as `uid` (gid = uid, no supplementary groups).
RunResult run(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
              std::optional<uid_t> uid = std::nullopt, const std::string& input = "");

/// As run(), with standard input a pipe: `early` is written to it at once; then `input`
/// is called (it may wait for what the child causes, such as a code in the outbox, as
/// long as the function it is given says the child still runs) and what it returns is
/// written too, before standard input is closed.
RunResult run_with_late_input(
    const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
    std::optional<uid_t> uid, const std::string& early,
    const std::function<std::string(const std::function<bool()>& child_runs)>& input);

/// The minimal environment for children: PATH and LANG (and add_sanitizer_env()'s).
std::map<std::string, std::string> base_env();

/// In the asan preset, the sanitizers' options for a child: leak checks, reports to a
/// directory of this test program that fails it after the last test when a report is
/// there (tests/support/sanitizers.cpp). Nothing in other builds.
void add_sanitizer_env(std::map<std::string, std::string>& env);
/// An LD_PRELOAD value: `libs`, after the AddressSanitizer runtime in the asan preset, for
/// a host that is not built with it but loads code that is (pam_wrapper and nss_wrapper
/// then load without RTLD_DEEPBIND, which the runtime refuses).
[[nodiscard]] std::string preload(const std::string& libs);

/// A private dbus-daemon of type "system" that includes the shipped lwauth bus policy
/// (or, with permissive=true, a policy that allows every call, to prove that lwauthd
/// checks callers itself). `extra_config` goes into <busconfig> as it is (limits, say).
class PrivateBus {
  public:
    /// With `systemd_activation`, the bus hands activation of services that name a
    /// SystemdService to whoever owns org.freedesktop.systemd1 (FakeSystemd), as
    /// Debian's system bus does.
    explicit PrivateBus(const fs::path& dir, bool permissive = false,
                        const std::string& extra_config = "", bool systemd_activation = false);
    ~PrivateBus();
    [[nodiscard]] const std::string& address() const { return address_; }
    /// Kills the bus daemon, as a crash of the system bus would.
    void kill() { process_.stop(SIGKILL); }

  private:
    std::string address_;
    Process process_;
};

/// A stand-in for systemd's side of bus activation: owns org.freedesktop.systemd1 on the
/// bus and answers every ActivationRequest with an ActivationFailure carrying
/// `error_name` (org.freedesktop.systemd1.UnitMasked, say), as systemd does for a unit
/// it will not start.
class FakeSystemd {
  public:
    FakeSystemd(const std::string& bus_address, const std::string& error_name,
                const std::string& error_message);
    /// Whether it owns its name (it is ready).
    [[nodiscard]] bool ready() const { return ready_; }

  private:
    Process process_;
    bool ready_ = false;
};

struct TestUser {
    std::string name;
    uid_t uid;
    std::vector<std::string> groups;
};

/// The system user lwauthd runs as under the shipped unit ("lwauth", group "lwauth" of the
/// same number), in every test's user database.
inline constexpr uid_t kDaemonUid = 40100;

/// The users every test knows: alice, bob, carol, dave, erin, frank, grace (uids
/// 40001...), plus root, nobody, sshd and lwauth; group "lwadmins" has frank and grace.
const std::vector<TestUser>& test_users();
[[nodiscard]] uid_t uid_of(const std::string& name);

/// Writes DIR/passwd and DIR/group for nss_wrapper with root, nobody, sshd and the test
/// users, and a home directory for each test user under DIR/home.
void write_user_db(const fs::path& dir);
/// base_env() plus nss_wrapper over DIR/passwd and DIR/group; where DIR/passwd.hidden
/// exists, its users are resolved by name and UID but not enumerated, as sssd's with
/// enumerate = false (support/nss_hidden.c).
std::map<std::string, std::string> nss_wrapper_env(const fs::path& dir);

/// Makes `path` (a directory, else an empty file) the user lwauth's (kDaemonUid), mode 0700
/// or 0600: what lwauthd run as lwauth (Daemon::run_as) needs before it starts and cannot
/// make in the test's root-owned directory, its state directory (as StateDirectory= makes
/// it) and the outbox. False when that failed.
[[nodiscard]] bool give_to_daemon(const fs::path& path, bool directory);

/// The words of LWAUTH_TEST_DAEMON_WRAPPER, which go before lwauthd's command line
/// (`valgrind --tool=memcheck --error-exitcode=99 ...`); none when it is not set.
std::vector<std::string> daemon_wrapper();

/// lwauthd with a policy directory, state directory and outbox in `dir`. Under a wrapper
/// (daemon_wrapper()), an exit status of kWrapperErrorExit from stop() or the end fails
/// the test.
class Daemon {
  public:
    Daemon(const fs::path& dir, const std::string& bus_address, const std::string& policy_text);
    ~Daemon();

    /// Runs another build of lwauthd from the next start() on (wait_daemon_path()).
    void set_program(fs::path program) { program_ = std::move(program); }
    /// Runs lwauthd as `uid` (gid = uid, no supplementary groups) from the next start() on,
    /// as the shipped unit runs it as lwauth (kDaemonUid). The state directory must then
    /// be there and be that user's, as systemd's StateDirectory= makes it.
    void run_as(uid_t uid) { user_ = uid; }
    /// Whether lwauthd serves its login socket (login_socket()) from the next start() on;
    /// it does unless told otherwise.
    void serve_login_socket(bool serve) { serve_login_socket_ = serve; }
    /// Starts lwauthd and waits until it owns its bus name. Returns false (and leaves the
    /// log) if it exited instead.
    bool start();
    /// SIGTERM, then wait; returns the exit status.
    int stop();
    /// SIGKILL, as a crash would.
    void kill();
    void reload();
    /// SIGSTOP: alive on the bus but answering nothing, as a hung daemon.
    void freeze();
    [[nodiscard]] bool running() { return process_.running(); }
    [[nodiscard]] pid_t pid() const { return process_.pid(); }
    /// Waits for lwauthd to exit by itself; its exit status, or nullopt on timeout.
    std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
        return process_.wait(timeout);
    }

    [[nodiscard]] fs::path config_dir() const { return dir_ / "etc"; }
    [[nodiscard]] fs::path state_dir() const { return dir_ / "state"; }
    [[nodiscard]] fs::path outbox() const { return dir_ / "outbox.jsonl"; }
    [[nodiscard]] fs::path log_path() const { return dir_ / "lwauthd.log"; }
    /// lwauthd's login socket (--login-socket), in DIR/run, which start() makes as
    /// systemd's RuntimeDirectory= does: mode 0700, the user's that lwauthd runs as.
    [[nodiscard]] fs::path login_socket() const { return dir_ / "run" / "login.socket"; }
    /// The machine ID lwauthd reads (--machine-id-file): DIR/machine-id, a random one
    /// written when the Daemon is made unless the file is there.
    [[nodiscard]] fs::path machine_id_file() const { return dir_ / "machine-id"; }
    [[nodiscard]] std::string log() const;
    /// How many times `text` is in the log.
    [[nodiscard]] size_t log_count(const std::string& text) const;
    /// Waits up to 10 s for the log to hold `text` at least `count` times.
    [[nodiscard]] bool log_shows(const std::string& text, size_t count = 1) const;
    void write_policy(const std::string& text) const;
    [[nodiscard]] std::map<std::string, std::string> client_env() const;
    [[nodiscard]] const std::string& bus_address() const { return bus_address_; }
    [[nodiscard]] fs::path passwd_path() const { return dir_ / "passwd"; }
    [[nodiscard]] fs::path group_path() const { return dir_ / "group"; }

    /// lwauthctl as the given user.
    RunResult ctl(const std::string& user, const std::vector<std::string>& args,
                  const std::string& input = "") const;

    /// lwauthctl as the given user, answering the code it asks for on standard input with
    /// the next code that reaches the outbox (as a user reads it off their phone), after
    /// the lines in `before` (wrong codes, say), which it is given at once.
    RunResult ctl_with_code(const std::string& user, const std::vector<std::string>& args,
                            const std::string& before = "") const;

    /// Adds and confirms a contact for a user through lwauthctl, reading the code from the
    /// outbox. Returns true on success.
    bool enroll(const std::string& user, const std::string& kind, const std::string& value) const;

    /// Runs SQL on the state database with sqlite3; its output (throws when it fails).
    std::string sql(const std::string& statements) const;

    /// What the state database answers a write that refuse_store_write() refuses.
    static constexpr const char* kStoreRefusal = "contacts refused by the test";
    /// Makes the state database refuse, for `user`, the write that `when` names up to its
    /// user column (e.g. "INSERT ON contacts WHEN NEW.user"): a trigger that aborts it with
    /// kStoreRefusal. lwauthd must be stopped.
    void refuse_store_write(const std::string& when, const std::string& user) const;

    /// The exit status that a wrapper's errors give (valgrind's --error-exitcode).
    static constexpr int kWrapperErrorExit = 99;

  private:
    int check_exit(int status) const;
    /// How long lwauthd may take to stop (and, under a wrapper, to start).
    static std::chrono::milliseconds patience();

    fs::path dir_;
    std::string bus_address_;
    fs::path program_;
    std::optional<uid_t> user_;
    bool serve_login_socket_ = true;
    Process process_;
};

struct OutboxMessage {
    std::string channel;
    std::string kind;
    std::string user;
    std::string destination;
    std::string text;
    [[nodiscard]] std::string code() const;  // the first run of 6-10 digits in text
};

/// All messages in the outbox file, oldest first.
std::vector<OutboxMessage> read_outbox(const fs::path& path);
/// The same, from the outbox's text.
std::vector<OutboxMessage> read_outbox(std::istream& in);
/// The code of the newest message in the outbox to `destination`; "" when none.
[[nodiscard]] std::string latest_code(const fs::path& outbox, const std::string& destination);

/// The outbox read through a descriptor opened by root, which a child process that has
/// dropped to a user's UID still reads (the file is lwauthd's, mode 0600, as a phone is
/// its user's alone).
class OutboxFd {
  public:
    explicit OutboxFd(const fs::path& path);
    ~OutboxFd();
    OutboxFd(const OutboxFd&) = delete;
    OutboxFd& operator=(const OutboxFd&) = delete;

    /// The code of the first message after those seen so far (those there when this was
    /// made, at first), waiting up to 10 s for it; "" when none came.
    std::string next_code();
    /// How many messages the outbox holds.
    [[nodiscard]] size_t count() const;

  private:
    [[nodiscard]] std::vector<OutboxMessage> messages() const;

    int fd_;
    size_t seen_;
};

/// Waits until `name` has an owner on the bus at `address`.
bool wait_for_name(const std::string& address, const std::string& name,
                   std::chrono::milliseconds timeout);

/// The code of an authenticator app with this base32 secret `offset` seconds from now, from
/// Debian's oathtool (RFC 6238: SHA-1, 30 s, 6 digits unless told), an implementation
/// apart from lwauthd's. Away from a step's last two seconds, so that lwauthd judges it in
/// the same step as the caller. Throws when oathtool fails. `algorithm` is oathtool's
/// name ("sha1", "sha256", "sha512").
std::string oathtool_totp(const std::string& secret, int64_t offset = 0, int digits = 6,
                          const std::string& algorithm = "sha1");

/// A policy that the tests start from: outbox channel, generous caps, small lockouts.
std::string default_test_policy(const fs::path& outbox, const std::string& extra = "");

/// Waits for a test server to print "LISTENING <port>" to its log (the gateway fakes, the
/// SMTP and HTTPS test servers do); the port, or 0 when none appeared within 10 s.
int wait_for_listening_port(const fs::path& log);

/// A root client of the Login interface, as the PAM module is: the final verdict (or the
/// D-Bus error name), the lines shown, and how many prompts were answered.
struct LoginResult {
    std::string verdict;
    std::vector<std::string> lines;
    int prompts = 0;
    // With LoginPlace::confirm: "ok" when Confirm was answered, else its D-Bus error name.
    std::string confirmed;
};

/// Runs a second_factor login for `user` on the bus at `address`, answering every prompt
/// with answer_of().
LoginResult login_as_root_with(const std::string& address, const std::string& user,
                               const std::function<std::string()>& answer_of);
/// The same, answering every prompt with `answer`.
LoginResult login_as_root(const std::string& address, const std::string& user,
                          const std::string& answer);
/// As login_as_root_with, answer_of() being given the client's unique bus name, to act on
/// it mid-login.
LoginResult login_as_root_named(const std::string& address, const std::string& user,
                                const std::function<std::string(const std::string&)>& answer_of);

/// Where a login comes from, as the module passes it in Start: the PAM service, and the
/// remote host or terminal when set.
struct LoginPlace {
    std::string service = "test";
    std::string rhost;
    std::string tty;
    std::string mode = "second_factor";
    // After a verdict with a handle, Confirm on the same connection, as pam_setcred does.
    bool confirm = false;
    // The wait for each reply that Start says, as the module says its timeout=; 0: none.
    uint64_t reply_timeout_usec = 0;
};
/// As login_as_root_with, from `place`.
LoginResult login_as_root_from(const std::string& address, const std::string& user,
                               const LoginPlace& place,
                               const std::function<std::string()>& answer_of);
/// As login_as_root_from, from a child process running as `uid` (gid = uid, no
/// supplementary groups), as a screen locker running as the user does; answer_of runs in
/// that child, so it reads only what the user may (or a descriptor opened before).
LoginResult login_as_uid_from(const std::string& address, uid_t uid, const std::string& user,
                              const LoginPlace& place,
                              const std::function<std::string()>& answer_of);

/// A monitor on the bus (org.freedesktop.DBus.Monitoring.BecomeMonitor, so root only):
/// it records the method calls to the bus driver of one member, such as lwauthd asking
/// GetConnectionUnixUser about a caller.
class BusMonitor {
  public:
    BusMonitor(const std::string& address, const std::string& driver_member);
    ~BusMonitor();
    BusMonitor(const BusMonitor&) = delete;
    BusMonitor& operator=(const BusMonitor&) = delete;
    /// The first string argument of every such call made so far, oldest first.
    std::vector<std::string> calls();

  private:
    std::string address_;
    std::string member_;
    sd_bus* bus_ = nullptr;
    std::vector<std::string> seen_;
};

/// Calls a method of lwauthd on the bus at `address` as `uid` (gid = uid, no
/// supplementary groups) from a child process; `append` adds the arguments. Returns the
/// D-Bus error name, or "" when the call succeeded.
std::string call_as(const std::string& address, uid_t uid, const char* interface,
                    const char* member, const std::function<void(sd_bus_message*)>& append = {});

/// How one call of call_rounds_as ended: the D-Bus error name ("" on success) and, for
/// a login step, its id and verdict.
struct CallReply {
    std::string error;
    std::string id;
    std::string verdict;
};
using Append = std::function<void(sd_bus_message*)>;
/// One round of calls to one method, all sent at once; `calls` gives one Append per call
/// (its arguments) from the replies of the round before.
struct CallRound {
    const char* interface;
    const char* member;
    std::function<std::vector<Append>(const std::vector<CallReply>& previous)> calls;
};
/// Runs the rounds on one connection as `uid` from a child process, as many clients
/// calling at the same moment would; each round waits for all its replies. Returns the
/// replies of each round, in the order of its calls.
std::vector<std::vector<CallReply>> call_rounds_as(const std::string& address, uid_t uid,
                                                   const std::vector<CallRound>& rounds);

/// A loopback TCP port that was free a moment ago (someone else may take it before the
/// caller binds it); -1 when none could be found.
int pick_free_port();

/// Injects a fault into the gateway fakes (tests/fakes/gateways.py) at `base_url`
/// (https://127.0.0.1:PORT): POST /_control with the given JSON, trusting `ca`.
RunResult gateway_control(const std::string& base_url, const fs::path& ca, const std::string& json);
/// How many requests to `service` the gateway fakes recorded in their journal
/// (STATE_DIR/requests.jsonl), delivered, failed or held.
[[nodiscard]] size_t gateway_requests(const fs::path& journal, const std::string& service);

/// The fake LINE Login provider (tests/fakes/line_login.py) on a free port over TLS, with
/// the test PKI made in DIR/pki, its journal in DIR/line-fake, its default channel
/// accepting `redirect_uri`; the test phone (tests/fakes/line_phone.py) trusts its CA.
class LineProvider {
  public:
    static constexpr const char* kChannelId = "1234567890";
    // Distinctive, so that tests/leak_audit.py finds it only where it was written.
    static constexpr const char* kChannelSecret = "7f3c9e1ab54d2068e9c1f7a3b6d40e52";
    static constexpr const char* kSub = "Ua1b2c3d4e5f60718293a4b5c6d7e8f90";  // its --sub

    LineProvider(const fs::path& dir, const std::string& redirect_uri);
    /// Whether it listens (else log() says why).
    [[nodiscard]] bool ready() const { return port_ != 0; }
    [[nodiscard]] std::string log() const { return read_file(dir_ / "line-fake.log"); }
    [[nodiscard]] std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
    [[nodiscard]] fs::path ca() const { return dir_ / "pki/ca.pem"; }
    /// A [line] section for lwauthd reached at `public_url` and listening on 127.0.0.1:`port`,
    /// with this provider; its channel secret in DIR/line-secret, and `subject_key` (32
    /// bytes or more) in DIR/subject.key.
    [[nodiscard]] std::string policy_section(const std::string& public_url, int port,
                                             const std::string& subject_key) const;
    /// Queues a decision or fault (its /_control); false when it was refused.
    [[nodiscard]] bool control(const std::string& json) const;
    /// The phone opens `url` and, with `pick`, picks that number on the page: the phone's
    /// JSON answer ({"status", "url", "body", "hops"}), or {"error": ...}.
    [[nodiscard]] std::string phone(const std::string& url, std::optional<int> pick) const;
    /// `lwauthctl line link` as `user`, its output in `log`; the phone follows the printed
    /// link and picks the printed number (`wrong`: another). lwauthctl's exit status (-1
    /// when it did not end) and output.
    RunResult link(const Daemon& daemon, const std::string& user, const fs::path& log,
                   bool wrong = false) const;

  private:
    fs::path dir_;
    Process process_;
    int port_ = 0;
};

/// The link and the number printed last in `text` (lwauthctl's or the module's), where
/// `number` matches the number in its first group; number -1 when there is none.
struct PrintedLink {
    std::string url;
    int number = -1;
};
PrintedLink last_printed_link(const std::string& text, const std::string& number);

/// Emits a signal on the bus at `address` from a connection that owns `name` (the bus
/// policy must let root own it), so that a match on that sender receives it; `append`
/// adds its arguments. Returns false when any step failed.
bool emit_signal_as(const std::string& address, const char* name, const char* path,
                    const char* interface, const char* member, const Append& append);

/// Paths of the built programs (from compile definitions); wait_daemon_path() is
/// lwauthd with the test method "test-wait" (tests/support/wait_daemon.cpp).
fs::path lwauthd_path();
fs::path wait_daemon_path();
fs::path lwauthctl_path();
fs::path source_dir();

}  // namespace lwauth::test
