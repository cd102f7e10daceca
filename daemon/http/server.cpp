#include "server.hpp"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <string_view>

#include "barrier.hpp"
#include "lwauth/error.hpp"
#include "lwauth/secret.hpp"
#include "lwauth/text.hpp"

namespace lwauth::http {
namespace {

using ResponsePtr = std::unique_ptr<MHD_Response, Deleter<MHD_destroy_response>>;

MHD_Daemon* as_daemon(void* daemon) {
    return static_cast<MHD_Daemon*>(daemon);
}

// A socket closed unless released to its new owner.
class Fd {
  public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) {
            close(fd_);
        }
    }
    Fd(Fd&& other) noexcept : fd_(other.release()) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    Fd& operator=(Fd&&) = delete;
    [[nodiscard]] int get() const { return fd_; }
    int release() { return std::exchange(fd_, -1); }

  private:
    int fd_;
};

[[noreturn]] void cannot_listen(const std::string& listen, const std::string& why) {
    throw Error(Errc::Unavailable, "cannot listen on " + listen + ": " + why);
}

// A listening TCP socket on "host:port" ("[v6]:port"); its port in `port`.
Fd open_listener(const std::string& listen, uint16_t& port) {
    size_t colon = listen.rfind(':');
    if (colon == std::string::npos || colon == 0) {
        cannot_listen(listen, "expected host:port");
    }
    std::string host = listen.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    if (int r = getaddrinfo(host.c_str(), listen.c_str() + colon + 1, &hints, &found); r != 0) {
        cannot_listen(listen, gai_strerror(r));
    }
    std::unique_ptr<addrinfo, Deleter<freeaddrinfo>> addresses(found);
    Fd fd(socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    int on = 1;
    if (fd.get() < 0 || setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0 ||
        bind(fd.get(), found->ai_addr, found->ai_addrlen) < 0 || ::listen(fd.get(), 64) < 0) {
        cannot_listen(listen, std::strerror(errno));
    }
    sockaddr_storage bound{};
    socklen_t size = sizeof bound;
    if (getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &size) < 0) {
        cannot_listen(listen, std::strerror(errno));
    }
    port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                             : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    return fd;
}

std::string numeric_address(const sockaddr* address) {
    char text[INET6_ADDRSTRLEN] = {};
    if (address == nullptr) {
        return {};
    }
    const void* raw =
        address->sa_family == AF_INET6
            ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr)
            : &reinterpret_cast<const sockaddr_in*>(address)->sin_addr;
    return inet_ntop(address->sa_family, raw, text, sizeof text) != nullptr ? text : "";
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = static_cast<char>(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

// application/x-www-form-urlencoded decoding of one name or value (WHATWG URL, section
// 5.1): "+" is a space, %XX a byte; a "%" not followed by two hex digits is refused.
std::optional<std::string> form_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '+') {
            out += ' ';
        } else if (text[i] != '%') {
            out += text[i];
        } else if (i + 2 < text.size() && hex_digit(text[i + 1]) >= 0 &&
                   hex_digit(text[i + 2]) >= 0) {
            out += static_cast<char>(hex_digit(text[i + 1]) * 16 + hex_digit(text[i + 2]));
            i += 2;
        } else {
            return std::nullopt;
        }
    }
    return out;
}

// The fields of a form body; nullopt when one is malformed or given twice.
std::optional<std::map<std::string, std::string>> parse_form(std::string_view body) {
    std::map<std::string, std::string> fields;
    while (!body.empty()) {
        size_t amp = body.find('&');
        std::string_view pair = body.substr(0, amp);
        body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
        if (pair.empty()) {
            continue;
        }
        size_t eq = pair.find('=');
        auto name = form_decode(pair.substr(0, eq));
        auto value = form_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
        if (!name || !value || !fields.emplace(std::move(*name), std::move(*value)).second) {
            return std::nullopt;
        }
    }
    return fields;
}

bool is_form(const char* content_type) {
    constexpr std::string_view kForm = "application/x-www-form-urlencoded";
    if (content_type == nullptr) {
        return false;
    }
    std::string_view type =
        trim(std::string_view(content_type).substr(0, std::string_view(content_type).find(';')));
    return type.size() == kForm.size() && strncasecmp(type.data(), kForm.data(), kForm.size()) == 0;
}

const char* reason(unsigned status) {
    switch (status) {
        case 400:
            return "Bad Request";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 413:
            return "Content Too Large";
        case 431:
            return "Request Header Fields Too Large";
        case 503:
            return "Service Unavailable";
        default:
            return "Internal Server Error";
    }
}

Answer refusal(unsigned status) {
    return Answer::text(status, std::string(reason(status)) + "\n");
}

// An MHD response carrying `answer` and the security headers; null when MHD refuses one
// (a header with a line break, out of memory).
ResponsePtr make_response(const Answer& answer) {
    ResponsePtr response(MHD_create_response_from_buffer(
        answer.body.size(), const_cast<char*>(answer.body.data()), MHD_RESPMEM_MUST_COPY));
    if (!response) {
        return nullptr;
    }
    // One request per connection: the time limit on receiving a request then holds for
    // every request (Limits::request_time).
    bool ok =
        MHD_add_response_header(response.get(), MHD_HTTP_HEADER_CONTENT_TYPE,
                                answer.content_type.c_str()) == MHD_YES &&
        MHD_add_response_header(response.get(), MHD_HTTP_HEADER_CONNECTION, "close") == MHD_YES;
    for (const auto& [name, value] : kSecurityHeaders) {
        ok = ok && MHD_add_response_header(response.get(), name, value) == MHD_YES;
    }
    for (const auto& [name, value] : answer.headers) {
        ok = ok && name.find_first_of("\r\n") == std::string::npos &&
             value.find_first_of("\r\n") == std::string::npos &&
             MHD_add_response_header(response.get(), name.c_str(), value.c_str()) == MHD_YES;
    }
    return ok ? std::move(response) : nullptr;
}

}  // namespace

Answer Answer::html(unsigned status, std::string body) {
    return Answer{status, "text/html; charset=utf-8", std::move(body), {}};
}

Answer Answer::text(unsigned status, std::string body) {
    return Answer{status, "text/plain; charset=utf-8", std::move(body), {}};
}

Answer Answer::redirect(std::string location) {
    return Answer{303, "text/plain; charset=utf-8", "", {{"Location", std::move(location)}}};
}

// What a Reply and its request share. `exchange` is null once the request has ended.
struct Reply::State {
    Server::Exchange* exchange = nullptr;
    bool settled = false;  // answered, or abandoned
    std::function<void()> abandoned;
};

// One request on one connection, from its headers to its completion.
struct Server::Exchange {
    Server* server = nullptr;
    MHD_Connection* connection = nullptr;
    IncomingRequest request;
    Handler handler;
    std::string body;
    std::optional<Answer> answer;
    std::shared_ptr<Reply::State> reply = std::make_shared<Reply::State>();
    bool started = false;  // handed to the handler
    bool queued = false;   // the answer is with MHD
    bool suspended = false;
    bool hung_up = false;
    EventSourcePtr deadline;
    EventSourcePtr hangup;

    ~Exchange() { reply->exchange = nullptr; }

    static MHD_Result on_access(void* cls, MHD_Connection* connection, const char* url,
                                const char* method, const char* version, const char* upload,
                                size_t* upload_size, void** req_cls);
    static void on_completed(void* cls, MHD_Connection* connection, void** req_cls,
                             MHD_RequestTerminationCode why);
    static int on_deadline(sd_event_source* source, uint64_t usec, void* userdata);
    static int on_hangup(sd_event_source* source, int fd, uint32_t revents, void* userdata);
    static void on_connection(void* cls, MHD_Connection* connection, void** socket_context,
                              MHD_ConnectionNotificationCode code);
    static int on_request_time(sd_event_source* source, uint64_t usec, void* userdata);

    MHD_Result go_on(const char* upload, size_t* upload_size);
    void start();
    MHD_Result queue();
    void suspend();
    void resume();
    void abandon();
};

bool Reply::send(Answer answer) const {
    if (!state_ || state_->settled || state_->exchange == nullptr) {
        return false;
    }
    Server::Exchange& exchange = *state_->exchange;
    state_->settled = true;
    exchange.answer = std::move(answer);
    if (exchange.suspended) {
        exchange.resume();
    }
    return true;
}

bool Reply::pending() const {
    return state_ && !state_->settled && state_->exchange != nullptr;
}

void Reply::on_abandoned(std::function<void()> abandoned) const {
    if (state_) {
        state_->abandoned = std::move(abandoned);
    }
}

namespace {

struct HeaderCount {
    size_t bytes = 0;
    size_t repeated = 0;
    std::map<std::string, std::string>* query = nullptr;
};

MHD_Result count_header(void* cls, MHD_ValueKind, const char* key, const char* value) {
    auto* count = static_cast<HeaderCount*>(cls);
    count->bytes += std::strlen(key) + (value != nullptr ? std::strlen(value) : 0) + 4;
    return MHD_YES;
}

MHD_Result collect_argument(void* cls, MHD_ValueKind kind, const char* key, const char* value) {
    auto* count = static_cast<HeaderCount*>(cls);
    count_header(cls, kind, key, value);
    if (!count->query->emplace(key, value != nullptr ? value : "").second) {
        ++count->repeated;
    }
    return MHD_YES;
}

std::optional<uint64_t> content_length(MHD_Connection* connection) {
    const char* text =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    uint64_t length = 0;
    if (text == nullptr ||
        std::from_chars(text, text + std::strlen(text), length).ec != std::errc{}) {
        return std::nullopt;
    }
    return length;
}

}  // namespace

// The request's headers are in: refuse it now (an answer queued before its body is read,
// after which MHD closes the connection), or keep it for the handler.
MHD_Result Server::Exchange::on_access(void* cls, MHD_Connection* connection, const char* url,
                                       const char* method, const char*, const char* upload,
                                       size_t* upload_size, void** req_cls) {
    return c_barrier("http-request", MHD_NO, [&] {
        if (*req_cls != nullptr) {
            return static_cast<Exchange*>(*req_cls)->go_on(upload, upload_size);
        }
        auto* server = static_cast<Server*>(cls);
        auto owned = std::make_unique<Exchange>();
        Exchange& self = *owned;
        server->exchanges_.emplace(&self, std::move(owned));
        *req_cls = &self;
        self.server = server;
        self.connection = connection;
        self.reply->exchange = &self;
        self.request.method = method;
        self.request.path = url;
        const MHD_ConnectionInfo* info =
            MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        self.request.client_address =
            numeric_address(info != nullptr ? info->client_addr : nullptr);
        const char* languages = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                                            MHD_HTTP_HEADER_ACCEPT_LANGUAGE);
        self.request.accept_language = languages != nullptr ? languages : "";
        std::optional<unsigned> refused = server->screen(self);
        if (refused) {
            ++server->stats_.refused;
            self.reply->settled = true;
            self.answer = refusal(*refused);
            if (*refused == 405) {
                self.answer->headers.emplace_back("Allow", server->allowed(self.request.path));
            }
            return self.queue();
        }
        return MHD_YES;
    });
}

}  // namespace lwauth::http

namespace lwauth::http {

std::string Server::allowed(const std::string& path) const {
    auto route = routes_.find(path);
    if (route == routes_.end()) {
        return "GET, HEAD, POST";
    }
    std::string allow;
    if (route->second.contains(Method::Get)) {
        allow = "GET, HEAD";
    }
    if (route->second.contains(Method::Post)) {
        allow += allow.empty() ? "POST" : ", POST";
    }
    return allow;
}

std::optional<unsigned> Server::screen(Exchange& exchange) {
    IncomingRequest& request = exchange.request;
    const std::string& method = request.method;
    bool get = method == MHD_HTTP_METHOD_GET || method == MHD_HTTP_METHOD_HEAD;
    if (!get && method != MHD_HTTP_METHOD_POST) {
        return MHD_HTTP_METHOD_NOT_ALLOWED;
    }
    HeaderCount count{request.path.size() + method.size() + 12, 0, &request.query};
    MHD_get_connection_values(exchange.connection, MHD_HEADER_KIND, &count_header, &count);
    MHD_get_connection_values(exchange.connection, MHD_GET_ARGUMENT_KIND, &collect_argument,
                              &count);
    if (count.bytes > limits_.max_header_bytes) {
        return MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE;
    }
    if (!routes_.contains(request.path)) {
        return MHD_HTTP_NOT_FOUND;
    }
    const Handler* route = handler(request.path, get ? Method::Get : Method::Post);
    if (route == nullptr) {
        return MHD_HTTP_METHOD_NOT_ALLOWED;
    }
    if (content_length(exchange.connection).value_or(0) > limits_.max_body_bytes) {
        return MHD_HTTP_CONTENT_TOO_LARGE;
    }
    if (count.repeated > 0) {
        return MHD_HTTP_BAD_REQUEST;
    }
    exchange.handler = *route;
    return std::nullopt;
}

// A later call for the same request: a piece of its body, its end, or its resumption.
MHD_Result Server::Exchange::go_on(const char* upload, size_t* upload_size) {
    if (queued) {
        return MHD_YES;
    }
    if (*upload_size != 0) {
        // A chunked body that outgrows the limit: libmicrohttpd 0.9.75 takes no answer in
        // the middle of a body, so the connection is closed instead.
        if (body.size() + *upload_size > server->limits_.max_body_bytes) {
            ++server->stats_.refused;
            return MHD_NO;
        }
        body.append(upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (hung_up) {
        return MHD_NO;
    }
    if (!started) {
        start();
    }
    if (answer) {
        return queue();
    }
    suspend();
    return MHD_YES;
}

// Hands the whole request to its handler.
void Server::Exchange::start() {
    started = true;
    server->arrived(connection);
    if (request.method == MHD_HTTP_METHOD_POST &&
        is_form(MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                            MHD_HTTP_HEADER_CONTENT_TYPE))) {
        auto fields = parse_form(body);
        if (!fields) {
            ++server->stats_.refused;
            reply->settled = true;
            answer = refusal(MHD_HTTP_BAD_REQUEST);
            return;
        }
        request.form = std::move(*fields);
    }
    wipe_string(body);
    ++server->stats_.handled;
    try {
        handler(request, Reply(reply));
    } catch (const std::exception& e) {
        log_event(LogLevel::Error, "http-handler-failed",
                  "the handler of " + request.path + " failed: " + e.what(),
                  {{"PATH", request.path}});
    }
    // Nobody can answer any more: the handler failed, or kept no Reply.
    if (!reply->settled && reply.use_count() == 1) {
        ++server->stats_.refused;
        reply->settled = true;
        answer = refusal(MHD_HTTP_INTERNAL_SERVER_ERROR);
    }
}

MHD_Result Server::Exchange::queue() {
    server->arrived(connection);
    ResponsePtr response = make_response(*answer);
    unsigned status = answer->status;
    if (!response) {
        response = make_response(refusal(MHD_HTTP_INTERNAL_SERVER_ERROR));
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
    queued = true;
    answer.reset();
    if (!response) {
        return MHD_NO;
    }
    return MHD_queue_response(connection, status, response.get());
}

// Parks the connection until its Reply answers, its deadline passes or its client leaves.
void Server::Exchange::suspend() {
    sd_event* event = server->event_;
    sd_event_source* source = nullptr;
    uint64_t usec = static_cast<uint64_t>(server->limits_.answer_deadline.count()) * 1000 * 1000;
    if (sd_event_add_time_relative(event, &source, CLOCK_MONOTONIC, usec, 0, &on_deadline, this) <
        0) {
        throw Error(Errc::Internal, "cannot time an HTTP request");
    }
    deadline.reset(source);
    // A suspended connection is not polled by libmicrohttpd: a client that leaves would go
    // unnoticed until the answer. Its socket's hang-up is watched here instead.
    const MHD_ConnectionInfo* info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (info != nullptr &&
        sd_event_add_io(event, &source, info->connect_fd, EPOLLRDHUP, &on_hangup, this) >= 0) {
        hangup.reset(source);
    }
    MHD_suspend_connection(connection);
    suspended = true;
    ++server->stats_.suspended;
}

void Server::Exchange::resume() {
    deadline.reset();
    hangup.reset();
    suspended = false;
    --server->stats_.suspended;
    MHD_resume_connection(connection);
    server->kick();
}

// The request ends unanswered: whoever would have answered is told, once.
void Server::Exchange::abandon() {
    reply->settled = true;
    std::function<void()> told = std::move(reply->abandoned);
    reply->abandoned = nullptr;
    if (told) {
        told();
    }
}

int Server::Exchange::on_deadline(sd_event_source*, uint64_t, void* userdata) {
    return c_barrier("http-deadline", 0, [&] {
        auto& self = *static_cast<Exchange*>(userdata);
        log_event(LogLevel::Notice, "http-answer-late",
                  "no answer to a request for " + self.request.path + " in time",
                  {{"PATH", self.request.path}});
        ++self.server->stats_.timed_out;
        self.answer = refusal(MHD_HTTP_SERVICE_UNAVAILABLE);
        self.resume();
        self.abandon();
        return 0;
    });
}

int Server::Exchange::on_hangup(sd_event_source*, int, uint32_t, void* userdata) {
    return c_barrier("http-hangup", 0, [&] {
        auto& self = *static_cast<Exchange*>(userdata);
        self.hung_up = true;
        ++self.server->stats_.abandoned;
        self.resume();
        self.abandon();
        return 0;
    });
}

void Server::Exchange::on_completed(void* cls, MHD_Connection*, void** req_cls,
                                    MHD_RequestTerminationCode) {
    c_barrier("http-completed", 0, [&] {
        auto* server = static_cast<Server*>(cls);
        auto* self = static_cast<Exchange*>(*req_cls);
        *req_cls = nullptr;
        if (self == nullptr) {
            return 0;
        }
        if (self->suspended) {  // only when the server stops
            self->suspended = false;
            --server->stats_.suspended;
        }
        if (self->started && !self->reply->settled && !server->stopping_) {
            ++server->stats_.abandoned;
            self->abandon();
        }
        server->exchanges_.erase(self);
        return 0;
    });
}

// The request-time limit of one connection (Limits::request_time).
struct Server::Arrival {
    Server* server = nullptr;
    MHD_Connection* connection = nullptr;
    EventSourcePtr timer;
};

namespace {

// Closes a connection under libmicrohttpd's feet: its next read sees the end.
void cut(MHD_Connection* connection) {
    const MHD_ConnectionInfo* info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (info != nullptr) {
        shutdown(info->connect_fd, SHUT_RDWR);
    }
}

}  // namespace

void Server::arrived(void* connection) {
    arrivals_.erase(connection);
}

// libmicrohttpd 0.9.75 times a connection out only when it sends nothing at all; a client
// that trickles its request a byte at a time is bounded here instead.
void Server::Exchange::on_connection(void* cls, MHD_Connection* connection, void**,
                                     MHD_ConnectionNotificationCode code) {
    c_barrier("http-connection", 0, [&] {
        auto* server = static_cast<Server*>(cls);
        if (code != MHD_CONNECTION_NOTIFY_STARTED) {
            server->arrived(connection);
            return 0;
        }
        auto arrival = std::make_unique<Arrival>();
        arrival->server = server;
        arrival->connection = connection;
        sd_event_source* source = nullptr;
        uint64_t usec = static_cast<uint64_t>(server->limits_.request_time.count()) * 1000 * 1000;
        if (sd_event_add_time_relative(server->event_, &source, CLOCK_MONOTONIC, usec, 0,
                                       &on_request_time, arrival.get()) < 0) {
            cut(arrival->connection);  // unbounded in time: not served
            return 0;
        }
        arrival->timer.reset(source);
        server->arrivals_[connection] = std::move(arrival);
        return 0;
    });
}

int Server::Exchange::on_request_time(sd_event_source*, uint64_t, void* userdata) {
    return c_barrier("http-request-time", 0, [&] {
        auto* arrival = static_cast<Arrival*>(userdata);
        Server* server = arrival->server;
        cut(arrival->connection);
        ++server->stats_.cut_off;
        server->arrived(arrival->connection);  // destroys `arrival`
        server->kick();
        return 0;
    });
}

Server::Server(sd_event* event, const std::string& listen, Limits limits)
    : event_(event), limits_(limits) {
    Fd listener = open_listener(listen, port_);
    // Room for the headers the server refuses itself (431 with the security headers);
    // beyond it libmicrohttpd answers 431 on its own.
    size_t memory = std::max<size_t>(32 * 1024, 4 * limits_.max_header_bytes);
    auto* daemon = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME, 0, nullptr, nullptr, &Exchange::on_access, this,
        MHD_OPTION_LISTEN_SOCKET, listener.get(), MHD_OPTION_CONNECTION_LIMIT,
        limits_.max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT, limits_.max_connections_per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, static_cast<unsigned>(limits_.connection_timeout.count()),
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, memory, MHD_OPTION_NOTIFY_COMPLETED,
        &Exchange::on_completed, this, MHD_OPTION_NOTIFY_CONNECTION, &Exchange::on_connection, this,
        MHD_OPTION_END);
    if (daemon == nullptr) {
        cannot_listen(listen, "libmicrohttpd does not start");
    }
    listener.release();
    daemon_ = daemon;
    const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_EPOLL_FD);
    sd_event_source* source = nullptr;
    if (info == nullptr ||
        sd_event_add_io(event_, &source, info->epoll_fd, EPOLLIN, &Server::on_epoll, this) < 0) {
        MHD_stop_daemon(daemon);
        cannot_listen(listen, "cannot watch libmicrohttpd's epoll set");
    }
    epoll_watch_.reset(source);
    if (sd_event_add_time_relative(event_, &source, CLOCK_MONOTONIC, 0, 0, &Server::on_time, this) <
        0) {
        epoll_watch_.reset();
        MHD_stop_daemon(daemon);
        cannot_listen(listen, "cannot add a timer to the loop");
    }
    timer_.reset(source);
}

Server::~Server() {
    stopping_ = true;
    // libmicrohttpd 0.9.75 aborts the process when it stops with a connection suspended.
    for (auto& [raw, exchange] : exchanges_) {
        if (exchange->suspended) {
            exchange->resume();
        }
    }
    epoll_watch_.reset();
    timer_.reset();
    MHD_stop_daemon(as_daemon(daemon_));
    exchanges_.clear();
}

void Server::route(const std::string& path, Method method, Handler handler) {
    routes_[path][method] = std::move(handler);
}

const Handler* Server::handler(const std::string& path, Method method) const {
    auto routes = routes_.find(path);
    if (routes == routes_.end()) {
        return nullptr;
    }
    auto found = routes->second.find(method);
    return found == routes->second.end() ? nullptr : &found->second;
}

ServerStats Server::stats() const {
    ServerStats stats = stats_;
    stats.connections = connections();
    return stats;
}

size_t Server::connections() const {
    const MHD_DaemonInfo* info =
        MHD_get_daemon_info(as_daemon(daemon_), MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return info != nullptr ? info->num_connections : 0;
}

void Server::run() {
    // libmicrohttpd 0.9.75 takes its listening socket out of its epoll set when a run
    // starts at the connection limit, and puts it back only at the start of a later run:
    // when this run closed connections, nothing on the set would call that run, and new
    // connections would wait in the backlog for the next timeout. So it runs once more.
    size_t before = connections();
    MHD_run(as_daemon(daemon_));
    if (before >= limits_.max_connections && connections() < limits_.max_connections) {
        MHD_run(as_daemon(daemon_));
    }
    arm_timer();
}

// libmicrohttpd says when it must run again without news on its epoll set: a
// connection's timeout, data it has read but not processed yet.
void Server::arm_timer() {
    MHD_UNSIGNED_LONG_LONG ms = 0;
    if (MHD_get_timeout(as_daemon(daemon_), &ms) != MHD_YES) {
        sd_event_source_set_enabled(timer_.get(), SD_EVENT_OFF);
        return;
    }
    sd_event_source_set_time_relative(timer_.get(), static_cast<uint64_t>(ms) * 1000);
    sd_event_source_set_enabled(timer_.get(), SD_EVENT_ONESHOT);
}

// Runs libmicrohttpd soon, from the loop: a resumed connection has an answer to send.
void Server::kick() {
    if (stopping_) {
        return;
    }
    sd_event_source_set_time_relative(timer_.get(), 0);
    sd_event_source_set_enabled(timer_.get(), SD_EVENT_ONESHOT);
}

int Server::on_epoll(sd_event_source*, int, uint32_t, void* userdata) {
    return c_barrier("http-server-io", 0, [&] {
        static_cast<Server*>(userdata)->run();
        return 0;
    });
}

int Server::on_time(sd_event_source*, uint64_t, void* userdata) {
    return c_barrier("http-server-timer", 0, [&] {
        static_cast<Server*>(userdata)->run();
        return 0;
    });
}

}  // namespace lwauth::http
