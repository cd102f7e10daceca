#include "lwauth/result.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace lwauth {
namespace {

Result<int> half(int n) {
    if (n % 2 != 0) {
        return Error(Errc::InvalidArgument, "odd");
    }
    return n / 2;
}

TEST(Result, HoldsAValueOrAnError) {
    auto good = half(4);
    ASSERT_TRUE(good.ok());
    EXPECT_EQ(*good, 2);
    auto bad = half(3);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code(), Errc::InvalidArgument);
    EXPECT_STREQ(bad.error().what(), "odd");
}

TEST(Result, ValueOfAnErrorThrowsTheError) {
    auto bad = half(3);
    try {
        (void)bad.value();
        FAIL() << "no throw";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::InvalidArgument);
    }
}

TEST(Result, MovesAValueOut) {
    Result<std::unique_ptr<int>> r(std::make_unique<int>(7));
    auto p = std::move(r).value();
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, 7);
}

TEST(Result, VoidIsSuccessOrTheError) {
    Result<void> ok = Result<void>::success();
    EXPECT_TRUE(ok.ok());
    EXPECT_NO_THROW(ok.value());
    auto bad = Result<void>::failure(Errc::Unavailable, "down");
    EXPECT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code(), Errc::Unavailable);
    EXPECT_THROW(bad.value(), Error);
}

TEST(Result, CaptureTurnsAThrownErrorIntoTheResult) {
    auto r = capture([]() -> std::string { throw Error(Errc::NotFound, "gone"); });
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), Errc::NotFound);
    auto v = capture([] { return std::string("x"); });
    EXPECT_EQ(*v, "x");
    int calls = 0;
    auto none = capture([&] { ++calls; });
    EXPECT_TRUE(none.ok());
    EXPECT_EQ(calls, 1);
}

TEST(Result, CaptureLetsOtherExceptionsThrough) {
    EXPECT_THROW((void)capture([]() -> int { throw std::logic_error("bug"); }), std::logic_error);
}

TEST(Result, DoneIsCalledWithTheResult) {
    int seen = 0;
    Done<int> done = [&](Result<int> r) { seen = r.ok() ? *r : -1; };
    done(half(10));
    EXPECT_EQ(seen, 5);
    done(half(1));
    EXPECT_EQ(seen, -1);
}

TEST(Result, SettlePassesAThrownErrorToDoneOnce) {
    std::vector<Result<int>> seen;
    Done<int> done = [&](Result<int> r) { seen.push_back(std::move(r)); };
    settle(done, [] { throw Error(Errc::NotFound, "gone"); });
    settle(done, [&] { done(3); });
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0].error().code(), Errc::NotFound);
    EXPECT_EQ(*seen[1], 3);
}

TEST(Result, ThenRunsTheNextStepWithTheValueOrPassesTheErrorOn) {
    std::vector<Result<std::string>> seen;
    Done<std::string> done = [&](Result<std::string> r) { seen.push_back(std::move(r)); };
    auto next = then<int>(done, [&](int v) {
        if (v < 0) {
            throw Error(Errc::InvalidArgument, "negative");
        }
        done(std::to_string(v));
    });
    next(half(10));
    next(half(1));
    next(Result<int>(-1));
    ASSERT_EQ(seen.size(), 3u);
    EXPECT_EQ(*seen[0], "5");
    EXPECT_FALSE(seen[1].ok()) << "the first operation's error";
    EXPECT_EQ(seen[2].error().code(), Errc::InvalidArgument) << "what the next step threw";
    int calls = 0;
    then<void>(Done<void>([&](Result<void> r) { calls += r.ok() ? 1 : 100; }),
               [&] { ++calls; })(Result<void>::success());
    EXPECT_EQ(calls, 1) << "the next step ran; it did not call done";
}

// A callback that counts the copies made of it.
struct CountedSink {
    int* copies;
    std::vector<std::string>* seen;
    CountedSink(int* c, std::vector<std::string>* s) : copies(c), seen(s) {}
    CountedSink(const CountedSink& other) : copies(other.copies), seen(other.seen) { ++*copies; }
    CountedSink(CountedSink&&) noexcept = default;
    CountedSink& operator=(const CountedSink&) = delete;
    CountedSink& operator=(CountedSink&&) = delete;
    ~CountedSink() = default;
    void operator()(Result<std::string> r) const { seen->push_back(r.ok() ? *r : "error"); }
};

TEST(Result, ThenHandsItsDoneToTheNextStep) {
    int copies = 0;
    std::vector<std::string> seen;
    auto next = then<int>(Done<std::string>(CountedSink(&copies, &seen)),
                          [](int v, Done<std::string>& done) {
                              Done<std::string> mine = std::move(done);
                              mine(std::to_string(v));
                          });
    next(half(10));
    auto failed = then<int>(Done<std::string>(CountedSink(&copies, &seen)),
                            [](int, Done<std::string>&) { FAIL() << "not after an error"; });
    failed(half(1));
    then<void>(Done<std::string>(CountedSink(&copies, &seen)), [](Done<std::string>& done) {
        std::move(done)(std::string("void"));
    })(Result<void>());
    EXPECT_EQ(seen, (std::vector<std::string>{"5", "error", "void"}));
    EXPECT_EQ(copies, 0) << "the one callback was moved from step to step, never copied";
}

TEST(Result, AnErrorCarriesWhenTryingAgainMaySucceed) {
    EXPECT_EQ(Error(Errc::DeliveryFailed, "down").retry_at(), 0);
    Done<void> done;
    int64_t seen = -1;
    done = [&](Result<void> r) { seen = r.error().retry_at(); };
    done(Error(Errc::RateLimited, "too many", 1700000060));
    EXPECT_EQ(seen, 1700000060);
    // Thrown and caught again, as capture() and Result::value() do, it keeps the time.
    auto r = capture([] { throw Error(Errc::RateLimited, "too many", 42); });
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().retry_at(), 42);
    try {
        r.value();
        FAIL() << "no throw";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::RateLimited);
        EXPECT_EQ(e.retry_at(), 42);
    }
}

}  // namespace
}  // namespace lwauth
