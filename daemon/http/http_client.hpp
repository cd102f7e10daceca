// HTTPS requests on lwauthd's sd-event loop: libcurl multi driven by socket and timer
// callbacks, so that no gateway call ever blocks the loop. A request completes by
// calling its callback from the loop.
#pragma once

#include <systemd/sd-event.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lwauth/sd_bus.hpp"
#include "lwauth/secret.hpp"

namespace lwauth::http {

struct Request {
    std::string method = "POST";
    std::string url;
    std::vector<std::string> headers;  // "Name: value"
    std::string body;
    std::chrono::milliseconds timeout{10000};
    std::string ca_file;   // empty: the system's CA store
    std::string proxy;     // empty: no proxy; the environment's *_proxy is never used
    std::string username;  // HTTP Basic authentication when not empty
    SecretString password;
    // Schemes the URL may use. TLS is always verified; plain http is for nothing.
    std::string protocols = "https";
};

struct Response {
    long status = 0;    // the HTTP status; 0 when no answer arrived (see error)
    std::string body;   // at most kMaxBody bytes
    std::string error;  // why no answer arrived: DNS, connect, TLS, timeout, too big
    bool timed_out = false;
};

using Callback = std::function<void(Response)>;

class Client {
  public:
    static constexpr size_t kMaxBody = 1 << 20;

    /// Attaches to the event loop; the loop must outlive the client.
    explicit Client(sd_event* event);
    /// Drops requests still in flight without calling their callbacks.
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    /// Starts a request; `done` runs on the loop when it ends, successfully or not.
    /// Throws Error(Internal) only when libcurl cannot set the request up at all.
    void perform(Request request, Callback done);

    [[nodiscard]] size_t in_flight() const { return transfers_.size(); }

  private:
    struct Transfer;

    static int on_socket(void* easy, int fd, int what, void* userp, void* socketp);
    static int on_timer(void* multi, long timeout_ms, void* userp);
    static int on_io(sd_event_source* source, int fd, uint32_t revents, void* userdata);
    static int on_time(sd_event_source* source, uint64_t usec, void* userdata);
    void socket_action(int fd, int flags);
    void finish_completed();

    sd_event* event_;
    void* multi_;  // CURLM*, kept opaque so that this header does not need curl.h
    EventSourcePtr timer_;
    std::map<void*, std::unique_ptr<Transfer>> transfers_;  // by CURL*
};

}  // namespace lwauth::http
