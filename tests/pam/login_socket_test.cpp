// Root's logins over lwauthd's private login socket: the real pam_lwauth.so under libpam
// (pam_wrapper) and the real lwauthd, which serves the Login interface there peer to peer
// with no bus broker between. The tests' private bus has Debian's limit of 256
// connections per user. Whether a login went over the socket is read from the kernel:
// /proc/net/unix lists the socket's path on the listening socket and on every
// connection lwauthd has accepted from it.
#include <gtest/gtest.h>
#include <poll.h>
#include <security/pam_appl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <latch>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <systemd/sd-bus.h>

#include "conversation.hpp"
#include "harness.hpp"
#include "pam_service.hpp"

namespace lwauth::test {
namespace {

constexpr const char* kPamPermit = "/usr/lib/x86_64-linux-gnu/security/pam_permit.so";
constexpr const char* kPassword = "correct horse";
// Debian's system bus refuses a user's 257th connection.
constexpr const char* kDebianBusLimits = "<limit name=\"max_connections_per_user\">256</limit>";

// The connections lwauthd has accepted on the socket at `path` and not yet closed.
size_t connections_on(const fs::path& path) {
    std::ifstream in("/proc/net/unix");
    std::string line;
    size_t seen = 0;
    std::string tail = " " + path.string();
    while (std::getline(in, line)) {
        if (line.size() >= tail.size() &&
            line.compare(line.size() - tail.size(), tail.size(), tail) == 0) {
            ++seen;
        }
    }
    return seen > 0 ? seen - 1 : 0;  // the listening socket is one of them
}

// Whether lwauthd has closed every connection on `path` within 5 s.
bool all_closed(const fs::path& path) {
    for (int i = 0; i < 250 && connections_on(path) > 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return connections_on(path) == 0;
}

// The address of the Unix socket at `path`.
sockaddr_un address_of(const fs::path& path) {
    struct sockaddr_un address {};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.c_str(), path.string().size() + 1);
    return address;
}

// A socket listening at `path`, bound as `uid` (its file and its listener's credentials
// are that user's); -1 when it cannot be made.
int listen_at(const fs::path& path, uid_t uid = 0) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    struct sockaddr_un address = address_of(path);
    bool as_user = uid != 0 && ::setegid(uid) == 0 && ::seteuid(uid) == 0;
    int r = -1;
    if (uid == 0 || as_user) {
        r = ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
    }
    if (r == 0) {
        r = ::listen(fd, 8);
    }
    if (uid != 0 && (::seteuid(0) != 0 || ::setegid(0) != 0)) {
        std::abort();  // the test process must not go on as another user
    }
    if (r != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// A connection to the socket at `path`, as this process (root); -1 when connect() failed.
int connect_to(const fs::path& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    struct sockaddr_un address = address_of(path);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// Reads from `fd` into `in` until `enough` says so or 10 s have passed; whether it did.
bool read_until(int fd, std::string& in, const std::function<bool(const std::string&)>& enough) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!enough(in) && std::chrono::steady_clock::now() < deadline) {
        struct pollfd p = {fd, POLLIN, 0};
        if (::poll(&p, 1, 100) != 1) {
            continue;
        }
        char buffer[4096];
        ssize_t n = ::read(fd, buffer, sizeof(buffer));
        if (n <= 0) {
            break;
        }
        in.append(buffer, static_cast<size_t>(n));
    }
    return enough(in);
}

// A call of org.freedesktop.DBus.Peer.Ping on lwauthd's object as the wire carries it
// (little-endian, no body), with serial `serial`.
std::string ping_call(size_t serial) {
    auto pad = [](std::string& s) { s.resize((s.size() + 7) / 8 * 8, '\0'); };
    auto append_u32 = [](std::string& s, uint32_t value) {
        s.append(reinterpret_cast<const char*>(&value), sizeof(value));
    };
    std::string fields;
    auto field = [&](char code, char type, const std::string& value) {
        pad(fields);
        fields += {code, '\1', type, '\0'};
        append_u32(fields, static_cast<uint32_t>(value.size()));
        fields += value;
        fields += '\0';
    };
    field(1, 'o', "/org/lwauth/Auth1");
    field(2, 's', "org.freedesktop.DBus.Peer");
    field(3, 's', "Ping");
    std::string call = {'l', '\1', '\0', '\1'};
    append_u32(call, 0);  // body length
    append_u32(call, static_cast<uint32_t>(serial));
    append_u32(call, static_cast<uint32_t>(fields.size()));
    call += fields;
    pad(call);
    return call;
}

// The method returns among the messages that follow the authentication lines in `in`.
size_t method_returns(const std::string& in) {
    size_t ok = in.find("\r\nOK ");
    size_t at = ok == std::string::npos ? in.rfind("OK ", 0) : ok + 2;
    if (at == std::string::npos || (at = in.find("\r\n", at)) == std::string::npos) {
        return 0;
    }
    size_t returns = 0;
    for (at += 2; at + 16 <= in.size();) {
        uint32_t body = 0;
        uint32_t fields = 0;
        std::memcpy(&body, in.data() + at + 4, sizeof(body));
        std::memcpy(&fields, in.data() + at + 12, sizeof(fields));
        size_t size = 16 + (fields + 7) / 8 * 8 + body;
        if (at + size > in.size()) {
            break;
        }
        returns += in[at + 1] == 2 ? 1 : 0;
        at += size;
    }
    return returns;
}

class LoginSocketTest : public ::testing::Test {
  protected:
    void SetUp() override {
        bus_ = std::make_unique<PrivateBus>(dir_.path(), false, kDebianBusLimits);
        daemon_ = std::make_unique<Daemon>(dir_.path(), bus_->address(),
                                           default_test_policy(dir_ / "outbox.jsonl"));
        prepare_daemon();
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
        // The module runs inside this process: the private bus, and the daemon's socket.
        setenv("DBUS_SYSTEM_BUS_ADDRESS", bus_->address().c_str(), 1);
        setenv("LWAUTH_LOGIN_SOCKET", daemon_->login_socket().c_str(), 1);
    }

    /// Runs before lwauthd's first start.
    virtual void prepare_daemon() {}

    // pam_wrapper reads its service directory once per process: made once, never changed.
    static void SetUpTestSuite() {
        if (pam_dir_ != nullptr) {
            return;
        }
        static TempDir services("lwauth-pam-socket");
        pam_dir_ = &services;
        std::string matrix =
            use_pam_dir(pam_dir_->path(), kPassword, {"socket", "socket_safe", "socket_missing"});
        std::string module = LWAUTH_PAM_MODULE_PATH;
        std::string account = "account required " + std::string(kPamPermit) + "\n";
        auto two_step = [&](const std::string& args) {
            return "auth requisite " + matrix + "\nauth required " + module +
                   " mode=second_factor" + args + "\n" + account;
        };
        write_file(pam_dir_->path() / "pam.d" / "socket", two_step(""));
        write_file(pam_dir_->path() / "pam.d" / "socket_safe", two_step(" failmode=safe"));
        write_file(pam_dir_->path() / "pam.d" / "socket_missing",
                   two_step(" socket=/nonexistent-lwauth/login.socket"));
        write_file(pam_dir_->path() / "pam.d" / "socket_relative",
                   two_step(" socket=run/login.socket"));
        // A socket in a directory anyone may write to: anyone's.
        fs::create_directories(open_dir());
        fs::permissions(open_dir(), fs::perms::all);
        write_file(pam_dir_->path() / "pam.d" / "socket_open",
                   two_step(" timeout=10 socket=" + (open_dir() / "login.socket").string()));
        write_file(pam_dir_->path() / "pam.d" / "socket_user",
                   two_step(" timeout=10 socket=" + (open_dir() / "mine/login.socket").string()));
        // No password: many conversations at once, each holding its connection until
        // pam_setcred.
        write_file(pam_dir_->path() / "pam.d" / "hold", "auth required " + std::string(kPamPermit) +
                                                            "\nauth required " + module +
                                                            " mode=second_factor\n" + account);
    }

    static fs::path open_dir() {
        return pam_dir_->path() / "open";
    }

    // pam_authenticate, then pam_setcred when it succeeded, then pam_end: what
    // pam_authenticate returned.
    static int login(const std::string& service, const std::string& user, Person& person) {
        struct pam_conv conv = {converse, &person};
        pam_handle_t* pamh = nullptr;
        int rc = pam_start(service.c_str(), user.c_str(), &conv, &pamh);
        if (rc != PAM_SUCCESS) {
            return rc;
        }
        rc = pam_authenticate(pamh, 0);
        if (rc == PAM_SUCCESS) {
            pam_setcred(pamh, PAM_ESTABLISH_CRED);
        }
        pam_end(pamh, rc);
        return rc;
    }

    // At the keyboard: the password, and at a code prompt what at_method says.
    static Person someone() {
        return Person{"code", kPassword, {}, "", 0, 0};
    }

    // alice's code login, counting the socket's connections while it waits for the code;
    // `mid_login` runs then too.
    int alice_logs_in(const std::string& service, size_t& on_socket,
                      const std::function<void()>& mid_login = {}) {
        Person alice = someone();
        alice.at_method = [&](const std::string&) -> std::optional<std::string> {
            on_socket = connections_on(daemon_->login_socket());
            std::string code = latest_code(daemon_->outbox(), "alice@example.com");
            if (mid_login) {
                mid_login();
            }
            return code;
        };
        return login(service, "alice", alice);
    }

    static inline TempDir* pam_dir_ = nullptr;
    TempDir dir_{"lwauth-socket"};
    std::unique_ptr<PrivateBus> bus_;
    std::unique_ptr<Daemon> daemon_;
};

TEST_F(LoginSocketTest, ARootLoginGoesOverTheSocket) {
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com"));
    size_t on_socket = 0;
    EXPECT_EQ(alice_logs_in("socket", on_socket), PAM_SUCCESS) << daemon_->log();
    EXPECT_EQ(on_socket, 1u);
    EXPECT_TRUE(all_closed(daemon_->login_socket())) << "closed at pam_end";
}

TEST_F(LoginSocketTest, LoginsGoOnOverTheSocketWhenTheBusBrokerStops) {
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com"));
    bus_->kill();
    ASSERT_TRUE(daemon_->log_shows("bus-lost")) << daemon_->log();
    for (int i = 0; i < 2; ++i) {
        size_t on_socket = 0;
        EXPECT_EQ(alice_logs_in("socket", on_socket), PAM_SUCCESS) << daemon_->log();
        EXPECT_EQ(on_socket, 1u);
    }
    EXPECT_TRUE(daemon_->running());
}

TEST_F(LoginSocketTest, AMissingSocketFallsBackToTheBus) {
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com"));
    size_t on_socket = 1;
    EXPECT_EQ(alice_logs_in("socket_missing", on_socket), PAM_SUCCESS) << daemon_->log();
    EXPECT_EQ(on_socket, 0u);

    // The same when lwauthd has no socket at all (started without one, or it is gone).
    ASSERT_EQ(::unlink(daemon_->login_socket().c_str()), 0);
    EXPECT_EQ(alice_logs_in("socket", on_socket), PAM_SUCCESS) << daemon_->log();
}

// lwauthd out of file descriptors stops taking connections on the socket; with none of
// the socket's own open, no close would ever start it again: it takes them again a
// second later, and root's logins go on over the socket once descriptors are free.
TEST_F(LoginSocketTest, RunningOutOfDescriptorsOnlyPausesTheSocket) {
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com"));
    pid_t pid = daemon_->pid();
    struct rlimit before {};
    ASSERT_EQ(::prlimit(pid, RLIMIT_NOFILE, nullptr, &before), 0);
    // Descriptors 0-2 are open: no new one fits under 3.
    struct rlimit full = {3, before.rlim_max};
    ASSERT_EQ(::prlimit(pid, RLIMIT_NOFILE, &full, nullptr), 0);
    // Waits in the backlog: accept4() fails with EMFILE.
    int waiting = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(waiting, 0);
    struct sockaddr_un address {};
    address.sun_family = AF_UNIX;
    std::string path = daemon_->login_socket().string();
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    int connected =
        ::connect(waiting, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
    std::string why = connected == 0 ? "" : std::strerror(errno);
    ::close(waiting);
    ASSERT_EQ(connected, 0) << why;
    EXPECT_TRUE(daemon_->log_shows("Too many open files")) << daemon_->log();
    ASSERT_EQ(::prlimit(pid, RLIMIT_NOFILE, &before, nullptr), 0);
    size_t on_socket = 0;
    EXPECT_EQ(alice_logs_in("socket", on_socket), PAM_SUCCESS) << daemon_->log();
    EXPECT_EQ(on_socket, 1u);
}

// Whoever could write to the socket's directory could listen there and answer as lwauthd:
// the module leaves such a socket alone and uses the bus, whose name only lwauthd owns.
TEST_F(LoginSocketTest, ASocketInADirectoryOthersCanWriteIsNotUsed) {
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com"));
    fs::path path = open_dir() / "login.socket";
    fs::remove(path);
    int impostor = listen_at(path);
    ASSERT_GE(impostor, 0);
    size_t on_socket = 1;
    // It never answers: a module that used it would wait its timeout and fail.
    EXPECT_EQ(alice_logs_in("socket_open", on_socket), PAM_SUCCESS) << daemon_->log();
    EXPECT_EQ(on_socket, 0u) << "lwauthd's own socket is not the one named";
    ::close(impostor);
    fs::remove(path);
}

// In a sticky directory anyone may write to (/tmp), anyone could have made the socket's
// directory first, as their own, and listen in it: such a socket is not used either.
TEST_F(LoginSocketTest, ASocketInAUsersDirectoryInTmpIsNotUsed) {
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com"));
    fs::path mine = open_dir() / "mine";
    fs::create_directories(mine);
    fs::permissions(open_dir(), fs::perms::all | fs::perms::sticky_bit);
    uid_t bob = uid_of("bob");
    ASSERT_EQ(::chown(mine.c_str(), bob, bob), 0);
    fs::permissions(mine, fs::perms::owner_all);
    fs::path path = mine / "login.socket";
    fs::remove(path);
    // Bound and listening as bob: the socket file and the listener's credentials are his.
    int impostor = listen_at(path, bob);
    ASSERT_GE(impostor, 0);
    size_t on_socket = 1;
    EXPECT_EQ(alice_logs_in("socket_user", on_socket), PAM_SUCCESS) << daemon_->log();
    EXPECT_EQ(on_socket, 0u);
    ::close(impostor);
    fs::remove(path);
    fs::permissions(open_dir(), fs::perms::all);
}

TEST_F(LoginSocketTest, AMalformedSocketOptionFailsClosed) {
    Person bob = someone();
    EXPECT_EQ(login("socket_relative", "bob", bob), PAM_SERVICE_ERR);
}

TEST_F(LoginSocketTest, ARestartedLwauthdMidLoginLeavesTheLoginToFailmode) {
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com"));
    auto restart = [&] {
        daemon_->kill();
        EXPECT_TRUE(daemon_->start()) << daemon_->log();
    };
    size_t on_socket = 0;
    EXPECT_EQ(alice_logs_in("socket", on_socket, restart), PAM_AUTHINFO_UNAVAIL);
    EXPECT_EQ(on_socket, 1u);
    // failmode=safe: lwauth steps aside and the password alone decides.
    on_socket = 0;
    EXPECT_EQ(alice_logs_in("socket_safe", on_socket, restart), PAM_SUCCESS);
    EXPECT_EQ(on_socket, 1u);
}

TEST_F(LoginSocketTest, TheSocketAndItsDirectoryAreRootsAlone) {
    struct stat st {};
    ASSERT_EQ(::lstat(daemon_->login_socket().parent_path().c_str(), &st), 0);
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0700u);
    ASSERT_EQ(::lstat(daemon_->login_socket().c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0600u);
}

// Connects to the socket at `path` as `uid` from a child process: "refused" when
// connect() failed, "closed" when lwauthd closed the connection it accepted, "open" when
// it kept it for 5 s.
std::string connect_as(uid_t uid, const fs::path& path) {
    int fds[2];
    if (::pipe(fds) != 0) {
        return "";
    }
    pid_t pid = ::fork();
    if (pid == 0) {
        ::close(fds[0]);
        const char* result = "refused";
        int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un address {};
        address.sun_family = AF_UNIX;
        std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
        if (become(uid) && ::connect(fd, reinterpret_cast<const struct sockaddr*>(&address),
                                     sizeof(address)) == 0) {
            struct pollfd p = {fd, POLLIN, 0};
            char byte = 0;
            result = ::poll(&p, 1, 5000) == 1 && ::read(fd, &byte, 1) <= 0 ? "closed" : "open";
        }
        (void)!::write(fds[1], result, std::strlen(result));
        _exit(0);
    }
    ::close(fds[1]);
    std::string out;
    char buffer[64];
    for (ssize_t n; (n = ::read(fds[0], buffer, sizeof(buffer))) > 0;) {
        out.append(buffer, static_cast<size_t>(n));
    }
    ::close(fds[0]);
    ::waitpid(pid, nullptr, 0);
    return out;
}

TEST_F(LoginSocketTest, AnotherUserCannotReachTheSocket) {
    EXPECT_EQ(connect_as(uid_of("alice"), daemon_->login_socket()), "refused");
    EXPECT_EQ(connect_as(0, daemon_->login_socket()), "open") << "root is served";
}

// lwauthd as the shipped unit runs it: the user lwauth, whose socket it is.
class LoginSocketAsLwauth : public LoginSocketTest {
  protected:
    void prepare_daemon() override {
        daemon_->run_as(kDaemonUid);
        ASSERT_TRUE(give_to_daemon(daemon_->state_dir(), true));
        ASSERT_TRUE(give_to_daemon(daemon_->outbox(), false));
    }
};

TEST_F(LoginSocketAsLwauth, ACallerOtherThanRootIsClosedAtConnect) {
    // The socket's owner reaches it; lwauthd takes root alone.
    EXPECT_EQ(connect_as(kDaemonUid, daemon_->login_socket()), "closed");
    EXPECT_TRUE(daemon_->log_shows("caller_uid=" + std::to_string(kDaemonUid))) << daemon_->log();
    EXPECT_NE(daemon_->log().find("private-refused"), std::string::npos);
    // Root is served, though the socket is lwauth's.
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com"));
    size_t on_socket = 0;
    EXPECT_EQ(alice_logs_in("socket", on_socket), PAM_SUCCESS) << daemon_->log();
    EXPECT_EQ(on_socket, 1u);
}

TEST_F(LoginSocketTest, AConnectionThatNeverAuthenticatesIsClosed) {
    // Root connects and says nothing: lwauthd does not keep the connection (and a slot of
    // its kMaxConnections) past its authentication deadline, 25 s.
    int fd = connect_to(daemon_->login_socket());
    ASSERT_GE(fd, 0);
    struct pollfd p = {fd, POLLIN, 0};
    int ready = ::poll(&p, 1, 90 * 1000);
    char byte = 0;
    ssize_t got = ready == 1 ? ::read(fd, &byte, 1) : -1;
    ::close(fd);
    EXPECT_EQ(ready, 1) << "still open after 90 s";
    EXPECT_EQ(got, 0) << "closed by lwauthd";
    EXPECT_TRUE(daemon_->log_shows("did not authenticate in time")) << daemon_->log();
    // The socket goes on serving.
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com"));
    size_t on_socket = 0;
    EXPECT_EQ(alice_logs_in("socket", on_socket), PAM_SUCCESS) << daemon_->log();
    EXPECT_EQ(on_socket, 1u);
}

TEST_F(LoginSocketTest, StopsAtOnceWhileAConnectionIsHalfwayThroughAuthentication) {
    // Root's process connected and said AUTH, then stopped (SIGSTOP, a debugger) before
    // BEGIN. SIGTERM: lwauthd closes the connection and exits, rather than wait for the
    // peer to finish authenticating (sd-bus waits 90 s for that when flushing).
    int fd = connect_to(daemon_->login_socket());
    ASSERT_GE(fd, 0);
    const std::string auth("\0AUTH EXTERNAL 30\r\n", 19);
    ASSERT_EQ(::write(fd, auth.data(), auth.size()), static_cast<ssize_t>(auth.size()));
    std::string in;
    // The OK says that lwauthd has taken the connection on.
    EXPECT_TRUE(read_until(fd, in, [](const std::string& got) {
        return got.find("\r\n") != std::string::npos;
    }));
    EXPECT_EQ(in.rfind("OK ", 0), 0u) << in;
    EXPECT_EQ(daemon_->stop(), 0) << "not stopped within 10 s of SIGTERM: " << daemon_->log();
    ::close(fd);
}

TEST_F(LoginSocketTest, NoDescriptorsArePassedOverTheSocket) {
    // The Login interface takes no file descriptor: lwauthd agrees to none, so that no
    // caller can make it hold one (sd-bus would keep any that came with a message).
    int fd = connect_to(daemon_->login_socket());
    ASSERT_GE(fd, 0);
    const std::string auth("\0AUTH EXTERNAL 30\r\nNEGOTIATE_UNIX_FD\r\n", 38);
    ASSERT_EQ(::write(fd, auth.data(), auth.size()), static_cast<ssize_t>(auth.size()));
    std::string in;
    EXPECT_TRUE(read_until(fd, in, [](const std::string& got) {
        size_t first = got.find("\r\n");
        return first != std::string::npos && got.find("\r\n", first + 2) != std::string::npos;
    })) << in;
    ::close(fd);
    EXPECT_EQ(in.rfind("OK ", 0), 0u) << in;
    EXPECT_EQ(in.find("AGREE_UNIX_FD"), std::string::npos) << in;
    EXPECT_NE(in.find("\r\nERROR"), std::string::npos) << in;
    // The module's own connection, which asks for descriptors too, logs in all the same.
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com"));
    size_t on_socket = 0;
    EXPECT_EQ(alice_logs_in("socket", on_socket), PAM_SUCCESS) << daemon_->log();
    EXPECT_EQ(on_socket, 1u);
}

TEST_F(LoginSocketTest, CallsSentRightBehindBeginAreAllAnswered) {
    // The D-Bus stream of messages starts right after BEGIN: a client may send its calls
    // behind its authentication without waiting for OK. sd-bus reads what it finds in the
    // socket while it authenticates, so that those calls can all be read already, with
    // nothing left in the socket to wake lwauthd for them. Lines sd-bus answers ERROR to
    // come first, so that it reads the last part in one 4 KiB read.
    int fd = connect_to(daemon_->login_socket());
    ASSERT_GE(fd, 0);
    std::string out(1, '\0');
    while (out.size() < 4200) {
        out += "NOOP\r\n";
    }
    out += "AUTH EXTERNAL 30\r\nBEGIN\r\n";
    size_t calls = 0;
    for (std::string call; out.size() + (call = ping_call(calls + 1)).size() <= 8192; ++calls) {
        out += call;
    }
    ASSERT_GT(calls, 30u);
    ASSERT_EQ(::write(fd, out.data(), out.size()), static_cast<ssize_t>(out.size()));
    std::string in;
    read_until(fd, in, [&](const std::string& got) { return method_returns(got) >= calls; });
    ::close(fd);
    EXPECT_EQ(method_returns(in), calls) << daemon_->log();
}

TEST_F(LoginSocketTest, RepliesToAClientThatReadsLateAllArriveAndOthersLogInMeanwhile) {
    // A client sends thousands of calls and reads none of the replies for a while:
    // lwauthd's socket buffer fills and sd-bus queues the rest, which lwauthd must write
    // when the client reads again (the connection waits for POLLOUT then). Meanwhile
    // another login over the socket is served.
    constexpr int kCalls = 20000;
    sd_bus* raw = nullptr;
    ASSERT_GE(sd_bus_new(&raw), 0);
    std::unique_ptr<sd_bus, decltype(&sd_bus_flush_close_unref)> bus(raw, sd_bus_flush_close_unref);
    std::string address = "unix:path=" + daemon_->login_socket().string();
    ASSERT_GE(sd_bus_set_address(raw, address.c_str()), 0);
    ASSERT_GE(sd_bus_set_bus_client(raw, 0), 0);
    ASSERT_GE(sd_bus_start(raw), 0);
    int replies = 0;
    int errors = 0;
    auto on_reply = [](sd_bus_message* m, void* userdata, sd_bus_error*) -> int {
        auto* counts = static_cast<std::pair<int*, int*>*>(userdata);
        ++*(sd_bus_message_is_method_error(m, nullptr) ? counts->second : counts->first);
        return 0;
    };
    std::pair<int*, int*> counts{&replies, &errors};
    for (int i = 0; i < kCalls; ++i) {
        ASSERT_GE(sd_bus_call_method_async(raw, nullptr, nullptr, "/org/lwauth/Auth1",
                                           "org.freedesktop.DBus.Peer", "Ping", on_reply, &counts,
                                           ""),
                  0);
    }
    ASSERT_GE(sd_bus_flush(raw), 0);  // all written: lwauthd has read them or will
    // lwauthd answers into a socket nobody reads for a while.
    std::this_thread::sleep_for(std::chrono::seconds(1));
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com"));
    size_t on_socket = 0;
    EXPECT_EQ(alice_logs_in("socket", on_socket), PAM_SUCCESS) << daemon_->log();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (replies + errors < kCalls && std::chrono::steady_clock::now() < deadline) {
        int r = sd_bus_process(raw, nullptr);
        ASSERT_GE(r, 0);
        if (r == 0) {
            ASSERT_GE(sd_bus_wait(raw, 1000 * 1000), 0);
        }
    }
    EXPECT_EQ(replies, kCalls);
    EXPECT_EQ(errors, 0);
}

TEST_F(LoginSocketTest, ConversationsPastTheBusPerUserLimitAllSucceed) {
    // Each holds its connection from pam_authenticate to pam_setcred (the Confirm of the
    // full login), so that all are open at once: twice what the bus lets root have.
    constexpr int kConversations = 512;
    std::latch authenticated(kConversations + 1);
    std::latch counted(1);
    std::atomic<int> succeeded = 0;
    std::vector<int> results(kConversations, -1);
    // pam_wrapper sets itself up at a process's first pam_start, which many threads at
    // once would race on: one here first.
    pam_handle_t* first = nullptr;
    struct pam_conv none = {converse, nullptr};
    ASSERT_EQ(pam_start("hold", "bob", &none, &first), PAM_SUCCESS);
    pam_end(first, PAM_SUCCESS);
    std::vector<std::thread> threads;
    threads.reserve(kConversations);
    for (int i = 0; i < kConversations; ++i) {
        threads.emplace_back([&, i] {
            // No contact: lwauth lets the other modules decide, after a Start.
            Person bob = someone();
            struct pam_conv conv = {converse, &bob};
            pam_handle_t* pamh = nullptr;
            int rc = pam_start("hold", "bob", &conv, &pamh);
            if (rc == PAM_SUCCESS) {
                rc = pam_authenticate(pamh, 0);
            }
            results[static_cast<size_t>(i)] = rc;
            authenticated.count_down();
            counted.wait();
            if (pamh != nullptr) {
                if (rc == PAM_SUCCESS && pam_setcred(pamh, PAM_ESTABLISH_CRED) == PAM_SUCCESS) {
                    ++succeeded;
                }
                pam_end(pamh, rc);
            }
        });
    }
    authenticated.arrive_and_wait();
    size_t held = connections_on(daemon_->login_socket());
    counted.count_down();
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(std::count(results.begin(), results.end(), PAM_SUCCESS), kConversations)
        << daemon_->log();
    EXPECT_EQ(succeeded.load(), kConversations);
    EXPECT_EQ(held, static_cast<size_t>(kConversations));
    EXPECT_TRUE(daemon_->running());
}

}  // namespace
}  // namespace lwauth::test
