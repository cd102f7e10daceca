// Linking LINE through the real lwauthd, the shipped bus policy and lwauthctl: who may
// link, unlinking, and what status and the admin commands say of a link (that it is
// there, and nothing of the LINE account). `lwauthctl line link` runs against the test
// daemon (tests/support/wait_daemon.cpp), whose LINE approvals a signal decides; linking
// through LINE itself is tested with the fake provider.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

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
            write_file(dir_ / "line-secret", "9a6e3c1f8b2d4075a1e6c9f3b8d2047e\n",
                       fs::perms(0600));
            text += "login_with_line = allowed\n[line]\nchannel_id = 1657000000\n"
                    "channel_secret_file = " +
                    (dir_ / "line-secret").string() +
                    "\npublic_url = https://login.example.com\nlisten = 127.0.0.1:" +
                    std::to_string(port_) + "\n";
        }
        return text;
    }

    void start(const std::string& policy) {
        daemon_ = std::make_unique<Daemon>(dir_.path(), bus_->address(), policy);
        if (!program_.empty()) {
            daemon_->set_program(program_);
        }
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
    fs::path program_;     // lwauthd unless set
    int port_ = pick_free_port();  // [line] listen
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
    // lwauthd opens its LINE endpoint at start: [line] set up by a reload waits for a
    // restart.
    daemon_->write_policy(line_policy(true));
    daemon_->reload();
    ASSERT_TRUE(daemon_->log_shows("event=reloaded")) << daemon_->log();
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

TEST_F(LineLink, LwauthctlGivesLwauthdsReasonWhenItCannotLinkNowAndSaysWhenItIsDown) {
    ASSERT_EQ(daemon_->stop(), 0);
    start(line_policy(true));
    // LINE approvals waiting at once are bounded (64): here each is held by the lwauthctl
    // that asked for it, as long as it waits.
    std::vector<Process> waiting;
    waiting.reserve(64);
    for (int i = 0; i < 64; ++i) {
        waiting.emplace_back(std::vector<std::string>{lwauthctl_path().string(), "line", "link"},
                             daemon_->client_env(), dir_ / ("link-" + std::to_string(i) + ".log"),
                             uid_of("bob"));
    }
    ASSERT_TRUE(daemon_->log_shows("event=line-link-started", 64)) << daemon_->log();
    RunResult full = ctl("bob", {"line", "link"});
    EXPECT_EQ(full.exit_code, 4) << full.out << full.err;
    EXPECT_EQ(full.err, "lwauthctl: Too many LINE approvals are waiting; try again later.\n");
    RunResult json_full = ctl("bob", {"--json", "line", "link"});
    EXPECT_EQ(json_full.exit_code, 4);
    EXPECT_EQ(json::parse(json_full.out, nullptr, false)["error"], "unavailable") << json_full.out;

    waiting.clear();
    ASSERT_EQ(daemon_->stop(), 0);
    RunResult down = ctl("bob", {"line", "link"});
    EXPECT_EQ(down.exit_code, 4) << down.out << down.err;
    EXPECT_NE(down.err.find("lwauthctl: lwauthd is not running or not answering on the system "
                            "bus ("),
              std::string::npos)
        << down.err;
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

// ---- lwauthctl line link, with approvals the test decides ----------------------------------

using namespace std::chrono_literals;

class LineLinkCommand : public LineLink {
  protected:
    void SetUp() override {
        // The shipped policy denies what is sent to lwauthd's name, signals included.
        bus_ = std::make_unique<PrivateBus>(
            dir_.path(), false,
            R"(<policy user="root"><allow own="org.lwauth.Test1"/>
                <allow send_destination="org.lwauth.Auth1" send_type="signal"
                       send_interface="org.lwauth.Test1" send_member="LineDecided"/></policy>)");
        program_ = wait_daemon_path();
        start(line_policy(true));
        ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com")) << daemon_->log();
    }

    // Once the next approval is offered, ends `user`'s with `outcome` and `detail`, as the
    // phone's user and LINE would, from another thread while lwauthctl waits.
    std::thread decide_when_offered(const std::string& user, const std::string& outcome,
                                    const std::string& detail) {
        size_t offered = daemon_->log_count("event=test-line-offered") + 1;
        return std::thread([this, user, outcome, detail, offered] {
            if (!daemon_->log_shows("event=test-line-offered", offered)) {
                return;  // lwauthctl ends without a link; the test says why
            }
            std::this_thread::sleep_for(1500ms);  // lwauthctl shows that it waits
            emit_signal_as(bus_->address(), "org.lwauth.Test1", "/org/lwauth/Test1",
                           "org.lwauth.Test1", "LineDecided", [&](sd_bus_message* m) {
                               sd_bus_message_append(m, "sss", user.c_str(), outcome.c_str(),
                                                     detail.c_str());
                           });
        });
    }

    // `lwauthctl line link` as `user` in the locale `lang`, the approval ended by `outcome`.
    RunResult link(const std::string& user, const std::string& outcome,
                   const std::string& detail, const std::string& lang = "C.UTF-8") {
        std::thread decider = decide_when_offered(user, outcome, detail);
        auto env = daemon_->client_env();
        env["LANG"] = lang;
        RunResult r = run({lwauthctl_path().string(), "line", "link"}, env, uid_of(user));
        decider.join();
        outputs_ += r.out + r.err;
        return r;
    }
};

TEST_F(LineLinkCommand, PrintsTheLinkItsQrCodeAndTheNumberThenSaysItIsLinked) {
    RunResult r = link("bob", "approved", kSubjectHash);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("log in to LINE:\n\n  https://line.test/l/1\n\n"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("\u2580"), std::string::npos) << "half blocks in UTF-8: " << r.out;
    EXPECT_NE(r.out.find("Then pick the number 42 on the page. The link works once, until "),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("LINE is linked: you can log in with LINE.\n"), std::string::npos)
        << r.out;
    EXPECT_NE(r.err.find("Waiting for the approval in LINE..."), std::string::npos) << r.err;
    EXPECT_TRUE(daemon_->log_shows("link for lwauthctl [event=test-line-offered user=bob]"));
    EXPECT_TRUE(daemon_->log_shows("event=line-linked user=bob"));
    EXPECT_EQ(json::parse(ctl("bob", {"--json", "status"}).out)["line_linked"], true);
    EXPECT_NE(ctl("bob", {"status"}).out.find("\nLINE:                  linked\n"),
              std::string::npos);
    EXPECT_EQ(outputs_.find(std::string(kSubjectHash).substr(0, 8)), std::string::npos);
    EXPECT_EQ(daemon_->log().find(std::string(kSubjectHash).substr(0, 8)), std::string::npos);
}

TEST_F(LineLinkCommand, DrawsTheQrCodeInAsciiOutsideAUtf8Locale) {
    RunResult r = link("bob", "approved", kSubjectHash, "C");
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("##"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("\u2580"), std::string::npos) << r.out;
}

TEST_F(LineLinkCommand, EachOutcomeHasItsExitStatusAndSaysWhy) {
    struct Case {
        const char* outcome;
        int status;
    };
    for (const Case& c : {Case{"refused", 6}, Case{"expired", 7}, Case{"failed", 8}}) {
        RunResult r = link("bob", c.outcome, "the reason the approval gave");
        EXPECT_EQ(r.exit_code, c.status) << c.outcome << ": " << r.out << r.err;
        EXPECT_NE(r.err.find("lwauthctl: LINE is not linked (" + std::string(c.outcome) +
                             "): The reason the approval gave.\n"),
                  std::string::npos)
            << r.err;
        EXPECT_EQ(r.out.find("LINE is linked"), std::string::npos) << r.out;
    }
    EXPECT_EQ(json::parse(ctl("bob", {"--json", "status"}).out)["line_linked"], false);
}

TEST_F(LineLinkCommand, WithAVerifiedContactTheCodeComesFirst) {
    // No code to give: nothing is offered (were it offered, lwauthctl would wait for an
    // approval that never comes: timeout ends it).
    RunResult none = run({"/usr/bin/timeout", "20", lwauthctl_path().string(), "line", "link"},
                         daemon_->client_env(), uid_of("alice"));
    EXPECT_EQ(none.exit_code, 1) << none.out << none.err;
    EXPECT_NE(none.err.find("No code was entered; nothing was changed."), std::string::npos)
        << none.err;
    EXPECT_EQ(daemon_->log_count("event=test-line-offered"), 0u);

    std::thread decider = decide_when_offered("alice", "approved", kSubjectHash);
    RunResult r = daemon_->ctl_with_code("alice", {"line", "link"});
    decider.join();
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.err.find("To confirm it is you, a code was sent to a\u2022\u2022\u2022@example.com."),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.out.find("LINE is linked"), std::string::npos) << r.out;
}

TEST_F(LineLinkCommand, CtrlCWithdrawsTheLink) {
    auto env = daemon_->client_env();
    Process ctl_process({lwauthctl_path().string(), "line", "link"}, env, dir_ / "ctl.log",
                        uid_of("bob"));
    ASSERT_TRUE(daemon_->log_shows("event=test-line-offered user=bob")) << daemon_->log();
    std::this_thread::sleep_for(500ms);
    EXPECT_EQ(ctl_process.stop(SIGINT), 130);
    EXPECT_NE(read_file(dir_ / "ctl.log").find("lwauthctl: Cancelled; the link no longer works."),
              std::string::npos)
        << read_file(dir_ / "ctl.log");
    EXPECT_TRUE(daemon_->log_shows("event=test-line-withdrawn")) << daemon_->log();
}

TEST_F(LineLinkCommand, AnAdministratorsResetEndsALinkInProgress) {
    auto env = daemon_->client_env();
    Process ctl_process({lwauthctl_path().string(), "line", "link"}, env, dir_ / "ctl.log",
                        uid_of("bob"));
    ASSERT_TRUE(daemon_->log_shows("event=test-line-offered user=bob")) << daemon_->log();
    EXPECT_EQ(ctl("root", {"admin", "reset", "bob", "line"}).exit_code, 0);
    EXPECT_EQ(ctl_process.wait(10s), std::optional<int>(8));
    EXPECT_NE(read_file(dir_ / "ctl.log")
                  .find("LINE is not linked (failed): Your administrator reset your LINE link."),
              std::string::npos)
        << read_file(dir_ / "ctl.log");
    EXPECT_TRUE(daemon_->log_shows("event=test-line-withdrawn"));
}

}  // namespace
}  // namespace lwauth::test
