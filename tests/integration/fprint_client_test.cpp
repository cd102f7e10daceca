// lwauthd's fprintd client (daemon/quick/fprint_client.*) on a real sd-event loop, over a
// private system bus with the shipped lwauth policy and fprintd's own, against the fake
// fprintd (tests/fakes/fprintd.py, a python-dbusmock template): match, no match, retry
// results, the timeout, a disconnected reader, fprintd vanishing, no prints, a reader in
// use, Release after every claim, a cancel, and a VerifyStatus from a stranger.
#include "quick/fprint_client.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "fprintd_test_base.hpp"
#include "harness.hpp"
#include "lwauth/sd_bus.hpp"
#include "timers.hpp"

namespace lwauth {
// Outcomes by name in failure messages.
inline void PrintTo(FprintOutcome outcome, std::ostream* os) {
    constexpr const char* kNames[] = {"Match", "NoMatch", "TimedOut", "NoPrints"};
    *os << kNames[static_cast<int>(outcome)];
}
}  // namespace lwauth

namespace lwauth::test {
namespace {

constexpr const char* kDevice = fprint::kDeviceInterface;
constexpr const char* kReader0 = kFakeReader0;
constexpr const char* kReader1 = kFakeReader1;

using Status = FprintStatus;

class FprintClientTest : public FprintdTest {
  protected:
    void TearDown() override {
        verification_.reset();
        FprintdTest::TearDown();
    }

    // A reader with `fingers` of alice enrolled, and what VerifyStart will send.
    void add_reader(const std::vector<std::string>& fingers, const std::vector<Status>& script,
                    bool vanish = false) {
        fake_->add_reader("alice", fingers, script, vanish);
    }
    std::vector<std::string> calls(const char* reader) { return fake_->calls(reader); }

    void start(uint64_t timeout_usec = 60ULL * 1000 * 1000) {
        client_ = std::make_unique<FprintClient>(client_bus_.get(), *timers_, timeout_usec);
        started_ = std::chrono::steady_clock::now();
        verification_ = client_->verify(
            "alice", [this](const FprintRetry& retry) { retries_.push_back(retry); },
            [this](Result<FprintOutcome> r) { result_.emplace(std::move(r)); });
    }

    Result<FprintOutcome> verify(uint64_t timeout_usec = 60ULL * 1000 * 1000) {
        start(timeout_usec);
        if (!run_until([&] { return result_.has_value(); })) {
            throw std::runtime_error("the verification never called back");
        }
        return *result_;
    }

    // A verification waiting for a finger, then `forge(bus address, the client's unique
    // name)` from another connection, then fprintd's own `result`: result_ set.
    void verdict_after(void (*forge)(const std::string&, const std::string&), const char* result) {
        add_reader({"right-index-finger"}, {{"verify-retry-scan", false}});
        start();
        ASSERT_TRUE(run_until([&] { return !retries_.empty(); }));  // the client now listens
        const char* unique = nullptr;
        ASSERT_GE(sd_bus_get_unique_name(client_bus_.get(), &unique), 0);
        forge(bus_->address(), unique);
        fake_->control("EmitVerifyStatus", [result](sd_bus_message* m) {
            sd_bus_message_append(m, "osb", kReader0, result, 1);
        });
        ASSERT_TRUE(run_until([&] { return result_.has_value(); }));
    }

    std::unique_ptr<FprintClient> client_;
    std::unique_ptr<FprintVerification> verification_;
    std::vector<FprintRetry> retries_;
    std::optional<Result<FprintOutcome>> result_;
    std::chrono::steady_clock::time_point started_;
};

// Errc::Unavailable with the line the user reads.
void expect_unavailable(const Result<FprintOutcome>& r, const char* line) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), Errc::Unavailable);
    EXPECT_STREQ(r.error().what(), line);
}

const std::vector<std::string> kClaimToRelease = {"ListEnrolledFingers", "Claim", "VerifyStart",
                                                  "VerifyStop", "Release"};

TEST_F(FprintClientTest, MatchesAndReleasesTheReader) {
    add_reader({"right-index-finger"}, {{"verify-match", true}});
    Result<FprintOutcome> r = verify();
    ASSERT_TRUE(r.ok()) << r.error().what();
    EXPECT_EQ(*r, FprintOutcome::Match);
    EXPECT_TRUE(retries_.empty());
    // Released before the verdict: the fake has recorded it already.
    EXPECT_EQ(calls(kReader0), kClaimToRelease);
}

TEST_F(FprintClientTest, ReportsNoMatchAndReleasesTheReader) {
    add_reader({"right-index-finger"}, {{"verify-no-match", true}});
    Result<FprintOutcome> r = verify();
    ASSERT_TRUE(r.ok()) << r.error().what();
    EXPECT_EQ(*r, FprintOutcome::NoMatch);
    EXPECT_EQ(calls(kReader0), kClaimToRelease);
}

TEST_F(FprintClientTest, PassesRetryResultsOnAndKeepsWaiting) {
    add_reader({"right-index-finger"}, {{"verify-retry-scan", false},
                                        {"verify-swipe-too-short", false},
                                        {"verify-finger-not-centered", false},
                                        {"verify-remove-and-retry", false},
                                        {"verify-match", true}});
    Result<FprintOutcome> r = verify();
    ASSERT_TRUE(r.ok()) << r.error().what();
    EXPECT_EQ(*r, FprintOutcome::Match);
    ASSERT_EQ(retries_.size(), 4U);
    EXPECT_EQ(retries_[0].result, "verify-retry-scan");
    EXPECT_EQ(retries_[0].message, "Place your finger on the reader again.");
    EXPECT_EQ(retries_[1].result, "verify-swipe-too-short");
    EXPECT_EQ(retries_[2].result, "verify-finger-not-centered");
    EXPECT_EQ(retries_[3].result, "verify-remove-and-retry");
    for (const auto& retry : retries_) {
        EXPECT_FALSE(retry.message.empty()) << retry.result;
    }
    EXPECT_EQ(calls(kReader0), kClaimToRelease);
}

TEST_F(FprintClientTest, TimesOutAndStillStopsAndReleases) {
    add_reader({"right-index-finger"}, {});  // nobody touches the reader
    Result<FprintOutcome> r = verify(2 * 1000 * 1000);
    auto waited = std::chrono::steady_clock::now() - started_;
    ASSERT_TRUE(r.ok()) << r.error().what();
    EXPECT_EQ(*r, FprintOutcome::TimedOut);
    EXPECT_GE(waited, std::chrono::seconds(2));
    EXPECT_EQ(calls(kReader0), kClaimToRelease);
}

TEST_F(FprintClientTest, ADisconnectedReaderIsUnavailable) {
    add_reader({"right-index-finger"}, {{"verify-disconnected", true}});
    Result<FprintOutcome> r = verify();
    expect_unavailable(r, "The fingerprint reader was disconnected.");
    EXPECT_EQ(calls(kReader0), kClaimToRelease);
}

TEST_F(FprintClientTest, AnUnknownErrorIsUnavailable) {
    add_reader({"right-index-finger"}, {{"verify-unknown-error", true}});
    Result<FprintOutcome> r = verify();
    expect_unavailable(r, "The fingerprint reader failed.");
    EXPECT_EQ(calls(kReader0), kClaimToRelease);
}

TEST_F(FprintClientTest, FprintdVanishingMidVerificationIsUnavailable) {
    add_reader({"right-index-finger"}, {{"verify-retry-scan", false}}, /*vanish=*/true);
    Result<FprintOutcome> r = verify();  // a 60 s timeout: the vanishing must end it
    auto waited = std::chrono::steady_clock::now() - started_;
    expect_unavailable(r, "The fingerprint service stopped.");
    EXPECT_EQ(retries_.size(), 1U);
    EXPECT_LT(waited, std::chrono::seconds(30));
    EXPECT_TRUE(fake_->process().wait(std::chrono::seconds(10)).has_value());
}

TEST_F(FprintClientTest, WithoutFprintdItIsUnavailable) {
    fake_->process().stop(SIGTERM);
    Result<FprintOutcome> r = verify();
    expect_unavailable(r, "The fingerprint service is not available.");
}

TEST_F(FprintClientTest, NoEnrolledPrintsClaimsNothing) {
    add_reader({}, {{"verify-match", true}});
    Result<FprintOutcome> r = verify();
    ASSERT_TRUE(r.ok()) << r.error().what();
    EXPECT_EQ(*r, FprintOutcome::NoPrints);
    EXPECT_EQ(calls(kReader0), std::vector<std::string>{"ListEnrolledFingers"});
}

TEST_F(FprintClientTest, NoReaderMeansNoPrints) {
    Result<FprintOutcome> r = verify();
    ASSERT_TRUE(r.ok()) << r.error().what();
    EXPECT_EQ(*r, FprintOutcome::NoPrints);
}

TEST_F(FprintClientTest, UsesTheReaderWithTheMostPrints) {
    add_reader({"left-thumb"}, {{"verify-no-match", true}});
    add_reader({"left-thumb", "right-index-finger"}, {{"verify-match", true}});
    Result<FprintOutcome> r = verify();
    ASSERT_TRUE(r.ok()) << r.error().what();
    EXPECT_EQ(*r, FprintOutcome::Match);
    EXPECT_EQ(calls(kReader0), std::vector<std::string>{"ListEnrolledFingers"});
    EXPECT_EQ(calls(kReader1), kClaimToRelease);
}

TEST_F(FprintClientTest, AReaderInUseIsUnavailable) {
    add_reader({"right-index-finger"}, {{"verify-match", true}});
    fake_->control("SetClaimedElsewhere",
                   [](sd_bus_message* m) { sd_bus_message_append(m, "ob", kReader0, 1); });
    Result<FprintOutcome> r = verify();
    expect_unavailable(r, "The fingerprint reader is in use.");
    // Not claimed, so nothing to stop or release.
    EXPECT_EQ(calls(kReader0), (std::vector<std::string>{"ListEnrolledFingers", "Claim"}));
}

TEST_F(FprintClientTest, CancelStopsAndReleasesWithoutCallingBack) {
    add_reader({"right-index-finger"}, {{"verify-retry-scan", false}});
    start();
    ASSERT_TRUE(run_until([&] { return !retries_.empty(); }));
    verification_->cancel();
    ASSERT_TRUE(run_until([&] { return calls(kReader0).size() == kClaimToRelease.size(); }));
    EXPECT_EQ(calls(kReader0), kClaimToRelease);
    verification_->cancel();  // again, then dropped: nothing more is sent
    verification_.reset();
    auto quiet = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
    run_until([&] { return std::chrono::steady_clock::now() > quiet; });
    EXPECT_EQ(calls(kReader0), kClaimToRelease);
    EXPECT_FALSE(result_.has_value());
}

TEST_F(FprintClientTest, ACancelWhileClaimIsOnItsWayReleasesOnceClaimed) {
    add_reader({"right-index-finger"}, {{"verify-match", true}});
    fake_->control("SetClaimDelay",
                   [](sd_bus_message* m) { sd_bus_message_append(m, "ou", kReader0, 1000U); });
    start();
    // dbusmock logs a call before it runs it: Claim has reached the fake.
    ASSERT_TRUE(run_until([&] {
        return read_file(dir_ / "fprintd.log").find(" Claim \"alice\"") != std::string::npos;
    }));
    verification_->cancel();
    ASSERT_TRUE(run_until([&] { return calls(kReader0).size() == 3; }));
    EXPECT_EQ(calls(kReader0),
              (std::vector<std::string>{"ListEnrolledFingers", "Claim", "Release"}));
    EXPECT_FALSE(result_.has_value());
}

TEST_F(FprintClientTest, DroppingTheHandleCancels) {
    add_reader({"right-index-finger"}, {{"verify-retry-scan", false}});
    start();
    ASSERT_TRUE(run_until([&] { return !retries_.empty(); }));
    verification_.reset();
    ASSERT_TRUE(run_until([&] { return calls(kReader0).size() == kClaimToRelease.size(); }));
    EXPECT_EQ(calls(kReader0), kClaimToRelease);
    EXPECT_FALSE(result_.has_value());
}

// Returns once the bus has passed on what `bus` sent: it handles a connection's messages
// in order, so once GetId is answered, they have been.
void passed_on(sd_bus* bus) {
    BusError error;
    sd_bus_message* reply = nullptr;
    ASSERT_GE(sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                 "org.freedesktop.DBus", "GetId", error.get(), &reply, ""),
              0);
    sd_bus_message_unref(reply);
}

// Sends VerifyStatus("verify-match", true) as if from fprintd's reader, from another
// root connection: to the client's connection directly and to everyone. Returns once
// the bus has passed it on (a call on the same connection answered after it).
void spoof_match(const std::string& address, const std::string& client) {
    TestBusPtr bus = connect_bus(address);
    for (const std::string& destination : {client, std::string()}) {
        sd_bus_message* m = nullptr;
        ASSERT_GE(sd_bus_message_new_signal(bus.get(), &m, kReader0, kDevice, "VerifyStatus"), 0);
        BusMessagePtr signal(m);
        if (!destination.empty()) {
            ASSERT_GE(sd_bus_message_set_destination(m, destination.c_str()), 0);
        }
        ASSERT_GE(sd_bus_message_append(m, "sb", "verify-match", 1), 0);
        ASSERT_GE(sd_bus_send(bus.get(), m, nullptr), 0);
    }
    passed_on(bus.get());
}

TEST_F(FprintClientTest, IgnoresAVerifyStatusFromAnotherClient) {
    // fprintd's own verdict comes after the stranger's.
    ASSERT_NO_FATAL_FAILURE(verdict_after(spoof_match, "verify-no-match"));
    ASSERT_TRUE(result_->ok()) << result_->error().what();
    EXPECT_EQ(**result_, FprintOutcome::NoMatch);
    EXPECT_EQ(calls(kReader0), kClaimToRelease);
}

// Sends NameOwnerChanged as if fprintd had left, from another root connection straight
// to the client's connection; returns once the bus has passed it on.
void forge_fprintd_gone(const std::string& address, const std::string& client) {
    TestBusPtr bus = connect_bus(address);
    BusError error;
    sd_bus_message* reply = nullptr;
    ASSERT_GE(sd_bus_call_method(bus.get(), "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                 "org.freedesktop.DBus", "GetNameOwner", error.get(), &reply, "s",
                                 "net.reactivated.Fprint"),
              0)
        << error.message();
    BusMessagePtr owner_reply(reply);
    const char* owner = nullptr;
    ASSERT_GE(sd_bus_message_read(reply, "s", &owner), 0);
    sd_bus_message* m = nullptr;
    ASSERT_GE(sd_bus_message_new_signal(bus.get(), &m, "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus", "NameOwnerChanged"),
              0);
    BusMessagePtr signal(m);
    ASSERT_GE(sd_bus_message_set_destination(m, client.c_str()), 0);
    ASSERT_GE(sd_bus_message_append(m, "sss", "net.reactivated.Fprint", owner, ""), 0);
    ASSERT_GE(sd_bus_send(bus.get(), m, nullptr), 0);
    passed_on(bus.get());
}

TEST_F(FprintClientTest, IgnoresANameOwnerChangedNotFromTheBusDriver) {
    // fprintd is still there: its own verdict ends the verification, stopped and released.
    ASSERT_NO_FATAL_FAILURE(verdict_after(forge_fprintd_gone, "verify-match"));
    ASSERT_TRUE(result_->ok()) << result_->error().what();
    EXPECT_EQ(**result_, FprintOutcome::Match);
    EXPECT_EQ(calls(kReader0), kClaimToRelease) << "VerifyStop and Release reach fprintd";
}

}  // namespace
}  // namespace lwauth::test
