// lwauthd's HTTP endpoint on a real sd-event loop, asked by real HTTP clients over
// loopback sockets from other threads: routing, refusals, the security headers, the
// limits on size, connections and time, answers given later, clients that leave, and a
// server stopped with connections open. The loop runs on the test's thread, as in lwauthd.
#include "http/server.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "lwauth/error.hpp"
#include "timers.hpp"

namespace lwauth::test {
namespace {

using namespace std::chrono_literals;
using http::Answer;
using http::IncomingRequest;
using http::Limits;
using http::Method;
using http::Reply;
using http::Server;

// What a client read: status 0 when the server closed the connection without an answer.
struct Got {
    int status = 0;
    std::map<std::string, std::string> headers;  // names in lower case
    std::string body;
};

// A blocking loopback client socket connected from `source` (any 127/8 address works on
// Linux, which lets one test stand for several client addresses). Reads wait 60 s at most.
class Client {
  public:
    Client(uint16_t port, const char* source = "127.0.0.1") : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
        sockaddr_in from{};
        from.sin_family = AF_INET;
        inet_pton(AF_INET, source, &from.sin_addr);
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_port = htons(port);
        inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
        timeval wait{60, 0};
        setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
        if (bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
            connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
            throw std::runtime_error("cannot connect to the test server");
        }
    }
    ~Client() { close(fd_); }
    [[nodiscard]] int fd() const { return fd_; }
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    void send_text(const std::string& text) const {
        (void)::send(fd_, text.data(), text.size(), MSG_NOSIGNAL);
    }

    /// Everything until the server closes (or 60 s pass: then `timed_out`).
    std::string read_all(bool* timed_out = nullptr) const {
        std::string all;
        char buffer[4096];
        for (;;) {
            ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
            if (n > 0) {
                all.append(buffer, static_cast<size_t>(n));
                continue;
            }
            if (timed_out != nullptr) {
                *timed_out = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
            }
            return all;
        }
    }

    Got ask(const std::string& request) const {
        send_text(request);
        return parse(read_all());
    }

    static Got parse(const std::string& raw) {
        Got got;
        size_t end = raw.find("\r\n\r\n");
        if (raw.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos) {
            return got;
        }
        got.status = std::stoi(raw.substr(9, 3));
        size_t line = raw.find("\r\n") + 2;
        while (line < end) {
            size_t next = raw.find("\r\n", line);
            std::string header = raw.substr(line, next - line);
            size_t colon = header.find(':');
            std::string name = header.substr(0, colon);
            for (char& c : name) {
                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            }
            got.headers[name] = header.substr(header.find_first_not_of(' ', colon + 1));
            line = next + 2;
        }
        got.body = raw.substr(end + 4);
        return got;
    }

  private:
    int fd_;
};

std::string get(const std::string& target, const std::string& method = "GET") {
    return method + " " + target + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
}

std::string post(const std::string& target, const std::string& body,
                 const std::string& type = "application/x-www-form-urlencoded") {
    return "POST " + target +
           " HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Type: " + type +
           "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

void expect_security_headers(const Got& got) {
    EXPECT_EQ(got.headers.count("connection") ? got.headers.at("connection") : "", "close");
    EXPECT_EQ(got.headers.count("cache-control") ? got.headers.at("cache-control") : "",
              "no-store");
    EXPECT_EQ(got.headers.count("referrer-policy") ? got.headers.at("referrer-policy") : "",
              "no-referrer");
    EXPECT_EQ(got.headers.count("x-frame-options") ? got.headers.at("x-frame-options") : "",
              "DENY");
    EXPECT_EQ(
        got.headers.count("x-content-type-options") ? got.headers.at("x-content-type-options") : "",
        "nosniff");
    std::string csp = got.headers.count("content-security-policy")
                          ? got.headers.at("content-security-policy")
                          : "";
    EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
}

// Echoes what the handler saw, one "name=value" a line.
std::string describe(const IncomingRequest& r) {
    std::string text = "method=" + r.method + "\npath=" + r.path + "\nfrom=" + r.client_address;
    for (const auto& [name, value] : r.query) {
        text += "\nquery:" + name + "=" + value;
    }
    for (const auto& [name, value] : r.form) {
        text += "\nform:" + name + "=" + value;
    }
    return text;
}

class HttpServerTest : public ::testing::Test {
  protected:
    void SetUp() override {
        sd_event* e = nullptr;
        ASSERT_GE(sd_event_new(&e), 0);
        event_.reset(e);
    }

    void start(Limits limits = {}) {
        server_ = std::make_unique<Server>(event_.get(), "127.0.0.1:0", limits);
        server_->route("/echo", Method::Get, [](const IncomingRequest& r, Reply reply) {
            reply.send(Answer::text(200, describe(r)));
        });
        server_->route("/form", Method::Post, [](const IncomingRequest& r, Reply reply) {
            reply.send(Answer::text(200, describe(r)));
        });
        // Keeps the Reply, to be answered (or not) by the test.
        server_->route("/wait", Method::Get, [this](const IncomingRequest&, Reply reply) {
            reply.on_abandoned([this] { told_ = true; });
            waiting_.push_back(reply);
        });
    }

    // Runs the loop until `done` holds (or 60 s pass).
    template <class Pred>
    bool run_until(Pred done) {
        auto deadline = std::chrono::steady_clock::now() + 60s;
        while (!done()) {
            if (std::chrono::steady_clock::now() > deadline) {
                return false;
            }
            sd_event_run(event_.get(), 50 * 1000);
        }
        return true;
    }

    // Runs `client` on another thread while the loop runs here; returns what it returns.
    template <class F>
    auto on_client(F client) -> decltype(client()) {
        auto future = std::async(std::launch::async, std::move(client));
        EXPECT_TRUE(run_until([&] { return future.wait_for(0s) == std::future_status::ready; }))
            << "the client never finished";
        return future.get();
    }

    Got ask(const std::string& request, const char* source = "127.0.0.1") {
        uint16_t port = server_->port();
        return on_client([=] { return Client(port, source).ask(request); });
    }

    EventPtr event_;
    std::unique_ptr<Server> server_;
    std::vector<Reply> waiting_;
    bool told_ = false;  // a kept Reply's on_abandoned ran
};

TEST_F(HttpServerTest, RoutesByExactPathAndMethod) {
    start();
    Got echo = ask(get("/echo?state=abc&code=x%2By+z"));
    ASSERT_EQ(echo.status, 200);
    EXPECT_EQ(echo.body,
              "method=GET\npath=/echo\nfrom=127.0.0.1\nquery:code=x+y z\nquery:state=abc");

    Got form = ask(post("/form?a=1", "pick=42&note=two+words%21&empty="), "127.0.0.3");
    ASSERT_EQ(form.status, 200);
    EXPECT_EQ(form.body,
              "method=POST\npath=/form\nfrom=127.0.0.3\nquery:a=1\nform:empty=\n"
              "form:note=two words!\nform:pick=42");

    Got other_type = ask(post("/form", "pick=42", "text/plain"));
    EXPECT_EQ(other_type.body, "method=POST\npath=/form\nfrom=127.0.0.1");

    Got head = ask(get("/echo", "HEAD"));
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.body, "");

    EXPECT_EQ(ask(get("/echo/")).status, 404);
    EXPECT_EQ(ask(get("/Echo")).status, 404);
    EXPECT_EQ(ask(get("/")).status, 404);

    Got wrong_method = ask(post("/echo", ""));
    EXPECT_EQ(wrong_method.status, 405);
    EXPECT_EQ(wrong_method.headers["allow"], "GET, HEAD");
    EXPECT_EQ(ask(get("/form")).status, 405);
    for (const char* method : {"PUT", "DELETE", "OPTIONS", "TRACE", "PATCH", "CONNECT"}) {
        EXPECT_EQ(ask(get("/echo", method)).status, 405) << method;
    }
    EXPECT_EQ(ask(get("/nowhere", "DELETE")).status, 405);
}

TEST_F(HttpServerTest, RefusesRepeatedOrMalformedParameters) {
    start();
    EXPECT_EQ(ask(get("/echo?state=a&state=b")).status, 400);
    EXPECT_EQ(ask(post("/form", "pick=1&pick=2")).status, 400);
    EXPECT_EQ(ask(post("/form", "pick=%4")).status, 400);
    EXPECT_EQ(ask(post("/form", "pick=%zz")).status, 400);
    EXPECT_EQ(server_->stats().handled, 0u);
}

TEST_F(HttpServerTest, EveryAnswerCarriesTheSecurityHeaders) {
    start();
    server_->route("/throws", Method::Get,
                   [](const IncomingRequest&, Reply) { throw std::runtime_error("handler bug"); });
    server_->route("/silent", Method::Get, [](const IncomingRequest&, Reply) {});
    server_->route("/away", Method::Get, [](const IncomingRequest&, Reply reply) {
        reply.send(Answer::redirect("https://access.line.me/oauth2/v2.1/authorize?x=1"));
    });
    std::string big_header = "GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Pad: " +
                             std::string(12 * 1024, 'p') + "\r\n\r\n";
    std::string big_body =
        "POST /form HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        "Content-Length: 100000\r\n\r\n";
    std::vector<std::pair<std::string, int>> cases = {
        {get("/echo"), 200},    {get("/echo", "HEAD"), 200}, {get("/away"), 303},
        {get("/nowhere"), 404}, {get("/echo", "PUT"), 405},  {big_header, 431},
        {big_body, 413},        {get("/echo?a=1&a=2"), 400}, {get("/throws"), 500},
        {get("/silent"), 500},
    };
    for (const auto& [request, status] : cases) {
        Got got = ask(request);
        SCOPED_TRACE(request.substr(0, 40));
        EXPECT_EQ(got.status, status);
        expect_security_headers(got);
    }
    Got away = ask(get("/away"));
    EXPECT_EQ(away.headers["location"], "https://access.line.me/oauth2/v2.1/authorize?x=1");
}

TEST_F(HttpServerTest, RefusesRequestsTooLarge) {
    start();
    std::string header = "GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Pad: ";
    EXPECT_EQ(ask(header + std::string(9 * 1024, 'p') + "\r\n\r\n").status, 431);
    EXPECT_EQ(ask(get("/echo?q=" + std::string(9 * 1024, 'q'))).status, 431);
    // Beyond the connection's memory libmicrohttpd refuses it itself.
    Got huge = ask(header + std::string(256 * 1024, 'p') + "\r\n\r\n");
    EXPECT_TRUE(huge.status == 431 || huge.status == 0) << huge.status;
    EXPECT_EQ(ask(post("/form", "pick=" + std::string(9 * 1024, '1'))).status, 413);
    // A chunked body that grows past the limit: the connection is closed.
    std::string chunked =
        "POST /form HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        "Transfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 10; ++i) {
        chunked += "400\r\n" + std::string(1024, 'a') + "\r\n";
    }
    EXPECT_NE(ask(chunked + "0\r\n\r\n").status, 200);
    EXPECT_EQ(server_->stats().handled, 0u);
    EXPECT_EQ(ask(post("/form", "pick=" + std::string(7 * 1024, '1'))).status, 200);
}

TEST_F(HttpServerTest, BoundsConnectionsPerAddressAndInAll) {
    Limits limits;
    limits.max_connections = 3;
    limits.max_connections_per_ip = 2;
    limits.connection_timeout = 120s;  // the idle clients below stay for the whole test
    start(limits);
    uint16_t port = server_->port();
    auto first = std::make_unique<Client>(port, "127.0.0.1");
    auto second = std::make_unique<Client>(port, "127.0.0.1");
    ASSERT_TRUE(run_until([&] { return server_->stats().connections == 2; }));
    // A third from the same address is closed unanswered; another address gets in.
    EXPECT_EQ(ask(get("/echo"), "127.0.0.1").status, 0);
    EXPECT_EQ(ask(get("/echo"), "127.0.0.2").status, 200);
    auto third = std::make_unique<Client>(port, "127.0.0.2");
    ASSERT_TRUE(run_until([&] { return server_->stats().connections == 3; }));
    // All three taken: a fourth waits in the listen backlog, unserved, until one leaves.
    auto fourth = std::async(std::launch::async,
                             [port] { return Client(port, "127.0.0.4").ask(get("/echo")); });
    auto a_second = std::chrono::steady_clock::now() + 1s;
    run_until([&] { return std::chrono::steady_clock::now() > a_second; });
    EXPECT_EQ(fourth.wait_for(0s), std::future_status::timeout);
    EXPECT_EQ(server_->stats().connections, 3u);
    first.reset();
    ASSERT_TRUE(run_until([&] { return fourth.wait_for(0s) == std::future_status::ready; }));
    EXPECT_EQ(fourth.get().status, 200);
    second.reset();
    third.reset();
    ASSERT_TRUE(run_until([&] { return server_->stats().connections == 0; }));
    EXPECT_EQ(ask(get("/echo"), "127.0.0.1").status, 200);
}

TEST_F(HttpServerTest, DropsSlowClientsAfterTheTimeoutWhileOthersAreServed) {
    Limits limits;
    limits.connection_timeout = 2s;
    start(limits);
    uint16_t port = server_->port();
    auto silent = std::async(std::launch::async, [port] {
        Client client(port, "127.0.0.5");  // opens, sends nothing
        bool timed_out = true;
        std::string got = client.read_all(&timed_out);
        return !timed_out && got.empty();
    });
    auto trickle = std::async(std::launch::async, [port] {
        Client client(port, "127.0.0.6");
        client.send_text("GET /echo HTTP/1.1\r\nHost: t\r\n");  // and never the end
        bool timed_out = true;
        std::string got = client.read_all(&timed_out);
        return !timed_out && Client::parse(got).status != 200;
    });
    ASSERT_TRUE(run_until([&] { return server_->stats().connections == 2; }));
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(ask(get("/echo")).status, 200);
    }
    ASSERT_TRUE(run_until([&] {
        return silent.wait_for(0s) == std::future_status::ready &&
               trickle.wait_for(0s) == std::future_status::ready;
    }));
    EXPECT_TRUE(silent.get()) << "the silent client was not dropped";
    EXPECT_TRUE(trickle.get()) << "the client that never ended its request was not dropped";
    EXPECT_TRUE(run_until([&] { return server_->stats().connections == 0; }));
}

TEST_F(HttpServerTest, CutsOffAClientThatTricklesItsRequest) {
    Limits limits;
    limits.connection_timeout = 60s;  // never idle: a byte comes every 200 ms
    limits.request_time = 2s;
    start(limits);
    uint16_t port = server_->port();
    auto trickle = std::async(std::launch::async, [port] {
        Client client(port, "127.0.0.7");
        std::string request = get("/echo?" + std::string(4000, 'x'));
        auto begun = std::chrono::steady_clock::now();
        for (char c : request) {
            if (::send(client.fd(), &c, 1, MSG_NOSIGNAL) != 1) {
                break;  // cut off
            }
            std::this_thread::sleep_for(200ms);
            if (std::chrono::steady_clock::now() - begun > 45s) {
                break;
            }
        }
        return std::chrono::steady_clock::now() - begun;
    });
    EXPECT_EQ(ask(get("/echo")).status, 200);
    ASSERT_TRUE(run_until([&] { return trickle.wait_for(0s) == std::future_status::ready; }));
    // Cut off long before the idle timeout (60 s) or the end of its request (13 min).
    EXPECT_LT(trickle.get(), 40s);
    EXPECT_EQ(server_->stats().cut_off, 1u);
    EXPECT_EQ(server_->stats().handled, 1u);
}

TEST_F(HttpServerTest, AnswersASuspendedRequestLaterFromTheLoop) {
    start();
    EventTimers timers(event_.get());
    std::unique_ptr<Timer> timer;
    server_->route("/timed", Method::Get, [&](const IncomingRequest& r, Reply reply) {
        std::string path = r.path;
        timer = timers.after(200 * 1000, [reply, path] {
            EXPECT_TRUE(reply.send(Answer::text(200, "late for " + path)));
        });
    });
    Got timed = ask(get("/timed"));
    EXPECT_EQ(timed.status, 200);
    EXPECT_EQ(timed.body, "late for /timed");
    expect_security_headers(timed);

    // While one request waits, others are answered; then the waiting one is.
    uint16_t port = server_->port();
    auto later = std::async(std::launch::async, [port] { return Client(port).ask(get("/wait")); });
    ASSERT_TRUE(run_until([&] { return waiting_.size() == 1; }));
    EXPECT_TRUE(waiting_[0].pending());
    EXPECT_EQ(server_->stats().suspended, 1u);
    EXPECT_EQ(ask(get("/echo")).status, 200);
    EXPECT_TRUE(waiting_[0].send(Answer::html(200, "<p>done</p>")));
    EXPECT_FALSE(waiting_[0].send(Answer::html(200, "twice")));
    EXPECT_FALSE(waiting_[0].pending());
    ASSERT_TRUE(run_until([&] { return later.wait_for(0s) == std::future_status::ready; }));
    Got got = later.get();
    EXPECT_EQ(got.status, 200);
    EXPECT_EQ(got.body, "<p>done</p>");
    EXPECT_EQ(got.headers["content-type"], "text/html; charset=utf-8");
    EXPECT_EQ(server_->stats().suspended, 0u);
}

TEST_F(HttpServerTest, AnswersAtTheDeadlineWhenTheHandlerDoesNot) {
    Limits limits;
    limits.answer_deadline = 1s;
    start(limits);
    Got got = ask(get("/wait"));
    EXPECT_EQ(got.status, 503);
    expect_security_headers(got);
    EXPECT_TRUE(told_);
    ASSERT_EQ(waiting_.size(), 1u);
    EXPECT_FALSE(waiting_[0].pending());
    EXPECT_FALSE(waiting_[0].send(Answer::text(200, "too late")));
    EXPECT_EQ(server_->stats().timed_out, 1u);
}

TEST_F(HttpServerTest, AClientLeavingWhileItsAnswerIsAwaitedIsToldAndForgotten) {
    start();
    uint16_t port = server_->port();
    auto client = std::make_unique<Client>(port);
    client->send_text(get("/wait"));
    ASSERT_TRUE(run_until([&] { return server_->stats().suspended == 1; }));
    client.reset();  // the browser tab is closed
    ASSERT_TRUE(run_until([&] { return told_; })) << "the handler was never told";
    EXPECT_FALSE(waiting_[0].pending());
    EXPECT_FALSE(waiting_[0].send(Answer::text(200, "nobody listens")));
    ASSERT_TRUE(run_until([&] { return server_->stats().connections == 0; }));
    EXPECT_EQ(server_->stats().abandoned, 1u);
    EXPECT_EQ(server_->stats().suspended, 0u);
    EXPECT_EQ(ask(get("/echo")).status, 200);
}

TEST_F(HttpServerTest, StopsWithConnectionsOpen) {
    start();
    uint16_t port = server_->port();
    auto waiting = std::async(std::launch::async, [port] {
        bool timed_out = true;
        Client client(port);
        client.send_text(get("/wait"));
        return std::make_pair(client.read_all(&timed_out), timed_out);
    });
    auto idle = std::async(std::launch::async, [port] {
        bool timed_out = true;
        Client client(port, "127.0.0.2");
        return std::make_pair(client.read_all(&timed_out), timed_out);
    });
    ASSERT_TRUE(run_until(
        [&] { return server_->stats().suspended == 1 && server_->stats().connections == 2; }));
    server_.reset();
    auto [waited, waited_timed_out] = waiting.get();
    auto [idled, idle_timed_out] = idle.get();
    EXPECT_FALSE(waited_timed_out);
    EXPECT_FALSE(idle_timed_out);
    EXPECT_EQ(Client::parse(waited).status, 0);
    EXPECT_TRUE(idled.empty());
    EXPECT_FALSE(told_);
    EXPECT_FALSE(waiting_[0].pending());
    EXPECT_FALSE(waiting_[0].send(Answer::text(200, "after the end")));
}

TEST_F(HttpServerTest, ListensOnIpv6AndRefusesABadAddress) {
    Server v6(event_.get(), "[::1]:0");
    EXPECT_GT(v6.port(), 0);
    try {
        Server taken(event_.get(), "[::1]:" + std::to_string(v6.port()));
        ADD_FAILURE() << "a port in use was bound twice";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::Unavailable);
    }
    EXPECT_THROW(Server(event_.get(), "no-port"), Error);
}

}  // namespace
}  // namespace lwauth::test
