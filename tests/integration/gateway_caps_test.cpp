// Send caps against a slow gateway: many requests at the same moment, while every send is
// still in flight, put exactly the cap through to the gateway. Each request is one that an
// unprivileged local user (AddContact) or an unauthenticated network client (a login's
// Start through sshd) can make.
#include "gateway_fixture.hpp"

namespace lwauth::test {
namespace {

constexpr const char* kVictim = "+819012345678";

class CapsUnderLoad : public GatewayTest {
  protected:
    void SetUp() override {
        GatewayTest::SetUp();
        if (HasFatalFailure()) {
            return;
        }
        // A drop-in, as a site would add one: the caps of the reproduction.
        write_file(daemon_->config_dir() / "lwauth.conf.d/50-caps.conf",
                   "[policy]\nlogin_with_phone = allowed\n"
                   "[code]\nmax_sends_per_hour = 3\nmax_sends_per_destination_per_hour = 3\n"
                   "max_sends_per_host_per_hour = 10\nmax_passwordless_sends_per_hour = 3\n");
        ASSERT_EQ(daemon_->ctl("root", {"policy", "reload"}).exit_code, 0) << daemon_->log();
    }

    std::string gateway_channels() override {
        return "[channel.gateway]\ntype = webhook\nserves = sms\nurl = " + base_url() +
               "/webhook\nhmac_secret_file = " + secret_file("webhook", "s3cret") + "\n" +
               ca_line() + "timeout = 10s\n";
    }
    std::string code_channels() const override { return "sms"; }

    /// From here on the gateway takes two seconds to answer each message.
    void slow_gateway() { control(R"({"service": "webhook", "mode": "slow:2000", "count": 0})"); }

    /// How many messages reached the gateway.
    [[nodiscard]] size_t at_gateway() const { return delivered("webhook").size(); }

    static Append add_contact(const std::string& phone) {
        return [phone](sd_bus_message* m) {
            sd_bus_message_append(m, "ss", "phone", phone.c_str());
        };
    }
    static Append start(const std::string& user, const char* mode) {
        return [user, mode](sd_bus_message* m) {
            sd_bus_message_append(m, "a{sv}", 4, "user", "s", user.c_str(), "mode", "s", mode,
                                  "service", "s", "sshd", "rhost", "s", "192.0.2.7");
        };
    }
    static CallRound starts(const std::string& user, const char* mode, int n) {
        return {"org.lwauth.Auth1.Login", "Start", [user, mode, n](const std::vector<CallReply>&) {
                    return std::vector<Append>(static_cast<size_t>(n), start(user, mode));
                }};
    }
};

TEST_F(CapsUnderLoad, TwentyParallelAddContactsFromOneUserSendTheUsersCap) {
    slow_gateway();
    auto rounds = call_rounds_as(bus_->address(), uid_of("alice"),
                                 {{"org.lwauth.Auth1.Account", "AddContact",
                                   [](const std::vector<CallReply>&) {
                                       std::vector<Append> calls;
                                       for (int i = 0; i < 20; ++i) {
                                           calls.push_back(add_contact(
                                               "+8190000001" + std::to_string(10 + i)));
                                       }
                                       return calls;
                                   }}});
    ASSERT_EQ(rounds.size(), 1u);
    int refused = 0;
    for (const auto& reply : rounds[0]) {
        refused += reply.error == "org.lwauth.Auth1.Error.RateLimited" ? 1 : 0;
    }
    EXPECT_EQ(at_gateway(), 3u) << daemon_->log();
    EXPECT_EQ(refused, 17);
}

TEST_F(CapsUnderLoad, ThreeUsersAddingOneVictimsNumberSendItsCap) {
    slow_gateway();
    std::vector<std::thread> users;
    for (const char* name : {"alice", "bob", "carol"}) {
        users.emplace_back([this, name] {
            (void)call_rounds_as(bus_->address(), uid_of(name),
                                 {{"org.lwauth.Auth1.Account", "AddContact",
                                   [](const std::vector<CallReply>&) {
                                       return std::vector<Append>(8, add_contact(kVictim));
                                   }}});
        });
    }
    for (auto& t : users) {
        t.join();
    }
    EXPECT_EQ(at_gateway(), 3u) << daemon_->log();
}

TEST_F(CapsUnderLoad, ConfirmationsToANumberDoNotUseUpItsLoginCodes) {
    enroll("alice", kVictim);
    // Somebody else typing alice's number into `contact add` until its cap is reached.
    for (int i = 0; i < 5; ++i) {
        (void)daemon_->ctl("bob", {"contact", "add", "phone", kVictim});
    }
    EXPECT_EQ(at_gateway(), 3u) << "confirmations to the number are capped";
    // alice's logins still get their codes.
    LoginResult login = login_as_root_with(bus_->address(), "alice", [&] {
        return code_in(delivered("webhook").back().value("text", ""));
    });
    EXPECT_EQ(login.verdict, "success") << daemon_->log();
    EXPECT_EQ(at_gateway(), 4u);
}

TEST_F(CapsUnderLoad, TwentyParallelLoginsOfOneUserSendTheCap) {
    enroll("alice", kVictim);
    size_t before = at_gateway();
    slow_gateway();
    auto rounds = call_rounds_as(bus_->address(), 0, {starts("alice", "second_factor", 20)});
    ASSERT_EQ(rounds.size(), 1u);
    int asking = 0;
    for (const auto& reply : rounds[0]) {
        asking += reply.error.empty() && reply.verdict.empty() ? 1 : 0;
    }
    EXPECT_EQ(at_gateway() - before, 3u) << daemon_->log();
    EXPECT_EQ(asking, 3) << "only the logins whose code went out ask for it";
}

TEST_F(CapsUnderLoad, TwentyParallelPhoneLoginsSendTheCap) {
    // What 20 unauthenticated sshd connections naming one user send.
    enroll("alice", kVictim);
    size_t before = at_gateway();
    slow_gateway();
    auto rounds = call_rounds_as(bus_->address(), 0, {starts("alice", "primary", 20)});
    ASSERT_EQ(rounds.size(), 1u);
    EXPECT_EQ(rounds[0].size(), 20u);
    EXPECT_EQ(at_gateway() - before, 3u) << daemon_->log();
}

TEST_F(CapsUnderLoad, PhoneLoginsBeforeThePasswordLeaveTheUsersTwoStepCodes) {
    enroll("alice", kVictim);
    slow_gateway();
    auto flood = call_rounds_as(bus_->address(), 0, {starts("alice", "primary", 20)});
    ASSERT_EQ(flood.size(), 1u);
    size_t before = at_gateway();
    // The real user, after the password: 2-step's own caps are untouched.
    auto rounds = call_rounds_as(bus_->address(), 0, {starts("alice", "second_factor", 1)});
    ASSERT_EQ(rounds.size(), 1u);
    ASSERT_EQ(rounds[0].size(), 1u);
    EXPECT_TRUE(rounds[0][0].error.empty() && rounds[0][0].verdict.empty())
        << rounds[0][0].error << rounds[0][0].verdict << daemon_->log();
    EXPECT_EQ(at_gateway(), before + 1);
}

TEST_F(CapsUnderLoad, ParallelResendsSendOnlyWhatIsLeftOfTheCap) {
    enroll("alice", kVictim);
    size_t before = at_gateway();
    slow_gateway();
    // Two logins (two codes), then `r` in both at the same moment: one send is left.
    auto rounds = call_rounds_as(
        bus_->address(), 0,
        {starts("alice", "second_factor", 2),
         {"org.lwauth.Auth1.Login", "Answer", [](const std::vector<CallReply>& logins) {
              std::vector<Append> calls;
              for (const auto& login : logins) {
                  std::string id = login.id;
                  calls.push_back(
                      [id](sd_bus_message* m) { sd_bus_message_append(m, "ss", id.c_str(), "r"); });
              }
              return calls;
          }}});
    ASSERT_EQ(rounds.size(), 2u);
    ASSERT_EQ(rounds[0].size(), 2u);
    EXPECT_FALSE(rounds[0][0].id.empty());
    EXPECT_FALSE(rounds[0][1].id.empty());
    EXPECT_EQ(at_gateway() - before, 3u) << daemon_->log();
}

}  // namespace
}  // namespace lwauth::test
