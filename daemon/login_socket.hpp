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
/// that leaves the bus does.
class LoginSocket {
  public:
    static constexpr size_t kMaxConnections = 1024;

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
        BusPtr bus;
        bool closed = false;
    };

    static int on_accept(sd_event_source*, int, uint32_t, void* userdata);
    static int on_disconnected(sd_bus_message* m, void* userdata, sd_bus_error*);
    static int on_reap(sd_event_source*, void* userdata);
    static int on_retry(sd_event_source*, uint64_t usec, void* userdata);
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
};

}  // namespace lwauth
