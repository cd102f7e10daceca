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

constexpr const char* kFprintd = fprint::kService;
constexpr const char* kManager = fprint::kManagerPath;
constexpr const char* kDevice = fprint::kDeviceInterface;
constexpr const char* kMock = "org.freedesktop.DBus.Mock";
constexpr const char* kReader0 = "/net/reactivated/Fprint/Device/0";
constexpr const char* kReader1 = "/net/reactivated/Fprint/Device/1";

// fprintd's bus policy (data/net.reactivated.Fprint.conf): root owns the name, anyone may
// call it; the tests may also drive the fake.
constexpr const char* kFprintdPolicy = R"(
  <policy user="root"><allow own="net.reactivated.Fprint"/></policy>
  <policy context="default">
    <allow send_destination="net.reactivated.Fprint" send_interface="net.reactivated.Fprint.Manager"/>
    <allow send_destination="net.reactivated.Fprint" send_interface="net.reactivated.Fprint.Device"/>
    <allow send_destination="net.reactivated.Fprint" send_interface="org.freedesktop.DBus.Properties"/>
    <allow send_destination="net.reactivated.Fprint" send_interface="org.freedesktop.DBus.Mock"/>
  </policy>)";

using Status = std::pair<std::string, bool>;  // (result, done)

BusPtr connect(const std::string& address) {
    sd_bus* bus = nullptr;
    if (sd_bus_new(&bus) < 0 || sd_bus_set_address(bus, address.c_str()) < 0 ||
        sd_bus_set_bus_client(bus, 1) < 0 || sd_bus_start(bus) < 0) {
        sd_bus_unref(bus);
        throw std::runtime_error("cannot connect to the private bus");
    }
    return BusPtr(bus);
}

// Calls the fake on `bus` and throws its error, if any.
void call(sd_bus* bus, const char* path, const char* interface, const char* member,
          const std::function<void(sd_bus_message*)>& append, sd_bus_message** reply = nullptr) {
    sd_bus_message* m = nullptr;
    BusError error;
    int r = sd_bus_message_new_method_call(bus, &m, kFprintd, path, interface, member);
    BusMessagePtr message(m);
    if (r >= 0 && append) {
        append(m);
    }
    if (r < 0 || sd_bus_call(bus, m, 20 * 1000 * 1000, error.get(), reply) < 0) {
        throw std::runtime_error(std::string(member) + " failed: " + error.name() + " " +
                                 error.message());
    }
}

class FprintClientTest : public ::testing::Test {
  protected:
    void SetUp() override {
        bus_ = std::make_unique<PrivateBus>(dir_.path(), false, kFprintdPolicy);
        start_fake();
        control_ = connect(bus_->address());
        // The client's connection owns lwauthd's name, so the shipped policy applies to
        // what reaches it, as it does to lwauthd.
        client_bus_ = connect(bus_->address());
        ASSERT_GE(sd_bus_request_name(client_bus_.get(), "org.lwauth.Auth1", 0), 0);
        sd_event* e = nullptr;
        ASSERT_GE(sd_event_new(&e), 0);
        event_.reset(e);
        ASSERT_GE(sd_bus_attach_event(client_bus_.get(), event_.get(), 0), 0);
        timers_ = std::make_unique<EventTimers>(event_.get());
    }
    void TearDown() override {
        verification_.reset();
        if (client_bus_) {
            sd_bus_detach_event(client_bus_.get());
        }
    }

    void start_fake() {
        auto env = base_env();
        env["DBUS_SYSTEM_BUS_ADDRESS"] = bus_->address();
        fake_ = Process({"/usr/bin/python3", "-m", "dbusmock", "--system", "--template",
                         (source_dir() / "tests/fakes/fprintd.py").string(), "-l",
                         (dir_ / "fprintd.log").string()},
                        env, dir_ / "fprintd.out");
        if (!wait_for_name(bus_->address(), kFprintd, std::chrono::seconds(20))) {
            throw std::runtime_error("the fake fprintd did not start: " +
                                     read_file(dir_ / "fprintd.out"));
        }
    }

    // A reader with `fingers` of alice enrolled, and what VerifyStart will send.
    void add_reader(const std::vector<std::string>& fingers, const std::vector<Status>& script,
                    bool vanish = false) {
        sd_bus_message* reply = nullptr;
        call(
            control_.get(), kManager, kMock, "AddDevice",
            [](sd_bus_message* m) { sd_bus_message_append(m, "s", "Fake reader"); }, &reply);
        const char* path = nullptr;
        sd_bus_message_read(reply, "o", &path);
        std::string reader = path;
        sd_bus_message_unref(reply);
        enroll(reader, fingers);
        call(control_.get(), kManager, kMock, "SetVerifyScript", [&](sd_bus_message* m) {
            sd_bus_message_append(m, "o", reader.c_str());
            sd_bus_message_open_container(m, 'a', "(sb)");
            for (const auto& [result, done] : script) {
                sd_bus_message_append(m, "(sb)", result.c_str(), static_cast<int>(done));
            }
            sd_bus_message_close_container(m);
            sd_bus_message_append(m, "b", static_cast<int>(vanish));
        });
    }

    void enroll(const std::string& reader, const std::vector<std::string>& fingers) {
        call(control_.get(), kManager, kMock, "SetEnrolledFingers", [&](sd_bus_message* m) {
            sd_bus_message_append(m, "os", reader.c_str(), "alice");
            sd_bus_message_open_container(m, 'a', "s");
            for (const auto& f : fingers) {
                sd_bus_message_append(m, "s", f.c_str());
            }
            sd_bus_message_close_container(m);
        });
    }

    // The methods the fake recorded on `reader`, oldest first (dbusmock's GetCalls).
    std::vector<std::string> calls(const char* reader) {
        sd_bus_message* reply = nullptr;
        call(control_.get(), reader, kMock, "GetCalls", nullptr, &reply);
        BusMessagePtr owned(reply);
        std::vector<std::string> names;
        sd_bus_message_enter_container(reply, 'a', "(tsav)");
        while (sd_bus_message_enter_container(reply, 'r', "tsav") > 0) {
            uint64_t when = 0;
            const char* name = nullptr;
            sd_bus_message_read(reply, "ts", &when, &name);
            names.emplace_back(name);
            sd_bus_message_skip(reply, "av");
            sd_bus_message_exit_container(reply);
        }
        return names;
    }

    void start(uint64_t timeout_usec = 60ULL * 1000 * 1000) {
        client_ = std::make_unique<FprintClient>(client_bus_.get(), *timers_, timeout_usec);
        started_ = std::chrono::steady_clock::now();
        verification_ = client_->verify(
            "alice", [this](const FprintRetry& retry) { retries_.push_back(retry); },
            [this](Result<FprintOutcome> r) { result_.emplace(std::move(r)); });
    }

    // Runs the loop until `until` holds, or 60 s pass.
    bool run_until(const std::function<bool()>& until) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (!until() && std::chrono::steady_clock::now() < deadline) {
            sd_event_run(event_.get(), 50 * 1000);
        }
        return until();
    }

    Result<FprintOutcome> verify(uint64_t timeout_usec = 60ULL * 1000 * 1000) {
        start(timeout_usec);
        if (!run_until([&] { return result_.has_value(); })) {
            throw std::runtime_error("the verification never called back");
        }
        return *result_;
    }

    TempDir dir_{"lwauth-fprint"};
    std::unique_ptr<PrivateBus> bus_;
    Process fake_;
    BusPtr control_;
    BusPtr client_bus_;
    EventPtr event_;
    std::unique_ptr<EventTimers> timers_;
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
    EXPECT_TRUE(fake_.wait(std::chrono::seconds(10)).has_value());
}

TEST_F(FprintClientTest, WithoutFprintdItIsUnavailable) {
    fake_.stop(SIGTERM);
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
    call(control_.get(), kManager, kMock, "SetClaimedElsewhere",
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
    call(control_.get(), kManager, kMock, "SetClaimDelay",
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

// Sends VerifyStatus("verify-match", true) as if from fprintd's reader, from another
// root connection: to the client's connection directly and to everyone. Returns once
// the bus has passed it on (a call on the same connection answered after it).
void spoof_match(const std::string& address, const std::string& client) {
    BusPtr bus = connect(address);
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
    // The bus handles a connection's messages in order: once GetId is answered, the
    // signals have been passed on.
    BusError error;
    sd_bus_message* reply = nullptr;
    ASSERT_GE(sd_bus_call_method(bus.get(), "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                 "org.freedesktop.DBus", "GetId", error.get(), &reply, ""),
              0);
    sd_bus_message_unref(reply);
}

TEST_F(FprintClientTest, IgnoresAVerifyStatusFromAnotherClient) {
    add_reader({"right-index-finger"}, {{"verify-retry-scan", false}});
    start();
    ASSERT_TRUE(run_until([&] { return !retries_.empty(); }));  // the client now listens
    const char* unique = nullptr;
    ASSERT_GE(sd_bus_get_unique_name(client_bus_.get(), &unique), 0);
    spoof_match(bus_->address(), unique);
    // fprintd's own verdict comes after the stranger's.
    call(control_.get(), kManager, kMock, "EmitVerifyStatus", [](sd_bus_message* m) {
        sd_bus_message_append(m, "osb", kReader0, "verify-no-match", 1);
    });
    ASSERT_TRUE(run_until([&] { return result_.has_value(); }));
    ASSERT_TRUE(result_->ok()) << result_->error().what();
    EXPECT_EQ(**result_, FprintOutcome::NoMatch);
    EXPECT_EQ(calls(kReader0), kClaimToRelease);
}

}  // namespace
}  // namespace lwauth::test
