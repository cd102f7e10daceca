// What users and administrators see of [policy] remember_host and enroll_grace, through
// the real lwauthctl against the real lwauthd, with logins run over the Login interface
// as the module runs them: the places in status and admin show, `lwauthctl forget`,
// `admin reset USER hosts|all`, and the enrolment grace in status.
#include <gtest/gtest.h>

#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace lwauth::test {
namespace {

using json = nlohmann::json;

const LoginPlace kSshFromX{"sshd", "192.0.2.7", ""};
const LoginPlace kSshFromY{"sshd", "192.0.2.8", ""};
const LoginPlace kLocalTty1{"login", "", "tty1"};

class RememberTest : public ::testing::Test {
  protected:
    void SetUp() override { start("[policy]\nadmin_group = lwadmins\nremember_host = 1h\n"); }

    void start(const std::string& extra_policy) {
        daemon_.reset();
        bus_.reset();
        bus_ = std::make_unique<PrivateBus>(dir_.path());
        daemon_ =
            std::make_unique<Daemon>(dir_.path(), bus_->address(),
                                     default_test_policy(dir_ / "outbox.jsonl") + extra_policy);
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
    }

    RunResult ctl(const std::string& user, const std::vector<std::string>& args) {
        RunResult r = daemon_->ctl(user, args);
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return r;
    }

    json ctl_json(const std::string& user, std::vector<std::string> args) {
        args.insert(args.begin(), "--json");
        return json::parse(ctl(user, args).out, nullptr, false);
    }

    size_t sent() { return read_outbox(daemon_->outbox()).size(); }

    /// A login from `place`, answering each prompt with the latest code in the outbox.
    LoginResult login(const std::string& user, const LoginPlace& place) {
        return login_as_root_from(bus_->address(), user, place,
                                  [&] { return read_outbox(daemon_->outbox()).back().code(); });
    }

    /// A full 2-step login from `place`: a code is sent and the right one typed.
    void verify_from(const std::string& user, const LoginPlace& place) {
        size_t before = sent();
        LoginResult result = login(user, place);
        ASSERT_EQ(result.verdict, "success") << daemon_->log();
        ASSERT_EQ(result.prompts, 1);
        ASSERT_EQ(sent(), before + 1);
    }

    /// A login from `place` that is let in with no code asked and none sent.
    void expect_remembered(const std::string& user, const LoginPlace& place) {
        size_t before = sent();
        LoginResult result = login(user, place);
        EXPECT_EQ(result.verdict, "success") << daemon_->log();
        EXPECT_EQ(result.prompts, 0) << "no code asked";
        EXPECT_EQ(sent(), before) << "no code sent";
    }

    /// A login from `place` that asks for a code again.
    void expect_code_asked(const std::string& user, const LoginPlace& place) {
        size_t before = sent();
        LoginResult result = login(user, place);
        EXPECT_EQ(result.verdict, "success") << daemon_->log();
        EXPECT_EQ(result.prompts, 1) << "a code was asked";
        EXPECT_EQ(sent(), before + 1) << "a code was sent";
    }

    TempDir dir_{"lwauth-remember"};
    std::unique_ptr<PrivateBus> bus_;
    std::unique_ptr<Daemon> daemon_;
};

TEST_F(RememberTest, TheUserSeesTheRememberedPlaceAndForgetAsksForACodeAgain) {
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com")) << daemon_->log();
    json before = ctl_json("alice", {"status"});
    EXPECT_FALSE(before.contains("remembered_hosts")) << "none before a full 2-step login";

    int64_t t0 = std::time(nullptr);
    verify_from("alice", kSshFromX);
    RunResult human = ctl("alice", {"status"});
    EXPECT_NE(human.out.find("Remembered:            sshd from 192.0.2.7 until "),
              std::string::npos)
        << human.out;
    EXPECT_NE(human.out.find("(no code is asked there until then; lwauthctl forget ends it)"),
              std::string::npos)
        << human.out;
    json status = ctl_json("alice", {"status"});
    ASSERT_EQ(status["remembered_hosts"].size(), 1u) << status.dump();
    const json& place = status["remembered_hosts"][0];
    EXPECT_EQ(place["service"], "sshd");
    EXPECT_EQ(place["origin"], "192.0.2.7");
    EXPECT_GE(place["until"].get<int64_t>(), t0 + 3600);
    EXPECT_LE(place["until"].get<int64_t>(), std::time(nullptr) + 3600);

    expect_remembered("alice", kSshFromX);
    expect_code_asked("alice", kSshFromY);  // another host; remembered from now on too
    EXPECT_EQ(ctl_json("alice", {"status"})["remembered_hosts"].size(), 2u);

    // Another user's forget reaches only their own (empty) account.
    EXPECT_EQ(ctl("bob", {"forget"}).out, "No remembered places.\n");
    EXPECT_EQ(ctl_json("alice", {"status"})["remembered_hosts"].size(), 2u);

    RunResult forgot = ctl("alice", {"forget"});
    EXPECT_EQ(forgot.out,
              "Forgot 2 remembered places; the next login from there asks for a code.\n");
    EXPECT_FALSE(ctl_json("alice", {"status"}).contains("remembered_hosts"));
    EXPECT_EQ(ctl("alice", {"status"}).out.find("Remembered"), std::string::npos);
    EXPECT_NE(daemon_->log().find("event=hosts-forgotten user=alice count=2"), std::string::npos)
        << daemon_->log();
    expect_code_asked("alice", kSshFromX);
    EXPECT_EQ(ctl_json("alice", {"forget"}), (json{{"forgotten", 1}}));
    EXPECT_EQ(ctl("alice", {"forget"}).out, "No remembered places.\n");
}

TEST_F(RememberTest, AnAdministratorSeesThePlacesAndResetHostsForgetsThem) {
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com")) << daemon_->log();
    verify_from("alice", kLocalTty1);
    verify_from("alice", kSshFromX);
    RunResult shown = ctl("frank", {"admin", "show", "alice"});
    EXPECT_NE(shown.out.find("Remembered:            login on tty1 until "), std::string::npos)
        << shown.out;
    EXPECT_NE(shown.out.find("\n                       sshd from 192.0.2.7 until "),
              std::string::npos)
        << shown.out;
    EXPECT_NE(shown.out.find("lwauthctl admin reset alice hosts ends it"), std::string::npos);
    json status = ctl_json("frank", {"admin", "show", "alice"});
    ASSERT_EQ(status["remembered_hosts"].size(), 2u) << status.dump();
    EXPECT_EQ(status["remembered_hosts"][0]["origin"], "local:tty1");
    json users = ctl_json("root", {"admin", "users"});
    ASSERT_EQ(users["users"].size(), 1u) << users.dump();
    EXPECT_EQ(users["users"][0]["remembered_hosts"], status["remembered_hosts"]);

    expect_remembered("alice", kLocalTty1);
    RunResult reset = ctl("root", {"admin", "reset", "alice", "hosts"});
    EXPECT_EQ(reset.out,
              "alice's remembered places were forgotten; the next login from each asks for a "
              "code.\n");
    json after = ctl_json("alice", {"status"});
    EXPECT_FALSE(after.contains("remembered_hosts"));
    EXPECT_EQ(after["two_step"], true) << "hosts only";
    EXPECT_TRUE(after.contains("email")) << "hosts only";
    expect_code_asked("alice", kLocalTty1);

    // reset all forgets them too.
    ASSERT_TRUE(ctl_json("alice", {"status"}).contains("remembered_hosts"));
    ctl("root", {"admin", "reset", "alice", "all"});
    EXPECT_FALSE(ctl_json("alice", {"status"}).contains("remembered_hosts"));
}

TEST_F(RememberTest, ResetNamesTheWordsItKnows) {
    EXPECT_EQ(call_as(bus_->address(), 0, "org.lwauth.Auth1.Admin", "Reset",
                      [](sd_bus_message* m) { sd_bus_message_append(m, "ss", "alice", "places"); }),
              "org.lwauth.Auth1.Error.InvalidArgument");
    RunResult usage = daemon_->ctl("root", {"admin", "reset", "alice", "places"});
    EXPECT_EQ(usage.exit_code, 2);
    EXPECT_NE(usage.err.find("pin,line,contacts,hosts,totp,all"), std::string::npos) << usage.err;
}

TEST_F(RememberTest, StatusShowsTheEnrolmentGraceAndResetAllStartsItAfresh) {
    start("[user:carol]\ntwo_step = required\nenroll_grace = 1d\n");
    EXPECT_FALSE(ctl_json("carol", {"status"}).contains("enroll_grace_until")) << "not started";

    int64_t t0 = std::time(nullptr);
    LoginResult login = login_as_root_from(bus_->address(), "carol", kSshFromX,
                                           [] { return std::string("000000"); });
    ASSERT_EQ(login.verdict, "success") << daemon_->log();
    EXPECT_EQ(login.prompts, 0);
    ASSERT_FALSE(login.lines.empty());
    EXPECT_NE(login.lines[0].find("You may log in without a code until"), std::string::npos)
        << login.lines[0];
    EXPECT_EQ(sent(), 0u);

    json status = ctl_json("carol", {"status"});
    ASSERT_TRUE(status.contains("enroll_grace_until")) << status.dump();
    EXPECT_GE(status["enroll_grace_until"].get<int64_t>(), t0 + 86400);
    EXPECT_LE(status["enroll_grace_until"].get<int64_t>(), std::time(nullptr) + 86400);
    RunResult human = ctl("carol", {"status"});
    EXPECT_NE(human.out.find("Enrolment grace:       no code is asked until "), std::string::npos)
        << human.out;
    EXPECT_NE(human.out.find("add a phone number or email before then (lwauthctl contact add)"),
              std::string::npos)
        << human.out;
    EXPECT_TRUE(ctl_json("root", {"admin", "show", "carol"}).contains("enroll_grace_until"));

    ctl("root", {"admin", "reset", "carol", "all"});
    EXPECT_FALSE(ctl_json("carol", {"status"}).contains("enroll_grace_until"))
        << "reset all clears the start";
    EXPECT_EQ(ctl("carol", {"status"}).out.find("Enrolment grace"), std::string::npos);
}

}  // namespace
}  // namespace lwauth::test
