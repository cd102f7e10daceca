// Linking LINE through the real lwauthd, the shipped bus policy and lwauthctl: who may
// link, unlinking, and what status and the admin commands say of a link (that it is
// there, and nothing of the LINE account). A link is made in the store directly here;
// linking through LINE itself is tested with the fake provider.
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "harness.hpp"

namespace lwauth::test {
namespace {

using json = nlohmann::json;

// What the store keeps of a linked LINE account: a keyed hash (never shown anywhere).
constexpr const char* kSubjectHash =
    "5f1e0c1d9b8a7f6e5d4c3b2a19080706f5e4d3c2b1a09f8e7d6c5b4a39281706";

class LineLink : public ::testing::Test {
  protected:
    void SetUp() override {
        bus_ = std::make_unique<PrivateBus>(dir_.path());
        start(line_policy(false));
        ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com")) << daemon_->log();
    }

    // With `allowed`, login_with_line = allowed, and [line] as complete as the policy asks.
    [[nodiscard]] std::string line_policy(bool allowed) const {
        std::string text = default_test_policy(dir_ / "outbox.jsonl") +
                           "[policy]\nadmin_group = lwadmins\n";
        if (allowed) {
            write_file(dir_ / "line-secret", "0123456789abcdef0123456789abcdef\n",
                       fs::perms(0600));
            text += "login_with_line = allowed\n[line]\nchannel_id = 1657000000\n"
                    "channel_secret_file = " +
                    (dir_ / "line-secret").string() +
                    "\npublic_url = https://login.example.com\n";
        }
        return text;
    }

    void start(const std::string& policy) {
        daemon_ = std::make_unique<Daemon>(dir_.path(), bus_->address(), policy);
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
    }

    // Links a LINE account to `user` in the store, with lwauthd stopped meanwhile.
    void link_in_store(const std::string& user) {
        ASSERT_EQ(daemon_->stop(), 0);
        RunResult r = run({"/usr/bin/sqlite3", (daemon_->state_dir() / "lwauth.db").string(),
                           "UPDATE users SET line_link = '" + std::string(kSubjectHash) +
                               "' WHERE name = '" + user + "'; SELECT changes();"},
                          base_env());
        ASSERT_EQ(r.exit_code, 0) << r.err;
        ASSERT_EQ(r.out, "1\n") << "the user has a row";
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
    }

    [[nodiscard]] RunResult ctl(const std::string& user, const std::vector<std::string>& args) {
        RunResult r = daemon_->ctl(user, args);
        outputs_ += r.out + r.err;
        return r;
    }

    [[nodiscard]] std::string call(const std::string& user, const char* member) const {
        return call_as(bus_->address(), uid_of(user), "org.lwauth.Auth1.Account", member);
    }

    TempDir dir_{"lwauth-line-link"};
    std::unique_ptr<PrivateBus> bus_;
    std::unique_ptr<Daemon> daemon_;
    std::string outputs_;  // everything lwauthctl printed
};

TEST_F(LineLink, LinkingIsRefusedWhereThePolicyDoesNotAllowLine) {
    EXPECT_EQ(call("alice", "LinkLine"), "org.lwauth.Auth1.Error.NotEnabled");
    RunResult r = ctl("alice", {"line", "link"});
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_EQ(r.err,
              "lwauthctl: Logging in with LINE is not enabled for your account on this host.\n");
    EXPECT_EQ(r.out, "") << "no link, no QR code";
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), 1u) << "no reauthentication code was sent";
}

TEST_F(LineLink, LinkingIsRefusedWhileLineLoginIsNotSetUpInLwauthd) {
    ASSERT_EQ(daemon_->stop(), 0);
    start(line_policy(true));
    EXPECT_EQ(call("alice", "LinkLine"), "org.lwauth.Auth1.Error.NotEnabled");
    RunResult r = ctl("alice", {"--json", "line", "link"});
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_EQ(r.err,
              "lwauthctl: LINE Login is not set up in lwauthd here; ask your administrator.\n");
    json error = json::parse(r.out, nullptr, false);
    EXPECT_EQ(error["error"], "not-enabled") << r.out;
    // Nothing in progress to follow.
    EXPECT_EQ(call("alice", "LineLinkStatus"), "");
}

TEST_F(LineLink, StatusAndTheAdminCommandsSayLinkedAndNothingMore) {
    link_in_store("alice");
    RunResult own = ctl("alice", {"status"});
    EXPECT_EQ(own.exit_code, 0) << own.err;
    EXPECT_NE(own.out.find("\nLINE:                  linked\n"), std::string::npos) << own.out;
    RunResult shown = ctl("frank", {"admin", "show", "alice"});
    EXPECT_EQ(shown.exit_code, 0) << shown.err;
    EXPECT_NE(shown.out.find("\nLINE:                  linked\n"), std::string::npos)
        << shown.out;
    json as_json = json::parse(ctl("frank", {"--json", "admin", "show", "alice"}).out);
    EXPECT_EQ(as_json["line_linked"], true);
    RunResult users = ctl("frank", {"admin", "users"});
    EXPECT_NE(users.out.find("alice"), std::string::npos) << users.out;
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"--json", "admin", "users"}, {"--json", "status"}, {"policy", "show", "alice"}}) {
        RunResult r = ctl(args[1] == "status" ? "alice" : "frank", args);
        EXPECT_EQ(r.exit_code, 0) << r.err;
    }
    // The keyed hash, or any part of it long enough to tell one account from another,
    // appears nowhere.
    EXPECT_EQ(outputs_.find(std::string(kSubjectHash).substr(0, 8)), std::string::npos)
        << outputs_;
    EXPECT_EQ(daemon_->log().find(std::string(kSubjectHash).substr(0, 8)), std::string::npos);
}

TEST_F(LineLink, UnlinkingNeedsNoProofAndSaysWhetherALinkWasThere) {
    link_in_store("alice");
    // A verified contact is saved, yet no code is asked: unlinking only makes the login
    // stricter.
    size_t codes = read_outbox(daemon_->outbox()).size();
    RunResult r = ctl("alice", {"line", "unlink"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(r.out, "LINE is unlinked: you can no longer log in with LINE.\n");
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), codes);
    EXPECT_EQ(json::parse(ctl("alice", {"--json", "status"}).out)["line_linked"], false);
    EXPECT_EQ(ctl("alice", {"status"}).out.find("LINE:"), std::string::npos)
        << "LINE is neither offered nor linked";
    RunResult again = ctl("alice", {"--json", "line", "unlink"});
    EXPECT_EQ(again.exit_code, 0) << again.err;
    EXPECT_EQ(json::parse(again.out), json({{"line_linked", false}, {"was_linked", false}}));
    EXPECT_NE(daemon_->log().find("event=line-unlinked user=alice"), std::string::npos)
        << daemon_->log();
}

TEST_F(LineLink, StatusSaysNotLinkedWhereLineIsOffered) {
    ASSERT_EQ(daemon_->stop(), 0);
    start(line_policy(true));
    RunResult r = ctl("alice", {"status"});
    EXPECT_NE(r.out.find("\nLINE:                  not linked\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("log in with LINE"), std::string::npos) << r.out;
}

TEST_F(LineLink, AnAdministratorsResetUnlinks) {
    link_in_store("alice");
    RunResult r = ctl("frank", {"admin", "reset", "alice", "line"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "alice's LINE link was removed.\n");
    EXPECT_EQ(json::parse(ctl("alice", {"--json", "status"}).out)["line_linked"], false);
    // Her contact stays: only the link was reset.
    EXPECT_EQ(json::parse(ctl("alice", {"--json", "status"}).out)["email_source"], "self");
    EXPECT_EQ(call("alice", "UnlinkLine"), "");
}

}  // namespace
}  // namespace lwauth::test
