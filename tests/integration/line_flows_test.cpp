// LineFlows on a real sd-event loop (on the test's thread, as in lwauthd), with its real
// http::Server and http::Client, against the fake LINE Login provider
// (tests/fakes/line_login.py over HTTPS with the test CA), the phone being
// tests/fakes/line_phone.py: every way an approval ends, and every way it must not.
#include "line/flows.hpp"

#include <gtest/gtest.h>
#include <systemd/sd-event.h>

#include <chrono>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "codes.hpp"
#include "harness.hpp"
#include "line/subject.hpp"
#include "lwauth/sd_bus.hpp"
#include "timers.hpp"

namespace lwauth::test {
namespace {

using namespace std::chrono_literals;
using line::ApprovalOutcome;
using Kind = ApprovalOutcome::Kind;

constexpr const char* kChannelId = "1234567890";
// line_login.py --channel-secret
constexpr const char* kChannelSecret = "d84b2f6c0e97a1535c2e8f0b7a1d94c6";
constexpr const char* kFakeSub = "Ua1b2c3d4e5f60718293a4b5c6d7e8f90";  // line_login.py --sub

class LineFlowsTest : public ::testing::Test {
  protected:
    void SetUp() override {
        // The catalogs are read once a process, at their first use: from the build's
        // directory for every test, as the suite's tests may share one process.
        ::setenv("LWAUTH_LOCALEDIR", LWAUTH_BUILD_LOCALEDIR, 1);
        auto pki = run({"/bin/bash", (source_dir() / "tests/fakes/make_test_pki.sh").string(),
                        (dir_ / "pki").string()},
                       base_env());
        ASSERT_EQ(pki.exit_code, 0) << pki.err;
        port_ = pick_free_port();
        ASSERT_GT(port_, 0);
        public_url_ = "http://127.0.0.1:" + std::to_string(port_) + "/lwauth";
        fs::create_directories(dir_ / "fake");
        fake_ =
            Process({"/usr/bin/python3", (source_dir() / "tests/fakes/line_login.py").string(),
                     "--cert", (dir_ / "pki/server.pem").string(), "--key",
                     (dir_ / "pki/server.key").string(), "--state-dir", (dir_ / "fake").string(),
                     "--redirect-uri", callback_url(), "--channel-secret", kChannelSecret},
                    base_env(), dir_ / "fake.log");
        fake_port_ = wait_for_listening_port(dir_ / "fake.log");
        ASSERT_NE(fake_port_, 0) << read_file(dir_ / "fake.log");
        write_file(dir_ / "channel.secret", std::string(kChannelSecret) + "\n", fs::perms(0600));
        sd_event* event = nullptr;
        ASSERT_GE(sd_event_new(&event), 0);
        event_.reset(event);
        client_ = std::make_unique<http::Client>(event);
        timers_ = std::make_unique<EventTimers>(event);
        hasher_ = std::make_unique<Hasher>(SecretString(std::string(32, 'k')));
    }

    void TearDown() override {
        client_.reset();  // drops the requests in flight, whose callbacks point at flows_
        flows_.reset();
    }

    [[nodiscard]] std::string callback_url() const { return public_url_ + "/line/callback"; }
    [[nodiscard]] std::string fake_url() const {
        return "https://127.0.0.1:" + std::to_string(fake_port_);
    }

    [[nodiscard]] policy::Policy policy() const {
        policy::Policy p;
        p.line.channel_id = kChannelId;
        p.line.channel_secret_file = dir_ / "channel.secret";
        p.line.public_url = public_url_;
        p.line.listen = "127.0.0.1:" + std::to_string(port_);
        p.line.authorize_url = fake_url() + "/oauth2/v2.1/authorize";
        p.line.token_url = fake_url() + "/oauth2/v2.1/token";
        p.line.jwks_url = fake_url() + "/oauth2/v2.1/certs";
        p.line.ca_file = (dir_ / "pki/ca.pem").string();  // the fake's TLS, as [line] ca_file
        return p;
    }

    // The flows under `p` (the test's policy by default).
    void start(std::optional<policy::Policy> p = std::nullopt) {
        line::FlowsOptions options;
        options.token_timeout = 2s;
        options.hostname = "testhost";
        flows_ = std::make_unique<line::LineFlows>(
            line::FlowsDeps{event_.get(), *client_, clock_, random_, *timers_, *hasher_},
            p ? *p : policy(), options);
    }

    // A login approval for alice over ssh; its outcomes are recorded.
    line::ApprovalOffer offer(const std::string& owner = "login-1") {
        line::ApprovalRequest request;
        request.user = "alice";
        request.service = "sshd&x";
        request.rhost = "203.0.113.9";
        request.owner = owner;
        auto offered =
            flows_->offer(request, [this](const ApprovalOutcome& o) { outcomes_.push_back(o); });
        EXPECT_TRUE(offered) << (offered ? "" : offered.error().what());
        return offered ? *offered : line::ApprovalOffer{};
    }

    void control(const std::string& json) {
        auto r = gateway_control(fake_url(), dir_ / "pki/ca.pem", json);
        ASSERT_EQ(r.exit_code, 0) << r.err;
    }

    template <typename Pred>
    bool run_until(Pred done, std::chrono::seconds limit = 60s) {
        auto deadline = std::chrono::steady_clock::now() + limit;
        while (!done()) {
            if (std::chrono::steady_clock::now() > deadline) {
                return false;
            }
            sd_event_run(event_.get(), 50 * 1000);
        }
        return true;
    }

    // The phone opens `url` (and picks `pick` on the confirmation page) while the loop
    // runs here; `during` runs on the loop each turn. Its JSON answer.
    nlohmann::json phone(const std::string& url, std::optional<int> pick = std::nullopt,
                         const std::function<void()>& during = {},
                         const std::string& accept_language = "") {
        std::vector<std::string> argv = {"/usr/bin/python3",
                                         (source_dir() / "tests/fakes/line_phone.py").string(),
                                         url, "--ca-file", (dir_ / "pki/ca.pem").string()};
        if (!accept_language.empty()) {
            argv.push_back("--accept-language");
            argv.push_back(accept_language);
        }
        if (pick) {
            argv.push_back("--pick");
            argv.push_back(std::to_string(*pick));
        }
        auto future = std::async(std::launch::async, [argv] { return run(argv, base_env()); });
        EXPECT_TRUE(run_until([&] {
            if (during) {
                during();
            }
            return future.wait_for(0s) == std::future_status::ready;
        }));
        RunResult result = future.get();
        auto answer = nlohmann::json::parse(result.out, nullptr, false);
        EXPECT_TRUE(answer.is_object()) << result.out << result.err;
        return answer.is_object() ? answer : nlohmann::json::object();
    }

    // The URL of the phone's hop to lwauthd's callback.
    static std::string callback_hop(const nlohmann::json& answer) {
        for (const auto& hop : answer["hops"]) {
            std::string url = hop.value("url", "");
            if (url.find("/line/callback?") != std::string::npos) {
                return url;
            }
        }
        return "";
    }

    [[nodiscard]] std::string expected_hash(const std::string& sub = kFakeSub) const {
        return line::subject_hasher(policy().line, *hasher_, SecretReader{0, 0}).hash(kChannelId, sub);
    }

    // One approval through the phone, which picks the right number when the page asks
    // (`pick`): its last answer.
    nlohmann::json approve_once(bool pick = true) {
        auto offered = offer();
        auto answer = phone(offered.url, pick ? std::optional<int>(offered.number) : std::nullopt);
        EXPECT_TRUE(run_until([&] { return !outcomes_.empty(); }, 10s));
        return answer;
    }

    void expect_failed(bool counts) {
        auto answer = approve_once(false);
        EXPECT_NE(answer.value("body", "").find("could not be completed"), std::string::npos)
            << answer.dump();
        ASSERT_EQ(outcomes_.size(), 1u);
        EXPECT_EQ(outcomes_[0].kind, Kind::Failed);
        EXPECT_EQ(outcomes_[0].counts_as_failure, counts);
        EXPECT_TRUE(outcomes_[0].subject_hash.empty());
    }

    TempDir dir_{"lwauth-line-flows"};
    Process fake_;
    int port_ = 0;
    int fake_port_ = 0;
    std::string public_url_;
    EventPtr event_;
    SystemClock clock_;
    OpenSslRandom random_;
    std::unique_ptr<EventTimers> timers_;
    std::unique_ptr<Hasher> hasher_;
    std::unique_ptr<line::LineFlows> flows_;
    std::unique_ptr<http::Client> client_;
    std::vector<ApprovalOutcome> outcomes_;
};

TEST_F(LineFlowsTest, ApprovesWithTheRightNumberAndGivesTheSubjectHash) {
    start();
    auto offered = offer();
    EXPECT_EQ(offered.url.rfind(public_url_ + "/l?k=", 0), 0u) << offered.url;
    EXPECT_GE(offered.number, 10);
    EXPECT_LE(offered.number, 99);
    auto answer = phone(offered.url, offered.number);
    EXPECT_EQ(answer.value("status", 0), 200) << answer.dump();
    EXPECT_NE(answer.value("body", "").find("approved"), std::string::npos);
    ASSERT_TRUE(run_until([&] { return !outcomes_.empty(); }, 10s));
    ASSERT_EQ(outcomes_.size(), 1u);
    EXPECT_EQ(outcomes_[0].kind, Kind::Approved);
    EXPECT_EQ(outcomes_[0].subject_hash, expected_hash());
    EXPECT_FALSE(outcomes_[0].counts_as_failure);
    EXPECT_EQ(flows_->stats().waiting, 0u);

    // The authorization asked for openid alone, with PKCE S256.
    auto journal = read_file(dir_ / "fake/requests.jsonl");
    EXPECT_NE(journal.find("\"scope\": \"openid\""), std::string::npos) << journal;
    EXPECT_NE(journal.find("\"code_challenge_method\": \"S256\""), std::string::npos);

    // A replayed callback changes nothing.
    std::string hop = callback_hop(answer);
    ASSERT_FALSE(hop.empty()) << answer.dump();
    auto replay = phone(hop);
    EXPECT_EQ(replay.value("status", 0), 400);
    run_until([] { return false; }, 1s);
    EXPECT_EQ(outcomes_.size(), 1u);
}

TEST_F(LineFlowsTest, ShowsWhatIsApprovedAndTakesTheShortLinkOnce) {
    start();
    auto offered = offer();
    auto page = phone(offered.url);
    ASSERT_EQ(page.value("status", 0), 200) << page.dump();
    std::string body = page.value("body", "");
    for (const char* shown : {"alice", "testhost", "sshd&amp;x", "203.0.113.9", "lang=\"en\"",
                              "name=\"viewport\"", "name=\"confirm\""}) {
        EXPECT_NE(body.find(shown), std::string::npos) << shown << "\n" << body;
    }
    EXPECT_NE(body.find("value=\"" + std::to_string(offered.number) + "\""), std::string::npos);
    EXPECT_EQ(body.find("sshd&x"), std::string::npos) << "not escaped";
    size_t buttons = 0;
    for (size_t at = body.find("name=\"number\""); at != std::string::npos;
         at = body.find("name=\"number\"", at + 1)) {
        ++buttons;
    }
    EXPECT_EQ(buttons, 3u);

    auto again = phone(offered.url);
    EXPECT_EQ(again.value("status", 0), 404);
    EXPECT_NE(again.value("body", "").find("cannot be used"), std::string::npos);
    EXPECT_TRUE(outcomes_.empty());
}

// A browser that asks for Japanese gets the pages in Japanese, whatever the login's
// language; one that asks for neither language gets the login's.
TEST_F(LineFlowsTest, SpeaksTheBrowsersLanguage) {
    start();
    auto offered = offer();
    auto page = phone(offered.url, std::nullopt, {}, "ja-JP,ja;q=0.9,en;q=0.8");
    ASSERT_EQ(page.value("status", 0), 200) << page.dump();
    std::string body = page.value("body", "");
    EXPECT_NE(body.find("lang=\"ja\""), std::string::npos) << body;
    EXPECT_NE(body.find("このログインを承認しますか？"), std::string::npos) << body;
    EXPECT_NE(body.find("<b>203.0.113.9</b> から <b>sshd&amp;x</b> で"), std::string::npos) << body;

    auto again = phone(offered.url, std::nullopt, {}, "fr-FR, ja;q=0.5");
    EXPECT_EQ(again.value("status", 0), 404);
    EXPECT_NE(again.value("body", "").find("このリンクは使用できません。"), std::string::npos)
        << again.dump();

    auto english = phone(offer().url, std::nullopt, {}, "fr-FR, de;q=0.8");
    EXPECT_NE(english.value("body", "").find("Approve this login?"), std::string::npos)
        << english.dump();
}

TEST_F(LineFlowsTest, AWrongNumberRefusesAndCounts) {
    start();
    auto offered = offer();
    auto answer = phone(offered.url, offered.number == 10 ? 11 : offered.number - 1);
    EXPECT_NE(answer.value("body", "").find("not the number"), std::string::npos);
    ASSERT_TRUE(run_until([&] { return !outcomes_.empty(); }, 10s));
    EXPECT_EQ(outcomes_[0].kind, Kind::Refused);
    EXPECT_TRUE(outcomes_[0].counts_as_failure);
    EXPECT_TRUE(outcomes_[0].subject_hash.empty());
}

TEST_F(LineFlowsTest, AccessDeniedInLineRefusesAndCounts) {
    start();
    control(R"({"service": "authorize", "mode": "deny"})");
    auto answer = approve_once(false);
    EXPECT_NE(answer.value("body", "").find("refused"), std::string::npos) << answer.dump();
    ASSERT_EQ(outcomes_.size(), 1u);
    EXPECT_EQ(outcomes_[0].kind, Kind::Refused);
    EXPECT_TRUE(outcomes_[0].counts_as_failure);
}

TEST_F(LineFlowsTest, AnUnknownStateChangesNothing) {
    start();
    offer();
    auto answer = phone(callback_url() + "?code=abcdefghij0123456789&state=forged");
    EXPECT_EQ(answer.value("status", 0), 400);
    EXPECT_TRUE(outcomes_.empty());
    EXPECT_EQ(flows_->stats().waiting, 1u);
    EXPECT_EQ(flows_->stats().callbacks, 0u);
}

TEST_F(LineFlowsTest, AnApprovalExpiresWithItsLink) {
    auto p = policy();
    p.line.link_lifetime = 2s;  // the loader's minimum is 30 s; the flows take what they get
    start(p);
    auto offered = offer();
    ASSERT_TRUE(run_until([&] { return !outcomes_.empty(); }, 10s));
    EXPECT_EQ(outcomes_[0].kind, Kind::Expired);
    EXPECT_TRUE(outcomes_[0].counts_as_failure) << "a login left unfinished in LINE";
    auto answer = phone(offered.url);
    EXPECT_EQ(answer.value("status", 0), 404);
    EXPECT_EQ(outcomes_.size(), 1u);
}

TEST_F(LineFlowsTest, TokenEndpoint500Fails) {
    start();
    control(R"({"service": "token", "mode": "500"})");
    expect_failed(false);
}

TEST_F(LineFlowsTest, TokenEndpointGarbageFails) {
    start();
    control(R"({"service": "token", "mode": "garbage"})");
    expect_failed(false);
}

TEST_F(LineFlowsTest, ASlowTokenEndpointFailsAtTheDeadline) {
    start();
    control(R"({"service": "token", "mode": "timeout"})");
    auto began = std::chrono::steady_clock::now();
    expect_failed(false);
    EXPECT_LT(std::chrono::steady_clock::now() - began, 10s);
}

TEST_F(LineFlowsTest, IdTokenWithAWrongNonceFailsAndCounts) {
    start();
    control(R"({"service": "token", "mode": "wrong_nonce"})");
    expect_failed(true);
}

TEST_F(LineFlowsTest, IdTokenSignedWithTheOtherAlgorithmFailsAndCounts) {
    start();
    control(R"({"service": "token", "mode": "alg_swap"})");
    expect_failed(true);
}

TEST_F(LineFlowsTest, ExpiredIdTokenFailsAndCounts) {
    start();
    control(R"({"service": "token", "mode": "expired"})");
    expect_failed(true);
}

TEST_F(LineFlowsTest, Es256WithTheJwksFetchedOnceAndAgainAfterRotation) {
    control(R"({"action": "channel", "channel_id": "1234567890", "channel_secret": ")" +
            std::string(kChannelSecret) + R"(", "redirect_uris": [")" + callback_url() +
            R"("], "id_token_alg": "ES256"})");
    auto p = policy();
    p.line.id_token_alg = policy::IdTokenAlg::Es256;
    start(p);
    approve_once();
    ASSERT_EQ(outcomes_.size(), 1u);
    EXPECT_EQ(outcomes_[0].kind, Kind::Approved) << outcomes_[0].why;
    EXPECT_EQ(outcomes_[0].subject_hash, expected_hash());
    approve_once();  // the cached JWKS
    EXPECT_EQ(flows_->stats().jwks_fetches, 1u);

    control(R"({"action": "rotate_key"})");
    outcomes_.clear();
    approve_once();  // an unknown kid: the JWKS is fetched again, once
    ASSERT_EQ(outcomes_.size(), 1u);
    EXPECT_EQ(outcomes_[0].kind, Kind::Approved) << outcomes_[0].why;
    EXPECT_EQ(flows_->stats().jwks_fetches, 2u);

    control(R"({"service": "token", "mode": "unknown_kid"})");
    outcomes_.clear();
    expect_failed(true);  // still unknown after one more fetch
    EXPECT_EQ(flows_->stats().jwks_fetches, 3u);
}

TEST_F(LineFlowsTest, WithdrawnBeforeTheCallbackNeverAnswers) {
    start();
    control(R"({"service": "authorize", "mode": "slow:1500"})");
    auto offered = offer("login-7");
    bool withdrawn = false;
    auto answer = phone(offered.url, std::nullopt, [&] {
        if (!withdrawn && flows_->stats().links_opened == 1) {
            flows_->withdraw("login-7");
            withdrawn = true;
        }
    });
    EXPECT_TRUE(withdrawn);
    EXPECT_EQ(answer.value("status", 0), 400) << answer.dump();
    run_until([] { return false; }, 1s);
    EXPECT_TRUE(outcomes_.empty());
    EXPECT_EQ(flows_->stats().waiting, 0u);
}

TEST_F(LineFlowsTest, WithoutLineNothingListensAndOffersAreRefused) {
    start(policy::Policy{});
    EXPECT_FALSE(flows_->configured());
    EXPECT_EQ(flows_->port(), 0);
    auto offered = flows_->offer({}, [](const ApprovalOutcome&) {});
    ASSERT_FALSE(offered);
    EXPECT_EQ(offered.error().code(), Errc::Unavailable);
}

}  // namespace
}  // namespace lwauth::test
