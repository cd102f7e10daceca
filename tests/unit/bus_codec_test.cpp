#include "lwauth/bus_codec.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <functional>
#include <string>
#include <vector>

#include "lwauth/error.hpp"
#include "lwauth/sd_bus.hpp"

namespace lwauth {
namespace {

using ::testing::HasSubstr;

// Real sd_bus_message objects without a bus daemon: a bus on one end of a socket pair
// is enough to create messages; sealing and rewinding them makes them read as a
// received reply does.
class BusCodec : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds_), 0);
        sd_bus* bus = nullptr;
        ASSERT_GE(sd_bus_new(&bus), 0);
        bus_.reset(bus);
        ASSERT_GE(sd_bus_set_fd(bus, fds_[0], fds_[0]), 0);
        ASSERT_GE(sd_bus_start(bus), 0);
    }
    void TearDown() override { close(fds_[1]); }

    // A reply whose arguments `write` appends, ready to be read.
    BusMessagePtr reply(const std::function<void(sd_bus_message*)>& write) {
        sd_bus_message* raw = nullptr;
        EXPECT_GE(sd_bus_message_new(bus_.get(), &raw, SD_BUS_MESSAGE_METHOD_RETURN), 0);
        BusMessagePtr m(raw);
        write(raw);
        EXPECT_GE(sd_bus_message_seal(raw, ++cookie_, 0), 0);
        EXPECT_GE(sd_bus_message_rewind(raw, 1), 0);
        return m;
    }

    Step step_round_trip(const Step& step) {
        auto m = reply([&](sd_bus_message* raw) { bus::append_step(raw, step); });
        EXPECT_STREQ(sd_bus_message_get_signature(m.get(), 1), bus::kStepSignature);
        return bus::read_step(m.get());
    }

    // The error `read` throws for a reply written by hand, or "" when it reads.
    template <typename Read>
    std::string read_error(Read read, const std::function<void(sd_bus_message*)>& write) {
        auto m = reply(write);
        try {
            (void)read(m.get());
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::Internal);
            return e.what();
        }
        return "";
    }
    std::string step_error(const std::function<void(sd_bus_message*)>& write) {
        return read_error(bus::read_step, write);
    }
    std::string status_error(const std::function<void(sd_bus_message*)>& write) {
        return read_error(bus::read_status, write);
    }

    BusPtr bus_;
    int fds_[2] = {-1, -1};
    uint64_t cookie_ = 0;
};

// The step of the contract written field by field, as a peer might.
void write_step(sd_bus_message* m, const char* id, const char* type, const char* prompt,
                const char* verdict) {
    ASSERT_GE(sd_bus_message_append(m, "sa(ss)sbs", id, 1, type, "text", prompt, 0, verdict), 0);
}

// Every key a status must carry, with the types of the schema; `skip` left out.
void write_required(sd_bus_message* m, const std::string& skip = "") {
    auto entry = [&](const char* key, const char* type, auto... value) {
        if (key != skip) {
            ASSERT_GE(sd_bus_message_append(m, "{sv}", key, type, value...), 0);
        }
    };
    entry("user", "s", "alice");
    entry("two_step", "b", 1);
    entry("two_step_policy", "s", "optional");
    entry("contacts_policy", "s", "self");
    entry("methods", "as", 1, "two_step");
    entry("line_linked", "b", 0);
    entry("pin_set", "b", 0);
    entry("locked_until", "t", uint64_t{0});
}

bus::Status full_status() {
    bus::Status s;
    s.user = "alice";
    s.two_step = true;
    s.two_step_policy = "required";
    s.contacts_policy = "admin";
    s.admin_contact = "IT desk, ext. 4242";
    s.methods = {"two_step", "login_with_phone"};
    s.contacts[bus::kContactPhone] = {"+81******5678", "admin", "", "+81******5678"};
    s.contacts[bus::kContactEmail] = {"", "", "a***@example.org", ""};
    s.line_linked = true;
    s.pin_set = true;
    s.pin_until = 1702592000;
    s.pin_disabled = true;
    s.locked_until = 1700000000;
    s.remembered_hosts = {{"sshd", "192.0.2.7", 1700003600}, {"login", "local:tty1", 1700007200}};
    s.enroll_grace_until = 1700086400;
    return s;
}

bus::Status minimal_status() {
    bus::Status s;
    s.user = "bob";
    s.two_step_policy = "optional";
    s.contacts_policy = "self";
    return s;
}

TEST_F(BusCodec, StepThatAsksRoundTrips) {
    Step step = Step::ask("Code: ", true);
    step.id = "0123abcd";
    step.info("A code was sent to +81******5678.");
    step.error("The last code was wrong.");
    EXPECT_EQ(step_round_trip(step), step);
}

TEST_F(BusCodec, StepThatDecidesRoundTrips) {
    Step step = Step::verdict_of(bus::kVerdictMaxTries);
    step.error("Too many wrong codes.");
    EXPECT_EQ(step_round_trip(step), step);
    EXPECT_EQ(step_round_trip(Step::verdict_of(bus::kVerdictSuccess)),
              Step::verdict_of(bus::kVerdictSuccess));
}

TEST_F(BusCodec, StepWithAVerdictTheReaderDoesNotKnowReadsForTheCallerToRefuse) {
    Step step = Step::verdict_of("maybe");
    EXPECT_EQ(step_round_trip(step).verdict, "maybe");
}

TEST_F(BusCodec, StepThatBreaksTheContractIsNotSent) {
    auto send_error = [&](const Step& step) -> std::string {
        sd_bus_message* raw = nullptr;
        EXPECT_GE(sd_bus_message_new(bus_.get(), &raw, SD_BUS_MESSAGE_METHOD_RETURN), 0);
        BusMessagePtr m(raw);
        try {
            bus::append_step(raw, step);
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::Internal);
            return e.what();
        }
        return "";
    };
    Step both = Step::ask("Code: ");
    both.id = "0123abcd";
    both.verdict = bus::kVerdictSuccess;
    EXPECT_THAT(send_error(both), HasSubstr("both asks and decides"));
    EXPECT_THAT(send_error(Step{}), HasSubstr("neither asks nor decides"));
    EXPECT_THAT(send_error(Step::ask("Code: ")), HasSubstr("without a login id"));
    Step decided_with_id = Step::verdict_of(bus::kVerdictDenied);
    decided_with_id.id = "0123abcd";
    EXPECT_THAT(send_error(decided_with_id), HasSubstr("keeps a login id"));
    Step success_with_handle = Step::verdict_of(bus::kVerdictSuccess);
    success_with_handle.id = "0123abcd";
    EXPECT_EQ(send_error(success_with_handle), "") << "the full login's handle for Confirm";
    Step odd_message = Step::verdict_of(bus::kVerdictDenied);
    odd_message.messages.emplace_back("warning", "text");
    EXPECT_THAT(send_error(odd_message), HasSubstr("unknown message type 'warning'"));
}

TEST_F(BusCodec, ReplyWithAnotherSignatureIsMalformed) {
    EXPECT_THAT(step_error([](sd_bus_message* m) { sd_bus_message_append(m, "s", "id"); }),
                HasSubstr("signature 's', expected 'sa(ss)sbs'"));
    EXPECT_THAT(step_error([](sd_bus_message*) {}), HasSubstr("signature ''"));
    EXPECT_THAT(step_error([](sd_bus_message* m) {
                    sd_bus_message_append(m, "sa(ss)sbss", "", 0, "", 0, "denied", "extra");
                }),
                HasSubstr("signature 'sa(ss)sbss'"));
    EXPECT_THAT(step_error([](sd_bus_message* m) {
                    sd_bus_message_append(m, "sa(ss)sus", "", 0, "", 0, "denied");
                }),
                HasSubstr("malformed step"));
}

TEST_F(BusCodec, ReplyThatBreaksTheStepContractIsMalformed) {
    EXPECT_THAT(
        step_error([](sd_bus_message* m) { write_step(m, "id", "info", "Code: ", "success"); }),
        HasSubstr("both asks and decides"));
    EXPECT_THAT(step_error([](sd_bus_message* m) { write_step(m, "id", "info", "", ""); }),
                HasSubstr("neither asks nor decides"));
    EXPECT_THAT(step_error([](sd_bus_message* m) { write_step(m, "", "info", "Code: ", ""); }),
                HasSubstr("without a login id"));
    EXPECT_THAT(step_error([](sd_bus_message* m) { write_step(m, "id", "debug", "Code: ", ""); }),
                HasSubstr("unknown message type 'debug'"));
    EXPECT_EQ(step_error([](sd_bus_message* m) { write_step(m, "id", "info", "Code: ", ""); }), "");
}

TEST_F(BusCodec, StatusRoundTrips) {
    for (const bus::Status& status : {full_status(), minimal_status()}) {
        auto m = reply([&](sd_bus_message* raw) { bus::append_status(raw, status); });
        EXPECT_EQ(bus::read_status(m.get()), status) << status.user;
    }
}

TEST_F(BusCodec, StatusListRoundTrips) {
    for (const std::vector<bus::Status>& list :
         {std::vector<bus::Status>{}, std::vector<bus::Status>{full_status(), minimal_status()}}) {
        auto m = reply([&](sd_bus_message* raw) { bus::append_status_list(raw, list); });
        EXPECT_STREQ(sd_bus_message_get_signature(m.get(), 1), "aa{sv}");
        EXPECT_EQ(bus::read_status_list(m.get()), list);
    }
}

TEST_F(BusCodec, StatusLeavesOutWhatIsAbsent) {
    auto m = reply([&](sd_bus_message* raw) { bus::append_status(raw, minimal_status()); });
    ASSERT_GE(sd_bus_message_enter_container(m.get(), 'a', "{sv}"), 0);
    std::vector<std::string> keys;
    while (sd_bus_message_enter_container(m.get(), 'e', "sv") > 0) {
        const char* key = nullptr;
        ASSERT_GE(sd_bus_message_read(m.get(), "s", &key), 0);
        keys.emplace_back(key);
        ASSERT_GE(sd_bus_message_skip(m.get(), "v"), 0);
        ASSERT_GE(sd_bus_message_exit_container(m.get()), 0);
    }
    EXPECT_THAT(keys,
                ::testing::ElementsAre("user", "two_step", "two_step_policy", "contacts_policy",
                                       "methods", "line_linked", "pin_set", "locked_until"));
}

TEST_F(BusCodec, StatusWithAContactKindOutsideTheContractIsNotSent) {
    bus::Status status = minimal_status();
    status.contacts["fax"].login = "+81******0000";
    sd_bus_message* raw = nullptr;
    ASSERT_GE(sd_bus_message_new(bus_.get(), &raw, SD_BUS_MESSAGE_METHOD_RETURN), 0);
    BusMessagePtr m(raw);
    EXPECT_THROW(bus::append_status(raw, status), Error);
}

TEST_F(BusCodec, StatusWithoutARequiredKeyIsMalformed) {
    for (const char* key : {"user", "two_step", "two_step_policy", "contacts_policy", "methods",
                            "line_linked", "pin_set", "locked_until"}) {
        std::string error = status_error([&](sd_bus_message* m) {
            sd_bus_message_open_container(m, 'a', "{sv}");
            write_required(m, key);
            sd_bus_message_close_container(m);
        });
        EXPECT_THAT(error, HasSubstr(std::string("no '") + key + "'"));
    }
}

TEST_F(BusCodec, StatusKeyOfTheWrongTypeIsMalformed) {
    auto with = [&](const char* key, auto write) {
        return status_error([&](sd_bus_message* m) {
            sd_bus_message_open_container(m, 'a', "{sv}");
            write_required(m, key);
            write(m);
            sd_bus_message_close_container(m);
        });
    };
    EXPECT_THAT(
        with("two_step",
             [](sd_bus_message* m) { sd_bus_message_append(m, "{sv}", "two_step", "s", "yes"); }),
        HasSubstr("key 'two_step' holds 's', expected 'b'"));
    EXPECT_THAT(
        with("locked_until",
             [](sd_bus_message* m) { sd_bus_message_append(m, "{sv}", "locked_until", "i", -1); }),
        HasSubstr("key 'locked_until' holds 'i', expected 't'"));
    EXPECT_THAT(
        with("", [](sd_bus_message* m) { sd_bus_message_append(m, "{sv}", "phone", "u", 42); }),
        HasSubstr("key 'phone' holds 'u', expected 's'"));
    EXPECT_THAT(with("",
                     [](sd_bus_message* m) {
                         sd_bus_message_append(m, "{sv}", "remembered_hosts", "a(ss)", 1, "sshd",
                                               "x");
                     }),
                HasSubstr("key 'remembered_hosts' holds 'a(ss)', expected 'a(sst)'"));
}

TEST_F(BusCodec, StatusKeysTheReaderDoesNotKnowAreIgnored) {
    auto m = reply([](sd_bus_message* raw) {
        sd_bus_message_open_container(raw, 'a', "{sv}");
        sd_bus_message_append(raw, "{sv}", "totp_enrolled", "b", 1);
        write_required(raw);
        sd_bus_message_append(raw, "{sv}", "fax", "s", "+81******0000");
        sd_bus_message_append(raw, "{sv}", "backup_codes", "a(st)", 1, "x", uint64_t{3});
        sd_bus_message_close_container(raw);
    });
    bus::Status status = bus::read_status(m.get());
    EXPECT_EQ(status.user, "alice");
    EXPECT_TRUE(status.two_step);
    EXPECT_EQ(status.methods, std::vector<std::string>{"two_step"});
    EXPECT_TRUE(status.contacts.empty());
}

TEST_F(BusCodec, ReplyThatIsNoStatusIsMalformed) {
    EXPECT_THAT(status_error([](sd_bus_message* m) { sd_bus_message_append(m, "s", "alice"); }),
                HasSubstr("not an a{sv}"));
    EXPECT_THAT(status_error([](sd_bus_message*) {}), HasSubstr("not an a{sv}"));
    auto m = reply(
        [](sd_bus_message* raw) { sd_bus_message_append(raw, "a{sv}", 1, "user", "s", "alice"); });
    EXPECT_THROW((void)bus::read_status_list(m.get()), Error);
}

// ---- Login.Start's context ------------------------------------------------------------

TEST_F(BusCodec, AStartContextRoundTrips) {
    StartContext context{"alice",           "sshd",   "192.0.2.7", "",
                         bus::kModePrimary, 30000000, false,       "ja_JP.UTF-8"};
    auto m = reply([&](sd_bus_message* raw) { bus::append_start_context(raw, context); });
    EXPECT_STREQ(sd_bus_message_get_signature(m.get(), 1), "a{sv}");
    EXPECT_EQ(bus::read_start_context(m.get()), context);
}

TEST_F(BusCodec, AStartContextCarriesARemoteSession) {
    StartContext context{"alice", "gdm-password", "", ":0", bus::kModePrimary, 30000000, true, ""};
    auto m = reply([&](sd_bus_message* raw) { bus::append_start_context(raw, context); });
    StartContext got = bus::read_start_context(m.get());
    EXPECT_TRUE(got.session_remote);
    EXPECT_EQ(got, context);
}

TEST_F(BusCodec, AStartContextReadsTheSessionKeyAsAnotherModuleWritesIt) {
    auto m = reply([](sd_bus_message* raw) {
        ASSERT_GE(
            sd_bus_message_append(raw, "a{sv}", 2, "user", "s", "bob", "session_remote", "b", 1),
            0);
    });
    EXPECT_TRUE(bus::read_start_context(m.get()).session_remote);
}

TEST_F(BusCodec, AStartContextSkipsKeysItDoesNotKnowAndLeavesMissingOnesEmpty) {
    auto m = reply([](sd_bus_message* raw) {
        ASSERT_GE(sd_bus_message_append(raw, "a{sv}", 3, "user", "s", "bob", "newer_key", "u", 7,
                                        "mode", "s", "second_factor"),
                  0);
    });
    StartContext got = bus::read_start_context(m.get());
    EXPECT_EQ(got, (StartContext{"bob", "", "", "", "second_factor", 0, false, ""}));
    EXPECT_FALSE(got.session_remote) << "an older module says nothing: a local session";
}

TEST_F(BusCodec, AStartContextWithAKnownKeyOfAnotherTypeIsTheCallersError) {
    for (auto write : std::vector<std::function<void(sd_bus_message*)>>{
             [](sd_bus_message* raw) {
                 ASSERT_GE(sd_bus_message_append(raw, "a{sv}", 1, "user", "u", 0), 0);
             },
             [](sd_bus_message* raw) {
                 ASSERT_GE(
                     sd_bus_message_append(raw, "a{sv}", 1, "reply_timeout_usec", "s", "30"), 0);
             },
             [](sd_bus_message* raw) {
                 ASSERT_GE(sd_bus_message_append(raw, "a{sv}", 1, "session_remote", "s", "yes"), 0);
             },
             [](sd_bus_message* raw) { ASSERT_GE(sd_bus_message_append(raw, "s", "x"), 0); },
         }) {
        auto m = reply(write);
        try {
            (void)bus::read_start_context(m.get());
            ADD_FAILURE() << "read";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::InvalidArgument);
            EXPECT_THAT(e.what(), HasSubstr("bad Start context"));
        }
    }
}

}  // namespace
}  // namespace lwauth
