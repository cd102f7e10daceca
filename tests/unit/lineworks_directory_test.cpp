// [directory] backend = lineworks: the pacing of the Directory API's requests under a test
// clock, and what its answers mean.
#include "directory/lineworks_directory.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "lwauth/error.hpp"

namespace lwauth {
namespace {

using namespace std::chrono_literals;
using Clock = RequestPacer::Clock;

// A clock that moves only when the pacer sleeps.
struct TestClock {
    Clock::time_point now{};
    RequestPacer pacer(int per_minute) {
        return RequestPacer(
            per_minute, [this] { return now; }, [this](Clock::duration d) { now += d; });
    }
};

// The most of `times` (sorted) that fall in one 60 s, [t, t + 60 s).
size_t most_in_a_minute(const std::vector<Clock::time_point>& times) {
    size_t most = 0;
    for (size_t i = 0, j = 0; i < times.size(); ++i) {
        while (j < times.size() && times[j] < times[i] + 60s) {
            ++j;
        }
        most = std::max(most, j - i);
    }
    return most;
}

TEST(RequestPacer, ThreeHundredRequestsKeepTo240InAnyMinute) {
    TestClock clock;
    RequestPacer pacer = clock.pacer(240);
    std::vector<Clock::time_point> sent;
    for (int i = 0; i < 300; ++i) {
        pacer.before_request();
        sent.push_back(clock.now);
        clock.now += 10ms;  // the request itself
    }
    EXPECT_EQ(most_in_a_minute(sent), 240u);
    EXPECT_EQ(sent[239] - sent[0], 2390ms) << "a directory smaller than the rate goes at once";
    EXPECT_EQ(sent[240] - sent[0], 61s)
        << "the 241st waits until the first is a minute old, and a second for the network";
}

TEST(RequestPacer, ALowerRateHoldsSooner) {
    TestClock clock;
    RequestPacer pacer = clock.pacer(240);
    pacer.set_rate(60);
    std::vector<Clock::time_point> sent;
    for (int i = 0; i < 150; ++i) {
        pacer.before_request();
        sent.push_back(clock.now);
    }
    EXPECT_EQ(most_in_a_minute(sent), 60u);
    EXPECT_EQ(sent.back() - sent.front(), 122s);
}

TEST(RequestPacer, TheRequestsOfTheLastPassStillCount) {
    TestClock clock;
    RequestPacer pacer = clock.pacer(3);
    for (int i = 0; i < 3; ++i) {
        pacer.before_request();
    }
    clock.now += 20s;  // the next pass starts
    pacer.before_request();
    EXPECT_EQ(clock.now - Clock::time_point{}, 61s);
}

TEST(RequestPacer, ARateLimitAnswerHoldsTheNextRequest) {
    TestClock clock;
    RequestPacer pacer = clock.pacer(240);
    pacer.before_request();
    pacer.hold_until(clock.now + 7s);
    pacer.before_request();
    EXPECT_EQ(clock.now - Clock::time_point{}, 7s);
}

TEST(RequestPacer, StoppingEndsTheWait) {
    RequestPacer pacer(1);  // the real clock and sleep
    pacer.before_request();
    auto start = Clock::now();
    std::thread stopper([&] {
        std::this_thread::sleep_for(200ms);
        pacer.stop();
    });
    EXPECT_THROW(pacer.before_request(), Error) << "the second request of the minute";
    stopper.join();
    EXPECT_LT(Clock::now() - start, 30s) << "not the rest of the minute";
}

http::Response rate_limited(std::map<std::string, std::string> headers) {
    http::Response r;
    r.status = 429;
    r.headers = std::move(headers);
    return r;
}

TEST(LineWorksDirectoryAnswers, A429WaitsWhatItSaysWithinAMinute) {
    EXPECT_EQ(lineworks_retry_after(rate_limited({{"retry-after", "3"}}), 60s), 3s);
    EXPECT_EQ(lineworks_retry_after(rate_limited({{"ratelimit-reset", "12"}}), 60s), 12s);
    EXPECT_EQ(lineworks_retry_after(rate_limited({{"retry-after", "2"}, {"ratelimit-reset", "9"}}),
                                    60s),
              2s);
    EXPECT_EQ(lineworks_retry_after(rate_limited({{"ratelimit-reset", "3600"}}), 60s), 60s);
    EXPECT_EQ(lineworks_retry_after(rate_limited({{"ratelimit-reset", "0"}}), 60s), 1s);
    EXPECT_EQ(lineworks_retry_after(rate_limited({{"retry-after", "soon"}}), 60s), 60s);
    EXPECT_EQ(lineworks_retry_after(rate_limited({}), 60s), 60s);
}

TEST(LineWorksDirectoryAnswers, AMemberGivesItsCellPhoneAndEmail) {
    DirectoryEntry alice = parse_lineworks_member(
        "alice", R"({"userId": "4f6e1a52-0c1b-4d7e-9a3f-2b8c5d7e9f10",
                     "email": "alice@example.com", "cellPhone": "+81 90-1234-5678",
                     "telephone": "+81 3-1234-5678"})");
    EXPECT_TRUE(alice.found);
    EXPECT_EQ(alice.user, "alice");
    EXPECT_EQ(alice.phone, "+81 90-1234-5678") << "cellPhone, not telephone";
    EXPECT_EQ(alice.email, "alice@example.com");

    DirectoryEntry bob = parse_lineworks_member("bob", R"({"email": "bob@example.com",
                                                            "cellPhone": null})");
    EXPECT_TRUE(bob.found);
    EXPECT_FALSE(bob.phone);
    DirectoryEntry carol = parse_lineworks_member("carol", R"({"cellPhone": ""})");
    EXPECT_FALSE(carol.phone);
    EXPECT_FALSE(carol.email);

    EXPECT_THROW((void)parse_lineworks_member("x", "<html>upstream hiccup</html>"), Error);
    EXPECT_THROW((void)parse_lineworks_member("x", "[]"), Error);
}

}  // namespace
}  // namespace lwauth
