// lwauthd's HTTPS client on a real sd-event loop against a real TLS server on loopback:
// answers, server errors, timeouts, refused connections, certificate checks, the
// proxy environment, and many requests in flight at once.
#include "http/http_client.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "harness.hpp"

namespace lwauth::http {

// Reaches the client's transfer timer, to lose a wake-up as a loop might.
struct ClientTestPeer {
    static void stop_timer(Client& client) {
        ASSERT_TRUE(client.timer_) << "the client has no transfer timer";
        ASSERT_GE(sd_event_source_set_enabled(client.timer_.get(), SD_EVENT_OFF), 0);
    }
};

}  // namespace lwauth::http

namespace lwauth::test {
namespace {

using http::Client;
using http::Request;
using http::Response;

// The gateway fakes' test PKI: a CA, a server certificate for 127.0.0.1 signed by it, a
// self-signed one, and one signed by the CA for another host name.
void make_pki(const fs::path& dir) {
    auto r =
        run({"/bin/bash", (source_dir() / "tests/fakes/make_test_pki.sh").string(), dir.string()},
            base_env());
    if (r.exit_code != 0) {
        throw std::runtime_error("cannot make the test PKI: " + r.err);
    }
}

class Server {
  public:
    Server(const fs::path& dir, const std::string& name) {
        fs::path log = dir / (name + ".log");
        process_ = Process(
            {"/usr/bin/python3", (source_dir() / "tests/integration/https_test_server.py").string(),
             (dir / (name + ".pem")).string(), (dir / (name + ".key")).string()},
            base_env(), log);
        port_ = wait_for_listening_port(log);
        if (port_ == 0) {
            throw std::runtime_error("the test HTTPS server did not start: " + read_file(log));
        }
    }
    [[nodiscard]] std::string url(const std::string& path) const {
        return "https://127.0.0.1:" + std::to_string(port_) + path;
    }

  private:
    Process process_;
    int port_ = 0;
};

class HttpClientTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        pki_ = new TempDir("lwauth-pki");
        make_pki(pki_->path());
        good_ = new Server(pki_->path(), "server");
    }
    static void TearDownTestSuite() {
        delete good_;
        delete pki_;
    }

    void SetUp() override {
        sd_event* e = nullptr;
        ASSERT_GE(sd_event_new(&e), 0);
        event_.reset(e);
        client_ = std::make_unique<Client>(event_.get());
    }

    Request request(const std::string& url) {
        Request r;
        r.url = url;
        r.ca_file = (pki_->path() / "ca.pem").string();
        r.timeout = std::chrono::seconds(20);
        return r;
    }

    // Runs the loop until every started request has called back (or 60 s pass).
    void run_loop() {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (client_->in_flight() > 0 && std::chrono::steady_clock::now() < deadline) {
            sd_event_run(event_.get(), 100 * 1000);
            max_in_flight_ = std::max(max_in_flight_, client_->in_flight());
        }
    }

    Response fetch(Request r) {
        std::optional<Response> out;
        client_->perform(std::move(r), [&](Response response) { out = std::move(response); });
        run_loop();
        EXPECT_TRUE(out.has_value()) << "the request never called back";
        return out.value_or(Response{});
    }

    static inline TempDir* pki_ = nullptr;
    static inline Server* good_ = nullptr;
    EventPtr event_;
    std::unique_ptr<Client> client_;
    size_t max_in_flight_ = 0;
};

TEST_F(HttpClientTest, CompletesWithTheStatusAndBody) {
    Response r = fetch(request(good_->url("/status/201")));
    EXPECT_EQ(r.status, 201);
    EXPECT_EQ(nlohmann::json::parse(r.body)["status"], 201);
    EXPECT_TRUE(r.error.empty());
}

TEST_F(HttpClientTest, HandsServerErrorsToTheCaller) {
    Response r = fetch(request(good_->url("/status/503")));
    EXPECT_EQ(r.status, 503);
    Response garbage = fetch(request(good_->url("/garbage")));
    EXPECT_EQ(garbage.status, 200);
    EXPECT_FALSE(nlohmann::json::accept(garbage.body));
}

TEST_F(HttpClientTest, SendsTheBodyHeadersAndBasicAuthentication) {
    Request r = request(good_->url("/echo"));
    r.headers = {"Content-Type: application/x-www-form-urlencoded"};
    r.body = "To=%2B819012345678&Body=hello";
    r.username = "AC123";
    r.password = SecretString("token");
    Response response = fetch(std::move(r));
    ASSERT_EQ(response.status, 200) << response.error;
    auto echo = nlohmann::json::parse(response.body);
    EXPECT_EQ(echo["method"], "POST");
    EXPECT_EQ(echo["body"], "To=%2B819012345678&Body=hello");
    EXPECT_EQ(echo["content_type"], "application/x-www-form-urlencoded");
    EXPECT_EQ(echo["authorization"], "Basic QUMxMjM6dG9rZW4=");  // AC123:token
}

TEST_F(HttpClientTest, TimesOut) {
    Request r = request(good_->url("/slow/5000"));
    r.timeout = std::chrono::milliseconds(300);
    Response response = fetch(std::move(r));
    EXPECT_EQ(response.status, 0);
    EXPECT_TRUE(response.timed_out);
    EXPECT_FALSE(response.error.empty());
}

// Should libcurl's wake-up for a transfer's timeout be lost, the transfer still ends a
// second past its limit, as timed out, rather than when its server answers (here 30 s).
TEST_F(HttpClientTest, EndsATransferPastItsLimitWhenLibcurlsWakeUpIsLost) {
    Request r = request(good_->url("/slow/30000"));
    r.timeout = std::chrono::milliseconds(1500);
    std::optional<Response> out;
    auto started = std::chrono::steady_clock::now();
    client_->perform(std::move(r), [&](Response response) { out = std::move(response); });
    // Until the request is on its way and libcurl waits for the answer.
    while (std::chrono::steady_clock::now() - started < std::chrono::milliseconds(500)) {
        sd_event_run(event_.get(), 20 * 1000);
    }
    ASSERT_FALSE(out.has_value()) << out->error;
    http::ClientTestPeer::stop_timer(*client_);
    run_loop();
    ASSERT_TRUE(out.has_value()) << "the request never called back";
    EXPECT_TRUE(out->timed_out) << out->error;
    EXPECT_EQ(out->status, 0);
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(20))
        << "the transfer waited for its server, not for its own limit";
}

TEST_F(HttpClientTest, ReportsARefusedConnection) {
    Response r = fetch(request("https://127.0.0.1:1/status/200"));
    EXPECT_EQ(r.status, 0);
    EXPECT_FALSE(r.timed_out);
    EXPECT_FALSE(r.error.empty());
}

TEST_F(HttpClientTest, RejectsASelfSignedCertificate) {
    Server self(pki_->path(), "selfsigned");
    Response r = fetch(request(self.url("/status/200")));
    EXPECT_EQ(r.status, 0);
    EXPECT_NE(r.error.find("certificate"), std::string::npos) << r.error;
}

TEST_F(HttpClientTest, RejectsACertificateForAnotherHost) {
    Server wrong(pki_->path(), "wronghost");
    Response r = fetch(request(wrong.url("/status/200")));
    EXPECT_EQ(r.status, 0);
    EXPECT_FALSE(r.error.empty());
}

TEST_F(HttpClientTest, RefusesPlainHttp) {
    Response r = fetch(request("http://127.0.0.1:1/status/200"));
    EXPECT_EQ(r.status, 0);
    EXPECT_NE(r.error.find("http"), std::string::npos) << r.error;
}

TEST_F(HttpClientTest, IgnoresProxiesFromTheEnvironment) {
    setenv("https_proxy", "http://127.0.0.1:1", 1);
    setenv("HTTPS_PROXY", "http://127.0.0.1:1", 1);
    setenv("ALL_PROXY", "http://127.0.0.1:1", 1);
    Response r = fetch(request(good_->url("/status/200")));
    unsetenv("https_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("ALL_PROXY");
    EXPECT_EQ(r.status, 200) << r.error;
}

TEST_F(HttpClientTest, CapsTheAnswerSize) {
    Response r = fetch(request(good_->url("/big")));
    EXPECT_EQ(r.status, 0);
    EXPECT_NE(r.error.find("1 MiB"), std::string::npos) << r.error;
}

TEST_F(HttpClientTest, RunsManyRequestsAtOnceOnOneLoop) {
    constexpr int kRequests = 40;
    int done = 0;
    int ok = 0;
    for (int i = 0; i < kRequests; ++i) {
        client_->perform(request(good_->url("/slow/300")), [&](Response r) {
            ++done;
            ok += r.status == 200 ? 1 : 0;
        });
    }
    EXPECT_EQ(client_->in_flight(), static_cast<size_t>(kRequests));
    run_loop();
    EXPECT_EQ(done, kRequests);
    EXPECT_EQ(ok, kRequests);
    EXPECT_EQ(max_in_flight_, static_cast<size_t>(kRequests));
}

TEST_F(HttpClientTest, ACallbackMayStartTheNextRequest) {
    std::optional<Response> second;
    client_->perform(request(good_->url("/status/429")), [&](Response first) {
        EXPECT_EQ(first.status, 429);
        client_->perform(request(good_->url("/status/201")),
                         [&](Response r) { second = std::move(r); });
    });
    run_loop();
    ASSERT_TRUE(second.has_value());
    EXPECT_EQ(second->status, 201);
}

// An exception from a completion must not cross sd-event (its loop would stay "running"
// for good) nor end lwauthd: the other requests complete and the loop serves on.
TEST_F(HttpClientTest, ACallbackThatThrowsLeavesTheLoopServing) {
    constexpr int kRequests = 10;
    int answered = 0;
    for (int i = 0; i < kRequests; ++i) {
        client_->perform(request(good_->url("/slow/300")), [&answered, i](Response r) {
            if (i % 2 == 0) {
                throw std::runtime_error("a completion handler failed");
            }
            answered += r.status == 200 ? 1 : 0;
        });
    }
    EXPECT_NO_THROW(run_loop());
    EXPECT_EQ(client_->in_flight(), 0U);
    EXPECT_EQ(answered, kRequests / 2);
    Response next = fetch(request(good_->url("/status/201")));
    EXPECT_EQ(next.status, 201) << next.error;
}

TEST_F(HttpClientTest, DestroyingTheClientDropsRequestsInFlight) {
    bool called = false;
    client_->perform(request(good_->url("/slow/2000")), [&](Response) { called = true; });
    sd_event_run(event_.get(), 50 * 1000);
    client_.reset();
    EXPECT_FALSE(called);
}

}  // namespace
}  // namespace lwauth::test
