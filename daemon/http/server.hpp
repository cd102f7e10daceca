// lwauthd's HTTP endpoint: libmicrohttpd in external-select mode (its epoll set), watched
// by lwauthd's sd-event loop as one file descriptor, so that every handler runs on the
// loop thread, like the rest of lwauthd (docs/ARCHITECTURE.md, "The HTTP endpoint").
// Routes are exact paths; a handler answers at once or later through its Reply.
#pragma once

#include <systemd/sd-event.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lwauth/sd_bus.hpp"

namespace lwauth::http {

/// The methods the endpoint serves; a HEAD request is served by the GET route, without
/// the body. Anything else is answered 405.
enum class Method { Get, Post };

/// A request as a handler sees it. Query arguments and form fields are decoded; a name
/// given twice in either makes the server answer 400 itself (RFC 6749 section 3.1: OAuth
/// parameters must not repeat), so each name here has one value.
struct IncomingRequest {
    std::string method;  // "GET", "HEAD" or "POST"
    std::string path;    // the route's path
    std::map<std::string, std::string> query;
    // The fields of an application/x-www-form-urlencoded POST body; empty otherwise.
    std::map<std::string, std::string> form;
    std::string client_address;  // the peer's numeric address: "127.0.0.1", "::1"
    std::string accept_language;  // the Accept-Language header, "" when absent
};

/// What a handler answers. The server adds the security headers (see kSecurityHeaders)
/// and, for 405, Allow.
struct Answer {
    unsigned status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // more headers; no CR or LF

    /// A page: text/html.
    static Answer html(unsigned status, std::string body);
    /// Plain text.
    static Answer text(unsigned status, std::string body);
    /// 303 See Other to `location` (a redirect a browser follows with GET).
    static Answer redirect(std::string location);
};

/// The headers every answer carries, those of the handlers and the server's own refusals
/// alike (RFC 9111 section 5.2.2.5, W3C Referrer Policy, RFC 7034, CSP Level 3).
inline const std::vector<std::pair<const char*, const char*>> kSecurityHeaders = {
    {"Cache-Control", "no-store"},
    {"Referrer-Policy", "no-referrer"},
    {"X-Frame-Options", "DENY"},
    {"Content-Security-Policy",
     "frame-ancestors 'none'; default-src 'none'; "
     "style-src 'unsafe-inline'; form-action 'self'"},
    {"X-Content-Type-Options", "nosniff"},
};

/// How a handler answers, now or later from the loop. A copyable handle: copies share
/// one request, and the first send() wins. A request whose handler returns without
/// answering and keeps no copy of its Reply is answered 500.
class Reply {
  public:
    struct State;
    explicit Reply(std::shared_ptr<State> state) : state_(std::move(state)) {}

    /// Answers the request. False, and nothing sent, when it was answered already, its
    /// deadline passed (the server answered 503), the client left, or the server stopped.
    bool send(Answer answer) const;
    /// True until the request is answered or abandoned.
    [[nodiscard]] bool pending() const;
    /// `abandoned` runs on the loop if the request ends unanswered because the client
    /// left or the deadline passed; not when the server is destroyed.
    void on_abandoned(std::function<void()> abandoned) const;

  private:
    std::shared_ptr<State> state_;
};

using Handler = std::function<void(const IncomingRequest&, Reply)>;

struct Limits {
    unsigned max_connections = 64;
    unsigned max_connections_per_ip = 8;
    size_t max_header_bytes = 8 * 1024;  // request line and headers; above: 431
    size_t max_body_bytes = 8 * 1024;    // above: 413 (a longer chunked body: closed)
    // A connection that sends or takes nothing for this long is closed (idle timeout).
    std::chrono::seconds connection_timeout{10};
    // A connection must have delivered its whole request (headers and body) this long
    // after it opened, or it is closed unanswered, however slowly it kept sending. Each
    // connection carries one request: every answer says "Connection: close".
    std::chrono::seconds request_time{10};
    // A request a handler has not answered by then is answered 503 by the server.
    std::chrono::seconds answer_deadline{30};
};

/// What the server did since it started, for tests and benchmarks.
struct ServerStats {
    uint64_t handled = 0;    // requests given to a handler
    uint64_t refused = 0;    // answered by the server itself: 400, 404, 405, 413, 431, 500
    uint64_t timed_out = 0;  // answered 503 at the deadline
    uint64_t abandoned = 0;  // ended unanswered: the client left while its answer was awaited
    uint64_t cut_off = 0;    // connections closed for not sending their request in time
    size_t suspended = 0;    // requests waiting for their answer now
    size_t connections = 0;  // open connections now
};

class Server {
  public:
    /// Listens on `listen`, "host:port" ("[::1]:8741" for IPv6; port 0 picks a free
    /// one), and serves from `event`, which must outlive the server. Throws
    /// Error(Unavailable) when the address cannot be resolved or bound.
    Server(sd_event* event, const std::string& listen, Limits limits = {});
    /// Closes every connection; requests still waiting for an answer get none, their
    /// Reply::send() returns false from then on, and no on_abandoned() runs.
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    /// Serves `method` requests for exactly `path` (no prefix match, no query) with
    /// `handler`; a second route for the same path and method replaces the first.
    void route(const std::string& path, Method method, Handler handler);

    /// The handler of `path` and `method`, or nullptr: what a request the server let
    /// through is given (tests/fuzz calls it directly, without a connection).
    [[nodiscard]] const Handler* handler(const std::string& path, Method method) const;
    /// The port listened on.
    [[nodiscard]] uint16_t port() const { return port_; }
    [[nodiscard]] ServerStats stats() const;

    struct Exchange;

  private:
    static int on_epoll(sd_event_source* source, int fd, uint32_t revents, void* userdata);
    static int on_time(sd_event_source* source, uint64_t usec, void* userdata);
    // The request on `connection` is in (or refused): its time limit no longer applies.
    void arrived(void* connection);
    void run();
    [[nodiscard]] size_t connections() const;
    void kick();
    void arm_timer();
    // The status the server refuses a request with, before any handler sees it.
    std::optional<unsigned> screen(Exchange& exchange);
    // The Allow header of a 405 for `path`.
    [[nodiscard]] std::string allowed(const std::string& path) const;

    friend struct Exchange;
    friend class Reply;

    sd_event* event_;
    Limits limits_;
    uint16_t port_ = 0;
    void* daemon_ = nullptr;  // MHD_Daemon*, opaque so that this header needs no microhttpd.h
    EventSourcePtr epoll_watch_;
    EventSourcePtr timer_;
    std::map<std::string, std::map<Method, Handler>> routes_;
    std::map<Exchange*, std::unique_ptr<Exchange>> exchanges_;
    // The request-time limit of each connection whose request is not in yet, by
    // MHD_Connection*.
    struct Arrival;
    std::map<void*, std::unique_ptr<Arrival>> arrivals_;
    ServerStats stats_;
    bool stopping_ = false;
};

}  // namespace lwauth::http
