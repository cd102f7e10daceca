// HTTPS requests, and mail through SMTP, on lwauthd's sd-event loop: libcurl multi driven
// by socket and timer callbacks, so that no gateway call ever blocks the loop. A request
// completes by calling its callback from the loop.
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
    std::string username;  // HTTP Basic (or SMTP AUTH) authentication when not empty
    SecretString password;
    // Schemes the URL may use. TLS is always verified; plain http is for nothing.
    std::string protocols = "https";

    // A mail request when mail_rcpt is not empty (protocols "smtp,smtps"): `body` is the
    // whole RFC 5322 message with CRLF line endings, uploaded after MAIL FROM / RCPT TO;
    // `method` and `headers` are not used. TLS is required: smtp:// must upgrade with
    // STARTTLS and fails, sending nothing, when the server does not offer it; smtps:// is
    // TLS from the start. Addresses holding CR or LF are refused.
    std::string mail_from;               // the envelope sender, "<addr>" (may be "<>")
    std::vector<std::string> mail_rcpt;  // the envelope recipients, "<addr>"
    // Per-stage limits of a mail transaction (RFC 5321 section 4.5.3.2), each 0 for none.
    // `timeout` stays the limit of the whole transaction.
    std::chrono::milliseconds connect_timeout{0};  // DNS, TCP, TLS, greeting ... AUTH
    std::chrono::seconds reply_timeout{0};         // each reply, the greeting included
    std::chrono::seconds stall_timeout{0};         // the message upload with no byte taken
};

struct Response {
    // The HTTP status; 0 when no answer arrived (see error). For a mail request: the last
    // SMTP reply code (250 once the message is accepted), also when `error` is set (550
    // for a refused recipient, 535 for refused credentials); 0 when the server never
    // answered.
    long status = 0;
    std::string body;   // at most kMaxBody bytes
    std::string error;  // why no answer arrived: DNS, connect, TLS, timeout, too big
    bool timed_out = false;
    // A mail request: the whole message went out, so the final "." followed it and the
    // server may have accepted the message even when no reply to it arrived.
    bool mail_data_sent = false;
    // The answer's header fields, by lower-cased name (the last of a repeated one); only
    // for HTTP, and only those the caller may need (kKeptHeaders in http_client.cpp).
    std::map<std::string, std::string> headers;
};

using Callback = std::function<void(Response)>;

/// A request as Client::perform (below) makes it, but at once on the calling thread, which it
/// blocks until the answer or the timeout: for a thread of its own (the directory's), never
/// the event loop. HTTP only. Throws Error(Internal) only when libcurl cannot set it up.
[[nodiscard]] Response perform_blocking(Request request);

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
    friend struct ClientTestPeer;  // tests/integration/http_client_test.cpp
    friend Response perform_blocking(Request request);
    struct Transfer;

    static int on_socket(void* easy, int fd, int what, void* userp, void* socketp);
    static int on_timer(void* multi, long timeout_ms, void* userp);
    static int on_io(sd_event_source* source, int fd, uint32_t revents, void* userdata);
    static int on_time(sd_event_source* source, uint64_t usec, void* userdata);
    static int on_reply_due(sd_event_source* source, uint64_t usec, void* userdata);
    static int on_overdue(sd_event_source* source, uint64_t usec, void* userdata);
    int watch_socket(void* easy, int fd, int what, void* socketp);
    int set_timer(long timeout_ms);
    void socket_action(int fd, int flags);
    void finish_completed();
    // Ends the transfer of `easy` now as timed out, whatever libcurl's state of it.
    void abandon(void* easy);
    void arm_reply_check(Transfer& transfer, std::chrono::milliseconds after);

    sd_event* event_;
    void* multi_;  // CURLM*, kept opaque so that this header does not need curl.h
    EventSourcePtr timer_;
    std::map<void*, std::unique_ptr<Transfer>> transfers_;  // by CURL*
};

}  // namespace lwauth::http
