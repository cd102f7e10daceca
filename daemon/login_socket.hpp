// lwauthd's private socket for logins: the Login interface, spoken as D-Bus peer to peer
// with no bus broker, to root alone (the PAM module), as systemctl talks to PID 1 over
// /run/systemd/private. It saves each login the broker's connection set-up and routing,
// and its per-UID connection limit.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>

#include "bus_service.hpp"
#include "lwauth/files.hpp"
#include "lwauth/result.hpp"
#include "lwauth/sd_bus.hpp"

namespace lwauth {

/// Binds a Unix stream socket at `path` (mode 0600) and listens on it. Its directory must
/// be a real directory (not a symbolic link) of this process's user with no group or other
/// permissions, as RuntimeDirectory=lwauth makes it; it is made so when missing. A socket
/// left there by an earlier lwauthd is replaced; anything else of that name (a file, a
/// symbolic link, a FIFO) is left alone and refused. The error says why.
[[nodiscard]] Result<UniqueFd> listen_login_socket(const std::string& path);

/// Serves the socket from `listener` on the loop: each connection from a process of EUID 0
/// (SO_PEERCRED, taken at accept) becomes a D-Bus server connection with the Login
/// interface of `service`; any other caller, and any connection past kMaxConnections, is
/// closed at once and logged. A connection that closes ends its logins, as a bus client
/// that leaves the bus does; one that has not authenticated within kAuthTimeoutUsec is
/// closed.
///
/// The connections are not attached to the loop one by one (sd_bus_attach_event), which
/// gives each an I/O source, a timer and a prepare callback that sets that timer on every
/// iteration of the loop: with hundreds of connections open, the loop then spends most of
/// its time re-arming timers. Here each connection has an I/O source alone; one prepare
/// callback of the socket's brings every connection's I/O events up to date (what sd-bus
/// wants to write, or whether it has messages read but not yet dispatched) without a
/// system call, and one timer of the socket's keeps the authentication deadline.
class LoginSocket {
  public:
    static constexpr size_t kMaxConnections = 1024;
    /// A connection must have authenticated within this time of its accept.
    static constexpr uint64_t kAuthTimeoutUsec = 25ULL * 1000 * 1000;

    LoginSocket(sd_event* event, BusService& service, UniqueFd listener, std::string path);
    /// Closes every connection (their logins end) and removes the socket.
    ~LoginSocket();
    LoginSocket(const LoginSocket&) = delete;
    LoginSocket& operator=(const LoginSocket&) = delete;

    /// How many connections are open.
    [[nodiscard]] size_t connections() const noexcept { return connections_.size(); }

  private:
    struct Connection {
        LoginSocket* socket = nullptr;
        uint64_t number = 0;
        uint64_t accepted_usec = 0;  // CLOCK_MONOTONIC
        // Closed, never flushed (BusPtr): sd_bus_flush waits, with no bound of its own and
        // the loop stopped, for a peer still authenticating (90 s) or not reading.
        std::unique_ptr<sd_bus, Deleter<sd_bus_close_unref>> bus;
        EventSourcePtr io;  // after bus: removed from the loop before the bus closes its fd
        uint32_t events = 0;
        bool ready = false;  // authenticated
        bool closed = false;
        // Its last turn ended at kProcessBurst with sd-bus asking to be called again: what
        // it has read already (calls sent right behind BEGIN, read with the authentication)
        // may be all there is, with nothing left in the socket to wake the loop for it.
        bool more = false;
    };

    static int on_accept(sd_event_source*, int, uint32_t, void* userdata);
    static int on_io(sd_event_source*, int, uint32_t, void* userdata);
    static int on_prepare(sd_event_source*, void* userdata);
    static int on_backlog(sd_event_source*, void* userdata);
    static int on_auth_deadline(sd_event_source*, uint64_t usec, void* userdata);
    static int on_reap(sd_event_source*, void* userdata);
    static int on_retry(sd_event_source*, uint64_t usec, void* userdata);
    // Dispatches what the connection has read, a bounded number of messages.
    void process(Connection& connection);
    // Brings the connection's I/O events up to date; true when it has messages read but
    // not dispatched (or its close to finish, or its turn ended at the burst's bound),
    // which no I/O event would announce.
    bool update(Connection& connection);
    // Closes connections that have not authenticated in time; arms the timer for the next.
    void check_auth_deadlines();
    // Stops taking connections for a while: out of file descriptors.
    void pause_accepting();
    // Takes one pending connection; false when none was waiting.
    bool accept_one();
    void serve(UniqueFd fd, uid_t euid);
    void closed(Connection& connection);

    sd_event* event_;
    BusService& service_;
    UniqueFd listener_;
    std::string path_;
    dev_t dev_ = 0;  // the socket's, to remove only this one at the end
    ino_t ino_ = 0;
    sd_id128_t server_id_{};
    uint64_t next_ = 0;
    std::map<uint64_t, std::unique_ptr<Connection>> connections_;
    EventSourcePtr accept_source_;
    EventSourcePtr reap_source_;   // frees closed connections outside their own callbacks
    EventSourcePtr retry_source_;  // takes connections again a while after EMFILE/ENFILE
    EventSourcePtr prepare_source_;  // never fires: carries the prepare callback
    EventSourcePtr backlog_source_;  // dispatches messages read but not yet dispatched
    EventSourcePtr auth_source_;     // the earliest authentication deadline
    size_t unready_ = 0;             // connections not yet authenticated
};

}  // namespace lwauth
