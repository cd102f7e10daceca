#include "login_socket.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-id128.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "barrier.hpp"
#include "log.hpp"
#include "lwauth/error.hpp"

namespace lwauth {
namespace {

// sd-bus's own signal to a connection's matches when the connection has closed.

// At most this many connections are taken per wake-up, so that a flood of connections
// cannot hold up the logins already running.
constexpr int kAcceptBurst = 64;

// At most this many messages of one connection are dispatched per wake-up, so that one
// connection's flood of calls cannot hold up the others; the rest wait for the next turn.
constexpr int kProcessBurst = 16;

uint64_t monotonic_usec() {
    struct timespec ts {};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000ULL + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

int never(sd_event_source*, uint64_t, void*) {
    return 0;
}

Error system_error(const std::string& what, int errno_value) {
    return Error(Errc::Internal, what + ": " + std::strerror(errno_value));
}

}  // namespace

Result<UniqueFd> listen_login_socket(const std::string& path) {
    std::string::size_type slash = path.rfind('/');
    if (path.empty() || path[0] != '/' || slash == path.size() - 1) {
        return Error(Errc::InvalidArgument, path + " is not an absolute path to a socket");
    }
    struct sockaddr_un address {};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof(address.sun_path)) {
        return Error(Errc::InvalidArgument, path + " is longer than a Unix socket path may be (" +
                                                std::to_string(sizeof(address.sun_path) - 1) +
                                                " bytes)");
    }
    std::string dir = slash == 0 ? "/" : path.substr(0, slash);
    std::string name = path.substr(slash + 1);
    // Made here when lwauthd runs without RuntimeDirectory=; mkdir() follows no link.
    if (::mkdir(dir.c_str(), 0700) < 0 && errno != EEXIST) {
        return system_error("cannot create " + dir, errno);
    }
    auto opened =
        open_checked(AT_FDCWD, dir, O_RDONLY, FileType::Directory, private_file_rule(::geteuid()));
    if (!opened) {
        return Error(opened.error().code(), describe_file_error(opened.error(), dir));
    }
    int dir_fd = opened->fd.get();
    struct stat st {};
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            return Error(Errc::InvalidArgument,
                         path + " is there and is not a socket; lwauth leaves it alone");
        }
        // Left by an lwauthd that is gone: nobody else may write in this directory.
        if (::unlinkat(dir_fd, name.c_str(), 0) < 0) {
            return system_error("cannot remove the old socket " + path, errno);
        }
    } else if (errno != ENOENT) {
        return system_error("cannot look at " + path, errno);
    }
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.valid()) {
        return system_error("cannot create a socket", errno);
    }
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    if (::bind(fd.get(), reinterpret_cast<const struct sockaddr*>(&address), sizeof(address)) < 0) {
        return system_error("cannot bind " + path, errno);
    }
    // The directory already keeps out everyone but lwauthd's user (and root); the
    // socket's own mode says the same to whoever looks.
    if (::fchmodat(dir_fd, name.c_str(), 0600, 0) < 0) {
        return system_error("cannot set the mode of " + path, errno);
    }
    if (::listen(fd.get(), SOMAXCONN) < 0) {
        return system_error("cannot listen on " + path, errno);
    }
    return fd;
}

LoginSocket::LoginSocket(sd_event* event, BusService& service, UniqueFd listener, std::string path)
    : event_(event), service_(service), listener_(std::move(listener)), path_(std::move(path)) {
    struct stat st {};
    if (::lstat(path_.c_str(), &st) == 0) {
        dev_ = st.st_dev;
        ino_ = st.st_ino;
    }
    int r = sd_id128_randomize(&server_id_);
    if (r < 0) {
        throw Error(Errc::Internal, "cannot make the login socket's server ID: " + errno_string(r));
    }
    sd_event_source* source = nullptr;
    r = sd_event_add_io(event_, &source, listener_.get(), EPOLLIN, on_accept, this);
    if (r < 0) {
        throw Error(Errc::Internal, "cannot watch the login socket: " + errno_string(r));
    }
    accept_source_.reset(source);
    source = nullptr;
    r = sd_event_add_defer(event_, &source, on_reap, this);
    if (r < 0) {
        throw Error(Errc::Internal, "cannot add the login socket's reaper: " + errno_string(r));
    }
    reap_source_.reset(source);
    sd_event_source_set_enabled(source, SD_EVENT_OFF);
    source = nullptr;
    r = sd_event_add_defer(event_, &source, on_backlog, this);
    if (r < 0) {
        throw Error(Errc::Internal, "cannot add the login socket's dispatcher: " + errno_string(r));
    }
    backlog_source_.reset(source);
    sd_event_source_set_enabled(source, SD_EVENT_OFF);
    // A timer at infinity never fires, and stays on: sd-event runs the prepare callbacks of
    // enabled sources only.
    source = nullptr;
    r = sd_event_add_time(event_, &source, CLOCK_MONOTONIC, UINT64_MAX, 0, never, this);
    if (r >= 0) {
        prepare_source_.reset(source);
        r = sd_event_source_set_prepare(source, on_prepare);
    }
    if (r < 0) {
        throw Error(Errc::Internal,
                    "cannot add the login socket's prepare callback: " + errno_string(r));
    }
}

LoginSocket::~LoginSocket() {
    retry_source_.reset();
    accept_source_.reset();
    prepare_source_.reset();
    backlog_source_.reset();
    auth_source_.reset();
    reap_source_.reset();
    for (auto& [number, connection] : connections_) {
        if (!connection->closed) {
            service_.detach_private(connection->bus.get());
        }
    }
    connections_.clear();
    struct stat st {};
    if (!path_.empty() && ::lstat(path_.c_str(), &st) == 0 && st.st_dev == dev_ &&
        st.st_ino == ino_) {
        ::unlink(path_.c_str());
    }
}

int LoginSocket::on_accept(sd_event_source*, int, uint32_t, void* userdata) {
    auto* self = static_cast<LoginSocket*>(userdata);
    return c_barrier("login-socket-accept", 0, [self] {
        for (int i = 0; i < kAcceptBurst && self->accept_one(); ++i) {
        }
        return 0;
    });
}

bool LoginSocket::accept_one() {
    UniqueFd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!fd.valid()) {
        int error = errno;
        if (error == EMFILE || error == ENFILE) {
            pause_accepting();
        }
        if (error != EAGAIN && error != EINTR && error != ECONNABORTED) {
            log_event(LogLevel::Error, "private-refused",
                      std::string("cannot accept a connection on the login socket: ") +
                          std::strerror(error),
                      {{"PATH", path_}});
        }
        return error == EINTR || error == ECONNABORTED;
    }
    // The credentials the kernel recorded when the peer called connect(): its EUID then.
    struct ucred peer {};
    socklen_t size = sizeof(peer);
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &peer, &size) < 0) {
        log_event(LogLevel::Warning, "private-refused",
                  "cannot tell who connected to the login socket; connection closed",
                  {{"PATH", path_}});
        return true;
    }
    if (peer.uid != 0) {
        log_event(LogLevel::Warning, "private-refused",
                  "a caller other than root refused on the login socket",
                  {{"CALLER_UID", std::to_string(peer.uid)}, {"PATH", path_}});
        return true;
    }
    if (connections_.size() >= kMaxConnections) {
        log_event(LogLevel::Warning, "private-refused",
                  "too many connections on the login socket; the client uses the bus",
                  {{"PATH", path_}});
        return true;
    }
    serve(std::move(fd), peer.uid);
    return true;
}

// The connection stays in the backlog, which would wake the loop at once again: stop
// taking connections until one of the socket's closes, or a second has passed (the
// descriptors may be held by anything else in lwauthd, and with no connection of the
// socket's open, nothing else would ever take them again).
void LoginSocket::pause_accepting() {
    sd_event_source_set_enabled(accept_source_.get(), SD_EVENT_OFF);
    constexpr uint64_t kRetryUsec = 1000 * 1000;
    if (!retry_source_) {
        sd_event_source* source = nullptr;
        if (sd_event_add_time_relative(event_, &source, CLOCK_MONOTONIC, kRetryUsec, 0, on_retry,
                                       this) < 0) {
            // Without the timer, the next close of a connection is all that is left.
            return;
        }
        retry_source_.reset(source);
        return;
    }
    sd_event_source_set_time_relative(retry_source_.get(), kRetryUsec);
    sd_event_source_set_enabled(retry_source_.get(), SD_EVENT_ONESHOT);
}

int LoginSocket::on_retry(sd_event_source*, uint64_t, void* userdata) {
    auto* self = static_cast<LoginSocket*>(userdata);
    sd_event_source_set_enabled(self->accept_source_.get(), SD_EVENT_ON);
    return 0;
}

void LoginSocket::serve(UniqueFd fd, uid_t euid) {
    auto connection = std::make_unique<Connection>();
    connection->socket = this;
    connection->number = ++next_;
    sd_bus* raw = nullptr;
    int r = sd_bus_new(&raw);
    if (r < 0) {
        throw Error(Errc::Internal, "cannot make a bus connection: " + errno_string(r));
    }
    connection->bus.reset(raw);
    r = sd_bus_set_fd(raw, fd.get(), fd.get());
    if (r < 0) {
        throw Error(Errc::Internal, "cannot hand the connection to sd-bus: " + errno_string(r));
    }
    (void)fd.release();  // the bus's now
    // A server that authenticates its peer (EXTERNAL, checked against SO_PEERCRED), not an
    // anonymous one.
    r = sd_bus_set_server(raw, 1, server_id_);
    if (r >= 0) {
        r = sd_bus_set_anonymous(raw, 0);
    }
    if (r >= 0) {
        // The Login interface takes no descriptor: none is agreed to, so none can come
        // with a caller's message for sd-bus to hold.
        r = sd_bus_negotiate_fds(raw, 0);
    }
    if (r < 0) {
        throw Error(Errc::Internal, "cannot set up a login connection: " + errno_string(r));
    }
    service_.attach_private(raw, ":private." + std::to_string(connection->number), euid, event_);
    r = sd_bus_start(raw);
    sd_event_source* io = nullptr;
    if (r >= 0) {
        r = sd_bus_get_events(raw);
    }
    if (r >= 0) {
        connection->events = static_cast<uint32_t>(r);
        r = sd_event_add_io(event_, &io, sd_bus_get_fd(raw), connection->events, on_io,
                            connection.get());
    }
    if (r < 0) {
        service_.detach_private(raw);
        log_event(LogLevel::Warning, "private-refused",
                  "cannot start a connection on the login socket: " + errno_string(r),
                  {{"PATH", path_}});
        return;
    }
    connection->io.reset(io);
    connection->accepted_usec = monotonic_usec();
    log_event(LogLevel::Debug, "private-connected", "root connected to the login socket",
              {{"OWNER", ":private." + std::to_string(connection->number)}});
    uint64_t number = connection->number;
    connections_.emplace(number, std::move(connection));
    if (unready_++ == 0) {
        check_auth_deadlines();
    }
}

int LoginSocket::on_io(sd_event_source*, int, uint32_t, void* userdata) {
    auto* connection = static_cast<Connection*>(userdata);
    return c_barrier("login-socket-io", 0, [connection] {
        connection->socket->process(*connection);
        return 0;
    });
}

void LoginSocket::process(Connection& connection) {
    connection.more = false;
    for (int i = 0; !connection.closed; ++i) {
        if (i == kProcessBurst) {
            connection.more = true;  // sd-bus said to call again: the backlog's turn
            break;
        }
        int r = sd_bus_process(connection.bus.get(), nullptr);
        if (r < 0) {
            // What sd-bus does not turn into its own close itself.
            sd_bus_close(connection.bus.get());
            closed(connection);
            return;
        }
        if (r == 0) {
            break;
        }
    }
    // The peer gone (or sd-bus closing the connection after a failed write): no match on
    // its Disconnected signal, which costs every connection a match of its own.
    if (!connection.closed && sd_bus_is_open(connection.bus.get()) <= 0) {
        closed(connection);
        return;
    }
    if (!connection.ready && !connection.closed && sd_bus_is_ready(connection.bus.get()) > 0) {
        connection.ready = true;
        --unready_;
    }
}

bool LoginSocket::update(Connection& connection) {
    int events = sd_bus_get_events(connection.bus.get());
    if (events < 0) {
        return false;  // closed, and process() has seen it
    }
    if (static_cast<uint32_t>(events) != connection.events &&
        sd_event_source_set_io_events(connection.io.get(), static_cast<uint32_t>(events)) >= 0) {
        connection.events = static_cast<uint32_t>(events);
    }
    uint64_t timeout = 0;
    return connection.more ||
           (sd_bus_get_timeout(connection.bus.get(), &timeout) > 0 && timeout == 0);
}

// Before the loop waits: what each connection wants to write now (a reply sent from a
// timer or a store thread's answer queues there when the socket's buffer is full), and
// whether one has messages read but not dispatched, which the descriptor will not announce:
// sd_bus_get_timeout counts those of sd-bus's read queue only, not the calls it read into
// its buffer with the authentication, which only calling sd_bus_process again dispatches.
int LoginSocket::on_prepare(sd_event_source*, void* userdata) {
    auto* self = static_cast<LoginSocket*>(userdata);
    return c_barrier("login-socket-prepare", 0, [self] {
        bool backlog = false;
        for (auto& [number, connection] : self->connections_) {
            if (!connection->closed && self->update(*connection)) {
                backlog = true;
            }
        }
        if (backlog) {
            sd_event_source_set_enabled(self->backlog_source_.get(), SD_EVENT_ONESHOT);
        }
        return 0;
    });
}

int LoginSocket::on_backlog(sd_event_source*, void* userdata) {
    auto* self = static_cast<LoginSocket*>(userdata);
    return c_barrier("login-socket-backlog", 0, [self] {
        for (auto& [number, connection] : self->connections_) {
            if (!connection->closed && self->update(*connection)) {
                self->process(*connection);
            }
        }
        return 0;
    });
}

void LoginSocket::check_auth_deadlines() {
    uint64_t now = monotonic_usec();
    uint64_t next = 0;
    // In the order of their accept, so of their deadlines.
    for (auto& [number, connection] : connections_) {
        if (connection->closed || connection->ready) {
            continue;
        }
        uint64_t deadline = connection->accepted_usec + kAuthTimeoutUsec;
        if (deadline > now) {
            next = deadline;
            break;
        }
        log_event(LogLevel::Warning, "private-refused",
                  "a connection to the login socket did not authenticate in time; closed",
                  {{"PATH", path_}});
        sd_bus_close(connection->bus.get());
        closed(*connection);
    }
    if (next == 0) {
        if (auth_source_) {
            sd_event_source_set_enabled(auth_source_.get(), SD_EVENT_OFF);
        }
        return;
    }
    if (!auth_source_) {
        sd_event_source* source = nullptr;
        if (sd_event_add_time(event_, &source, CLOCK_MONOTONIC, next, 0, on_auth_deadline, this) <
            0) {
            return;  // the peer's own timeout and kMaxConnections still bound them
        }
        auth_source_.reset(source);
        return;
    }
    sd_event_source_set_time(auth_source_.get(), next);
    sd_event_source_set_enabled(auth_source_.get(), SD_EVENT_ONESHOT);
}

int LoginSocket::on_auth_deadline(sd_event_source*, uint64_t, void* userdata) {
    auto* self = static_cast<LoginSocket*>(userdata);
    return c_barrier("login-socket-auth-deadline", 0, [self] {
        self->check_auth_deadlines();
        return 0;
    });
}

void LoginSocket::closed(Connection& connection) {
    if (connection.closed) {
        return;
    }
    connection.closed = true;
    if (!connection.ready) {
        connection.ready = true;  // no longer waited for
        --unready_;
    }
    if (connection.io) {
        sd_event_source_set_enabled(connection.io.get(), SD_EVENT_OFF);
    }
    service_.detach_private(connection.bus.get());
    sd_event_source_set_enabled(accept_source_.get(), SD_EVENT_ON);
    sd_event_source_set_enabled(reap_source_.get(), SD_EVENT_ONESHOT);
}

int LoginSocket::on_reap(sd_event_source*, void* userdata) {
    auto* self = static_cast<LoginSocket*>(userdata);
    return c_barrier("login-socket-reap", 0, [self] {
        std::erase_if(self->connections_, [](const auto& entry) { return entry.second->closed; });
        return 0;
    });
}

}  // namespace lwauth
