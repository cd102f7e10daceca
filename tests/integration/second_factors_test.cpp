// Authenticator apps and recovery codes through the real lwauthd on the private bus (the
// shipped bus policy), the real lwauthctl, and logins run over the Login interface as
// pam_lwauth.so runs them. The app's codes come from Debian's oathtool, an implementation
// of RFC 6238 of its own. lwauthd's clock is the host's: the window's edges are codes of
// other time steps, made with oathtool --now.
#include <gtest/gtest.h>

#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace lwauth::test {
namespace {

using json = nlohmann::json;

constexpr const char* kSecondFactors =
    "[policy]\ntotp = allowed\nadmin_group = lwadmins\n[user:erin]\nrequire_unrestricted = yes\n"
    "[user:dave]\ntwo_step = required\n[user:alice]\ntwo_step = required\nenroll_grace = 7d\n";

class SecondFactors : public ::testing::Test {
  protected:
    void SetUp() override {
        bus_ = std::make_unique<PrivateBus>(dir_.path());
        daemon_ =
            std::make_unique<Daemon>(dir_.path(), bus_->address(),
                                     default_test_policy(dir_ / "outbox.jsonl", kSecondFactors));
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
    }

    /// Adds an authenticator app for `user` through lwauthctl (no second factor yet: no
    /// step-up) and confirms it with the code of the current step: its base32 secret.
    std::string add_app(const std::string& user) {
        RunResult add = daemon_->ctl(user, {"--json", "totp", "add"});
        EXPECT_EQ(add.exit_code, 0) << add.out << add.err << daemon_->log();
        json uri_json = json::parse(add.out, nullptr, false);
        std::string uri = uri_json.value("uri", "");
        auto at = uri.find("secret=");
        EXPECT_NE(at, std::string::npos) << uri;
        std::string secret = uri.substr(at + 7, uri.find('&', at) - at - 7);
        RunResult confirm = daemon_->ctl(user, {"totp", "confirm", oathtool_totp(secret)});
        EXPECT_EQ(confirm.exit_code, 0) << confirm.out << confirm.err << daemon_->log();
        return secret;
    }

    /// Adds an email for `user`, then an app (the step-up answered from the outbox, since
    /// the user has a contact): its base32 secret, "" when a step failed.
    std::string add_app_after_contact(const std::string& user) {
        EXPECT_TRUE(daemon_->enroll(user, "email", user + "@example.com")) << daemon_->log();
        RunResult add = daemon_->ctl_with_code(user, {"--json", "totp", "add"});
        EXPECT_EQ(add.exit_code, 0) << add.out << add.err << daemon_->log();
        auto at = add.out.find("otpauth://");
        if (add.exit_code != 0 || at == std::string::npos) {
            return "";
        }
        std::string uri = add.out.substr(at);
        std::string secret = uri.substr(uri.find("secret=") + 7, 32);
        EXPECT_EQ(daemon_->ctl(user, {"totp", "confirm", oathtool_totp(secret)}).exit_code, 0);
        return secret;
    }

    LoginResult login(const std::string& user, const std::string& answer) {
        return login_as_root(bus_->address(), user, answer);
    }

    /// A login that must be refused (each of its tries counted), then the lock cleared
    /// for the next one: its verdict.
    std::string refused(const std::string& user, const std::string& answer) {
        std::string verdict = login(user, answer).verdict;
        EXPECT_EQ(daemon_->ctl("root", {"admin", "unlock", user}).exit_code, 0);
        return verdict;
    }

    [[nodiscard]] json status(const std::string& user) const {
        return json::parse(daemon_->ctl(user, {"--json", "status"}).out, nullptr, false);
    }

    static bool shows(const LoginResult& result, const std::string& text) {
        for (const auto& line : result.lines) {
            if (line.find(text) != std::string::npos) {
                return true;
            }
        }
        return false;
    }

    TempDir dir_{"lwauth-second"};
    std::unique_ptr<PrivateBus> bus_;
    std::unique_ptr<Daemon> daemon_;
};

TEST_F(SecondFactors, TheUriNamesIssuerUserAndHostAndTheAppCountsOnlyAfterItsFirstCode) {
    RunResult add = daemon_->ctl("bob", {"--json", "totp", "add"});
    ASSERT_EQ(add.exit_code, 0) << add.err << daemon_->log();
    std::string uri = json::parse(add.out).value("uri", "");
    EXPECT_TRUE(uri.starts_with("otpauth://totp/lwauth:bob%40")) << uri;
    EXPECT_NE(uri.find("&issuer=lwauth&algorithm=SHA1&digits=6&period=30"), std::string::npos)
        << uri;
    std::string secret = uri.substr(uri.find("secret=") + 7, 32);
    EXPECT_FALSE(status("bob").contains("totp_set")) << "not before its first code";

    RunResult wrong = daemon_->ctl("bob", {"totp", "confirm", oathtool_totp(secret, -120)});
    EXPECT_NE(wrong.exit_code, 0) << wrong.out;
    EXPECT_FALSE(status("bob").contains("totp_set"));
    RunResult right = daemon_->ctl("bob", {"totp", "confirm", oathtool_totp(secret)});
    ASSERT_EQ(right.exit_code, 0) << right.out << right.err << daemon_->log();
    EXPECT_EQ(status("bob")["totp_set"], true);
    EXPECT_EQ(status("bob")["two_step"], true) << "2-step turned on with the app";

    std::string dump = daemon_->sql(".dump users");
    EXPECT_EQ(dump.find(secret), std::string::npos) << "sealed at rest";
    EXPECT_EQ(daemon_->log().find(secret), std::string::npos) << "never logged";
    EXPECT_TRUE(daemon_->log_shows("event=totp-added"));
}

// [totp] changed after an app was set up: the app goes on making the codes it was set up
// with, and they log in; only an app set up afterwards gets the new parameters, and keeps
// them when [totp] changes again.
TEST_F(SecondFactors, AnAppKeepsTheParametersItWasSetUpWithWhenTotpChanges) {
    std::string bob = add_app("bob");  // SHA1, 6 digits, 30 s
    auto use_policy = [&](const std::string& totp) {
        daemon_->write_policy(
            default_test_policy(dir_ / "outbox.jsonl", std::string(kSecondFactors) + totp));
        RunResult reload = daemon_->ctl("root", {"policy", "reload"});
        ASSERT_EQ(reload.exit_code, 0) << reload.err << daemon_->log();
    };
    use_policy("[totp]\ndigits = 8\nalgorithm = SHA256\n");
    EXPECT_EQ(login("bob", oathtool_totp(bob, 30)).verdict, "success")
        << "the app set up before makes 6-digit SHA1 codes still\n"
        << daemon_->log();

    RunResult add = daemon_->ctl("carol", {"--json", "totp", "add"});
    ASSERT_EQ(add.exit_code, 0) << add.err << daemon_->log();
    std::string uri = json::parse(add.out).value("uri", "");
    EXPECT_NE(uri.find("&algorithm=SHA256&digits=8&period=30"), std::string::npos) << uri;
    std::string carol = uri.substr(uri.find("secret=") + 7, 32);
    RunResult confirm =
        daemon_->ctl("carol", {"totp", "confirm"}, oathtool_totp(carol, 0, 8, "sha256") + "\n");
    ASSERT_EQ(confirm.exit_code, 0) << confirm.out << confirm.err << daemon_->log();

    use_policy("");
    EXPECT_EQ(login("carol", oathtool_totp(carol, 30, 8, "sha256")).verdict, "success")
        << daemon_->log();
}

// A code on the command line can be read by the other users of the host (ps) and stays in
// the shell's history: it is taken, for scripts, with a warning. Given on standard input,
// as lwauthctl asks for it, it is not.
TEST_F(SecondFactors, ACodeOnTheCommandLineIsTakenWithAWarning) {
    constexpr const char* kWarning = "warning: a code on the command line can be seen";
    RunResult add = daemon_->ctl("bob", {"--json", "totp", "add"});
    ASSERT_EQ(add.exit_code, 0) << add.err << daemon_->log();
    std::string uri = json::parse(add.out).value("uri", "");
    std::string secret = uri.substr(uri.find("secret=") + 7, 32);
    RunResult argv = daemon_->ctl("bob", {"totp", "confirm", oathtool_totp(secret)});
    ASSERT_EQ(argv.exit_code, 0) << argv.out << argv.err << daemon_->log();
    EXPECT_NE(argv.err.find(kWarning), std::string::npos) << argv.err;

    ASSERT_EQ(
        daemon_->ctl_with_code("carol", {"contact", "add", "email", "carol@example.com"}).exit_code,
        0)
        << daemon_->log();
    std::string code = read_outbox(daemon_->outbox()).back().code();
    RunResult piped = daemon_->ctl("carol", {"contact", "confirm", "email"}, code + "\n");
    ASSERT_EQ(piped.exit_code, 0) << piped.out << piped.err << daemon_->log();
    EXPECT_EQ(piped.err.find(kWarning), std::string::npos) << piped.err;

    ASSERT_EQ(
        daemon_->ctl_with_code("dave", {"contact", "add", "email", "dave@example.com"}).exit_code,
        0)
        << daemon_->log();
    code = read_outbox(daemon_->outbox()).back().code();
    RunResult contact_argv = daemon_->ctl("dave", {"contact", "confirm", "email", code});
    ASSERT_EQ(contact_argv.exit_code, 0) << contact_argv.out << contact_argv.err;
    EXPECT_NE(contact_argv.err.find(kWarning), std::string::npos) << contact_argv.err;
}

TEST_F(SecondFactors, AnAppCodeLogsInOnceAndNotAgainInTheSameStep) {
    std::string secret = add_app("bob");
    // The enrolling code's step is used: the next step's code (inside the window) logs in.
    std::string code = oathtool_totp(secret, 30);
    size_t sent = read_outbox(daemon_->outbox()).size();
    LoginResult first = login("bob", code);
    EXPECT_EQ(first.verdict, "success") << daemon_->log();
    EXPECT_EQ(refused("bob", code), "denied") << "a code is used once";
    EXPECT_TRUE(daemon_->log_shows("event=totp-reused"));
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), sent) << "nothing is sent";
    EXPECT_EQ(daemon_->log().find(code), std::string::npos);
}

TEST_F(SecondFactors, TwoLoginsAtOnceWithTheSameCodeLetOneIn) {
    std::string secret = add_app("bob");
    std::string code = oathtool_totp(secret, 30);
    std::vector<LoginResult> results(2);
    std::vector<std::thread> threads;
    for (size_t i = 0; i < 2; ++i) {
        threads.emplace_back([&, i] { results[i] = login("bob", code); });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    int success = 0;
    for (const auto& result : results) {
        success += result.verdict == "success" ? 1 : 0;
    }
    EXPECT_EQ(success, 1) << results[0].verdict << " " << results[1].verdict << daemon_->log();
}

TEST_F(SecondFactors, CodesOneStepAwayPassAndTwoStepsAwayDoNot) {
    std::string secret = add_app("bob");
    EXPECT_EQ(refused("bob", oathtool_totp(secret, -60)), "denied") << "two steps behind";
    EXPECT_EQ(refused("bob", oathtool_totp(secret, 60)), "denied") << "two steps ahead";
    EXPECT_EQ(login("bob", oathtool_totp(secret, 30)).verdict, "success") << "one step ahead";
    EXPECT_EQ(refused("bob", oathtool_totp(secret, 0)), "denied") << "behind the step accepted";
}

TEST_F(SecondFactors, WrongAppCodesCountTowardTheLockout) {
    std::string secret = add_app("bob");
    // The test policy locks at the 5th failure; a login gives [code] tries (3).
    std::string wrong = "000000" == oathtool_totp(secret) ? "111111" : "000000";
    EXPECT_EQ(login("bob", wrong).verdict, "denied");
    EXPECT_EQ(login("bob", wrong).verdict, "maxtries") << daemon_->log();
    EXPECT_NE(status("bob").value("locked_until", uint64_t{0}), 0u);
    EXPECT_TRUE(daemon_->log_shows("event=totp-wrong"));
}

TEST_F(SecondFactors, WithAnAppNothingIsSentUntilTheUserAsksWithS) {
    std::string secret = add_app_after_contact("carol");
    ASSERT_FALSE(secret.empty());

    size_t sent = read_outbox(daemon_->outbox()).size();
    int prompt = 0;
    LoginResult result = login_as_root_with(bus_->address(), "carol", [&]() -> std::string {
        if (prompt++ == 0) {
            EXPECT_EQ(read_outbox(daemon_->outbox()).size(), sent) << "no code before s";
            return "s";
        }
        return read_outbox(daemon_->outbox()).back().code();
    });
    EXPECT_EQ(result.verdict, "success") << daemon_->log();
    EXPECT_TRUE(shows(result, "Or type s for a verification code sent to")) << result.lines[0];
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), sent + 1);
}

TEST_F(SecondFactors, WithAnAppAStepUpSendsNoCodeUntilTheUserAsksWithS) {
    std::string secret = add_app_after_contact("carol");
    ASSERT_FALSE(secret.empty());

    size_t sent = read_outbox(daemon_->outbox()).size();
    RunResult with_app = daemon_->ctl("carol", {"--json", "recovery", "generate"},
                                      oathtool_totp(secret, 30) + "\n");
    EXPECT_EQ(with_app.exit_code, 0) << with_app.out << with_app.err << daemon_->log();
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), sent) << "a code was sent at the step-up";
    EXPECT_NE(with_app.err.find("type the code from your authenticator app."), std::string::npos)
        << with_app.err;
    EXPECT_NE(with_app.err.find("Or type s to have a code sent"), std::string::npos)
        << with_app.err;

    // On "s" the code is sent, and it steps up.
    RunResult asked = daemon_->ctl_with_code("carol", {"--json", "recovery", "generate"}, "s\n");
    EXPECT_EQ(asked.exit_code, 0) << asked.out << asked.err << daemon_->log();
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), sent + 1);
    EXPECT_NE(asked.err.find("the code that was sent to"), std::string::npos) << asked.err;
}

TEST_F(SecondFactors, RecoveryCodesPassOnceSayHowManyAreLeftAndANewSetReplacesTheOld) {
    std::string secret = add_app("bob");
    // The app steps up (the next step's code: the enrolling one's is used).
    RunResult generated =
        daemon_->ctl("bob", {"--json", "recovery", "generate"}, oathtool_totp(secret, 30) + "\n");
    ASSERT_EQ(generated.exit_code, 0) << generated.err << daemon_->log();
    auto codes = json::parse(generated.out)["codes"].get<std::vector<std::string>>();
    ASSERT_EQ(codes.size(), 10u);
    EXPECT_EQ(status("bob")["recovery_codes"], 10);

    // Typed where the app's code is asked.
    LoginResult used = login("bob", codes[0]);
    EXPECT_EQ(used.verdict, "success") << daemon_->log();
    EXPECT_TRUE(shows(used, "9 recovery codes are left")) << used.lines.back();
    EXPECT_EQ(refused("bob", codes[0]), "denied") << "single use";
    EXPECT_EQ(status("bob")["recovery_codes"], 9);

    std::string dump = daemon_->sql(".dump recovery_codes");
    EXPECT_EQ(dump.find(codes[1]), std::string::npos) << "kept as hashes only";

    // A recovery code steps up too, and is used up by it.
    auto renewed =
        json::parse(
            daemon_->ctl("bob", {"--json", "recovery", "generate"}, codes[2] + "\n").out)["codes"]
            .get<std::vector<std::string>>();
    EXPECT_EQ(refused("bob", codes[1]), "denied") << "the old set is gone";
    EXPECT_EQ(login("bob", renewed[0]).verdict, "success");
}

TEST_F(SecondFactors, AnAdministratorMakesRecoveryCodesForAUserWithNothingElse) {
    RunResult made = daemon_->ctl("root", {"--json", "admin", "recovery", "dave"});
    ASSERT_EQ(made.exit_code, 0) << made.err << daemon_->log();
    auto codes = json::parse(made.out)["codes"].get<std::vector<std::string>>();
    ASSERT_EQ(codes.size(), 10u);
    LoginResult result = login("dave", codes[3]);
    EXPECT_EQ(result.verdict, "success") << daemon_->log();
    EXPECT_TRUE(daemon_->log_shows("action=recovery"));
    // Not by a member of the admin group for another member (frank is one).
    EXPECT_NE(daemon_->ctl("frank", {"admin", "recovery", "root"}).exit_code, 0);
}

TEST_F(SecondFactors, RequireUnrestrictedRefusesCodesByEmailAndSaysHowToAddAnApp) {
    ASSERT_TRUE(daemon_->enroll("erin", "email", "erin@example.com")) << daemon_->log();
    size_t sent = read_outbox(daemon_->outbox()).size();
    LoginResult result = login("erin", "123456");
    EXPECT_EQ(result.verdict, "denied");
    EXPECT_TRUE(shows(result, "lwauthctl totp add")) << result.lines[0];
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), sent) << "no code is sent for nothing";
    EXPECT_TRUE(daemon_->log_shows("event=login-restricted"));
}

// ---- The step-up with the app or a recovery code ----------------------------------------

TEST_F(SecondFactors, WithOnlyTheAppItsCodeStepsUpToRemoveIt) {
    std::string secret = add_app("bob");
    size_t sent = read_outbox(daemon_->outbox()).size();
    // No code on standard input: nothing changes.
    RunResult none = daemon_->ctl("bob", {"totp", "remove"});
    EXPECT_EQ(none.exit_code, 1) << none.out << none.err;
    EXPECT_NE(none.err.find("To confirm it is you, type the code from your authenticator app."),
              std::string::npos)
        << none.err;
    EXPECT_EQ(status("bob")["totp_set"], true);

    RunResult removed = daemon_->ctl("bob", {"totp", "remove"}, oathtool_totp(secret, 30) + "\n");
    EXPECT_EQ(removed.exit_code, 0) << removed.out << removed.err << daemon_->log();
    EXPECT_NE(removed.out.find("Your authenticator app is removed. 2-step verification is now "
                               "off: you have no second factor left."),
              std::string::npos)
        << removed.out;
    EXPECT_FALSE(status("bob").contains("totp_set"));
    EXPECT_EQ(status("bob")["two_step"], false) << "nothing is left to verify with";
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), sent) << "nothing was sent";
    EXPECT_TRUE(daemon_->log_shows("method=totp")) << daemon_->log();
}

TEST_F(SecondFactors, AStepUpSpendsTheAppCodesTimeStepAsALoginDoes) {
    std::string secret = add_app("bob");
    std::string code = oathtool_totp(secret, 30);
    RunResult generated = daemon_->ctl("bob", {"--json", "recovery", "generate"}, code + "\n");
    ASSERT_EQ(generated.exit_code, 0) << generated.out << generated.err << daemon_->log();
    EXPECT_EQ(refused("bob", code), "denied") << "the step-up used that code";
    EXPECT_TRUE(daemon_->log_shows("event=totp-reused"));
}

TEST_F(SecondFactors, WrongStepUpAnswersCountTowardTheLockout) {
    std::string secret = add_app("bob");
    std::string wrong = "000000" == oathtool_totp(secret, 30) ? "111111" : "000000";
    // A step-up's [code] tries (3), all wrong: three failures of the five the test policy
    // locks at. The tries are the user's: a second step-up is refused at once, answers
    // nothing and counts nothing.
    RunResult first =
        daemon_->ctl("bob", {"two-step", "off"}, wrong + "\n" + wrong + "\n" + wrong + "\n");
    EXPECT_EQ(first.exit_code, 1) << first.out << first.err;
    EXPECT_NE(first.err.find("Wrong code; 2 tries left."), std::string::npos) << first.err;
    EXPECT_EQ(status("bob").value("locked_until", uint64_t{0}), 0u);
    RunResult second = daemon_->ctl("bob", {"two-step", "off"}, wrong + "\n" + wrong + "\n");
    EXPECT_EQ(second.exit_code, 1) << second.out << second.err;
    EXPECT_TRUE(daemon_->log_shows("event=reauth-wrong", 3)) << daemon_->log();
    EXPECT_FALSE(daemon_->log_shows("event=reauth-wrong", 4)) << daemon_->log();
    EXPECT_EQ(status("bob").value("locked_until", uint64_t{0}), 0u);
    // A login's wrong answers add to them: the 5th failure locks.
    EXPECT_EQ(login("bob", wrong).verdict, "maxtries") << daemon_->log();
    EXPECT_NE(status("bob").value("locked_until", uint64_t{0}), 0u) << daemon_->log();
    EXPECT_EQ(status("bob")["two_step"], true);
    EXPECT_EQ(login("bob", oathtool_totp(secret, 30)).verdict, "maxtries") << "locked";
}

// ---- Enrolled with an app ---------------------------------------------------------------

TEST_F(SecondFactors, AUserWhoHadAnAppGetsNoEnrolmentGraceOnceItIsGone) {
    // alice: 2-step required, with an enrolment grace for those who never set anything up.
    std::string secret = add_app("alice");
    EXPECT_EQ(login("alice", oathtool_totp(secret, 30)).verdict, "success") << daemon_->log();
    // The app is lost and the administrator takes it away: no password-only window opens.
    ASSERT_EQ(daemon_->ctl("root", {"admin", "reset", "alice", "totp"}).exit_code, 0);
    LoginResult after = login("alice", "123456");
    EXPECT_EQ(after.verdict, "denied") << daemon_->log();
    EXPECT_TRUE(daemon_->log_shows("event=login-no-contact")) << daemon_->log();
    EXPECT_EQ(daemon_->log_count("event=login-enroll-grace"), 0u) << daemon_->log();
}

// ---- Removing factors: 2-step follows what is left ----------------------------------------

TEST_F(SecondFactors, AnAdministratorsResetOfTheLastAppTurnsTwoStepOff) {
    std::string secret = add_app("bob");
    ASSERT_EQ(status("bob")["two_step"], true);
    ASSERT_EQ(daemon_->ctl("root", {"admin", "reset", "bob", "totp"}).exit_code, 0)
        << daemon_->log();
    EXPECT_FALSE(status("bob").contains("totp_set"));
    EXPECT_EQ(status("bob")["two_step"], false) << "nothing is left to verify with";
    EXPECT_NE(login("bob", oathtool_totp(secret, 30)).verdict, "denied") << daemon_->log();
}

TEST_F(SecondFactors, AnAdministratorsResetOfTheAppKeepsTwoStepOnWithAContactLeft) {
    ASSERT_TRUE(daemon_->enroll("bob", "email", "bob@example.com")) << daemon_->log();
    // The app's enrolment asks for proof now: the code the step-up sent.
    RunResult add = daemon_->ctl_with_code("bob", {"--json", "totp", "add"});
    ASSERT_EQ(add.exit_code, 0) << add.out << add.err << daemon_->log();
    std::string uri = json::parse(add.out, nullptr, false).value("uri", "");
    std::string secret = uri.substr(uri.find("secret=") + 7, 32);
    ASSERT_EQ(daemon_->ctl("bob", {"totp", "confirm", oathtool_totp(secret)}).exit_code, 0)
        << daemon_->log();
    ASSERT_EQ(daemon_->ctl("root", {"admin", "reset", "bob", "totp"}).exit_code, 0);
    EXPECT_EQ(status("bob")["two_step"], true) << "the email is left";
}

TEST_F(SecondFactors, RemovingTheAppIsOneStepAStoreErrorLeavesItInPlace) {
    std::string secret = add_app("bob");
    // The store refuses the second write of the removal (2-step off), as a full disk or a
    // lost connection may.
    daemon_->sql(
        "CREATE TRIGGER fail_two_step BEFORE UPDATE OF two_step ON users "
        "BEGIN SELECT RAISE(ABORT, 'injected'); END;");
    RunResult removed = daemon_->ctl("bob", {"totp", "remove"}, oathtool_totp(secret, 30) + "\n");
    EXPECT_NE(removed.exit_code, 0) << removed.out << removed.err;
    daemon_->sql("DROP TRIGGER fail_two_step;");
    EXPECT_EQ(status("bob")["totp_set"], true) << "the app is still there" << daemon_->log();
    EXPECT_EQ(status("bob")["two_step"], true);
    EXPECT_EQ(daemon_->log_count("event=totp-removed"), 0u) << daemon_->log();
}

TEST_F(SecondFactors, AnAppBegunWithNothingToProveWithNeedsProofOnceAContactIsSaved) {
    RunResult add = daemon_->ctl("bob", {"--json", "totp", "add"});
    ASSERT_EQ(add.exit_code, 0) << add.err << daemon_->log();
    std::string uri = json::parse(add.out, nullptr, false).value("uri", "");
    std::string secret = uri.substr(uri.find("secret=") + 7, 32);
    // Meanwhile a contact is saved (by bob, or by whoever has his session).
    ASSERT_TRUE(daemon_->enroll("bob", "email", "bob@example.com")) << daemon_->log();
    size_t sent = read_outbox(daemon_->outbox()).size();
    RunResult unproved = daemon_->ctl("bob", {"totp", "confirm", oathtool_totp(secret)});
    EXPECT_NE(unproved.exit_code, 0) << unproved.out << unproved.err;
    EXPECT_FALSE(status("bob").contains("totp_set")) << daemon_->log();
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), sent + 1) << "a step-up code was sent";
    // With the code the email received, it is saved.
    RunResult proved = daemon_->ctl_with_code("bob", {"totp", "confirm", oathtool_totp(secret)});
    EXPECT_EQ(proved.exit_code, 0) << proved.out << proved.err << daemon_->log();
    EXPECT_EQ(status("bob")["totp_set"], true);
}

// ---- Factors the host's policy does not count ------------------------------------------

constexpr const char* kCountedFactors =
    "[policy]\ntotp = allowed\nadmin_group = lwadmins\n"
    "[user:bob]\ntwo_step = required\nenroll_grace = 14d\nsecond_factors = totp, code\n";

class CountedFactors : public SecondFactors {
  protected:
    void SetUp() override {
        bus_ = std::make_unique<PrivateBus>(dir_.path());
        daemon_ =
            std::make_unique<Daemon>(dir_.path(), bus_->address(),
                                     default_test_policy(dir_ / "outbox.jsonl", kCountedFactors));
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
    }
};

TEST_F(CountedFactors, RecoveryCodesOutsideSecondFactorsNeitherAreMadeNorEndTheGrace) {
    RunResult own = daemon_->ctl("bob", {"recovery", "generate"});
    EXPECT_NE(own.exit_code, 0) << own.out;
    EXPECT_NE(own.err.find("Recovery codes are not a second factor for you on this host."),
              std::string::npos)
        << own.err;
    EXPECT_EQ(status("bob").value("recovery_codes", 0), 0);

    // The administrator still may (another host of a shared store may count them): said.
    RunResult made = daemon_->ctl("root", {"--json", "admin", "recovery", "bob"});
    ASSERT_EQ(made.exit_code, 0) << made.err << daemon_->log();
    EXPECT_TRUE(daemon_->log_shows("detail=uncounted")) << daemon_->log();
    // They do not count here: bob has no factor this host counts, and the grace holds.
    LoginResult result = login("bob", "123456");
    EXPECT_EQ(result.verdict, "success") << daemon_->log();
    EXPECT_TRUE(daemon_->log_shows("event=login-enroll-grace")) << daemon_->log();
    EXPECT_EQ(daemon_->log_count("event=login-no-contact"), 0u) << daemon_->log();
    EXPECT_TRUE(status("bob").contains("enroll_grace_until")) << "status says so too";
}

}  // namespace
}  // namespace lwauth::test
